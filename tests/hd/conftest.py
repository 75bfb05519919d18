"""Fixtures of the HD tests: a real teller on loopback (tests/http/running_teller.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.http.running_teller import StartTeller, TellerLauncher


@pytest.fixture
def start_teller(tmp_path: Path) -> Iterator[StartTeller]:
    launcher = TellerLauncher(tmp_path)
    yield launcher.start
    launcher.stop_all()
