"""Admin /api/backup: a consistent copy of the SQLite store, taken while teller runs.

Place in the flow: the copy is written to a private temporary folder by store/backup.py
(SQLite's online backup API); the admin route sends the file and then calls `cleanup`. A
PostgreSQL store is backed up with pg_dump instead (404 with that message).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from teller.clock import unix_now
from teller.errors import NotFound
from teller.services.parts import Services
from teller.store.backup import BackupUnsupported, backup_sqlite


@dataclass(frozen=True)
class BackupCopy:
    """A finished copy: `path` to send under `name`, then `cleanup()` to delete it."""

    path: Path
    name: str

    def cleanup(self) -> None:
        shutil.rmtree(self.path.parent, ignore_errors=True)


async def backup_copy(parts: Services) -> BackupCopy:
    """Copy the live database to a new temporary folder; NotFound if the store is not SQLite.

    A failed copy leaves nothing behind (never a partial copy of the database in /tmp).
    """
    folder = Path(tempfile.mkdtemp(prefix="teller-backup-"))
    name = f"teller-{unix_now()}.db"
    copy = BackupCopy(folder / name, name)
    try:
        await asyncio.to_thread(backup_sqlite, parts.db.engine, copy.path)
    except BackupUnsupported as exc:
        copy.cleanup()
        raise NotFound(str(exc)) from exc
    except BaseException:
        copy.cleanup()
        raise
    return copy
