"""Running the real `teller` command as a separate process, with the shipped example config.

Its servers bind port 0 at the first start and the test reads the ports teller got from its
"teller ready" log line; later starts (after a kill) reuse those ports, so URLs a test holds
stay valid across restarts. No port is picked beforehand for teller to bind later.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "src" / "teller" / "examples" / "config.toml"


# The servers of the example config: config key, environment variable, TellerProcess field.
SERVERS = [
    ("web.http_addr", "TELLER_WEB__HTTP_ADDR", "public"),
    ("admin_panel.host", "TELLER_ADMIN_PANEL__HOST", "admin"),
    ("dummy.http_addr", "TELLER_DUMMY__HTTP_ADDR", "dummy"),
]
ANY_PORT = {variable: "127.0.0.1:0" for _, variable, _ in SERVERS}
_READY = re.compile(r'teller ready pid=(\d+) listening="([^"]*)"')


def ready_addresses(log_text: str, pid: int) -> dict[str, str] | None:
    """The addresses process `pid` listens on, by config key ("web.http_addr":
    "127.0.0.1:41234"), from its "teller ready" log line; None before that line."""
    for match in _READY.finditer(log_text):
        if int(match.group(1)) == pid:
            return dict(item.split("=", 1) for item in match.group(2).split())
    return None


@dataclass
class TellerProcess:
    """One teller data directory, started and killed as often as a test likes."""

    datadir: Path
    log_path: Path
    env: dict[str, str]
    public: str = ""  # "http://127.0.0.1:port", known once teller has first started
    admin: str = ""
    dummy: str = ""
    proc: subprocess.Popen[bytes] | None = None
    starts: int = field(default=0)
    # Sockets bound (never listening) to teller's ports from its first kill on: while teller is
    # down no other process's connection can be given one of them as its local port (ports
    # from port 0 come from the same range), so the next start finds them free. Teller's
    # listeners set SO_REUSEADDR, as these do, so it binds beside them.
    holders: list[socket.socket] = field(default_factory=list)
    # A command that runs teller's command line after it (e.g. one that restricts the process
    # first, as systemd's sandbox does): tests/e2e/test_hardening.py
    launcher: list[str] = field(default_factory=list)

    def start(self) -> None:
        assert self.proc is None
        self.starts += 1
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                *self.launcher,
                sys.executable,
                "-m",
                "teller.cli",
                "-c",
                str(EXAMPLE_CONFIG),
                "-d",
                str(self.datadir),
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"teller exited at start:\n{self.log_path.read_text()[-3000:]}"
                )
            addresses = ready_addresses(self.log_path.read_text(errors="replace"), self.proc.pid)
            if addresses is not None:
                self._listening_on(addresses)
                try:
                    if httpx.get(f"{self.public}/api/health", timeout=5).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
            time.sleep(0.05)
        raise AssertionError("teller did not become ready in 30 s")

    def _listening_on(self, addresses: dict[str, str]) -> None:
        """Note the ports teller got, and keep them for its next starts."""
        for key, variable, name in SERVERS:
            if key in addresses:  # the dummy server runs only in dummy mode
                setattr(self, name, f"http://{addresses[key]}")
                self.env[variable] = addresses[key]

    @property
    def admin_headers(self) -> dict[str, str]:
        """The admin credential: the token teller made in its data directory at first start."""
        token = (self.datadir / "admin_token").read_text().strip()
        return {"Authorization": f"Bearer {token}"}

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or power cut."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None
        self._hold_ports()

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(20)
        self.proc = None
        self._hold_ports()
        return code

    def _hold_ports(self) -> None:
        if self.holders:
            return
        for base in (self.public, self.admin, self.dummy):
            if not base:
                continue
            host, port = base.removeprefix("http://").rsplit(":", 1)
            holder = socket.socket()
            holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                holder.bind((host, int(port)))
            except OSError:  # taken in the moment since the kill: the next start says so
                holder.close()
                continue
            self.holders.append(holder)

    def release_ports(self) -> None:
        for holder in self.holders:
            holder.close()
        self.holders.clear()


@pytest.fixture
def teller_process(tmp_path: Path) -> Iterator[TellerProcess]:
    env = dict(os.environ)
    env.update(ANY_PORT)
    env["TELLER_SKY_EXCHANGER__TX_CONFIRMATION_CHECK_WAIT"] = "100ms"
    # The tests poll /api/health and /api/status 20 times a second; the throttle itself is
    # tested in tests/http/test_throttle.py.
    env["TELLER_WEB__THROTTLE_MAX"] = "1000000"
    process = TellerProcess(datadir=tmp_path / "data", log_path=tmp_path / "teller.log", env=env)
    yield process
    if process.proc is not None:
        process.kill()
    process.release_ports()
