"""The real `teller` process under a slowloris and a header flood, over real sockets.

A slowloris of 500 sockets (each a request head that never ends) and 8 connections each
sending an endless header: other clients are still answered, every slowloris socket is
closed by teller once http.header_timeout has passed, every flood is cut off, and teller's
peak memory grows by no more than a generous constant (before these limits: 96 → 496 MB).
What the attacks cost other clients in latency is measured by bench/http_limits.py.
"""

from __future__ import annotations

import selectors
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from .conftest import TellerProcess

pytestmark = pytest.mark.e2e

SLOWLORIS_SOCKETS = 500
SLOWLORIS_CLIENTS = 10  # 50 sockets each (127.0.0.2 …): under the cap of 64 per client
FLOODS = 8
FLOOD_BYTES = 40 * 1024 * 1024
MEMORY_GROWTH_LIMIT_KIB = 64 * 1024  # generous: the limits keep it to a few MiB
WAIT = 60.0


def status_kib(pid: int, field: str) -> int:
    """A memory figure of /proc/PID/status in KiB (VmRSS now, VmHWM the peak so far)."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for pid {pid}")


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def served(t: TellerProcess) -> None:
    response = httpx.get(f"{t.public}/api/config", timeout=10)
    assert response.status_code == 200


def test_a_slowloris_of_500_sockets_is_cut_at_the_header_deadline(
    teller_process: TellerProcess,
) -> None:
    t = teller_process
    t.env["TELLER_HTTP__HEADER_TIMEOUT"] = "5s"
    t.start()
    assert t.proc is not None
    address = host_port(t.public)
    served(t)
    peak_before = status_kib(t.proc.pid, "VmHWM")

    sockets = []
    for i in range(SLOWLORIS_SOCKETS):
        source = f"127.0.0.{2 + i % SLOWLORIS_CLIENTS}"
        sock = socket.create_connection(address, timeout=10, source_address=(source, 0))
        sock.sendall(b"GET /api/config HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
        sockets.append(sock)
    try:
        # While all of them hang: other clients are answered.
        for _ in range(5):
            served(t)
        answers = wait_until_closed_by_server(sockets)
    finally:
        for sock in sockets:
            sock.close()

    assert all(answer.startswith(b"HTTP/1.1 408 ") for answer in answers)
    served(t)
    assert status_kib(t.proc.pid, "VmHWM") - peak_before < MEMORY_GROWTH_LIMIT_KIB


def wait_until_closed_by_server(sockets: list[socket.socket]) -> list[bytes]:
    """What each socket received before teller closed it; fails if some stay open."""
    selector = selectors.DefaultSelector()
    received: dict[socket.socket, bytes] = {}
    for sock in sockets:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        received[sock] = b""
    still_open = set(sockets)
    deadline = time.monotonic() + WAIT
    while still_open and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.5):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                data = b""
            received[sock] += data
            if not data:
                selector.unregister(sock)
                still_open.discard(sock)
    selector.close()
    assert not still_open, f"{len(still_open)} slowloris sockets still open after {WAIT:g} s"
    return list(received.values())


def flood(address: tuple[str, int], sent: list[int], index: int) -> None:
    """An endless header, FLOOD_BYTES at most, until teller stops taking it."""
    chunk = b"a" * 65536
    with socket.create_connection(address, timeout=WAIT) as sock:
        try:
            sock.sendall(b"GET /api/config HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Flood: ")
            while sent[index] < FLOOD_BYTES:
                sock.sendall(chunk)
                sent[index] += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass


def test_a_flood_of_endless_headers_leaves_memory_flat(teller_process: TellerProcess) -> None:
    t = teller_process
    t.start()
    assert t.proc is not None
    address = host_port(t.public)
    served(t)
    peak_before = status_kib(t.proc.pid, "VmHWM")

    sent = [0] * FLOODS
    floods = [
        threading.Thread(target=flood, args=(address, sent, i), daemon=True) for i in range(FLOODS)
    ]
    for thread in floods:
        thread.start()
    while any(thread.is_alive() for thread in floods):
        served(t)  # other clients are answered throughout
        time.sleep(0.05)
    for thread in floods:
        thread.join()

    assert all(count < FLOOD_BYTES for count in sent), sent  # teller cut every one off
    growth = status_kib(t.proc.pid, "VmHWM") - peak_before
    assert growth < MEMORY_GROWTH_LIMIT_KIB, f"peak memory grew by {growth} KiB"
    served(t)
