"""Fixtures shared by every test folder: a fresh store on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from teller.store.db import Database, create_store_engine, sqlite_url
from teller.store.migrate import upgrade

from .peers import POSTGRES_HINT, in_ci, require_peer

# Hypothesis profiles. Timings belong in bench/, not in tests: no per-example deadline, which a
# loaded machine (the suite runs on two workers) would trip without anything being wrong.
# - "ci" (CI=true): derandomized (the same examples on every run) and without the example
#   database, so CI passes or fails on the code alone, never by chance or on a replayed find.
# - "dev" (otherwise): randomized, with the example database (.hypothesis/), so local runs keep
#   exploring and a failure found once is tried again first.
# `pytest --hypothesis-profile NAME` picks another.
settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, max_examples=100, print_blob=True
)
settings.register_profile("dev", deadline=None, max_examples=100)
settings.load_profile("ci" if in_ci() else "dev")

# Test files that use what `make test` makes in the background from its start run last, so
# that the other files run meanwhile (on two workers, --dist loadfile keeps this order).
RUN_LAST = ("tests/deploy/test_container.py",)  # images: tests/deploy/prepare_image.py
# The longest files (real processes killed and restarted, chains mined, browsers) run first, so
# that the many short files fill the workers' ends instead of one long file running alone.
RUN_FIRST = (
    "tests/e2e/test_failover.py",
    "tests/e2e/test_failover_network_cut.py",
    "tests/e2e/test_skynode_crash.py",
    "tests/e2e/test_passthrough_crash.py",
    "tests/e2e/test_webhooks.py",
    "tests/web/test_buyer_page_seen.py",
    "tests/e2e/test_dummy_mode.py",
    "tests/e2e/test_void_crash.py",
    "tests/e2e/test_hold_crash.py",
    "tests/e2e/test_btc_scanner.py",
    "tests/test_cli.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def turn(item: pytest.Item) -> int:
        if item.nodeid.startswith(RUN_FIRST):
            return 0
        return 2 if item.nodeid.startswith(RUN_LAST) else 1

    items.sort(key=turn)  # stable: within each group the files keep their order


# Teller processes the tests start serve the public API from the one process unless a test
# asks for more (tests/e2e/test_api_processes.py, test_dummy_mode.py): on two cores, an API
# process per core for every teller a test starts would only slow the suite down.
os.environ.setdefault("TELLER_WEB__PROCESSES", "1")

POSTGRES_ADMIN_URL = os.environ.get(
    "TELLER_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test, dropped afterwards."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"teller_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        require_peer(
            "PostgreSQL", POSTGRES_HINT, why=f"unreachable at {POSTGRES_ADMIN_URL}: {exc.orig}"
        )
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "teller.db")
    else:
        yield from _postgres_database()


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    engine = create_store_engine(db_url)
    upgrade(engine)
    database = Database(engine)
    yield database
    database.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    engine = create_store_engine(sqlite_url(tmp_path / "teller.db"))
    upgrade(engine)
    database = Database(engine)
    yield database
    database.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database URL (if unreachable: skipped locally, failed in CI)."""
    yield from _postgres_database()
