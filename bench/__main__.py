"""`python -m bench` (`make bench`): run every measurement, print the table, write the JSON.

Order: wrk (installed if missing), durable SQLite commits/s, the address CLI, address files,
the bare ASGI baseline, then one teller process for bind, /api/config (info), status and
deposits. Progress goes to stderr; the report to stdout; the JSON to test-output/bench.json.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.addresses import btc_addresses, sky_addresses, write_lines
from bench.big_store import BINDINGS, DEPOSITS, big_store_json, measure_store, render_big_store
from bench.report import Results, as_json, render, write_json
from bench.scanner import measure_scanner, render_scanner
from bench.scenarios import (
    Bench,
    bind_more,
    bound_btc_addresses,
    measure_baseline,
    measure_binds,
    measure_deposits,
    measure_get,
    measure_status,
    surely_bound,
    time_addresses_cli,
)
from bench.skynode_bench import SkyNodeRun, measure_skynode, render_skynode, skynode_json
from bench.sqlite_limit import durable_commit_rate
from bench.teller_proc import TellerProcess
from bench.wrk import Load, ensure_wrk, wrk_version

REPO = Path(__file__).resolve().parent.parent
STATUS_ADDRESSES = 200  # SKY addresses with 5 bindings each the status run cycles through
MANY_BINDINGS = 2_000  # bindings of the one SKY address of the second status run


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    add = parser.add_argument
    add("--seconds", type=float, default=5.0, help="length of each wrk run (default 5)")
    add("--connections", type=int, default=16, help="wrk -c (default 16)")
    add("--pool", type=int, default=20_000, help="BTC addresses in the pool (default 20000)")
    add("--bind-cap", type=int, default=15_000, help="most binds sent (default 15000)")
    add("--deposits", type=int, default=2_000, help="deposits to take to done (default 2000)")
    add("--deposit-timeout", type=float, default=40.0, help="seconds (default 40)")
    add("--sky-deposits", type=int, default=2_000, help="deposits paid through the Skycoin"
        " node simulator, a block a second (default 2000; 0 = skip)")  # fmt: skip
    add("--scanner-blocks", type=int, default=20, help="blocks of 2,000 transactions for the"
        " BTC scanner catch-up (default 20; 0 = skip)")  # fmt: skip
    add("--cli-count", type=int, default=10_000, help="N of `teller addresses btc SEED N`")
    add("--max-requests", type=int, default=200_000, help="cap of a fixed-duration run")
    add("--processes", type=int, default=0, help="teller's web.processes (default 0: one per"
        " core)")  # fmt: skip
    add("--database-url", default="", help='teller\'s database_url (default "": SQLite)')
    add("--big-store", action="store_true", help=f"also measure teller on a store of"
        f" {DEPOSITS:,} deposits and {BINDINGS:,} bindings against an empty one (on"
        " PostgreSQL: wipes --database-url's public schema)")  # fmt: skip
    add("--only-big-store", action="store_true", help="only that measurement")
    add("--json", type=Path, default=REPO / "test-output" / "bench.json", help="JSON output")
    add("--keep", action="store_true", help="keep the temporary directory (logs, databases)")
    return parser.parse_args(argv)


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def source_version() -> str:
    """The commit teller runs from, "+dirty" when src/ has uncommitted changes."""

    def git(*command: str) -> str:
        done = subprocess.run(
            ["git", *command], cwd=REPO, capture_output=True, text=True, check=False
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+dirty" if git("status", "--porcelain", "--", "src") else "")


def measure(args: argparse.Namespace, workdir: Path) -> tuple[Results, SkyNodeRun | None]:
    wrk = ensure_wrk()
    load = Load(threads=1, connections=args.connections, seconds=args.seconds)
    bench = Bench(wrk=wrk, workdir=workdir, load=load, max_requests=args.max_requests)
    load_before = os.getloadavg()[0]
    generator = (
        f"{wrk_version(wrk)}, -t{load.threads} -c{load.connections}, {load.seconds:g} s runs"
    )
    say(f"temporary directory {workdir}; load generator {generator}")

    say("durable SQLite commits/s (WAL, synchronous=FULL) ...")
    commits = durable_commit_rate(workdir)
    say(f"`teller addresses btc SEED {args.cli_count}` ...")
    cli_seconds = time_addresses_cli(workdir, args.cli_count)
    say(f"generating {args.pool} BTC pool addresses and {args.bind_cap + 1000} SKY addresses ...")
    btc_file = write_lines(workdir / "btc-pool.txt", btc_addresses(args.pool))
    sky = sky_addresses(args.bind_cap + 1000)
    sky_file = write_lines(workdir / "bind-sky.txt", sky)
    say("bare ASGI baseline ...")
    baseline = measure_baseline(bench)

    with TellerProcess(
        workdir, btc_file, processes=args.processes, database_url=args.database_url
    ) as teller:
        say("starting teller ...")
        startup = teller.start()
        say(f"teller ready in {startup:.1f}s (pid {teller.pid}); binds ...")
        binds = measure_binds(bench, teller, sky_file, args.bind_cap)
        say("/api/config (no database) ...")
        config = measure_get(bench, teller, "/api/config")
        status_sky = surely_bound(sky, binds, load, STATUS_ADDRESSES)
        say(f"4 more bindings for each of {len(status_sky)} SKY addresses; status ...")
        bind_more(teller, status_sky, 4)
        status = measure_status(bench, teller, status_sky)
        say(f"{MANY_BINDINGS} bindings of one SKY address; status ...")
        many = sky[-1]
        bind_more(teller, [many], MANY_BINDINGS)
        status_many = measure_status(bench, teller, [many], "status-many")
        bound = bound_btc_addresses(teller)[: args.deposits]
        say(f"{len(bound)} deposits to done ...")
        deposits = measure_deposits(bench, teller, bound, args.deposit_timeout)

    skynode = None
    if args.sky_deposits:
        say(f"{args.sky_deposits} deposits through the Skycoin node simulator ...")
        skynode = measure_skynode(bench, btc_file, args.sky_deposits, args.deposit_timeout)

    results = Results(
        source=source_version(),
        generator=generator,
        load_before=load_before,
        commits=commits,
        cli_count=args.cli_count,
        cli_seconds=cli_seconds,
        startup_seconds=startup,
        baseline=baseline,
        binds=binds,
        config=config,
        status=status,
        status_many=status_many,
        deposits=deposits,
        processes=args.processes or len(os.sched_getaffinity(0)),
        backend="PostgreSQL" if args.database_url else "SQLite",
    )
    return results, skynode


def measure_big(args: argparse.Namespace, workdir: Path) -> str | dict[str, Any]:
    """The store at scale (bench/big_store.py): the same figures on an empty and a full store."""
    wrk = ensure_wrk()
    load = Load(threads=1, connections=args.connections, seconds=args.seconds)
    bench = Bench(wrk=wrk, workdir=workdir, load=load, max_requests=args.max_requests)
    btc_file = write_lines(workdir / "big-btc-pool.txt", btc_addresses(args.pool))
    runs = []
    for full in (False, True):
        say(f"teller on the {'full' if full else 'empty'} store ...")
        sky = sky_addresses(args.bind_cap + 1000)
        runs.append(
            measure_store(
                bench,
                btc_file,
                sky,
                full=full,
                processes=args.processes,
                database_url=args.database_url,
                bind_cap=args.bind_cap,
            )
        )
    return big_store_json(*runs) | {"text": render_big_store(*runs)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        folder = (
            Path(tempfile.mkdtemp(prefix="teller-bench-"))
            if args.keep
            else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="teller-bench-")))
        )
        results = skynode = big = None
        if not args.only_big_store:
            results, skynode = measure(args, folder)
        if args.big_store or args.only_big_store:
            big_dir = folder / "big-store"
            big_dir.mkdir()
            big = measure_big(args, big_dir)
    scanner = None
    if args.scanner_blocks and not args.only_big_store:
        say(f"BTC scanner catch-up over {args.scanner_blocks} blocks of 2,000 transactions ...")
        with tempfile.TemporaryDirectory(prefix="teller-bench-scanner-") as scan_folder:
            scanner = measure_scanner(Path(scan_folder), args.scanner_blocks, 2_000)
    when = datetime.now(UTC).isoformat(timespec="seconds")
    machine = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    document: dict[str, Any] = {"when": when, "machine": machine}
    if results is not None:
        print(f"\n{when}  {render(results)}")
        document = as_json(results, when, machine)
    if skynode is not None:
        print(f"\n{render_skynode(skynode)}")
        document["skynode"] = skynode_json(skynode)
    if scanner is not None:
        print(f"\n{render_scanner(scanner)}")
        document["scanner"] = scanner.as_json()
    if isinstance(big, dict):
        print(f"\n{big.pop('text')}")
        document["big_store"] = big
    write_json(args.json, document)
    say(f"results written to {args.json}; finished in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
