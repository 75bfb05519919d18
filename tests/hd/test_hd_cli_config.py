"""`teller addresses btc|eth --xpub KEY N` and the btc_xpub / eth_xpub config keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from teller.cli import main
from teller.config.load import parse_config
from teller.config.schema import Config, ConfigError

from .test_derivation import ACCOUNTS, UPUB, XPUB, ZPUB
from .test_hd_bind import ETH_XPUB


def test_addresses_btc_xpub_prints_what_teller_hands_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["addresses", "btc", "--xpub", ZPUB, "2"]) == 0
    assert capsys.readouterr().out.split() == ACCOUNTS[0]["receive"]
    assert main(["addresses", "btc", "--json", "--xpub", XPUB, "2"]) == 0
    assert json.loads(capsys.readouterr().out) == {"btc_addresses": ACCOUNTS[2]["receive"]}


def test_addresses_eth_xpub_prints_lower_case(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["addresses", "eth", "--xpub", ETH_XPUB, "2"]) == 0
    assert capsys.readouterr().out.split() == [a.lower() for a in ACCOUNTS[3]["receive"]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["btc", "--xpub", "xpub-nonsense", "2"], "--xpub: not an extended public key"),
        (["btc", "--xpub", ZPUB], "usage: teller addresses btc --xpub KEY N"),
        (["btc", "--xpub", ZPUB, "two"], "usage: teller addresses btc --xpub KEY N"),
        (["eth", "--xpub", ZPUB, "1"], "an Ethereum account key is an xpub"),
        (["eth", "--xpub", ETH_XPUB, "1000001"], "count must be from 0 to 1,000,000"),
        (["btc", "seed"], "usage: teller addresses btc [--seed-file FILE] N, or SEED N, or --xpub"),
    ],
)
def test_bad_arguments_are_refused_clearly(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["addresses", *args]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


def config(tmp_path: Path, **keys: object) -> Config:
    data = {
        "btc_addresses": "",
        "eth_addresses": "",
        "dummy": {"sender": True, "scanner": True},
        "sky_exchanger": {"sky_btc_exchange_rate": "500", "sky_eth_exchange_rate": "100"},
        **keys,
    }
    return parse_config(data, base_dir=tmp_path, check_network=False, env={})


def problems(tmp_path: Path, **keys: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        config(tmp_path, **keys)
    return sorted(caught.value.problems)


def test_an_xpub_replaces_the_address_file(tmp_path: Path) -> None:
    eth_on = {"eth_scanner": {"enabled": True}}
    assert problems(tmp_path, **eth_on) == ["btc_addresses missing", "eth_addresses missing"]
    assert problems(tmp_path, btc_xpub=ZPUB, **eth_on) == ["eth_addresses missing"]
    loaded = config(tmp_path, btc_xpub=ZPUB, eth_xpub=ETH_XPUB, **eth_on)
    assert (loaded.btc_xpub, loaded.eth_xpub) == (ZPUB, ETH_XPUB)


def test_xpub_problems_are_config_problems(tmp_path: Path) -> None:
    assert problems(tmp_path, btc_xpub=UPUB, eth_xpub=ZPUB) == [
        "btc_xpub invalid: a upub is a testnet key, but btc_scanner.network is mainnet",
        "eth_xpub invalid: an Ethereum account key is an xpub (m/44'/60'/0'), not a zpub",
    ]
    regtest = config(tmp_path, btc_xpub=UPUB, eth_xpub=ETH_XPUB, btc_scanner={"network": "regtest"})
    assert regtest.btc_xpub == UPUB
