"""Several API processes on one machine: started, watched, restarted and stopped by teller.

Place in the flow: `teller run` (cli.py) with web.processes above 1. The process the operator
started (the parent) keeps the worker role (scanners, processor, sender, audit), the admin
and dummy servers, and only reserves the public addresses (web.http_addr, web.https_addr);
it starts `web.processes` API processes, each a fresh `teller run` (exec'd, so no store
connection, thread or event loop is ever shared across a fork) that builds its own store
engine and listens on the public addresses with SO_REUSEPORT: the kernel shares the
connections out between them. An API process dies with the parent (PR_SET_PDEATHSIG) and
tells the parent on a pipe when it serves; one that exits is replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from teller.config.schema import Config
from teller.logs import log_event

log = logging.getLogger("teller")

PR_SET_PDEATHSIG = 1  # linux/prctl.h
READY = b"ready\n"
READY_TIMEOUT = 60.0  # seconds an API process may take to start (imports, wallet, store)
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL at shutdown
WATCH_SECONDS = 0.5
MAX_RESTART_DELAY = 30.0
# Environment overrides (config/load.py) giving an API process the public addresses the
# parent reserved: with port 0 in the config, the port the parent got.
ADDRESS_VARIABLES = {
    "web.http_addr": "TELLER_WEB__HTTP_ADDR",
    "web.https_addr": "TELLER_WEB__HTTPS_ADDR",
}


class ApiProcessError(Exception):
    """The API processes could not be started (the message says why)."""


def api_process_count(config: Config) -> int:
    """How many API processes serve the public addresses: web.processes, 0 = one per core
    this process may run on. One with web.auto_tls_host: the ACME challenge answers and the
    renewed certificate live in one process."""
    if config.web.auto_tls_host:
        return 1
    wanted = config.web.processes
    if wanted > 0:
        return wanted
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def die_with_parent(parent_pid: int) -> None:
    """In an API process: get SIGTERM when the parent dies (even by SIGKILL); exit at once if
    it is already gone (it died before the request took effect)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != parent_pid:
        raise SystemExit(1)


def tell_ready(fd: int) -> None:
    """In an API process: tell the parent it serves (once; the pipe is closed after)."""
    try:
        with contextlib.suppress(BrokenPipeError):
            os.write(fd, READY)
    finally:
        os.close(fd)


class ProcessLabel(logging.Filter):
    """Adds process="api N" to every log line of API process N (the parent's have none)."""

    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label

    def filter(self, record: logging.LogRecord) -> bool:
        fields = getattr(record, "fields", None) or {}
        if "process" not in fields:
            record.fields = {**fields, "process": self.label}
        return True


def format_address(address: str) -> str:
    """host:port for a config key (an IPv6 host in brackets)."""
    host, _, port = address.rpartition(":")
    return f"[{host}]:{port}" if ":" in host else address


@dataclass
class _Child:
    index: int
    process: subprocess.Popen[bytes]
    ready_fd: int
    started: float = field(default_factory=time.monotonic)
    ready: bool = False


@dataclass
class ApiProcesses:
    """The parent's side: `count` API processes running `command` (a `teller run`)."""

    command: Sequence[str]
    count: int
    addresses: dict[str, str]  # public config key -> the address the parent reserved
    children: dict[int, _Child] = field(default_factory=dict)
    restarts: int = 0
    _delay: dict[int, float] = field(default_factory=dict)
    _stopping: bool = False

    def _spawn(self, index: int) -> _Child:
        read_fd, write_fd = os.pipe()
        env = dict(os.environ)
        for key, address in self.addresses.items():
            env[ADDRESS_VARIABLES[key]] = format_address(address)
        try:
            process = subprocess.Popen(
                [*self.command, "--api-process", f"{os.getpid()}:{write_fd}:{index}"],
                pass_fds=(write_fd,),
                stdin=subprocess.DEVNULL,
                env=env,
            )
        except OSError:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        log_event(log, logging.INFO, "API process started", process=f"api {index}", pid=process.pid)
        child = _Child(index, process, read_fd)
        self.children[index] = child
        return child

    async def start(self) -> None:
        """Start every API process and wait until each serves; ApiProcessError if one exits
        or does not get ready in READY_TIMEOUT (the others are stopped then)."""
        try:
            for index in range(1, self.count + 1):
                self._spawn(index)
            children = list(self.children.values())
            waits = [asyncio.to_thread(_wait_ready, c.ready_fd) for c in children]
            for child, ok in zip(children, await asyncio.gather(*waits), strict=True):
                child.ready = ok
                if not ok:
                    raise ApiProcessError(
                        f"API process {child.index} (pid {child.process.pid}) did not start:"
                        " see its log lines above"
                    )
        except BaseException:
            self.kill_all()
            raise

    async def watch(self) -> None:
        """Replace every API process that exits, until stop(); a process that exits soon
        after its start is replaced after a growing delay (at most MAX_RESTART_DELAY)."""
        while not self._stopping:
            await asyncio.sleep(WATCH_SECONDS)
            for index, child in list(self.children.items()):
                code = child.process.poll()
                if code is None or self._stopping:
                    continue
                lived = time.monotonic() - child.started
                delay = self._delay.get(index, 0.5) * 2 if lived < 10 else 0.5
                self._delay[index] = min(delay, MAX_RESTART_DELAY)
                log_event(
                    log,
                    logging.ERROR,
                    "an API process exited: starting another",
                    watch=True,
                    process=f"api {index}",
                    pid=child.process.pid,
                    exit_code=code,
                    after_seconds=f"{self._delay[index]:g}",
                )
                os.close(child.ready_fd)
                del self.children[index]
                await asyncio.sleep(self._delay[index])
                if self._stopping:
                    return
                self.restarts += 1
                self._spawn(index)
            for child in self.children.values():
                if not child.ready and _wait_ready(child.ready_fd, timeout=0):
                    child.ready = True
                    log_event(log, logging.INFO, "API process ready", process=f"api {child.index}")

    def pids(self) -> list[int]:
        return [c.process.pid for c in self.children.values()]

    async def stop(self) -> None:
        """SIGTERM every API process; SIGKILL those still running after STOP_TIMEOUT."""
        self._stopping = True
        for child in self.children.values():
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline and any(
            c.process.poll() is None for c in self.children.values()
        ):
            await asyncio.sleep(0.05)
        self.kill_all()

    def kill_all(self) -> None:
        """SIGKILL whatever API process still runs, and reap them all."""
        self._stopping = True
        for child in self.children.values():
            if child.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    child.process.kill()
            child.process.wait()
            with contextlib.suppress(OSError):
                os.close(child.ready_fd)
        self.children.clear()


def _wait_ready(fd: int, timeout: float = READY_TIMEOUT) -> bool:
    """True once the API process wrote READY on its pipe; False if it closed the pipe (it
    exited) or said nothing within `timeout`."""
    try:
        readable, _, _ = select.select([fd], [], [], timeout)
        return bool(readable) and os.read(fd, len(READY)) == READY
    except OSError:
        return False


def api_command(config_path: Path, appdir: Path) -> list[str]:
    """The command line of an API process: this interpreter running `teller run`."""
    return [
        sys.executable,
        "-m",
        "teller.cli",
        "run",
        "-c",
        str(config_path.resolve()),
        "-d",
        str(appdir.resolve()),
    ]
