"""The measurements: baseline, bind, status, deposits to done, and the address CLI's wall time."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

from bench.addresses import write_lines
from bench.procs import free_port, get_json, http_post, stop_process, wait_until_ready
from bench.teller_proc import SKY_PER_BTC, TellerProcess, clean_env, teller_executable
from bench.wrk import Load, RunningWrk, WrkResult, run_wrk

REPO = Path(__file__).resolve().parent.parent
DEPOSIT_SATOSHIS = 100_000  # 0.001 BTC: 0.5 SKY at 500 SKY/BTC
POLL_SECONDS = 0.2


@dataclass(frozen=True)
class Bench:
    """What every measurement shares: the wrk binary, the temp dir, the load settings."""

    wrk: str
    workdir: Path
    load: Load
    max_requests: int = 200_000  # cap of a fixed-duration run (baseline, config, status)


def measure_baseline(bench: Bench) -> WrkResult:
    """The bare ASGI JSON app (bench.baseline) in its own process, same uvicorn settings."""
    port = free_port()
    log = bench.workdir / "baseline.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.baseline", str(port)],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=clean_env(),
        )
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_until_ready(url, process, log, timeout=30)
        return run_wrk(
            bench.wrk,
            url,
            "get.lua",
            load=bench.load,
            workdir=bench.workdir,
            server_pid=process.pid,
            cap=bench.max_requests,
        )
    finally:
        stop_process(process)


BIND_CONNECTIONS, STATUS_CONNECTIONS = 10, 20  # as the Go teller was measured (issue 15)


def measure_binds(bench: Bench, teller: TellerProcess, sky_file: Path, cap: int) -> WrkResult:
    """POST /api/bind, one never-bound SKY address per request, at most `cap` requests."""
    return run_wrk(
        bench.wrk,
        teller.web,
        "bind.lua",
        load=replace(bench.load, connections=BIND_CONNECTIONS),
        workdir=bench.workdir,
        server_pid=teller.pid,
        cap=cap,
        items=sky_file,
    )


def surely_bound(sky: list[str], binds: WrkResult, load: Load, limit: int) -> list[str]:
    load = replace(load, connections=BIND_CONNECTIONS)
    """SKY addresses certainly bound by the bind run (single wrk thread: sent in file order).

    The last `connections` requests may have been cut off when wrk stopped; the rest were
    answered, and answered 2xx unless the run reported non-2xx responses.
    """
    if load.threads != 1:
        raise ValueError("surely_bound() relies on one wrk thread sending the file in order")
    return sky[: max(0, min(binds.sent - load.connections, limit))]


def measure_get(bench: Bench, teller: TellerProcess, path: str) -> WrkResult:
    return run_wrk(
        bench.wrk, teller.web + path, "get.lua",
        load=replace(bench.load, connections=STATUS_CONNECTIONS), workdir=bench.workdir,
        server_pid=teller.pid, cap=bench.max_requests,
    )  # fmt: skip


def bind_more(teller: TellerProcess, sky_addresses: list[str], each: int) -> None:
    """Bind `each` more BTC deposit addresses to every SKY address (8 clients at a time)."""

    def bind(sky: str) -> None:
        body = json.dumps({"skyaddr": sky, "coin_type": "BTC"}).encode()
        status, answer = http_post(f"{teller.web}/api/bind", body, "application/json", 30)
        if status != 200:
            raise RuntimeError(f"bind for {sky}: {status} {answer[:200]!r}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(bind, [sky for sky in sky_addresses for _ in range(each)]))


def measure_status(
    bench: Bench, teller: TellerProcess, bound_sky: list[str], name: str = "status-sky"
) -> WrkResult:
    """GET /api/status?skyaddr=… round-robin over bound SKY addresses."""
    items = write_lines(bench.workdir / f"{name}.txt", bound_sky)
    return run_wrk(
        bench.wrk,
        teller.web,
        "status.lua",
        load=replace(bench.load, connections=STATUS_CONNECTIONS),
        workdir=bench.workdir,
        server_pid=teller.pid,
        cap=bench.max_requests,
        items=items,
    )


def bound_btc_addresses(teller: TellerProcess) -> list[str]:
    """The BTC deposit addresses teller has handed out (admin /api/deposit-addresses)."""
    view = get_json(f"{teller.admin}/api/deposit-addresses")
    try:
        return list(view["BTC"]["scanning_addresses"])
    except (KeyError, TypeError) as exc:
        raise RuntimeError(
            f"admin /api/deposit-addresses has no BTC scanning_addresses: {exc}"
        ) from exc


def deposit_method(teller: TellerProcess) -> str:
    """POST (a form body) if the dummy API can parse forms, else GET with a query string.

    The probe is a form POST without `addr`: 400 "addr required" means forms work; a 500
    means form parsing itself fails (python-multipart missing) and GET is the way in.
    """
    status, _ = http_post(
        f"{teller.dummy}/dummy/scanner/deposit", b"coin=BTC", "application/x-www-form-urlencoded"
    )
    return "POST" if status == 400 else "GET"


@dataclass
class DepositRun:
    count: int  # deposits posted
    method: str  # how they were posted (POST form, or GET query)
    posting: WrkResult  # the intake requests themselves
    done: int  # deposits in status done at the end
    seconds: float  # first post -> the poll that saw all `count` done (or the timeout)
    timed_out: bool
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Deposits that reached `done`, per second from the first post."""
        return self.done / max(self.seconds, 1e-9)


def _sky_sent(teller: TellerProcess) -> Decimal:
    return Decimal(get_json(f"{teller.admin}/api/accounting")["sent"])


def _done_count(teller: TellerProcess) -> int:
    return len(get_json(f"{teller.admin}/api/deposits?status=done", timeout=60)["deposits"])


def _wait_all_done(
    teller: TellerProcess, running: RunningWrk, count: int, expected_sky: Decimal, timeout: float
) -> tuple[float | None, int]:
    """Poll until `count` deposits are done: (time.monotonic() then, count), or (None, 0)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        time.sleep(POLL_SECONDS)
        if _sky_sent(teller) >= expected_sky:
            done = _done_count(teller)
            if done >= count:
                return time.monotonic(), done
        if running.exited():
            break  # wrk ended (its -d is the timeout): the caller takes the final count
    return None, 0


def measure_deposits(
    bench: Bench, teller: TellerProcess, addresses: list[str], timeout: float
) -> DepositRun:
    """Post one deposit per address as fast as wrk can; time until all are `done`.

    Completion is polled cheaply (admin /api/accounting: SKY sent) every POLL_SECONDS, then
    confirmed with /api/deposits?status=done. wrk is stopped (SIGINT) once all are done.
    """
    method = deposit_method(teller)
    items = write_lines(bench.workdir / "deposit-btc.txt", addresses)
    expected = len(addresses) * Decimal(DEPOSIT_SATOSHIS) * Decimal(SKY_PER_BTC) / 10**8
    load = Load(bench.load.threads, bench.load.connections, seconds=timeout)
    running = RunningWrk(
        bench.wrk, teller.dummy, "deposit.lua", load=load, workdir=bench.workdir,
        server_pid=teller.pid, cap=len(addresses), items=items,
        env={"BENCH_METHOD": method, "BENCH_VALUE": str(DEPOSIT_SATOSHIS),
             "BENCH_RUN": f"{int(time.time()):016x}"},
    )  # fmt: skip
    try:
        finished_at, done = _wait_all_done(teller, running, len(addresses), expected, timeout)
    finally:
        running.stop()  # SIGINT: wrk prints its summary and exits (at once if already done)
    posting = running.finish()
    if finished_at is None:
        finished_at = time.monotonic()
        done = _done_count(teller)
    # The first post left at wrk's start (Lua's CLOCK_MONOTONIC = time.monotonic()).
    run = DepositRun(
        count=len(addresses),
        method=method,
        posting=posting,
        done=done,
        seconds=finished_at - posting.started,
        timed_out=done < len(addresses),
    )
    if method == "GET":
        run.notes.append(
            "POST /dummy/scanner/deposit answers 500 (form parsing needs python-multipart,"
            " not installed): deposits were sent as GET with the same query parameters"
        )
    return run


def time_addresses_cli(workdir: Path, count: int) -> float:
    """Wall seconds of `teller addresses btc SEED <count>` (checks it printed `count` lines)."""
    out = workdir / "cli-addresses.txt"
    start = time.monotonic()
    with out.open("wb") as sink:
        subprocess.run(
            [teller_executable(), "addresses", "btc", "SEED", str(count)],
            stdout=sink,
            stderr=subprocess.DEVNULL,
            check=True,
            env=clean_env(),
            cwd=workdir,
        )
    seconds = time.monotonic() - start
    printed = len(out.read_text().splitlines())
    if printed != count:
        raise RuntimeError(f"teller addresses printed {printed} lines, expected {count}")
    return seconds
