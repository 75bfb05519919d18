"""A consistent copy of the SQLite store, taken while teller keeps running (/api/backup)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import Engine

from teller.errors import StoreError


class BackupUnsupported(StoreError):
    pass


def backup_sqlite(engine: Engine, destination: Path) -> None:
    """Copy the live database to `destination` with SQLite's online backup API.

    The copy is one consistent snapshot even while deposits are being written.
    """
    if engine.dialect.name != "sqlite":
        raise BackupUnsupported(
            "backups of a PostgreSQL store are taken with pg_dump, not through teller"
        )
    raw = engine.raw_connection()
    try:
        source = raw.driver_connection
        assert isinstance(source, sqlite3.Connection)
        target = sqlite3.connect(destination)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        raw.close()
