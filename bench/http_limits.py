"""`python -m bench.http_limits`: what a slowloris and a header flood cost teller's other clients.

One teller process (bench/teller_proc.py, the default [http] limits). A normal client makes
`--requests` GETs of /api/config on one keep-alive connection: alone (the baseline), while
500 slowloris sockets hang on request heads (from 10 loopback addresses, 50 each: under the
per-client cap), while 8 connections (from another process, reconnecting) each send an
endless header (40 MB at most) to a control server that only reads and drops what teller
would read (what the machine's CPU and loopback alone cost), and while they send them to
teller. Reported: the client's median and 95th-percentile latency and their ratio to the
same run's baseline, teller's CPU (cores) while measuring, its resident memory and peak
(VmHWM) after each phase, how many slowloris sockets teller closed, and how much each flood
connection got to send before teller cut it off.
Latencies are machine-dependent; the ratios are what to compare between runs.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import selectors
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

import httpx

from bench.addresses import btc_addresses, write_lines
from bench.procs import cpu_seconds
from bench.teller_proc import TellerProcess

SLOWLORIS_SOCKETS = 500
SLOWLORIS_CLIENTS = 10
FLOODS = 8
FLOOD_BYTES = 40 * 1024 * 1024


def memory_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of process `pid`, in KiB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0])
    return found["VmRSS"], found["VmHWM"]


@dataclass
class Phase:
    latencies: list[float]
    teller_cpu: float  # teller's CPU seconds per wall second while measuring (1.0 = one core)


def measure_phase(client: httpx.Client, url: str, count: int, pid: int) -> Phase:
    found = []
    cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(url)
        found.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    cpu = (cpu_seconds(pid) - cpu_before) / (time.monotonic() - wall_before)
    return Phase(found, cpu)


@contextmanager
def slowloris(address: tuple[str, int]) -> Iterator[Callable[[], int]]:
    """500 hanging request heads; yields a function counting those teller has closed."""
    sockets = []
    for i in range(SLOWLORIS_SOCKETS):
        source = f"127.0.0.{2 + i % SLOWLORIS_CLIENTS}"
        sock = socket.create_connection(address, timeout=10, source_address=(source, 0))
        sock.sendall(b"GET /api/config HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
        sock.setblocking(False)
        sockets.append(sock)
    selector = selectors.DefaultSelector()
    for sock in sockets:
        selector.register(sock, selectors.EVENT_READ)
    closed: set[socket.socket] = set()

    def closed_by_teller(wait: float = 0.0) -> int:
        deadline = time.monotonic() + wait
        while True:
            for key, _ in selector.select(timeout=0.2):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    data = b""
                if not data:
                    selector.unregister(sock)
                    closed.add(sock)
            if len(closed) == len(sockets) or time.monotonic() >= deadline:
                return len(closed)

    try:
        yield closed_by_teller
    finally:
        selector.close()
        for sock in sockets:
            sock.close()


def flood(address: tuple[str, int], stop: threading.Event, sent: list[int]) -> None:
    """Endless headers, one connection after another until `stop`; `sent` gets how many
    bytes each connection could send (FLOOD_BYTES at most) before teller cut it off."""
    chunk = b"a" * 65536
    while not stop.is_set():
        count = 0
        with socket.create_connection(address, timeout=30) as sock:
            try:
                sock.sendall(b"GET /api/config HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Flood: ")
                while count < FLOOD_BYTES and not stop.is_set():
                    sock.sendall(chunk)
                    count += len(chunk)
            except OSError:
                pass
        sent.append(count)


def flood_process(address: tuple[str, int], stop: EventType, results: Queue[list[int]]) -> None:
    """FLOODS flooding threads in a process of their own (not competing with the measuring
    client for its interpreter lock), until `stop`; puts the bytes sent per connection."""
    local_stop = threading.Event()
    sent: list[int] = []
    threads = [
        threading.Thread(target=flood, args=(address, local_stop, sent), daemon=True)
        for _ in range(FLOODS)
    ]
    for thread in threads:
        thread.start()
    stop.wait()
    local_stop.set()
    for thread in threads:
        thread.join(120)
    results.put(sent)


SINK_READ_BYTES = 16384 + 2 * 256 * 1024  # about what teller reads of a flood connection


class _Sink(asyncio.Protocol):
    """Reads what teller reads of a flooding connection, then closes: nothing else."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport, self.read = transport, 0

    def data_received(self, data: bytes) -> None:
        self.read += len(data)
        if self.read > SINK_READ_BYTES:
            self.transport.close()


def sink_process(stop: EventType, ports: Queue[int]) -> None:
    """The control: a server that only reads and drops, the floods' target instead of teller
    (the same bytes cross loopback on the same machine; teller does no work)."""

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_Sink, "127.0.0.1", 0)
        ports.put(server.sockets[0].getsockname()[1])
        while not stop.is_set():
            await asyncio.sleep(0.1)
        server.close()

    asyncio.run(serve())


def row(label: str, phase: Phase, base: Phase, memory: tuple[int, int]) -> str:
    def p95(values: list[float]) -> float:
        return statistics.quantiles(values, n=20)[-1]

    found, baseline = phase.latencies, base.latencies
    median, high = statistics.median(found), p95(found)
    ratio = median / statistics.median(baseline), high / p95(baseline)
    return (
        f"{label:<28} {median * 1000:7.2f} {high * 1000:7.2f} {ratio[0]:6.2f} {ratio[1]:6.2f}"
        f" {phase.teller_cpu:5.2f} {memory[0] / 1024:8.1f} {memory[1] / 1024:8.1f}"
    )


def flooded(
    context: Any,
    target: tuple[str, int],
    client: httpx.Client,
    url: str,
    requests: int,
    pid: int,
) -> tuple[Phase, list[int]]:
    """The normal client's phase while 8 floods run at `target` (teller, or the sink)."""
    stop, results = context.Event(), context.Queue()
    flooder = context.Process(target=flood_process, args=(target, stop, results))
    flooder.start()
    time.sleep(1.0)  # the floods under way
    phase = measure_phase(client, url, requests, pid)
    stop.set()
    sent: list[int] = results.get(timeout=120)
    flooder.join(30)
    return phase, sent


def run(requests: int, workdir: Path) -> str:
    btc_file = write_lines(workdir / "btc-pool.txt", btc_addresses(100))
    lines = [
        f"{'phase':<28} {'p50 ms':>7} {'p95 ms':>7} {'p50 x':>6} {'p95 x':>6} {'CPU':>5}"
        f" {'RSS MiB':>8} {'peak MiB':>8}"
    ]
    with (
        TellerProcess(workdir, btc_file, extra_config="") as teller,
        httpx.Client(timeout=30) as client,
    ):
        teller.start()
        url = teller.web + "/api/config"
        address = ("127.0.0.1", teller.web_port)
        measure_phase(client, url, 50, teller.pid)  # warm up
        base = measure_phase(client, url, requests, teller.pid)
        lines.append(row("alone (baseline)", base, base, memory_kib(teller.pid)))

        with slowloris(address) as closed_by_teller:
            during = measure_phase(client, url, requests, teller.pid)
            lines.append(row("500 slowloris sockets", during, base, memory_kib(teller.pid)))
            closed_early = closed_by_teller()
            closed = closed_by_teller(wait=30.0)
        lines.append(
            f"slowloris sockets closed by teller: {closed_early} while measuring, "
            f"{closed} of {SLOWLORIS_SOCKETS} within 30 s more"
        )

        context = multiprocessing.get_context("spawn")
        stop_sink, ports = context.Event(), context.Queue()
        sink = context.Process(target=sink_process, args=(stop_sink, ports))
        sink.start()
        sink_address = ("127.0.0.1", ports.get(timeout=30))
        control, _ = flooded(context, sink_address, client, url, requests, teller.pid)
        stop_sink.set()
        sink.join(30)
        lines.append(row("8 floods at a sink (control)", control, base, memory_kib(teller.pid)))
        during, sent = flooded(context, address, client, url, requests, teller.pid)
        lines.append(row("8 endless-header floods", during, base, memory_kib(teller.pid)))
        cut = [s for s in sent if s < FLOOD_BYTES]
        lines.append(
            f"flood connections: {len(sent)}, cut off by teller: {len(cut)}, bytes each could"
            f" send: median {statistics.median(sent) / 2**20:.1f} MiB,"
            f" max {max(sent) / 2**20:.1f} MiB"
        )
        lines.append(f"load average: {os.getloadavg()[0]:.2f} (machine cores: {os.cpu_count()})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http_limits", description=__doc__)
    parser.add_argument("--requests", type=int, default=300, help="GETs per phase (300)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory(prefix="teller-bench-limits-") as workdir:
        print(run(args.requests, Path(workdir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
