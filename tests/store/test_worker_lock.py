"""The SQLite file's lock file: teller processes share it; an import has it to itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from teller.store.worker_lock import DatabaseInUse, SqliteProcessLock


def test_several_tellers_share_one_sqlite_file(tmp_path: Path) -> None:
    first, second = (
        SqliteProcessLock(tmp_path / "teller.db"),
        SqliteProcessLock(tmp_path / "teller.db"),
    )
    first.acquire()
    second.acquire()  # a second process on the file (the worker role decides who works)
    second.release()
    first.release()


def test_an_import_and_a_teller_exclude_each_other(tmp_path: Path) -> None:
    running = SqliteProcessLock(tmp_path / "teller.db")
    running.acquire()
    with pytest.raises(DatabaseInUse, match="a teller is using"):
        SqliteProcessLock(tmp_path / "teller.db", exclusive=True).acquire()
    running.release()
    importing = SqliteProcessLock(tmp_path / "teller.db", exclusive=True)
    importing.acquire()
    with pytest.raises(DatabaseInUse, match=r"an import \(pid \d+\) is using"):
        SqliteProcessLock(tmp_path / "teller.db").acquire()
    importing.release()
    again = SqliteProcessLock(tmp_path / "teller.db")
    again.acquire()  # free again once the import ends
    again.release()
