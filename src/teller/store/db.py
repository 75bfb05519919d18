"""Opening the store: the engine for SQLite (default) or PostgreSQL, and its transactions.

SQLite runs in WAL mode with synchronous=FULL, so a committed status change (a deposit
marked paid, a signed payout stored) survives a power cut. Writers take the database lock
at BEGIN (BEGIN IMMEDIATE) so a read-then-write step, such as taking the first free deposit
address, cannot interleave with another writer.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry


def sqlite_url(path: Path) -> str:
    return f"sqlite+pysqlite:///{path}"


def create_store_engine(url: str) -> Engine:
    """An engine for `url` with teller's durability settings applied to every connection."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=8,
            max_overflow=16,
        )
        event.listen(engine, "connect", _configure_sqlite_connection)
        event.listen(engine, "begin", _begin_sqlite_transaction)
        return engine
    return create_engine(url, pool_size=8, max_overflow=16, pool_pre_ping=True)


def _configure_sqlite_connection(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
    assert isinstance(dbapi_conn, sqlite3.Connection)
    # Hand transaction control to SQLAlchemy's "begin" hook below (pysqlite's own implicit
    # BEGIN would start deferred transactions at the first write, too late to lock).
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _begin_sqlite_transaction(conn: Connection) -> None:
    options = conn.get_execution_options()
    if options.get("teller_single_read"):
        return  # one read statement: SQLite gives it a consistent view on its own
    mode = "IMMEDIATE" if options.get("teller_write") else "DEFERRED"
    conn.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """The engine plus the kinds of transaction teller uses."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # SQLite lets one writer in at a time; threads that find the lock taken sleep in
        # SQLite's busy handler (1 ms, 2 ms, 5 ms, …). Queueing them on a mutex instead lets
        # each write start the moment the previous one commits.
        self._sqlite_writer = threading.Lock() if engine.dialect.name == "sqlite" else None

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that will write: committed on success, rolled back on any error."""
        with self._writer_turn(), self.engine.connect() as conn:
            conn.execution_options(teller_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def _writer_turn(self) -> Iterator[None]:
        if self._sqlite_writer is None:
            yield
            return
        with self._sqlite_writer:
            yield

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only snapshot (rolled back at the end)."""
        with self.engine.connect() as conn, conn.begin() as txn:
            yield conn
            txn.rollback()

    @contextmanager
    def read_once(self) -> Iterator[Connection]:
        """For reads whose statements need no common snapshot (each one is consistent).

        Skips the BEGIN/ROLLBACK round of `read` on SQLite: the hot path of /api/status.
        """
        with self.engine.connect() as conn:
            conn.execution_options(teller_single_read=True)
            with conn.begin() as txn:
                yield conn
                txn.rollback()

    def dispose(self) -> None:
        self.engine.dispose()
