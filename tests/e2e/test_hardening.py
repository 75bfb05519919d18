"""Teller under the sandbox of deploy/teller.service: MemoryDenyWriteExecute=yes.

systemd refuses memory that is writable and executable (or becomes executable) with a seccomp
filter; Linux 6.3+ has the same rule as PR_SET_MDWE (PR_MDWE_REFUSE_EXEC_GAIN), kept across
execve, which a test can set without systemd. A JIT, or a library writing code at run time,
would fail under it: the whole purchase runs here in a process so restricted.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.peers import require_peer

from .conftest import TellerProcess
from .test_dummy_mode import BUYER_1, bind, confirm_all, deposit, statuses, wait_for

pytestmark = pytest.mark.e2e

# prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN), then the rest of the command line in its place.
MDWE_LAUNCHER = [
    sys.executable,
    "-c",
    "import ctypes, os, sys\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "if libc.prctl(65, 1, 0, 0, 0) != 0:\n"
    "    sys.exit('PR_SET_MDWE: ' + os.strerror(ctypes.get_errno()))\n"
    "os.execv(sys.argv[1], sys.argv[1:])\n",
]
WRITE_EXECUTE_MAP = (
    "import mmap; mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)"
)


def require_mdwe() -> None:
    """The launcher restricts what it runs: a writable and executable mapping is refused."""
    probe = subprocess.run(
        [*MDWE_LAUNCHER, sys.executable, "-c", WRITE_EXECUTE_MAP],
        capture_output=True,
        text=True,
        check=False,
    )
    if "PR_SET_MDWE" in probe.stderr:
        require_peer(
            "PR_SET_MDWE",
            "run the tests on Linux 6.3 or newer",
            why=f"the kernel refused it: {probe.stderr.strip()}",
        )
    assert probe.returncode != 0 and "PermissionError" in probe.stderr, probe.stderr


def test_teller_pays_a_deposit_without_writable_executable_memory(
    teller_process: TellerProcess,
) -> None:
    require_mdwe()
    t = teller_process
    t.launcher = MDWE_LAUNCHER
    t.start()
    address = bind(t, BUYER_1)
    deposit(t, address, 12_345_678, "ab" * 32)
    wait_for(lambda: [s["status"] for s in statuses(t, BUYER_1)] == ["waiting_confirm"], "payout")
    confirm_all(t)
    wait_for(lambda: [s["status"] for s in statuses(t, BUYER_1)] == ["done"], "done")
    assert t.stop() == 0
