"""A simulator as its own process: started, waited for until it listens, stopped.

Place: outside teller. The demo launcher (teller_sims/demo.py) and teller's tests start the
simulators through this, as `python -m teller_sims.cli NAME … --port-file F`, and hand teller
nothing but the loopback address the simulator listens on: teller talks to it as to the real
peer and never imports it.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any


class SimulatorFailed(RuntimeError):
    """The simulator exited, or did not listen in time, while it was being started."""


@dataclass
class SimProcess:
    """A running simulator: its process and the loopback port it listens on."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    host: str = "127.0.0.1"
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        """The "127.0.0.1:<port>" that sky_rpc.address wants."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> int:
        """Ctrl-C it (it saves its state on every change; SIGINT ends it cleanly), then kill
        it if it has not ended in `timeout` seconds. Its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.proc.returncode


def start_simulator(
    name: str,
    args: Sequence[str] = (),
    *,
    port_file: Path,
    port: int = 0,
    log: Path | None = None,
    timeout: float = 30.0,
    **popen: Any,
) -> SimProcess:
    """Start `teller-sim NAME ARGS… --port PORT --port-file PORT_FILE` (port 0: any free one)
    and return once it accepts connections. Its output goes to `log` (appended) if given,
    else where this process's goes. Extra keyword arguments go to subprocess.Popen."""
    if name not in ("skynode", "c2cx"):
        raise ValueError(f"no such simulator with a port file: {name!r}")
    port_file.parent.mkdir(parents=True, exist_ok=True)
    port_file.unlink(missing_ok=True)
    command = [sys.executable, "-m", "teller_sims.cli", name, *args]
    command += ["--port", str(port), "--port-file", str(port_file)]
    output = log.open("ab") if log is not None else None
    proc = subprocess.Popen(command, stdout=output, stderr=output, **popen)
    sim = SimProcess(name, proc, 0, _log=output)
    try:
        sim.port = _wait_listening(sim, port_file, timeout)
    except BaseException:
        sim.stop()
        raise
    return sim


def _wait_listening(sim: SimProcess, port_file: Path, timeout: float) -> int:
    """The port of the port file (written, whole, once the socket listens), checked by
    connecting to it."""
    deadline = time.monotonic() + timeout
    while True:
        if sim.proc.poll() is not None:
            raise SimulatorFailed(f"the {sim.name} simulator exited ({sim.proc.returncode})")
        if time.monotonic() > deadline:
            raise SimulatorFailed(f"the {sim.name} simulator did not start in {timeout:g} s")
        text = port_file.read_text() if port_file.exists() else ""
        if text.endswith("\n") and text.strip().isdigit():
            port = int(text)
            try:
                socket.create_connection((sim.host, port), timeout=1).close()
            except OSError:
                pass
            else:
                return port
        time.sleep(0.05)
