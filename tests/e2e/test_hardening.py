"""Teller under the sandbox of deploy/teller.service: its system call filter and
MemoryDenyWriteExecute=yes, on SQLite and PostgreSQL.

Without systemd here (it is not process 1), tests/e2e/sandbox.py applies the two rules that a
library of teller could break at run time: only the system calls the unit's SystemCallFilter=
lines allow (expanded by `systemd-analyze syscall-filter`; any other fails with EPERM), and no
memory both writable and executable (PR_SET_MDWE, Linux 6.3+). A whole purchase runs in a
process so restricted; a JIT, or a call into a denied system call (a new dependency's), fails it.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.test_units import unit_settings
from tests.peers import require_peer

from .conftest import TellerProcess
from .test_dummy_mode import BUYER_1, bind, confirm_all, deposit, statuses, wait_for

pytestmark = pytest.mark.e2e

SANDBOX = Path(__file__).resolve().parent / "sandbox.py"
PROBE = (
    "import mmap, re\n"
    "status = open('/proc/self/status').read()\n"
    "print('seccomp', re.search(r'Seccomp:\\s+(\\d)', status).group(1))\n"
    "mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\n"
)


def syscall_group(name: str) -> set[str]:
    """The system calls of a systemd group (@system-service), its nested groups expanded."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        require_peer("systemd-analyze", "apt-get install systemd", why="expands the unit's filter")
    out = subprocess.run(
        [analyze, "syscall-filter", name], capture_output=True, text=True, check=True
    ).stdout
    calls: set[str] = set()
    for line in out.splitlines()[1:]:  # the first line is the group's own name
        item = line.strip()
        if item.startswith("@"):
            calls |= syscall_group(item)
        elif item and not item.startswith("#"):
            calls.add(item)
    return calls


def unit_syscalls(unit: str) -> set[str]:
    """What the unit's SystemCallFilter= lines allow: the first lists, a ~ line takes away."""
    allowed: set[str] = set()
    for line in unit_settings(unit, "SystemCallFilter"):
        deny = line.startswith("~")
        names = set().union(
            *(syscall_group(n) if n[0] == "@" else {n} for n in line.lstrip("~").split())
        )
        allowed = allowed - names if deny else allowed | names
    return allowed


def sandbox_launcher(tmp_path: Path) -> list[str]:
    """The command that runs what follows it in the unit's sandbox, checked to hold first."""
    try:
        ctypes.CDLL("libseccomp.so.2")
    except OSError:
        require_peer("libseccomp", "apt-get install libseccomp2", why="loads the unit's filter")
    syscalls = tmp_path / "syscalls"
    allowed = unit_syscalls("teller.service")
    assert {"chroot", "mount", "reboot"}.isdisjoint(allowed) and "openat" in allowed
    syscalls.write_text("\n".join(sorted(allowed)))
    launcher = [sys.executable, str(SANDBOX), "--mdwe", "--syscalls", str(syscalls), "--"]
    probe = subprocess.run(
        [*launcher, sys.executable, "-c", PROBE], capture_output=True, text=True, check=False
    )
    if "PR_SET_MDWE" in probe.stderr:
        require_peer("PR_SET_MDWE", "use Linux 6.3 or newer", why=probe.stderr.strip())
    assert probe.stdout == "seccomp 2\n", probe.stderr  # 2: a filter is in force
    assert "PermissionError" in probe.stderr  # the writable, executable mapping was refused
    return launcher


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_teller_pays_a_deposit_in_the_units_sandbox(
    backend: str, teller_process: TellerProcess, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    t = teller_process
    t.launcher = sandbox_launcher(tmp_path)
    if backend == "postgresql":
        t.env["TELLER_DATABASE_URL"] = request.getfixturevalue("pg_url")
    t.start()
    address = bind(t, BUYER_1)
    deposit(t, address, 12_345_678, "ab" * 32)
    wait_for(lambda: [s["status"] for s in statuses(t, BUYER_1)] == ["waiting_confirm"], "payout")
    confirm_all(t)
    wait_for(lambda: [s["status"] for s in statuses(t, BUYER_1)] == ["done"], "done")
    assert t.stop() == 0
