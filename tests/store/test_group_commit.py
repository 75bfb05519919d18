"""Group commit: many writers, one transaction, each answered with its own outcome."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection

from teller.logs import WATCH
from teller.store import group_commit
from teller.store.db import Database
from teller.store.group_commit import GroupCommit, StoreShuttingDown
from teller.store.pool import mark_address_used, pool_usage


class Refused(Exception):
    pass


def _record(conn: Connection, address: str, now: int) -> str:
    if address.startswith("no"):
        raise Refused(f"{address} refused")  # a refusal: before writing anything
    mark_address_used(conn, "BTC", address, now)
    if address.startswith("bad"):
        raise ValueError(f"{address} broke after writing")  # a failure: after a write
    return address.upper()


def _group(db: Database) -> GroupCommit[str, str]:
    return GroupCommit(db, _record, refusals=(Refused,))


def _counting(db: Database, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    count = [0]
    real = db.write

    def counting_write(**options: Any) -> Any:
        count[0] += 1
        return real(**options)

    monkeypatch.setattr(db, "write", counting_write)
    return count


def _submit_all(group: GroupCommit[str, str], items: list[str]) -> list[Any]:
    results: list[Any] = [None] * len(items)

    def run(i: int) -> None:
        try:
            results[i] = group.submit(items[i])
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(items))]
    with group._turn:  # hold the turn so that every item is queued before one is written
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while len(group._queue) < len(items):
            assert time.monotonic() < deadline, "not every item was queued"
            time.sleep(0.001)
    for thread in threads:
        thread.join(10)
    return results


def test_a_refused_item_leaves_the_others_in_the_same_transaction(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = _group(db)
    writes = _counting(db, monkeypatch)
    results = _submit_all(group, ["a1", "no", "a2"])
    assert results[0] == "A1" and results[2] == "A2"
    assert isinstance(results[1], Refused)
    assert writes == [1]
    with db.read() as conn:
        assert pool_usage(conn)["BTC"].total == 2


def test_an_item_failing_after_writing_fails_alone_and_leaves_nothing_half_written(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = _group(db)
    writes = _counting(db, monkeypatch)
    results = _submit_all(group, ["a1", "bad", "a2"])
    assert results[0] == "A1" and results[2] == "A2"
    assert isinstance(results[1], ValueError)
    assert writes == [1 + 3]  # the shared transaction rolled back whole, then each alone
    with db.read() as conn:
        assert pool_usage(conn)["BTC"].total == 2  # nothing of "bad" survived


def test_a_failed_shared_transaction_is_retried_item_by_item(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = _group(db)
    real = group._write_together

    def fail_when_shared(slots: list[Any], *rest: Any) -> Any:
        if len(slots) > 1:
            raise RuntimeError("the commit failed")
        return real(slots, *rest)

    monkeypatch.setattr(group, "_write_together", fail_when_shared)
    results = _submit_all(group, ["a1", "a2", "a3"])
    assert results == ["A1", "A2", "A3"]
    with db.read() as conn:
        assert pool_usage(conn)["BTC"].total == 3


def test_a_lone_item_is_written_at_once(db: Database) -> None:
    group = _group(db)
    assert group.submit("solo") == "SOLO"
    with pytest.raises(Refused, match="no1 refused"):
        group.submit("no1")


async def test_items_submitted_from_the_event_loop_share_one_transaction(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = _group(db)
    writes = _counting(db, monkeypatch)
    results = await asyncio.gather(
        *(group.submit_async(a) for a in ["e1", "no2", "e3", "e4"]), return_exceptions=True
    )
    assert results[0] == "E1" and results[2:] == ["E3", "E4"]
    assert isinstance(results[1], Refused)
    assert writes == [1]
    with db.read() as conn:
        assert pool_usage(conn)["BTC"].total == 3


def test_a_failed_commit_is_not_written_again(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A COMMIT that raises may still have landed: writing the items again could bind twice,
    so every caller gets the error and nothing is retried."""
    group = _group(db)
    real = db.write
    calls = 0

    @contextmanager
    def commit_fails(**options: bool) -> Iterator[Connection]:
        nonlocal calls
        calls += 1
        with real(**options) as conn:
            yield conn
        raise OSError("connection lost while committing")  # after the commit ran

    monkeypatch.setattr(db, "write", commit_fails)
    results = _submit_all(group, ["c1", "c2"])
    assert all(isinstance(r, OSError) for r in results)
    assert calls == 1  # not retried item by item


async def test_a_write_the_executor_cannot_start_at_shutdown_raises_not_none(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At shutdown the loop's executor refuses new work: the caller must get an error saying
    nothing was written, never None taken for a result (issue 13, finding 7b)."""
    group = _group(db)

    async def executor_closed(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("cannot schedule new futures after shutdown")

    monkeypatch.setattr(group_commit.asyncio, "to_thread", executor_closed)
    with pytest.raises(StoreShuttingDown, match="store is shutting down: not written"):
        await group.submit_async("late")
    with db.read() as conn:
        assert "BTC" not in pool_usage(conn)


async def _until(condition: Any, what: str) -> None:
    for _ in range(1000):  # bounded: the worker thread gets there within milliseconds
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"never: {what}")


async def test_a_drainer_cancelled_while_its_thread_awaits_the_turn_writes_nothing(
    db: Database,
) -> None:
    """Shutdown cancels the drainer while its thread waits for the writer's turn: it has
    taken nothing, so every caller is told nothing was written, and the thread, once its
    turn comes, takes nothing either."""
    group = _group(db)
    group._turn.acquire()  # the worker thread will wait here, before taking anything
    try:
        first = asyncio.create_task(group.submit_async("s1"))
        await _until(lambda: group._drainer is not None, "the drainer started")
        second = asyncio.create_task(group.submit_async("s2"))
        await asyncio.sleep(0.05)  # the thread is at the turn
        assert group._drainer is not None
        group._drainer.cancel()
        results = await asyncio.gather(first, second, return_exceptions=True)
    finally:
        group._turn.release()
    assert [str(r) for r in results] == ["store is shutting down: not written"] * 2
    assert all(isinstance(r, StoreShuttingDown) for r in results)
    await asyncio.sleep(0.05)  # the thread had its turn: it took nothing
    with db.read() as conn:
        assert "BTC" not in pool_usage(conn)


async def test_a_drainer_cancelled_while_its_thread_writes_answers_every_caller_with_an_error(
    db: Database,
) -> None:
    """Shutdown cancels the drainer while its thread writes: the caller whose item the thread
    holds is told the outcome is unknown (the thread goes on and commits it), one queued
    behind it that it was not written; neither await returns None."""
    writing, finish = threading.Event(), threading.Event()

    def slow_record(conn: Connection, address: str, now: int) -> str:
        writing.set()
        finish.wait(5)
        return _record(conn, address, now)

    group: GroupCommit[str, str] = GroupCommit(db, slow_record, refusals=(Refused,))
    try:
        first = asyncio.create_task(group.submit_async("w1"))
        await _until(writing.is_set, "the thread writes w1")
        second = asyncio.create_task(group.submit_async("w2"))
        await asyncio.sleep(0)
        assert group._drainer is not None
        group._drainer.cancel()
        results = await asyncio.gather(first, second, return_exceptions=True)
    finally:
        finish.set()
    assert isinstance(results[0], StoreShuttingDown), results[0]
    assert "may or may not have been committed" in str(results[0])
    assert isinstance(results[1], StoreShuttingDown), results[1]
    assert str(results[1]) == "store is shutting down: not written"

    def committed() -> bool:
        with db.read() as conn:
            return "BTC" in pool_usage(conn)

    await _until(committed, "the thread committed w1")
    with db.read() as conn:
        assert pool_usage(conn)["BTC"].total == 1  # w1 only


def test_a_group_commit_on_sqlite_flushes_after_giving_up_the_writer_lock(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commit writes the WAL without waiting for the disk (synchronous=NORMAL); the flush
    runs once the writer lock is free (another writer could go on meanwhile) and before the
    caller has its answer."""
    group = _group(sqlite_db)
    seen: list[tuple[str, Any]] = []
    real_flush = sqlite_db.flush_wal

    def flush() -> None:
        writers = sqlite_db._writers
        assert writers is not None
        free = writers.mutex.acquire(False)
        if free:
            writers.mutex.release()
        with sqlite_db.read() as conn:  # committed: visible to every reader already
            seen.append(("flush", (free, pool_usage(conn)["BTC"].total)))
        real_flush()

    monkeypatch.setattr(sqlite_db, "flush_wal", flush)
    with sqlite_db.write(flush_after=True) as conn:
        seen.append(("synchronous", conn.exec_driver_sql("PRAGMA synchronous").scalar()))
    with sqlite_db.write() as conn:
        seen.append(("synchronous", conn.exec_driver_sql("PRAGMA synchronous").scalar()))
    seen.append(("answer", group.submit("f1")))
    assert seen == [
        ("synchronous", 1),  # NORMAL: this commit leaves the flush to its caller
        ("synchronous", 2),  # FULL: every other write flushes in its commit
        ("flush", (True, 1)),  # lock free, row committed
        ("answer", "F1"),
    ]


async def test_callers_from_the_event_loop_are_answered_after_their_flush(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = _group(sqlite_db)
    flushed = threading.Event()
    release = threading.Event()
    real_flush = sqlite_db.flush_wal

    def slow_flush() -> None:
        release.wait(5)
        real_flush()
        flushed.set()

    monkeypatch.setattr(sqlite_db, "flush_wal", slow_flush)
    answer = asyncio.create_task(group.submit_async("g1"))
    for _ in range(200):  # bounded: until the row is committed (the flush is held back)
        await asyncio.sleep(0.01)
        with sqlite_db.read() as conn:
            if "BTC" in pool_usage(conn):
                break
    assert not answer.done()  # committed, not flushed: nobody is told yet
    release.set()
    assert await answer == "G1"
    assert flushed.is_set()


def test_a_failed_flush_fails_every_caller_of_its_group(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    group = _group(sqlite_db)

    def disk_error() -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(sqlite_db, "flush_wal", disk_error)
    results = _submit_all(group, ["h1", "no2"])
    assert isinstance(results[0], group_commit.StoreError)
    assert str(results[0]) == group_commit.NOT_FLUSHED
    assert isinstance(results[1], Refused)  # a refusal wrote nothing: still a refusal
    assert any(
        "store flush failed" in r.getMessage() and getattr(r, "notice", None) == WATCH
        for r in caplog.records
    )


async def test_items_arriving_while_the_turn_is_awaited_join_that_transaction(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The thread takes the waiting items only once it may write: those that arrived while it
    waited (another process writing, on SQLite) go in the same transaction."""
    group = _group(db)
    writes = _counting(db, monkeypatch)
    group._turn.acquire()
    try:
        first = asyncio.create_task(group.submit_async("j1"))
        await _until(lambda: group._drainer is not None, "the drainer started")
        await asyncio.sleep(0.05)  # its thread waits for the turn
        later = [asyncio.create_task(group.submit_async(a)) for a in ("j2", "j3")]
        await asyncio.sleep(0)
    finally:
        group._turn.release()
    assert await asyncio.gather(first, *later) == ["J1", "J2", "J3"]
    assert writes == [1]


def test_after_one_failed_flush_no_later_write_is_taken_as_durable(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Linux reports a lost write-back to one fdatasync only; the next one "succeeds" without
    those pages. So a failed flush fails every later one, until a restart."""
    from teller.store import db as db_module

    real = db_module.os.fdatasync
    calls = {"n": 0}
    wal = str(sqlite_db.engine.url.database) + "-wal"

    def fails_once(handle: int) -> None:
        if os.readlink(f"/proc/self/fd/{handle}") != wal:
            real(handle)  # another store of this process (a teller still stopping)
            return
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError(5, "Input/output error")
        real(handle)

    monkeypatch.setattr(db_module.os, "fdatasync", fails_once)
    group = _group(sqlite_db)
    with pytest.raises(group_commit.StoreError, match="flush failed"):
        group.submit("m1")
    with pytest.raises(group_commit.StoreError, match="flush failed"):
        group.submit("m2")  # fdatasync would succeed now: proves nothing
    with pytest.raises(OSError, match="an earlier flush of the store failed"):
        sqlite_db.flush_wal()
    assert calls["n"] == 1  # never asked again
