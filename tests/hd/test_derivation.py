"""deposits/hd.py: extended public keys → deposit addresses, against the BIPs' test vectors.

The vectors (hd_vectors.json) name their sources. Each account is checked twice: the
published account key derives the published addresses, and the key derived here from the
test mnemonic (embit's BIP39/BIP32) is that published key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from embit import bip39
from embit.bip32 import HDKey
from embit.networks import NETWORKS

from teller.coins import eth
from teller.coins.xpub import (
    GAP_LIMIT,
    HdKeyError,
    config_key_problems,
    gap_report,
    parse_key,
)

VECTORS: dict[str, Any] = json.loads((Path(__file__).parent / "hd_vectors.json").read_text())
ACCOUNTS = VECTORS["accounts"]
ZPUB = ACCOUNTS[0]["account_key"]
XPUB = ACCOUNTS[2]["account_key"]
UPUB = ACCOUNTS[1]["account_key"]


def account_key_from_mnemonic(path: str, coin: str) -> str:
    root = HDKey.from_seed(bip39.mnemonic_to_seed(VECTORS["mnemonic"]))
    account = root.derive(path).to_public()
    purpose = path.split("/")[1]
    net = NETWORKS["test" if "/1'/" in path else "main"]
    version = {"84'": net["zpub"], "49'": net["ypub"], "44'": net["xpub"]}[purpose]
    return str(account.to_base58(version=version))


@pytest.mark.parametrize("step", VECTORS["bip32_vector_1"]["steps"], ids=lambda s: s["parent_path"])
def test_public_child_derivation_is_bip32s(step: dict[str, Any]) -> None:
    """The public-parent → public-child step (CKDpub) that every derived address uses."""
    child = HDKey.from_base58(step["parent"]).child(step["index"])
    assert child.to_base58() == step["child"]


@pytest.mark.parametrize("account", ACCOUNTS, ids=lambda a: a["name"])
def test_account_keys_derive_the_published_addresses(account: dict[str, Any]) -> None:
    key = account_key_from_mnemonic(account["path"], account["coin"])
    if account["account_key"] is not None:
        assert key == account["account_key"]
    chain = parse_key(key, account["coin"])
    expected = [
        eth.validate_address(a) if account["coin"] == "ETH" else a for a in account["receive"]
    ]
    assert chain.addresses(0, len(expected)) == expected


def test_key_types_and_networks() -> None:
    assert (parse_key(XPUB, "BTC").script, parse_key(ZPUB, "BTC").script) == ("p2pkh", "p2wpkh")
    ypub = account_key_from_mnemonic("m/49'/0'/0'", "BTC")
    assert parse_key(ypub, "BTC").key_type == "ypub"
    assert parse_key(ypub, "BTC").address(0).startswith("3")
    assert parse_key(UPUB, "BTC").network == "testnet"
    assert parse_key(UPUB, "BTC", "regtest").address(0) == "2Mww8dCYPUpKHofjgcXcBCEGmniw9CoaiD2"
    vpub = HDKey.from_base58(account_key_from_mnemonic("m/84'/1'/0'", "BTC")).to_base58(
        version=NETWORKS["test"]["zpub"]
    )
    assert parse_key(vpub, "BTC", "regtest").address(0).startswith("bcrt1q")
    assert parse_key(vpub, "BTC", "testnet").address(0).startswith("tb1q")


@pytest.mark.parametrize(
    ("key", "coin", "message"),
    [
        ("", "BTC", "the extended public key is empty"),
        (ZPUB[:-1] + ("A" if ZPUB[-1] != "A" else "B"), "BTC", "bad base58 characters or checksum"),
        ("xpub0OIl", "BTC", "bad base58 characters or checksum"),
        (
            HDKey.from_seed(bytes(range(16))).to_base58(),
            "BTC",
            "this is a private key (xprv): give teller the account's extended PUBLIC key",
        ),
        (ZPUB, "ETH", "an Ethereum account key is an xpub (m/44'/60'/0'), not a zpub"),
        (XPUB, "SKY", "HD addresses are for BTC and ETH, not SKY"),
    ],
)
def test_unusable_keys_are_refused_clearly(key: str, coin: str, message: str) -> None:
    with pytest.raises(HdKeyError) as caught:
        parse_key(key, coin)
    assert message in str(caught.value)
    assert key[4:] not in str(caught.value) or not key  # the key itself is never echoed


def test_config_problems_name_the_key_and_the_network() -> None:
    assert config_key_problems("BTC", "btc_xpub", "") == []
    assert config_key_problems("BTC", "btc_xpub", ZPUB) == []
    assert config_key_problems("BTC", "btc_xpub", UPUB, "mainnet") == [
        "btc_xpub invalid: a upub is a testnet key, but btc_scanner.network is mainnet"
    ]
    assert config_key_problems("BTC", "btc_xpub", ZPUB, "regtest") == [
        "btc_xpub invalid: a zpub is a mainnet key, but btc_scanner.network is regtest"
    ]
    assert config_key_problems("ETH", "eth_xpub", "nonsense")[0].startswith("eth_xpub invalid:")


@pytest.mark.parametrize(
    ("next_index", "funded", "longest", "trailing"),
    [
        (0, [], 0, 0),
        (5, [], 5, 5),
        (5, [4], 4, 0),
        (30, [0, 25], 24, 4),
        (30, [0, 1, 2], 27, 27),
        (40, [10, 31, 39], 20, 0),
    ],
)
def test_gap_report(next_index: int, funded: list[int], longest: int, trailing: int) -> None:
    report = gap_report(next_index, funded)
    assert (report.longest_unfunded_run, report.unfunded_since_last_deposit) == (
        longest,
        trailing,
    )
    assert bool(report.warning) == (longest >= GAP_LIMIT)
