"""Group commit: many writers, one transaction, each answered with its own outcome."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from sqlalchemy import Connection

from teller.store.db import Database
from teller.store.group_commit import GroupCommit
from teller.store.pool import mark_address_used, pool_usage


def _record(conn: Connection, address: str, now: int) -> str:
    if address.startswith("bad"):
        mark_address_used(conn, "BTC", address, now)  # written, then rolled back with it
        raise ValueError(f"{address} refused")
    mark_address_used(conn, "BTC", address, now)
    return address.upper()


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


def test_each_item_gets_its_own_outcome_and_a_refused_one_writes_nothing(db: Database) -> None:
    group: GroupCommit[str, str] = GroupCommit(db, _record)
    results = _submit_all(group, ["a1", "bad", "a2"])
    assert results[0] == "A1" and results[2] == "A2"
    assert isinstance(results[1], ValueError)
    with db.read() as conn:
        assert pool_usage(conn)["BTC"].total == 2  # "bad" was rolled back to its savepoint


def test_a_failed_shared_transaction_is_retried_item_by_item(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    group: GroupCommit[str, str] = GroupCommit(db, _record)
    real = group._write_together

    def fail_when_shared(slots: list[Any]) -> Any:
        if len(slots) > 1:
            raise RuntimeError("the commit failed")
        return real(slots)

    monkeypatch.setattr(group, "_write_together", fail_when_shared)
    results = _submit_all(group, ["a1", "a2", "a3"])
    assert results == ["A1", "A2", "A3"]
    with db.read() as conn:
        assert pool_usage(conn)["BTC"].total == 3


def test_a_lone_item_is_written_at_once(db: Database) -> None:
    group: GroupCommit[str, str] = GroupCommit(db, _record)
    assert group.submit("solo") == "SOLO"
    with pytest.raises(ValueError, match="bad1 refused"):
        group.submit("bad1")


async def test_items_submitted_from_the_event_loop_share_one_transaction(db: Database) -> None:
    group: GroupCommit[str, str] = GroupCommit(db, _record)
    writes = 0
    real = db.write

    def counting_write() -> Any:
        nonlocal writes
        writes += 1
        return real()

    db.write = counting_write  # type: ignore[method-assign]
    results = await asyncio.gather(
        *(group.submit_async(a) for a in ["e1", "bad2", "e3", "e4"]), return_exceptions=True
    )
    db.write = real  # type: ignore[method-assign]
    assert results[0] == "E1" and results[2:] == ["E3", "E4"]
    assert isinstance(results[1], ValueError)
    assert writes == 1
    with db.read() as conn:
        assert pool_usage(conn)["BTC"].total == 3
