"""Fixtures of the import tests: the Go teller's database (a test vector) and copies of it."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ..vectors import vector_path

GO_DB = "go-teller-db/teller.db"
GO_POOL = "go-teller-db/btc_addresses.json"


def fingerprint(path: Path) -> tuple[str, int, int]:
    """What must not change when the importer reads a file: its bytes, size and mtime."""
    stat = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), stat.st_size, stat.st_mtime_ns


@pytest.fixture
def go_db() -> Path:
    """The Go teller's database as shipped (read-only; never copied, so a write would show)."""
    return vector_path(GO_DB)


@pytest.fixture
def go_pool() -> list[str]:
    document: dict[str, Any] = json.loads(vector_path(GO_POOL).read_text(encoding="utf-8"))
    return list(document["btc_addresses"])


@pytest.fixture
def go_db_copy(tmp_path: Path, go_db: Path) -> Path:
    """A writable copy, for tests that damage it."""
    copy = tmp_path / "go-copy.db"
    shutil.copyfile(go_db, copy)
    return copy
