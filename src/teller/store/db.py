"""Opening the store: the engine for SQLite (default) or PostgreSQL, and its transactions.

SQLite runs in WAL mode with synchronous=FULL, so a committed status change (a deposit
marked paid, a signed payout stored) survives a power cut. Writers take the database lock
at BEGIN (BEGIN IMMEDIATE) so a read-then-write step, such as taking the first free deposit
address, cannot interleave with another writer.

Group commits (binds, deposit intake: store/group_commit.py) write with the disk flush taken
out of the lock (`write(flush_after=True)`): their transaction commits on a connection with
synchronous=NORMAL (the WAL frames are written, not yet flushed), the writer lock is given up,
and only then is the WAL file flushed (`flush_wal`), before anyone is answered. Writers no
longer queue behind each other's fsync: the next one writes while the last one's flush runs,
and one fsync covers every commit written before it. No caller is answered before its flush;
a crash before the flush loses only writes nobody was told of (WAL recovery stops at the last
frame that made it to disk). Other readers may see such a commit before its flush (a status
page, another bind's count), but nothing that moves money or leaves the machine acts on it
unflushed: every other write keeps synchronous=FULL, and its own flush covers every group
commit written before it (the WAL is one file, written in order); webhook delivery flushes
before it posts. A failed flush is final until restart (`flush_wal`): Linux reports a lost
write-back once, so a later flush that succeeds proves nothing about the frames before it.
"""

from __future__ import annotations

import asyncio
import copy
import fcntl
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry

from teller.store.models import WebhookTarget

T = TypeVar("T")


def sqlite_url(path: Path) -> str:
    return f"sqlite+pysqlite:///{path}"


def store_url(database_url: str, appdir: Path, dbfile: str) -> str:
    """The store a teller opens: `database_url` (PostgreSQL) if set, else the SQLite file
    `dbfile` in the data directory. `teller run` and `teller db ...` open the same one."""
    return database_url or sqlite_url(appdir / dbfile)


def dialect_insert(conn: Connection, table: Table) -> Any:
    """INSERT with ON CONFLICT DO NOTHING available (SQLite and PostgreSQL both have it).
    psycopg reports no rowcount for it: ask RETURNING to know whether a row was inserted."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def create_store_engine(url: str, *, flush_on_commit: bool = True) -> Engine:
    """An engine for `url` with teller's durability settings applied to every connection.

    flush_on_commit=False (SQLite only): commits write the WAL without flushing it
    (synchronous=NORMAL); only for `Database.write(flush_after=True)`, whose caller flushes.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=8,
            max_overflow=16,
        )
        synchronous = "FULL" if flush_on_commit else "NORMAL"

        def configure(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
            _configure_sqlite_connection(dbapi_conn, synchronous)

        event.listen(engine, "connect", configure)
        event.listen(engine, "begin", _begin_sqlite_transaction)
        return engine
    return create_engine(url, pool_size=8, max_overflow=16, pool_pre_ping=True)


def _configure_sqlite_connection(dbapi_conn: Any, synchronous: str) -> None:
    assert isinstance(dbapi_conn, sqlite3.Connection)
    # Hand transaction control to SQLAlchemy's "begin" hook below (pysqlite's own implicit
    # BEGIN would start deferred transactions at the first write, too late to lock).
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={synchronous}")
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
        # each write start the moment the previous one commits. Across processes (the API
        # processes of web.processes and their parent share the file) the same queue is an
        # flock on `<database>-writer.lock`: the kernel wakes the next writer at the unlock.
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        file_store = bool(database and database != ":memory:" and not database.startswith("file:"))
        self._writers = (
            _WriterQueue(f"{database}-writer.lock" if file_store else None)
            if engine.dialect.name == "sqlite"
            else None
        )
        # The WAL file of a SQLite file store (flush_wal), and the engine of the writes that
        # flush it after their commit. None: every write flushes on commit (PostgreSQL, an
        # in-memory store).
        self._wal_path: str | None = None
        self._flush_after_engine: Engine | None = None
        # The first failed flush, shared by the fenced copies: every flush after it fails too.
        self._flush_failure: list[OSError] = []
        if file_store:
            self._wal_path = f"{database}-wal"
            self._flush_after_engine = create_store_engine(
                engine.url.render_as_string(hide_password=False), flush_on_commit=False
            )  # connects at its first write
        self._loop_reader: Connection | None = None
        self._loop_readers_made = 0  # change_count: a new connection counts from 1 again
        # The configured webhooks (app.py sets them once, before anything is written). Every
        # write transaction carries them (execution option "teller_webhooks"), so the code
        # of a state change writes its outbox rows in its own transaction (store/webhooks.py)
        # without being handed the config; none configured: no row is written.
        self.webhook_targets: tuple[WebhookTarget, ...] = ()
        self._fence: Callable[[Connection], None] | None = None

    def fenced(self, check: Callable[[Connection], None]) -> Database:
        """This store, with `check(conn)` run first in every write transaction (it raises to
        roll the transaction back): the worker role's epoch check (store/worker_role.py). The
        copy shares the engine and SQLite's writer queue."""
        other = copy.copy(self)
        other._loop_reader = None
        other._fence = check
        return other

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self, *, flush_after: bool = False, turn_held: bool = False) -> Iterator[Connection]:
        """A transaction that will write: committed on success, rolled back on any error.

        flush_after: on a SQLite file store, the commit does not wait for the disk: the
        caller must call `flush_wal()` after the block and before it answers anyone or acts
        on what it wrote (the module's docstring says why that is safe). Elsewhere the commit
        flushes as always and flush_wal() does nothing.
        turn_held: the caller already holds `writer_turn()` (it decides what to write only
        once its turn has come).
        """
        engine = (flush_after and self._flush_after_engine) or self.engine
        turn = nullcontext() if turn_held else self.writer_turn()
        with turn, engine.connect() as conn:
            conn.execution_options(teller_write=True, teller_webhooks=self.webhook_targets)
            with conn.begin():
                if self._fence is not None:
                    self._fence(conn)
                yield conn

    def flush_wal(self) -> None:
        """Flush SQLite's WAL file to disk: every transaction committed before this call is
        then durable (a write(flush_after=True) is, once this returns). The file is opened
        anew each time, never kept: a WAL removed and made again (every connection closed)
        is a new file, and a flush of the old one would flush nothing of it. Raises OSError
        if the disk reports a failure: the caller must not take its write as durable."""
        if self._wal_path is None:
            return  # every commit flushes itself
        if self._flush_failure:
            # Linux reports a failed write-back to one flush only: the pages it lost are
            # marked clean, and a later flush "succeeds" without them (PostgreSQL stops on
            # this too). Nothing written since can be proven durable until a restart.
            raise OSError(
                self._flush_failure[0].errno,
                f"an earlier flush of the store failed ({self._flush_failure[0]}): "
                "check the disk and restart teller",
            )
        try:
            handle = os.open(self._wal_path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return  # SQLite removes the WAL only after copying it into the database, flushed
        try:
            os.fdatasync(handle)  # as SQLite syncs it: the data and the size, not times
        except OSError as exc:
            self._flush_failure.append(exc)
            raise
        finally:
            os.close(handle)

    @contextmanager
    def writer_turn(self) -> Iterator[None]:
        """This process's turn to write (SQLite: one writer at a time across processes);
        nothing to wait for on PostgreSQL."""
        if self._writers is None:
            yield
            return
        with self._writers.held():
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

        Skips the BEGIN/ROLLBACK round of `read`: on SQLite (no BEGIN), on PostgreSQL by
        autocommit (each statement its own transaction: two round trips fewer per read, the
        hot path of /api/status in the API processes).
        """
        with self.engine.connect() as conn:
            if self.backend == "sqlite":
                conn.execution_options(teller_single_read=True)
                with conn.begin() as txn:
                    yield conn
                    txn.rollback()
            else:
                yield conn.execution_options(isolation_level="AUTOCOMMIT")

    async def run_read(self, query: Callable[..., T], *args: Any) -> T:
        """Run a short read `query(conn, *args)` for an HTTP handler.

        On SQLite it runs on the event loop itself, on one connection kept for this: a local
        indexed read takes a fraction of a millisecond, less than handing it to a thread and
        checking a connection out of the pool costs. Each statement is its own transaction,
        so a query that needs several statements to agree must use one statement. On
        PostgreSQL (a network round trip) it runs in a worker thread.
        """
        if self.backend != "sqlite":
            return await asyncio.to_thread(self._read_in_thread, query, *args)
        conn = self._loop_connection()
        try:
            return query(conn, *args)
        finally:
            conn.rollback()

    def _loop_connection(self) -> Connection:
        if self._loop_reader is None:
            self._loop_reader = self.engine.connect()
            self._loop_reader.execution_options(teller_single_read=True)
            self._loop_readers_made += 1
        return self._loop_reader

    def change_count(self) -> int | None:
        """A number that changes whenever anything is committed to the store, for answers
        kept until then (http/hot.py): SQLite's `PRAGMA data_version` on the event loop's
        reader connection, which never writes itself. None on PostgreSQL, which has no such
        counter short of a round trip that would cost what the answer does. Called on the
        event loop, as run_read."""
        if self.backend != "sqlite":
            return None
        driver = self._loop_connection().connection.driver_connection
        assert driver is not None
        version = int(driver.execute("PRAGMA data_version").fetchone()[0])
        # Each connection counts on its own: a new one's counts never equal an old one's.
        return (self._loop_readers_made << 48) + version

    def _read_in_thread(self, query: Callable[..., T], *args: Any) -> T:
        with self.read_once() as conn:
            return query(conn, *args)

    def dispose(self) -> None:
        if self._fence is not None:
            return  # a fenced copy: the store it was made from disposes the engine
        if self._loop_reader is not None:
            self._loop_reader.close()
            self._loop_reader = None
        self.engine.dispose()
        if self._flush_after_engine is not None:
            self._flush_after_engine.dispose()
            self._flush_after_engine = None
        if self._writers is not None:
            self._writers.close()


class _WriterQueue:
    """SQLite's one writer at a time: a mutex among this process's threads, and an flock on
    `<database>-writer.lock` among processes (None: one process, an in-memory store). Shared
    by a store's fenced copies, so that closing it (dispose) is seen by all of them."""

    def __init__(self, lock_path: str | None) -> None:
        self.mutex = threading.Lock()
        self.file: int | None = None
        if lock_path is not None:
            self.file = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    @contextmanager
    def held(self) -> Iterator[None]:
        with self.mutex:
            handle = self.file  # close() takes the mutex: never closed while held
            if handle is None:
                yield
                return
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def close(self) -> None:
        with self.mutex:  # after a write of this process that holds the turn
            if self.file is not None:
                os.close(self.file)
                self.file = None
