"""Address files: the formats of the seed README, every address checked, problems located."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from teller.deposits.address_files import AddressFileError, read_address_file
from tests.vectors import go_teller_file

BTC_1 = "1PZ63K3G4gZP6A6E2TTbBwxT5bFQGL2TLB"
BTC_2 = "14FG8vQnmK6B7YbLSr6uC5wfGY78JFNCYg"
P2SH = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"
BECH32 = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
ETH_MIXED = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("coin", ["btc", "eth", "sky"])
def test_the_original_example_files_load_unchanged(coin: str) -> None:
    path = go_teller_file(f"example_{coin}_addresses.json")
    addresses = read_address_file(path, coin.upper())
    assert addresses == [
        a.strip().lower() if coin == "eth" else a.strip()
        for a in json.loads(path.read_text())[f"{coin}_addresses"]
    ]


def test_text_files_skip_blank_and_comment_lines_and_trim_the_rest(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "btc.txt", f"# pool\n\n  {BTC_1}  \r\n\t# {BTC_2}\n{P2SH}\r\n{BECH32}\n"
    )
    assert read_address_file(path, "BTC") == [BTC_1, P2SH, BECH32]


def test_eth_addresses_are_checked_with_eip55_and_stored_lower_case(tmp_path: Path) -> None:
    path = _write(tmp_path, "eth.txt", f"{ETH_MIXED}\n")
    assert read_address_file(path, "ETH") == [ETH_MIXED.lower()]
    bad = _write(tmp_path, "bad.txt", ETH_MIXED[:-1] + "D\n")
    with pytest.raises(AddressFileError, match=r"bad.txt line 1: invalid ETH address .*EIP-55"):
        read_address_file(bad, "ETH")


def test_every_bad_line_is_reported_with_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "btc.txt", f"{BTC_1}\nnot-an-address\n{BTC_2}\n{BTC_1}\n")
    with pytest.raises(AddressFileError) as caught:
        read_address_file(path, "BTC")
    assert caught.value.problems == [
        f"{path} line 2: invalid BTC address 'not-an-address': Invalid base58 character",
        f"{path} line 4: duplicate deposit address '{BTC_1}' (first on line 1)",
    ]


def test_json_problems_name_the_line_of_the_entry(tmp_path: Path) -> None:
    text = json.dumps({"btc_addresses": [BTC_1, BTC_2, BTC_2]}, indent=4)
    path = _write(tmp_path, "btc.json", text)
    with pytest.raises(AddressFileError) as caught:
        read_address_file(path, "BTC")
    assert caught.value.problems == [
        f"{path} line 5: duplicate deposit address '{BTC_2}' (first on line 4)"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "No BTC addresses"),
        ("# only comments\n", "No BTC addresses"),
    ],
)
def test_empty_text_files_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(AddressFileError, match=message):
        read_address_file(_write(tmp_path, "btc.txt", text), "BTC")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "line 1: invalid JSON"),
        ("[]", re.escape('expected a JSON object {"btc_addresses": [...]}')),
        ('{"eth_addresses": []}', re.escape('expected a JSON object {"btc_addresses": [...]}')),
        ('{"btc_addresses": [1]}', r"btc_addresses\[0\] is not a string"),
        ('{"btc_addresses": []}', "No BTC addresses"),
    ],
)
def test_malformed_json_files_are_refused(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(AddressFileError, match=message):
        read_address_file(_write(tmp_path, "btc.json", text), "BTC")


def test_a_missing_or_binary_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AddressFileError, match="cannot read"):
        read_address_file(tmp_path / "absent.txt", "BTC")
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(AddressFileError, match="not UTF-8"):
        read_address_file(binary, "BTC")


def test_testnet_addresses_are_refused_on_mainnet(tmp_path: Path) -> None:
    path = _write(tmp_path, "btc.txt", "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn\n")
    with pytest.raises(AddressFileError, match="line 1: invalid BTC address"):
        read_address_file(path, "BTC")
