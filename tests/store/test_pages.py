"""Keyset pages of the deposit list (store/deposits.py deposits_page) and the health counts
(errored deposits, free pool addresses) on SQLite and PostgreSQL."""

from __future__ import annotations

from teller.store.bindings import insert_binding
from teller.store.db import Database
from teller.store.deposits import (
    count_errored,
    deposits_page,
    insert_deposit_if_new,
    update_deposit,
)
from teller.store.models import IncomingDeposit
from teller.store.pool import free_counts, sync_pool, take_free_address


def _deposits(db: Database, count: int) -> list[int]:
    """`count` deposits, to bindings of sky1 and sky2 in turn; their seqs."""
    with db.write() as conn:
        sync_pool(conn, "BTC", [f"b{i}" for i in range(count + 3)])
    seqs = []
    for i in range(count):
        with db.write() as conn:
            address = take_free_address(conn, "BTC", 100)
            assert address is not None
            binding = insert_binding(
                conn,
                coin_type="BTC",
                deposit_address=address,
                sky_address=f"sky{i % 2 + 1}",
                buy_method="direct",
                now=100,
            )
            deposit, _ = insert_deposit_if_new(
                conn, IncomingDeposit("BTC", address, 1000 + i, 1, f"{i:064x}", 0), binding, 5
            )
        seqs.append(deposit.seq)
    return seqs


def test_pages_cover_every_deposit_once_in_order(db: Database) -> None:
    seqs = _deposits(db, 7)
    pages, after = [], 0
    with db.read() as conn:
        while True:
            page = deposits_page(conn, after=after, limit=3)
            if not page:
                break
            pages.append([d.seq for d in page])
            after = page[-1].seq
    assert pages == [seqs[0:3], seqs[3:6], seqs[6:7]]
    with db.read() as conn:
        assert [d.seq for d in deposits_page(conn, after=0, limit=10, sky_address="sky2")] == seqs[
            1::2
        ]
        assert [
            d.seq for d in deposits_page(conn, after=seqs[1], limit=2, sky_address="sky1")
        ] == seqs[2:6:2]
        assert [d.seq for d in deposits_page(conn, after=0, limit=10, status="done")] == []
        assert len(deposits_page(conn, after=0, limit=10, status="waiting_decide")) == 7


def test_health_counts_errored_deposits_and_free_addresses(db: Database) -> None:
    seqs = _deposits(db, 4)
    with db.write() as conn:
        assert count_errored(conn) == 0
        deposit = deposits_page(conn, after=seqs[1] - 1, limit=1)[0]
        update_deposit(
            conn, deposit.deposit_id, "waiting_decide", 200, status="done", error="too small"
        )
    with db.read() as conn:
        assert count_errored(conn) == 1
        assert free_counts(conn, ["BTC", "ETH"]) == {"BTC": 3, "ETH": 0}
