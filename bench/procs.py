"""Process plumbing: free ports, CPU time of a process, small HTTP calls, waiting for readiness."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS's choice for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by process `pid`, all its threads included, and by
    its child processes running now (teller's API processes, web.processes)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    # After "pid (comm)": state is fields[0], utime fields[11], stime fields[12].
    own = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    children: set[str] = set()
    # Each thread lists the children it started: teller starts its API processes from a
    # worker thread, not the main one.
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):  # the thread ended meanwhile
            children.update((task / "children").read_text().split())
    for child in children:
        with contextlib.suppress(OSError):  # exited meanwhile
            own += cpu_seconds(int(child))
    return own


def machine_busy_seconds() -> float:
    """CPU seconds all processes have used since boot (every core; /proc/stat, not idle/iowait)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def http_get(url: str, timeout: float = 10.0) -> tuple[int, bytes]:
    """Status and body of a GET (any status; raises OSError when nothing answers)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return int(reply.status), reply.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


def http_post(url: str, body: bytes, content_type: str, timeout: float = 10.0) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return int(reply.status), reply.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


def get_json(url: str, timeout: float = 30.0) -> Any:
    status, body = http_get(url, timeout)
    if status != 200:
        raise RuntimeError(f"GET {url}: {status} {body[:200]!r}")
    return json.loads(body)


def wait_until_ready(
    url: str, process: subprocess.Popen[bytes], log: Path | None, timeout: float = 90.0
) -> float:
    """Poll `url` until it answers 200; returns the seconds waited. Fails if the process dies."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}{_tail(log)}")
        try:
            if http_get(url, timeout=2.0)[0] == 200:
                return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} not ready after {timeout:.0f}s{_tail(log)}")


def stop_process(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; only this process, by its pid."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _tail(log: Path | None, lines: int = 20) -> str:
    if log is None or not log.exists():
        return ""
    text = log.read_text(errors="replace").splitlines()[-lines:]
    return "\n--- last log lines ---\n" + "\n".join(text)
