"""Helpers of the crash tests: deposits posted through kills, binds, unwaited starts."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from .conftest import EXAMPLE_CONFIG, TellerProcess


class SimulatorProcess:
    """A simulator of the project (`python -m teller.sim.<name> … --port 0 --port-file F`)
    as its own process, which outlives every teller a crash test kills."""

    def __init__(self, directory: Path, module: str, *args: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        port_file = directory / "port"
        self.log = (directory / "sim.log").open("ab")
        command = [sys.executable, "-m", module, "--port", "0", "--port-file", str(port_file)]
        self.proc = subprocess.Popen([*command, *args], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            assert self.proc.poll() is None, f"{module} exited at start"
            assert time.monotonic() < deadline, f"{module} did not start"
            time.sleep(0.05)
        self.port = int(port_file.read_text())

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class DepositPoster(threading.Thread):
    """Posts the deposits one after another, each until teller has answered 200 for it.

    A deposit whose request was cut by a kill is posted again: the same txid:n, so teller
    records it once however often it arrives.
    """

    def __init__(
        self, dummy_url: str, deposits: list[tuple[str, int, str]], interval: float = 0.01
    ) -> None:
        super().__init__(name="deposit poster", daemon=True)
        self.interval = interval
        self.url = f"{dummy_url}/dummy/scanner/deposit"
        self.deposits = deposits
        self.posted = 0
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=5) as http:
            for address, satoshis, tx in self.deposits:
                params = {"coin": "BTC", "addr": address, "value": str(satoshis), "tx": tx}
                while not self.stop.is_set():
                    try:
                        # POST: with the real sender GET is refused (README Dummy mode).
                        if http.post(self.url, params=params).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    time.sleep(0.02)
                self.posted += 1
                time.sleep(self.interval)


def bind_btc(t: TellerProcess, sky: str) -> str:
    response = httpx.post(f"{t.public}/api/bind", json={"skyaddr": sky, "coin_type": "BTC"})
    assert response.status_code == 200, response.text
    return str(response.json()["deposit_address"])


def start_unwaited(t: TellerProcess) -> None:
    """Start teller without waiting for it to be ready (so a kill may hit its start-up)."""
    assert t.proc is None
    t.starts += 1
    with t.log_path.open("ab") as log:
        t.proc = subprocess.Popen(
            [sys.executable, "-m", "teller.cli", "-c", str(EXAMPLE_CONFIG), "-d", str(t.datadir)],
            env=t.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
