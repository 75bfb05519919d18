"""Run a command under two parts of deploy/teller.service's sandbox, without systemd (a test
peer, run as a script by tests/e2e/test_hardening.py):

    python sandbox.py [--mdwe] [--syscalls FILE] -- PROGRAM ARGS...

--mdwe: no memory both writable and executable, nor made executable later (PR_SET_MDWE,
  Linux 6.3+: the kernel's form of MemoryDenyWriteExecute=yes);
--syscalls FILE: only the system calls named in FILE (one per line); any other fails with
  EPERM (a seccomp filter, as SystemCallFilter= with SystemCallErrorNumber=EPERM).
Both hold for PROGRAM, which replaces this process, and for everything it starts.
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import os
import sys
from pathlib import Path

PR_SET_NO_NEW_PRIVS = 38
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_ACT_ERRNO = 0x00050000


def load_syscall_filter(names: list[str], libc: ctypes.CDLL) -> None:
    seccomp = ctypes.CDLL("libseccomp.so.2")
    seccomp.seccomp_init.restype = ctypes.c_void_p
    seccomp.seccomp_init.argtypes = [ctypes.c_uint32]
    seccomp.seccomp_rule_add.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
    ]
    seccomp.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    seccomp.seccomp_load.argtypes = [ctypes.c_void_p]
    context = seccomp.seccomp_init(SCMP_ACT_ERRNO | errno.EPERM)
    for name in names:
        number = seccomp.seccomp_syscall_resolve_name(name.encode())
        # negative: a system call of another architecture
        if number >= 0 and seccomp.seccomp_rule_add(context, SCMP_ACT_ALLOW, number, 0) != 0:
            sys.exit(f"seccomp_rule_add {name} failed")
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or seccomp.seccomp_load(context) != 0:
        sys.exit("seccomp_load failed")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mdwe", action="store_true")
    parser.add_argument("--syscalls", type=Path)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    libc = ctypes.CDLL(None, use_errno=True)
    if args.mdwe and libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
        sys.exit(f"PR_SET_MDWE: {os.strerror(ctypes.get_errno())}")
    if args.syscalls is not None:
        load_syscall_filter(args.syscalls.read_text().split(), libc)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
