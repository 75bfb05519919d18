"""The dashboard's store queries (issue 16): per-day figures, keyset pages, history samples.

On SQLite and PostgreSQL (`db`). The per-day sums are exact beyond 64 bits (SQLite keeps
amounts as text: store/stats.py sums them in chunks), and read a range of the indexed
created_at, not the whole table.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, text

from teller.store.db import Database
from teller.store.deposits import deposits_page
from teller.store.history import HOT_WALLET, latest, pool_series, record, samples_since
from teller.store.stats import DAY, DayCoin, deposits_per_day, sent_per_day
from teller.store.tables import bindings, payouts
from teller.store.tables import deposits as deposits_table

BIG = 2**200 + 12_345  # far beyond 64 bits
TODAY = 20_000  # a UTC day number (2024-10-04)


def _rows(db: Database, rows: list[dict[str, Any]]) -> None:
    with db.write() as conn:
        conn.execute(
            insert(bindings),
            [
                {
                    "id": 1,
                    "coin_type": "ETH",
                    "deposit_address": "0xaa",
                    "sky_address": "sky1",
                    "buy_method": "direct",
                    "bound_at": 0,
                }
            ],
        )
        conn.execute(insert(deposits_table), rows)


def _deposit(i: int, coin: str, value: int, at: int, **extra: Any) -> dict[str, Any]:
    return {
        "deposit_id": f"{i:064x}:0",
        "coin_type": coin,
        "deposit_address": "0xaa",
        "sky_address": "sky1",
        "binding_id": 1,
        "tx": f"{i:064x}",
        "n": 0,
        "value": value,
        "height": 1,
        "status": "done",
        "buy_method": "direct",
        "created_at": at,
        "updated_at": at,
        **extra,
    }


def test_deposits_per_day_are_exact_and_by_utc_day(db: Database) -> None:
    midnight = TODAY * DAY
    _rows(
        db,
        [
            _deposit(1, "ETH", BIG, midnight),
            _deposit(2, "ETH", BIG, midnight + DAY - 1),
            _deposit(3, "ETH", 1, midnight - 1),  # yesterday
            _deposit(4, "BTC", 10**12 - 1, midnight + 5),  # a chunk's largest value
            _deposit(5, "BTC", 1, midnight + 6),  # carries into the next chunk
            _deposit(6, "BTC", 7, midnight + DAY),  # tomorrow: out of range
            _deposit(7, "BTC", 7, midnight - 2 * DAY),  # before the range
        ],
    )
    with db.read() as conn:
        found = deposits_per_day(conn, TODAY - 1, TODAY)
    assert found == [
        DayCoin(TODAY - 1, "ETH", 1, 1),
        DayCoin(TODAY, "BTC", 2, 10**12),
        DayCoin(TODAY, "ETH", 2, 2 * BIG),
    ]


def test_sky_sent_per_day_is_on_the_payouts_day(db: Database) -> None:
    midnight = TODAY * DAY
    with db.write() as conn:
        for txid, at in (("p1", midnight + 10), ("p2", midnight - 10), ("p3", midnight + 20)):
            conn.execute(
                insert(payouts).values(
                    txid=txid,
                    raw_tx="",
                    total_droplets=0,
                    status="confirmed",
                    created_at=at,
                    updated_at=at,
                )
            )
    _rows(
        db,
        [
            _deposit(1, "BTC", 5, midnight - 99, payout_txid="p1", sky_sent=1_500_000),
            _deposit(2, "BTC", 5, midnight - 99, payout_txid="p1", sky_sent=2_000_000),
            _deposit(3, "BTC", 5, midnight - 99, payout_txid="p2", sky_sent=7),
            # stopped after its payout was made: nothing sent, not counted
            _deposit(4, "BTC", 5, midnight - 99, payout_txid="p3", sky_sent=0),
        ],
    )
    with db.read() as conn:
        found = sent_per_day(conn, TODAY - 1, TODAY)
    assert [(s.day, s.deposits, s.droplets) for s in found] == [
        (TODAY - 1, 1, 7),
        (TODAY, 2, 3_500_000),
    ]


def test_the_per_day_query_reads_a_range_of_the_index(sqlite_db: Database) -> None:
    with sqlite_db.read() as conn:
        plan = " ".join(
            str(r[-1])
            for r in conn.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT created_at / 86400, coin_type, count(*)"
                    " FROM deposits WHERE created_at >= 1 AND created_at < 2"
                    " GROUP BY created_at / 86400, coin_type"
                )
            )
        )
    assert "ix_deposits_created_at" in plan, plan


def test_pages_follow_seq_downwards_with_filters(db: Database) -> None:
    _rows(db, [_deposit(i, "BTC" if i % 3 else "ETH", i, 100 + i) for i in range(1, 31)])
    with db.read() as conn:
        first = deposits_page(conn, before=None, limit=10)
        second = deposits_page(conn, before=first[-1].seq, limit=10)
        eth = deposits_page(conn, before=None, limit=100, coin_type="ETH")
        none = deposits_page(conn, before=None, limit=5, status="waiting_send")
    assert [d.seq for d in first] == list(range(30, 20, -1))
    assert [d.seq for d in second] == list(range(20, 10, -1))
    assert [d.seq for d in eth] == list(range(30, 0, -3))
    assert none == []


def test_history_samples_are_written_once_a_second_and_pruned(db: Database) -> None:
    with db.write() as conn:
        record(conn, {HOT_WALLET: 5, pool_series("BTC"): 3}, 100, 0)
        record(conn, {HOT_WALLET: 6}, 100, 0)  # the same second: kept as first written
        record(conn, {HOT_WALLET: 7}, 200, 150)  # prunes what is older than 150
    with db.read() as conn:
        assert [(s.series, s.at, s.value) for s in samples_since(conn, 0)] == [(HOT_WALLET, 200, 7)]
        assert latest(conn)[HOT_WALLET].value == 7
