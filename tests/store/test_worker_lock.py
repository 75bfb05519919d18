"""One worker per database: a second process on an SQLite file is refused, PostgreSQL replicas
take turns holding the worker role."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine

from teller.store.worker_lock import DatabaseInUse, PostgresWorkerLock, SqliteProcessLock


def test_a_second_teller_on_the_same_sqlite_file_is_refused(tmp_path: Path) -> None:
    first = SqliteProcessLock(tmp_path / "teller.db")
    first.acquire()
    with pytest.raises(DatabaseInUse, match=r"another teller \(pid \d+\) is using"):
        SqliteProcessLock(tmp_path / "teller.db").acquire()
    first.release()
    second = SqliteProcessLock(tmp_path / "teller.db")
    second.acquire()  # free again once the first one stops
    second.release()


@pytest.mark.postgres
def test_postgres_replicas_hold_the_worker_role_one_at_a_time(pg_url: str) -> None:
    engine_a, engine_b = create_engine(pg_url), create_engine(pg_url)
    a, b = PostgresWorkerLock(engine_a), PostgresWorkerLock(engine_b)
    try:
        assert a.try_acquire()
        assert not b.try_acquire()
        assert a.still_held()
        a.release()
        assert b.try_acquire()  # the standby takes over
        assert not a.try_acquire()
    finally:
        a.release()
        b.release()
        engine_a.dispose()
        engine_b.dispose()
