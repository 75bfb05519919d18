"""payout_inputs: the lock on every output a stored payout spends (issue 13, finding 6), and the
0005 migration that fills it from the payouts stored before it."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, func, insert, select

from teller.store import payouts as payout_store
from teller.store.db import Database, create_store_engine
from teller.store.migrate import upgrade
from teller.store.tables import payout_inputs, payouts

UX_A, UX_B, UX_C = "aa" * 32, "bb" * 32, "cc" * 32
TX_1, TX_2, TX_3 = "01" * 32, "02" * 32, "03" * 32


def _store(db: Database, txid: str, inputs: list[str]) -> None:
    with db.write() as conn:
        payout_store.insert_payout(
            conn, txid=txid, raw_tx="00", inputs=inputs, total_droplets=1_000_000, now=100
        )


def _rows(db: Database) -> tuple[int, dict[str, str]]:
    with db.read() as conn:
        stored = int(conn.execute(select(func.count()).select_from(payouts)).scalar_one())
        query = select(payout_inputs.c.uxid, payout_inputs.c.txid)
        locks = {str(u): str(t) for u, t in conn.execute(query)}
    return stored, locks


def test_a_payout_locks_its_inputs_and_a_second_spending_one_of_them_stores_nothing(
    db: Database,
) -> None:
    _store(db, TX_1, [UX_A, UX_B])
    with pytest.raises(payout_store.InputsTaken, match=f"payout {TX_2} not stored"):
        _store(db, TX_2, [UX_C, UX_B])  # UX_B is TX_1's
    stored, locks = _rows(db)
    assert stored == 1  # neither the payout row nor UX_C's lock of the loser stands
    assert locks == {UX_A: TX_1, UX_B: TX_1}
    with db.read() as conn:
        assert payout_store.locked_inputs(conn) == {UX_A, UX_B}
        assert payout_store.inputs_of(conn, TX_1) == [UX_A, UX_B]
    _store(db, TX_3, [UX_C])  # a free output is still taken normally
    assert _rows(db) == (2, {UX_A: TX_1, UX_B: TX_1, UX_C: TX_3})


def test_locks_stay_when_a_payout_conflicts(db: Database) -> None:
    """A conflicted payout's other inputs may still be unspent: they stay its own (for the
    operator's void), so no new payout may choose them."""
    _store(db, TX_1, [UX_A])
    with db.write() as conn:
        assert payout_store.set_payout_status(
            conn, TX_1, payout_store.SIGNED, payout_store.CONFLICTED, 200
        )
    with pytest.raises(payout_store.InputsTaken):
        _store(db, TX_2, [UX_A])


def test_a_failed_broadcast_keeps_the_time_of_the_first_failure(db: Database) -> None:
    _store(db, TX_1, [UX_A])
    with db.write() as conn:
        first = payout_store.record_payout_error(conn, TX_1, "503", 1_000)
        second = payout_store.record_payout_error(conn, TX_1, "503 again", 5_000)
    assert first is not None and first.first_error_at == 1_000 and first.attempts == 1
    assert second is not None and second.first_error_at == 1_000 and second.attempts == 2
    assert second.last_error == "503 again"


def _engine_at_0004(db_url: str) -> Engine:
    engine = create_store_engine(db_url)
    upgrade(engine, "0004")
    return engine


def test_the_migration_locks_the_inputs_of_every_stored_payout(db_url: str) -> None:
    engine = _engine_at_0004(db_url)
    try:
        rows = [
            (TX_1, [UX_A, UX_B], "confirmed", 10),
            (TX_2, [UX_B, UX_C], "conflicted", 20),  # the race this closes: UX_B twice
            (TX_3, [], "broadcast", 30),  # imported from the Go teller: no inputs on record
        ]
        with engine.begin() as conn:
            for txid, inputs, status, at in rows:
                conn.execute(
                    insert(payouts).values(
                        txid=txid,
                        raw_tx="",
                        inputs=json.dumps(inputs),
                        total_droplets=1,
                        status=status,
                        created_at=at,
                        updated_at=at,
                    )
                )
        upgrade(engine)
        with engine.connect() as conn:
            locks = {str(u): str(t) for u, t, _at in conn.execute(select(payout_inputs))}
        # Every payout's inputs, whatever its status; a shared one stays the older payout's.
        assert locks == {UX_A: TX_1, UX_B: TX_1, UX_C: TX_2}
    finally:
        engine.dispose()
