"""Fixtures of the automatic TLS tests: Pebble (tests/tls/pebble.py) and a real teller
(tests/http/running_teller.py) whose web.http_addr is the port Pebble validates on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.http.conftest import _every_teller_stopped  # noqa: F401
from tests.http.running_teller import TellerLauncher, reap_stopping
from tests.peers import held_port


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[TellerLauncher]:
    """Starts (and restarts) tellers in tmp_path; every one is stopped after the test."""
    started = TellerLauncher(tmp_path)
    yield started
    started.stop_all()
    # Waited for here, not in the background as elsewhere: a teller whose certificate order is
    # failing logs that error until it has stopped, into whatever test this worker runs next.
    problems = reap_stopping(wait=True)
    assert not problems, "\n".join(problems)


@pytest.fixture
def http_port() -> Iterator[int]:
    """teller's web.http_addr port, held from before Pebble starts until the test ends."""
    with held_port() as port:
        yield port
