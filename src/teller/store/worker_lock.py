"""Who runs the deposit workers: exactly one teller process per database (DESIGN.md §6).

The API is stateless over the store and may run in many replicas on PostgreSQL, but the
processor and sender must run once. On PostgreSQL the worker role is a session advisory lock
held on a dedicated connection: the holder works, the others serve the API and take over when
the holder's connection dies. An SQLite file has one teller only: an exclusive lock file next
to the database refuses a second `teller run` at start-up. Its API processes (web.processes,
api_procs.py) share the file under their parent's lock, never taking it themselves; their
writes queue with the parent's on store/db.py's writer lock.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine, text

from teller.errors import StoreError

# An arbitrary 64-bit constant naming teller's worker role among advisory locks.
WORKER_LOCK_KEY = 0x7E11E25C00001


class DatabaseInUse(StoreError):
    pass


class SqliteProcessLock:
    """An exclusive flock on `<database>.lock`, held for the life of the process."""

    def __init__(self, database_path: Path) -> None:
        self.path = database_path.with_name(database_path.name + ".lock")
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise DatabaseInUse(
                f"another teller (pid {holder}) is using {self.path.with_suffix('')}"
            ) from None
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


class PostgresWorkerLock:
    """The worker role on PostgreSQL: a session advisory lock on a connection of its own."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None

    def try_acquire(self) -> bool:
        if self._conn is not None:
            return True
        conn = self.engine.connect()
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": WORKER_LOCK_KEY})
        if got.scalar_one():
            conn.commit()
            self._conn = conn
            return True
        conn.rollback()
        conn.close()
        return False

    def still_held(self) -> bool:
        """Check the lock's connection is alive (the lock dies with it)."""
        if self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1"))
            self._conn.commit()
            return True
        except Exception:
            self._drop()
            return False

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": WORKER_LOCK_KEY})
            self._conn.commit()
        finally:
            self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                conn.invalidate()
