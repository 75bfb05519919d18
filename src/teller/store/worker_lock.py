"""The SQLite file's lock file: many teller processes share it, an import has it to itself.

Place in the flow: `teller run` takes a shared flock on `<database>.lock` for the life of the
process (several processes on one SQLite file are safe: the worker role's lease row,
store/worker_role.py, lets one of them run the stages). `teller import-go` takes it exclusively,
so it refuses while any teller runs on the file, and a teller refuses to start while an import
runs. (On PostgreSQL the import takes the worker role itself instead.) The API processes of
`teller run` (web.processes, api_procs.py) share their parent's lock; their writes queue with
the parent's on store/db.py's writer lock.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from teller.errors import StoreError


class DatabaseInUse(StoreError):
    pass


class SqliteProcessLock:
    """A flock on `<database>.lock`, held for the life of the process: shared (`teller run`)
    or exclusive (the import)."""

    def __init__(self, database_path: Path, *, exclusive: bool = False) -> None:
        self.path = database_path.with_name(database_path.name + ".lock")
        self.exclusive = exclusive
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        handle = self.path.open("a+")
        mode = fcntl.LOCK_EX if self.exclusive else fcntl.LOCK_SH
        try:
            fcntl.flock(handle, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            database = self.path.with_suffix("")
            if self.exclusive:
                raise DatabaseInUse(f"a teller is using {database}") from None
            raise DatabaseInUse(
                f"an import (pid {holder or 'unknown'}) is using {database}"
            ) from None
        if self.exclusive:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
