"""The load generator: wrk, driven by the Lua scripts in bench/lua/.

wrk (C, epoll, one OS thread per -t) costs far less CPU per request than teller does, so
on a 2-core machine it leaves teller a core of its own; its CPU use is measured and printed
beside each figure so a reader can check it was not the bottleneck. Every script reports
through bench/lua/common.lua's done(): a "BENCH-JSON {...}" line parsed here.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.procs import cpu_seconds, machine_busy_seconds

LUA_DIR = Path(__file__).resolve().parent / "lua"
INSTALLER = Path(__file__).resolve().parent / "install-tools.sh"
MARK = "BENCH-JSON "


def ensure_wrk() -> str:
    """The wrk executable, after bench/install-tools.sh (a no-op when wrk is installed)."""
    subprocess.run(["sh", str(INSTALLER)], check=True, stdout=sys.stderr)
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed and bench/install-tools.sh could not install it")
    return found


def wrk_version(wrk: str) -> str:
    done = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
    first = (done.stdout or done.stderr).splitlines()
    return first[0].split(" Copyright")[0] if first else "wrk"


@dataclass(frozen=True)
class Load:
    """How hard to push: wrk's -t, -c, and the duration of one measurement."""

    threads: int = 1
    connections: int = 16
    seconds: float = 5.0


@dataclass
class WrkResult:
    ok: int  # 2xx responses counted
    bad: int  # other responses counted
    sent: int  # requests the script built
    checked_bad: int  # 2xx responses whose body failed the script's check
    started: float  # CLOCK_MONOTONIC (= time.monotonic()) at the first thread's start
    finished: float  # CLOCK_MONOTONIC at the last counted response
    socket_errors: int
    timeouts: int
    p50_us: int
    p99_us: int
    max_us: int
    first_bad: str
    wall: float  # seconds wrk ran, start to exit
    wrk_cpu: float  # CPU seconds wrk used
    server_cpu: float  # CPU seconds the server process used meanwhile
    other_cpu: float  # CPU seconds every other process used meanwhile (a busy machine)

    @property
    def elapsed(self) -> float:
        return max(self.finished - self.started, 1e-9)

    @property
    def rate(self) -> float:
        """Successful responses per second, over the measured span."""
        return self.ok / self.elapsed

    @property
    def wrk_cpu_share(self) -> float:
        return self.wrk_cpu / self.wall

    @property
    def server_cpu_share(self) -> float:
        return self.server_cpu / self.wall

    @property
    def other_cpu_share(self) -> float:
        return self.other_cpu / self.wall

    def problems(self) -> list[str]:
        found = []
        if self.bad:
            found.append(f"{self.bad} non-2xx responses (first: {self.first_bad!r})")
        if self.checked_bad:
            found.append(f"{self.checked_bad} 2xx responses failed the body check")
        if self.socket_errors or self.timeouts:
            found.append(f"{self.socket_errors} socket errors, {self.timeouts} timeouts")
        return found


class RunningWrk:
    """A wrk run in progress; `finish()` waits for it and returns its result."""

    def __init__(
        self,
        wrk: str,
        url: str,
        script: str,
        *,
        load: Load,
        workdir: Path,
        server_pid: int,
        cap: int = 0,
        items: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.server_pid = server_pid
        source = (LUA_DIR / "common.lua").read_text() + "\n" + (LUA_DIR / script).read_text()
        script_path = workdir / f"wrk-{script}"
        script_path.write_text(source)
        per_thread_cap = -(-cap // load.threads) if cap else 0
        self.args = [
            wrk,
            "-t", str(load.threads),
            "-c", str(load.connections),
            "-d", f"{load.seconds:g}s",
            "--timeout", "10s",
            "-s", str(script_path),
            url,
            "--", str(per_thread_cap), str(load.threads), str(items or ""),
        ]  # fmt: skip
        self._server_cpu0 = cpu_seconds(server_pid)
        self._busy0 = machine_busy_seconds()
        self._start = time.monotonic()
        self.process = subprocess.Popen(
            self.args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )

    def exited(self) -> bool:
        """Whether wrk has exited, without reaping it (finish() still gets its rusage)."""
        info = os.waitid(os.P_PID, self.process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        return info is not None

    def stop(self, patience: float = 3.0) -> None:
        """Ask wrk to stop now (SIGINT: it prints its summary and exits).

        wrk ignores SIGINT for its first moments (until its threads are started), so the
        signal is repeated; a wrk that still runs after that is killed (finish() then fails).
        """
        for _attempt in range(2):
            if self.exited():
                return
            self.process.send_signal(signal.SIGINT)
            deadline = time.monotonic() + patience
            while time.monotonic() < deadline and not self.exited():
                time.sleep(0.02)
        if not self.exited():
            self.process.kill()

    def finish(self) -> WrkResult:
        assert self.process.stdout is not None
        output = self.process.stdout.read().decode(errors="replace")
        _pid, status, usage = os.wait4(self.process.pid, 0)
        wall = time.monotonic() - self._start
        self.process.returncode = os.waitstatus_to_exitcode(status)
        server_cpu = cpu_seconds(self.server_pid) - self._server_cpu0
        busy = machine_busy_seconds() - self._busy0
        wrk_cpu = usage.ru_utime + usage.ru_stime
        line = next((x for x in output.splitlines() if x.startswith(MARK)), None)
        if self.process.returncode != 0 or line is None:
            raise RuntimeError(f"wrk failed ({self.process.returncode}): {output[-2000:]}")
        data = json.loads(line[len(MARK) :])
        return WrkResult(
            **data,
            wall=wall,
            wrk_cpu=wrk_cpu,
            server_cpu=server_cpu,
            other_cpu=max(0.0, busy - server_cpu - wrk_cpu),
        )


def run_wrk(
    wrk: str,
    url: str,
    script: str,
    *,
    load: Load,
    workdir: Path,
    server_pid: int,
    cap: int = 0,
    items: Path | None = None,
) -> WrkResult:
    """Run wrk to the end (see RunningWrk)."""
    running = RunningWrk(
        wrk, url, script, load=load, workdir=workdir, server_pid=server_pid, cap=cap, items=items
    )
    return running.finish()
