"""The real peers some tests run against, what to do when one is missing, and their ports.

A missing peer skips its tests locally (with the reason and how to install it), but fails them
in CI (`CI=true`): there a skip would make a green run hollow.

Ports: a peer binds port 0 and tells the test which port it got (`listening_ports` reads it
from the kernel for a program that does not report it). A port that must refuse connections is
held bound, without listening, for as long as the test uses it (`closed_port`); so is a port a
peer must know before the listener that takes it over exists (`held_port`). No port number
is ever picked, released and handed over, which two test workers could race for.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parents[1]

# How to get each peer (the Makefile's `make test-deps` runs scripts/install-test-deps.sh).
LITECOIND_HINT = "install it with `apt-get install litecoind` (as root) or `make test-deps`"
CHROMIUM_HINT = "install it with `apt-get install chromium` (as root) or `make test-deps`"
ANVIL_HINT = "install it with `make test-deps` (npm @foundry-rs/anvil into .tools/)"
PEBBLE_HINT = "install it with `apt-get install pebble` (as root) or `make test-deps`"
PODMAN_HINT = (
    "install it with `apt-get install podman debootstrap runc` (as root) or `make test-deps`"
)
PLAYWRIGHT_HINT = "install the dev extra: `.venv/bin/pip install -e '.[dev]'` (or `make install`)"
POSTGRES_HINT = (
    "run a PostgreSQL server at 127.0.0.1:5432 that user postgres may reach without a password "
    "(`apt-get install postgresql`), or point TELLER_TEST_POSTGRES at one"
)


def in_ci() -> bool:
    """Whether this run is CI's (CI=true, as GitHub Actions and most CI services set it)."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def require_peer(name: str, how_to_install: str, *, why: str = "") -> NoReturn:
    """For a peer found missing: skip the test (locally) or fail it (in CI), saying which peer
    is missing, why, and how to install it."""
    detail = f" ({why})" if why else ""
    message = f"{name} is not available{detail}: {how_to_install}"
    if in_ci():
        pytest.fail(f"required test peer missing in CI: {message}", pytrace=False)
    pytest.skip(message)


# -- ports ---------------------------------------------------------------------------------


@contextmanager
def closed_port(host: str = "127.0.0.1") -> Iterator[int]:
    """A port on `host` where nothing listens: connections to it are refused. The socket stays
    bound (not listening) until the block ends, so no other peer can take the port meanwhile."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        yield int(sock.getsockname()[1])


@contextmanager
def held_port(host: str = "127.0.0.1") -> Iterator[int]:
    """A port on `host` held for a listener that binds it later, for a peer that must be told
    the port before that listener exists (Pebble's httpPort, before teller's web.http_addr).

    The socket is bound with SO_REUSEADDR and never listens: a listener that also sets
    SO_REUSEADDR (teller's do) may bind and listen on the same port meanwhile, and again after
    a restart, while no port-0 bind of another test can be given it until the block ends."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, 0))
        yield int(sock.getsockname()[1])


def _socket_inodes(pid: int) -> set[str]:
    inodes: set[str] = set()
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:  # the process has gone (its caller finds out)
        return inodes
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process `pid` listens on (Linux: /proc), for a peer told to bind port 0
    that does not say which port it got."""
    inodes = _socket_inodes(pid)
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # 0A: LISTEN
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


def wait_for_port(pid: int, alive: Callable[[], bool], what: str, timeout: float = 30.0) -> int:
    """The one port process `pid` listens on, once it listens; `alive()` false means it died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"{what} exited before it listened")
        ports = listening_ports(pid)
        if len(ports) > 1:
            raise RuntimeError(f"{what} listens on several ports: {sorted(ports)}")
        if ports:
            return ports.pop()
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen within {timeout:.0f} s")
