"""Fixtures of the HTTP tests: a real teller on loopback (see running_teller.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .running_teller import RunningTeller, StartTeller, TellerLauncher, reap_stopping


@pytest.fixture(scope="session", autouse=True)
def _every_teller_stopped() -> Iterator[None]:
    """Tellers finish stopping in the background; at the end, all must have stopped cleanly."""
    yield
    problems = reap_stopping(wait=True)
    assert not problems, "\n".join(problems)


@pytest.fixture
def start_teller(tmp_path: Path) -> Iterator[StartTeller]:
    """start_teller(**options) -> RunningTeller; options change the config (see
    TellerLauncher.start). Every teller started is stopped cleanly after the test."""
    launcher = TellerLauncher(tmp_path)
    yield launcher.start
    launcher.stop_all()


@pytest.fixture
def tel(start_teller: StartTeller) -> RunningTeller:
    """A teller with the default test config: BTC and ETH on, 5 addresses per pool."""
    return start_teller()
