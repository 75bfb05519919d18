"""The worker role's lease row (store/worker_role.py): one holder at a time, take-over only
after the lease ran out, and no write from a holder whose epoch is over (fencing)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from teller.store.db import Database, create_store_engine
from teller.store.migrate import upgrade
from teller.store.worker_role import (
    Fenced,
    check_epoch,
    read_role,
    release,
    renew,
    try_acquire,
)
from teller.store.worker_status import read_status, write_status

LEASE_MS = 60_000


def _acquire(db: Database, holder: str) -> int | None:
    with db.write() as conn:
        return try_acquire(conn, holder, LEASE_MS)


def _expire(db: Database) -> None:
    """The holder's lease runs out (as if it stopped renewing a lease ago)."""
    with db.write() as conn:
        conn.execute(text("UPDATE worker_role SET lease_until = 0"))


def _fenced(db: Database, epoch: int) -> Database:
    return db.fenced(lambda conn: check_epoch(conn, epoch, LEASE_MS))


def test_one_candidate_holds_the_role_at_a_time(db: Database) -> None:
    first = _acquire(db, "a pid 1")
    assert first is not None
    assert _acquire(db, "b pid 2") is None  # the lease is live
    with db.read() as conn:
        role = read_role(conn)
    assert role.held and role.holder == "a pid 1" and role.epoch == first
    assert role.lease_until_ms - role.since_ms == LEASE_MS  # type: ignore[operator]
    with db.write() as conn:
        assert renew(conn, first, LEASE_MS)
        assert release(conn, first)
    with db.read() as conn:
        assert not read_role(conn).held
    assert _acquire(db, "b pid 2") == first + 1  # released: taken at once, next epoch


def test_an_expired_lease_is_taken_over_and_the_old_holder_is_fenced(db: Database) -> None:
    old = _acquire(db, "a pid 1")
    assert old is not None
    with _fenced(db, old).write() as conn:
        write_status(conn, {"sender_error": '"before"'})
    _expire(db)
    new = _acquire(db, "b pid 2")
    assert new == old + 1
    with db.write() as conn:
        assert not renew(conn, old, LEASE_MS)  # the old holder learns it lost the role
        assert not release(conn, old)  # and cannot free the new holder's role
    with pytest.raises(Fenced), _fenced(db, old).write() as conn:
        write_status(conn, {"sender_error": '"after"'})
    with _fenced(db, new).write() as conn:
        write_status(conn, {"processor_error": '"new"'})
    with db.read() as conn:
        assert read_status(conn) == {"sender_error": '"before"', "processor_error": '"new"'}
        assert read_role(conn).holder == "b pid 2"


def test_a_fenced_transaction_is_rolled_back_whole(db: Database) -> None:
    old = _acquire(db, "a pid 1")
    assert old is not None
    _expire(db)
    assert _acquire(db, "b pid 2") is not None
    with pytest.raises(Fenced), _fenced(db, old).write() as conn:
        write_status(conn, {"sender_error": '"x"', "processor_error": '"y"'})
        write_status(conn, {"scanner.BTC": "{}"})
    with db.read() as conn:
        assert read_status(conn) == {}


@pytest.mark.postgres
def test_a_take_over_waits_for_the_old_holders_open_write(pg_url: str) -> None:
    """PostgreSQL, READ COMMITTED: a write that passed the epoch check commits before the new
    holder's epoch bump (which waits for it); the old holder's next write is fenced."""
    engine = create_store_engine(pg_url)
    upgrade(engine)
    try:
        _wait_for_open_write(Database(engine))
    finally:
        engine.dispose()


def _wait_for_open_write(db: Database) -> None:
    old = _acquire(db, "a pid 1")
    assert old is not None
    _expire(db)
    taken: list[int | None] = []
    with _fenced(db, old).write() as conn:
        write_status(conn, {"sender_error": '"in flight"'})
        candidate = threading.Thread(target=lambda: taken.append(_acquire(db, "b pid 2")))
        candidate.start()
        candidate.join(0.5)
        assert candidate.is_alive()  # the epoch bump waits for this transaction
    candidate.join()
    assert taken == [old + 1]
    with pytest.raises(Fenced), _fenced(db, old).write() as conn:
        write_status(conn, {"sender_error": '"late"'})
    with db.read() as conn:
        assert read_status(conn) == {"sender_error": '"in flight"'}


def test_two_candidates_racing_get_one_epoch(db: Database) -> None:
    results: list[int | None] = []
    lock = threading.Lock()

    def candidate(name: str) -> None:
        got = _acquire(db, name)
        with lock:
            results.append(got)

    threads = [threading.Thread(target=candidate, args=(f"c{i} pid {i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results, key=lambda r: r or 0) == [None] * 7 + [1]
