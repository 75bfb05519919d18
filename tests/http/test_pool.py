"""Deposit address pools as the buyer and the operator see them (issue 16, items 7 and 8).

ETH addresses are handed out in EIP-55 mixed case (the buyer's wallet can then catch a typo),
while a deposit still matches in any case. A pool running low is told once per crossing of
teller.<coin>_pool_low_warning (a WATCH line) and shown in /api/health.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from teller.coins import eth

from .running_teller import (
    ADDRESS_FILES,
    SKY_A,
    RunningTeller,
    StartTeller,
    TellerLauncher,
    example_addresses,
)

TX = "0x" + "ab" * 32
# An address of the EIP-55 test cases, written as its checksum has it.
EIP55_WRITTEN = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self, message: str) -> list[logging.LogRecord]:
        return [r for r in self.records if r.getMessage().startswith(message)]


@pytest.fixture
def bind_log() -> Iterator[_Lines]:
    lines = _Lines()
    logger = logging.getLogger("teller.bind")
    logger.addHandler(lines)
    yield lines
    logger.removeHandler(lines)


def _pools(tel: RunningTeller) -> dict[str, Any]:
    response = tel.http.get(tel.public + "/api/health")
    assert response.status_code == 200, response.text
    pools = response.json()["pools"]
    assert isinstance(pools, dict)
    return pools


def _pools_once(tel: RunningTeller, ready: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The pools of /api/health once `ready` holds (the answer is cached for a second)."""
    found: dict[str, Any] = tel.wait_for(
        lambda: (lambda p: p if ready(p) else None)(_pools(tel)), what="/api/health pools"
    )
    return found


# -- ETH addresses handed out checksummed ---------------------------------------------------


def test_eth_addresses_are_handed_out_in_eip55_case_and_deposits_match_any_case(
    tel: RunningTeller,
) -> None:
    lower = example_addresses("ETH")[0]
    assert lower == lower.lower()
    # Written all lower-case in the file: handed out with its EIP-55 checksum.
    handed = tel.bind_ok(SKY_A, "ETH")
    assert handed == eth.checksum_address(lower)
    assert handed != lower
    # The buyer's wallet sends to the checksummed form; the deposit is matched.
    tel.deposit_ok(coin="ETH", addr=handed, value=10**18, tx=TX)
    [sent] = tel.wait_status(SKY_A, "waiting_confirm")
    assert sent["coin_type"] == "ETH"


def test_an_eth_address_written_in_eip55_case_is_handed_out_as_written(
    start_teller: StartTeller, tmp_path: Path
) -> None:
    path = tmp_path / "eth_pool.txt"
    path.write_text(EIP55_WRITTEN + "\n", encoding="utf-8")
    tel = start_teller(overrides={"eth_addresses": str(path)})

    assert tel.bind_ok(SKY_A, "ETH") == EIP55_WRITTEN
    # A node reports recipients lower-cased: the deposit is matched all the same.
    tel.deposit_ok(coin="ETH", addr=EIP55_WRITTEN.lower(), value=10**18, tx=TX)
    [sent] = tel.wait_status(SKY_A, "waiting_confirm")
    assert sent["coin_type"] == "ETH"


# -- the pool running low --------------------------------------------------------------------


def test_running_low_is_logged_once_per_crossing_and_shown_in_health(
    tmp_path: Path, bind_log: _Lines
) -> None:
    launcher = TellerLauncher(tmp_path)
    try:
        tel = launcher.start(max_bound_addrs=0, overrides={"teller": {"btc_pool_low_warning": 3}})
        assert _pools(tel)["btc"] == {
            "source": "file",
            "remaining": 5,
            "low_warning": 3,
            "low": False,
        }
        tel.bind_ok(SKY_A, "BTC")
        tel.bind_ok(SKY_A, "BTC")  # 3 left: not below 3
        assert bind_log.messages("deposit address pool running low") == []

        tel.bind_ok(SKY_A, "BTC")  # 2 left: crossed
        tel.bind_ok(SKY_A, "BTC")  # 1 left: told already
        [warned] = bind_log.messages("deposit address pool running low")
        assert warned.levelno == logging.WARNING
        assert warned.notice == "WATCH"  # type: ignore[attr-defined]
        assert warned.fields["remaining"] == 2  # type: ignore[attr-defined]
        pools = _pools_once(tel, lambda p: p["btc"]["remaining"] == 1)
        assert pools["btc"]["low"] is True
        # ETH keeps the default threshold of 100: its 5 addresses are low.
        assert pools["eth"] == {"source": "file", "remaining": 5, "low_warning": 100, "low": True}

        # The operator adds addresses and restarts: no longer low, and told again only
        # when the refilled pool goes below the threshold again.
        pool_file = tel.dir / ADDRESS_FILES["BTC"]
        pool_file.write_text("\n".join(example_addresses("BTC")[:9]) + "\n", encoding="utf-8")
        tel = launcher.restart(tel)
        assert _pools(tel)["btc"]["remaining"] == 5
        assert _pools(tel)["btc"]["low"] is False
        tel.bind_ok(SKY_A, "BTC")
        tel.bind_ok(SKY_A, "BTC")
        assert len(bind_log.messages("deposit address pool running low")) == 1
        tel.bind_ok(SKY_A, "BTC")  # 2 left: crossed again
        tel.bind_ok(SKY_A, "BTC")
        assert len(bind_log.messages("deposit address pool running low")) == 2
    finally:
        launcher.stop_all()


def test_a_zero_threshold_never_warns(start_teller: StartTeller, bind_log: _Lines) -> None:
    tel = start_teller(max_bound_addrs=0, overrides={"teller": {"eth_pool_low_warning": 0}})
    for _ in range(5):
        tel.bind_ok(SKY_A, "ETH")
    assert bind_log.messages("deposit address pool running low") == []
    pools = _pools_once(tel, lambda p: p["eth"]["remaining"] == 0)
    assert pools["eth"] == {"source": "file", "remaining": 0, "low_warning": 0, "low": False}
