"""`python -m bench.dashboard_queries [N [DATABASE_URL]]`: the dashboard's queries on N deposits.

Not part of `make bench`. Fills a store (migrated as teller's: a new SQLite file, or the
empty PostgreSQL database of DATABASE_URL) with N deposits
(default 1,000,000) spread over 365 days, ~1 in 3 of them ETH with amounts beyond 64 bits,
each paid by a payout of its own day, then times, each the best of 3 runs:
- the per-day figures of the last 30 days (store/stats.py: a range of the created_at indexes),
- the first and a deep keyset page of 100 (store/deposits.py deposits_page),
- for comparison, the same per-day sums read row by row over the whole table in Python (what
  a query without the range and the grouping would cost).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from teller.store.db import Database, create_store_engine, sqlite_url
from teller.store.deposits import deposits_page
from teller.store.migrate import upgrade
from teller.store.stats import DAY, deposits_per_day, sent_per_day
from teller.store.tables import bindings, payouts
from teller.store.tables import deposits as deposits_table

DAYS = 365
BATCH = 20_000
TODAY = 20_000


def fill(db: Database, count: int) -> None:
    per_day = max(count // DAYS, 1)
    with db.write() as conn:
        conn.execute(
            insert(bindings).values(
                id=1,
                coin_type="BTC",
                deposit_address="a",
                sky_address="s",
                buy_method="direct",
                bound_at=0,
            )
        )
        conn.execute(
            insert(payouts),
            [
                {
                    "txid": f"{day:064x}",
                    "raw_tx": "",
                    "total_droplets": 0,
                    "status": "confirmed",
                    "created_at": (TODAY - day) * DAY + 60,
                    "updated_at": 0,
                }
                for day in range(DAYS + 1)
            ],
        )
    for start in range(0, count, BATCH):
        rows: list[dict[str, Any]] = []
        for i in range(start, min(start + BATCH, count)):
            day = min(i // per_day, DAYS)
            eth = i % 3 == 0
            rows.append(
                {
                    "deposit_id": f"{i:064x}:0",
                    "coin_type": "ETH" if eth else "BTC",
                    "deposit_address": "a",
                    "sky_address": "s",
                    "binding_id": 1,
                    "tx": f"{i:064x}",
                    "n": 0,
                    "value": 2**70 + i if eth else 10_000 + i,
                    "height": 1,
                    "status": "done",
                    "buy_method": "direct",
                    "sky_sent": 1_000_000,
                    "payout_txid": f"{day:064x}",
                    "created_at": (TODAY - day) * DAY + i % DAY,
                    "updated_at": 0,
                }
            )
        with db.write() as conn:
            conn.execute(insert(deposits_table), rows)


def best(run: Callable[[], object], times: int = 3) -> float:
    found = []
    for _ in range(times):
        start = time.perf_counter()
        run()
        found.append(time.perf_counter() - start)
    return min(found)


def main(argv: list[str]) -> None:
    count = int(argv[0]) if argv else 1_000_000
    with tempfile.TemporaryDirectory() as folder:
        url = argv[1] if len(argv) > 1 else sqlite_url(Path(folder) / "teller.db")
        engine = create_store_engine(url)
        upgrade(engine)
        db = Database(engine)
        print(f"store: {engine.dialect.name}", file=sys.stderr)
        start = time.perf_counter()
        fill(db, count)
        print(f"{count} deposits written in {time.perf_counter() - start:.1f} s", file=sys.stderr)

        def per_day() -> None:
            with db.read() as conn:
                deposits_per_day(conn, TODAY - 29, TODAY)
                sent_per_day(conn, TODAY - 29, TODAY)

        def first_page() -> None:
            with db.read() as conn:
                deposits_page(conn, before=None, limit=100)

        def deep_page() -> None:
            with db.read() as conn:
                deposits_page(conn, before=count // 10, limit=100, coin_type="ETH")

        def whole_table() -> None:
            totals: dict[tuple[int, str], int] = {}
            with db.read() as conn:
                query = select(
                    deposits_table.c.created_at, deposits_table.c.coin_type, deposits_table.c.value
                )
                for at, coin, value in conn.execute(query):
                    if at >= (TODAY - 29) * DAY:
                        key = (at // DAY, coin)
                        totals[key] = totals.get(key, 0) + value

        with db.read() as conn:
            last = deposits_per_day(conn, TODAY, TODAY)
        print(f"deposits on the last day: {sum(d.count for d in last)}")
        for name, run in (
            ("per-day figures, last 30 days", per_day),
            ("first page of 100", first_page),
            ("page of 100 ETH deposits below seq N/10", deep_page),
            ("per-day sums row by row over the whole table (comparison)", whole_table),
        ):
            print(f"{name}: {best(run) * 1000:.1f} ms")
        db.dispose()


if __name__ == "__main__":
    main(sys.argv[1:])
