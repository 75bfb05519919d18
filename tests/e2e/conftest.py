"""Running the real `teller` command as a separate process, with the shipped example config."""

from __future__ import annotations

import os
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class TellerProcess:
    """One teller data directory, started and killed as often as a test likes."""

    datadir: Path
    log_path: Path
    env: dict[str, str]
    public: str
    admin: str
    dummy: str
    proc: subprocess.Popen[bytes] | None = None
    starts: int = field(default=0)

    def start(self) -> None:
        assert self.proc is None
        self.starts += 1
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
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
            try:
                if httpx.get(f"{self.public}/api/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError("teller did not become ready in 30 s")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or power cut."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(20)
        self.proc = None
        return code


@pytest.fixture
def teller_process(tmp_path: Path) -> Iterator[TellerProcess]:
    ports = {name: free_port() for name in ("public", "admin", "dummy")}
    env = dict(os.environ)
    env.update(
        {
            "TELLER_WEB__HTTP_ADDR": f"127.0.0.1:{ports['public']}",
            "TELLER_ADMIN_PANEL__HOST": f"127.0.0.1:{ports['admin']}",
            "TELLER_DUMMY__HTTP_ADDR": f"127.0.0.1:{ports['dummy']}",
            "TELLER_SKY_EXCHANGER__TX_CONFIRMATION_CHECK_WAIT": "100ms",
        }
    )
    process = TellerProcess(
        datadir=tmp_path / "data",
        log_path=tmp_path / "teller.log",
        env=env,
        public=f"http://127.0.0.1:{ports['public']}",
        admin=f"http://127.0.0.1:{ports['admin']}",
        dummy=f"http://127.0.0.1:{ports['dummy']}",
    )
    yield process
    if process.proc is not None:
        process.kill()
