"""The store at scale (issue 15): bind, status, health and the admin deposit list with
1,000,000 deposits and 200,000 bindings in the store, against the same on an (almost) empty
store of 1,000 deposits and 200 bindings.

The big store is written straight into teller's database before teller starts, by bulk
insert: on SQLite one transaction of executemany on the driver's connection, on PostgreSQL
COPY. Its rows are what years of use leave: every binding with five paid deposits (one in a
thousand stopped with an error), every bound address in the pool. Teller is then started on
it and measured exactly as on a fresh store; the ratio full/empty of each figure is the
point ("cost flat as the store grows": 1.0).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench.addresses import write_lines
from bench.scenarios import (
    Bench,
    bind_more,
    measure_binds,
    measure_get,
    measure_status,
    surely_bound,
)
from bench.teller_proc import TellerProcess
from bench.wrk import WrkResult, run_wrk
from teller.store.db import create_store_engine
from teller.store.migrate import upgrade

DEPOSITS, BINDINGS = 1_000_000, 200_000
# The "empty" store's own few (its admin pages must hold 100 deposits too, as the full one's)
SMALL_DEPOSITS, SMALL_BINDINGS = 1_000, 200
PER_BINDING = 5  # deposits per binding (DEPOSITS / BINDINGS)
STATUS_SKY = 200  # bench SKY addresses with 5 bindings each, polled by the status run
NOW = 1_765_000_000

BINDING_COLUMNS = ("id", "coin_type", "deposit_address", "sky_address", "buy_method", "bound_at")
POOL_COLUMNS = ("coin_type", "address", "position", "bound_at")
DEPOSIT_COLUMNS = (
    "seq", "deposit_id", "coin_type", "deposit_address", "sky_address", "binding_id", "tx", "n",
    "value", "height", "status", "buy_method", "sky_due", "sky_sent", "error", "created_at",
    "updated_at",
)  # fmt: skip


def _bindings(count: int) -> Iterator[tuple[Any, ...]]:
    for i in range(1, count + 1):
        yield (i, "BTC", f"big-btc-{i}", f"big-sky-{i}", "direct", NOW - count + i)


def _pool(count: int) -> Iterator[tuple[Any, ...]]:
    for i in range(1, count + 1):
        yield ("BTC", f"big-btc-{i}", 1_000_000 + i, NOW - count + i)


def _deposits(count: int, bindings: int) -> Iterator[tuple[Any, ...]]:
    for seq in range(1, count + 1):
        binding = (seq - 1) % bindings + 1
        tx = f"{seq:064x}"
        error = "too small to pay" if seq % 1000 == 0 else ""
        yield (
            seq, f"{tx}:0", "BTC", f"big-btc-{binding}", f"big-sky-{binding}", binding, tx, 0,
            "100000", 1, "done", "direct", 500_000, 0 if error else 500_000, error,
            NOW - count + seq, NOW - count + seq,
        )  # fmt: skip


def fill_store(url: str, deposits: int = DEPOSITS, bindings: int = BINDINGS) -> float:
    """Create teller's schema at `url` and bulk-insert the big store; the seconds it took.
    On PostgreSQL the database's public schema is dropped first (a database for the bench)."""
    start = time.monotonic()
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        engine = create_store_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        upgrade(engine)
        with engine.connect() as conn:
            driver: Any = conn.connection.driver_connection
            with driver.cursor() as cursor:
                for table, columns, rows in _tables(deposits, bindings):
                    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                counters = (("bindings_id_seq", bindings), ("deposits_seq_seq", deposits))
                for sequence, last in counters:
                    if last:
                        cursor.execute("SELECT setval(%s, %s)", (sequence, last))
            driver.commit()
            driver.execute("ANALYZE")
            driver.commit()
        engine.dispose()
        return time.monotonic() - start
    engine = create_store_engine(url)
    upgrade(engine)
    engine.dispose()
    assert parsed.database
    db = sqlite3.connect(parsed.database, isolation_level=None)
    try:
        db.execute("BEGIN")
        for table, columns, rows in _tables(deposits, bindings):
            marks = ", ".join("?" for _ in columns)
            db.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)
        db.execute("COMMIT")
        db.execute("ANALYZE")
    finally:
        db.close()
    return time.monotonic() - start


def _tables(deposits: int, bindings: int) -> list[tuple[str, tuple[str, ...], Iterator[Any]]]:
    return [
        ("bindings", BINDING_COLUMNS, _bindings(bindings)),
        ("deposit_addresses", POOL_COLUMNS, _pool(bindings)),
        ("deposits", DEPOSIT_COLUMNS, _deposits(deposits, bindings)),
    ]


@dataclass
class StoreRun:
    """One store's figures: label "empty" or "full"."""

    label: str
    deposits: int
    bindings: int
    fill_seconds: float
    runs: dict[str, WrkResult] = field(default_factory=dict)


def measure_store(
    bench: Bench,
    btc_file: Path,
    sky: list[str],
    *,
    full: bool,
    processes: int,
    database_url: str,
    bind_cap: int,
) -> StoreRun:
    """Teller on an empty or a full store: bind, status (5 bindings), health, and the admin
    deposit list's first page and a page deep in it (keyset: after=)."""
    label = "full" if full else "empty"
    workdir = bench.workdir / f"store-{label}"
    workdir.mkdir()
    teller = TellerProcess(workdir, btc_file, processes=processes, database_url=database_url)
    url = database_url or f"sqlite+pysqlite:///{teller.data_dir / 'teller.db'}"
    teller.data_dir.mkdir(mode=0o700)
    deposits, bindings = (DEPOSITS, BINDINGS) if full else (SMALL_DEPOSITS, SMALL_BINDINGS)
    fill_seconds = fill_store(url, deposits, bindings)
    run = StoreRun(label, deposits, bindings, fill_seconds)
    local = Bench(bench.wrk, workdir, bench.load, bench.max_requests)
    sky_file = write_lines(workdir / "bind-sky.txt", sky)
    with teller:
        teller.start()
        run.runs["bind"] = binds = measure_binds(local, teller, sky_file, bind_cap)
        status_sky = surely_bound(sky, binds, bench.load, STATUS_SKY)
        bind_more(teller, status_sky, PER_BINDING - 1)
        run.runs["status"] = measure_status(local, teller, status_sky)
        run.runs["health"] = measure_get(local, teller, "/api/health")
        deep = max(0, run.deposits - 1000)
        for name, after in (("admin_first_page", 0), ("admin_deep_page", deep)):
            run.runs[name] = run_wrk(
                bench.wrk,
                f"{teller.admin}/api/deposits?after={after}&limit=100",
                "get.lua",
                load=bench.load,
                workdir=workdir,
                server_pid=teller.pid,
                cap=bench.max_requests,
            )
    return run


FIGURES = {
    "bind": "POST /api/bind",
    "status": "GET /api/status, 5 bindings",
    "health": "GET /api/health",
    "admin_first_page": "admin /api/deposits?after=0&limit=100",
    "admin_deep_page": "admin /api/deposits?after=<N-1000>&limit=100",
}


def render_big_store(empty: StoreRun, full: StoreRun) -> str:
    head = f"{'figure (req/s)':<46} {'empty':>7} {'full':>7} {'ratio':>6} {'p99 e/f ms':>15}"
    lines = [
        f"store at scale: {full.deposits:,} deposits and {full.bindings:,} bindings (empty:"
        f" {empty.deposits:,} and {empty.bindings:,}), written"
        f" by bulk insert in {full.fill_seconds:.1f} s; full/empty ratio 1.0 = flat",
        head,
        "-" * len(head),
    ]
    for key, label in FIGURES.items():
        a, b = empty.runs[key], full.runs[key]
        ratio = b.rate / a.rate if a.rate else 0.0
        p99 = f"{a.p99_us / 1000:.1f}/{b.p99_us / 1000:.1f}"
        lines.append(f"{label:<46} {a.rate:>7.0f} {b.rate:>7.0f} {ratio:>6.2f} {p99:>15}")
        for problem in a.problems() + b.problems():
            lines.append(f"  note {key}: {problem}")
    return "\n".join(lines)


def big_store_json(empty: StoreRun, full: StoreRun) -> dict[str, Any]:
    return {
        "deposits": full.deposits,
        "bindings": full.bindings,
        "fill_seconds": full.fill_seconds,
        "figures": {
            key: {
                "empty": empty.runs[key].rate,
                "full": full.runs[key].rate,
                "ratio": full.runs[key].rate / max(empty.runs[key].rate, 1e-9),
                "p99_ms": [empty.runs[key].p99_us / 1000, full.runs[key].p99_us / 1000],
            }
            for key in FIGURES
        },
    }
