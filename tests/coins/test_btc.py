"""Bitcoin addresses: P2PKH derivation vs skycoin's golden files, teller's base58 verdicts, and
the BIP173/BIP350 bech32/bech32m and segwit test vectors (typed in from the BIPs)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from teller.coins import btc, sky
from teller.coins.base58check import encode_base58check, hash160
from tests.vectors import GOLDEN_FILES, load_json, vector_params


def vector_cases(relpath: str) -> list[Any]:
    return vector_params(relpath, "cases", id_key="input")


def test_satoshis_per_btc() -> None:
    assert btc.SATOSHIS_PER_BTC == 100_000_000


# --- P2PKH derivation -------------------------------------------------------------------------


@pytest.mark.parametrize("name", GOLDEN_FILES)
def test_golden_bitcoin_addresses(name: str) -> None:
    golden = load_json(f"skycoin/cipher/{name}")
    for key in golden["keys"]:
        public = bytes.fromhex(key["public"])
        address = btc.p2pkh_address_from_pubkey(public)
        assert address == key["bitcoin_address"]
        assert btc.validate_address(address) == address
        assert btc.validate_p2pkh_address(address) == address


def test_derived_from_seed_like_tool_newbtcaddress() -> None:
    golden = load_json("skycoin/cipher/seed-0000.golden")
    seed = base64.b64decode(golden["seed"])
    derived = [btc.p2pkh_address_from_pubkey(p) for _, p in sky.deterministic_keypairs(seed, 10)]
    assert derived == [key["bitcoin_address"] for key in golden["keys"]]


@pytest.mark.parametrize(
    ("seckey", "address"),
    [  # skycoin src/cipher/bitcoin_test.go constants (skycoin.md §1)
        ("11" * 32, "1Q1pE5vPGEEMqRcVRMbtBK842Y6Pzo6nK9"),
        ("dd" * 32, "1NKRhS7iYUGTaAfaR5z8BueAJesqaTyc4a"),
        (
            "47f7616ea6f9b923076625b4488115de1ef1187f760e65f89eb6f4f7ff04b012",
            "19ck9VKC6KjGxR9LJg4DNMRc45qFrJguvV",
        ),
    ],
)
def test_skycoin_bitcoin_constants(seckey: str, address: str) -> None:
    pubkey = sky.pubkey_from_seckey(bytes.fromhex(seckey))
    assert btc.p2pkh_address_from_pubkey(pubkey) == address


def test_original_pool_file_is_valid() -> None:
    for address in load_json("go-teller-db/btc_addresses.json")["btc_addresses"]:
        assert btc.validate_p2pkh_address(address) == address


def test_p2pkh_needs_a_compressed_key() -> None:
    with pytest.raises(ValueError):
        btc.p2pkh_address_from_pubkey(b"\x04" + bytes(64))


def test_testnet_p2pkh_prefix() -> None:
    address = btc.p2pkh_address_from_hash160(bytes(range(20)), "testnet")
    assert address[0] in "mn"
    assert btc.validate_address(address, "testnet") == address
    assert btc.validate_address(address, "regtest") == address
    with pytest.raises(btc.AddressError, match=r"^Invalid version$"):
        btc.validate_address(address, "mainnet")


# --- base58 verdicts of the original (P2PKH only) and of the general validator ----------------

# The general validator also accepts P2SH and segwit; these two strings are exactly that.
ACCEPTED_BEYOND_THE_ORIGINAL = {
    "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
    "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
}


@pytest.mark.parametrize("case", vector_cases("teller/address_validation.json"))
def test_teller_p2pkh_verdicts(case: dict[str, Any]) -> None:
    if case["btc_valid"]:
        assert btc.validate_p2pkh_address(case["input"]) == case["input"]
    else:
        with pytest.raises(btc.AddressError) as caught:
            btc.validate_p2pkh_address(case["input"])
        assert str(caught.value) == case["btc_error"]


@pytest.mark.parametrize("case", vector_cases("teller/address_validation.json"))
def test_general_validator_verdicts(case: dict[str, Any]) -> None:
    text = case["input"]
    if case["btc_valid"] or text in ACCEPTED_BEYOND_THE_ORIGINAL:
        assert btc.validate_address(text) == text
    else:
        with pytest.raises(btc.AddressError) as caught:
            btc.validate_address(text)
        assert str(caught.value) == case["btc_error"]


def test_p2sh_mainnet_and_testnet() -> None:
    script_hash = hash160(b"\x51")
    mainnet = encode_base58check(b"\x05" + script_hash)
    testnet = encode_base58check(b"\xc4" + script_hash)
    assert mainnet.startswith("3")
    assert testnet.startswith("2")
    assert btc.decode_address(mainnet) == btc.DecodedAddress(btc.AddressKind.P2SH, script_hash)
    assert btc.script_pubkey_for_address(testnet, "testnet") == b"\xa9\x14" + script_hash + b"\x87"
    with pytest.raises(btc.AddressError, match=r"^Invalid version$"):
        btc.validate_address(testnet, "mainnet")


def test_p2pkh_script_pubkey() -> None:
    pub = bytes.fromhex("03b79123b2a3100420b19cccbfc688aa39f510b8491b67bdd296a92a021a3d0d8e")
    script = btc.script_pubkey_for_address("1GJ3vu6ZiskrnP7korsBVEanxb6fpqDjat")
    assert script == b"\x76\xa9\x14" + hash160(pub) + b"\x88\xac"


def test_unknown_network_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown bitcoin network"):
        btc.validate_address("1GJ3vu6ZiskrnP7korsBVEanxb6fpqDjat", "signet")  # type: ignore[arg-type]


@given(st.binary(min_size=20, max_size=20), st.sampled_from(btc.NETWORKS))
def test_p2pkh_round_trip(key_hash: bytes, network: btc.Network) -> None:
    address = btc.p2pkh_address_from_hash160(key_hash, network)
    decoded = btc.decode_address(address, network)
    assert decoded == btc.DecodedAddress(btc.AddressKind.P2PKH, key_hash)


# --- bech32 / bech32m strings (BIP173, BIP350) ------------------------------------------------

VALID_BECH32 = [
    "A12UEL5L",
    "a12uel5l",
    "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
    "?1ezyfcl",
]

VALID_BECH32M = [
    "A1LQFN3A",
    "a1lqfn3a",
    "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
    "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
    "11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8",
    "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
    "?1v759aa",
]

INVALID_BECH32 = [
    "\x201nwldj5",  # HRP character out of range
    "\x7f1axkwrx",
    "\x801eym55h",
    "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
    "pzry9x0s0muk",  # no separator
    "1pzry9x0s0muk",  # empty HRP
    "x1b4n0q5v",  # invalid data character
    "li1dgmt3",  # too short checksum
    "de1lg7wt\xff",  # invalid character in checksum
    "A1G7SGD8",  # checksum calculated with the upper-case HRP
    "10a06t8",  # empty HRP
    "1qzzfhee",  # empty HRP
]

INVALID_BECH32M = [
    "\x201xj0phk",
    "\x7f1g6xzxy",
    "\x801vctc34",
    "an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4",
    "qyrz8wqd2c9m",
    "1qyrz8wqd2c9m",
    "y1b0jsk6g",
    "lt1igcx5c0",
    "in1muywd",
    "mm1crxm3i",
    "au1s5cgom",
    "M1VUXWEZ",
    "16plkw9",
    "1p2gdwpf",
]


@pytest.mark.parametrize("text", VALID_BECH32)
def test_valid_bech32(text: str) -> None:
    hrp, data, encoding = btc.bech32_decode(text)
    assert encoding is btc.Bech32Encoding.BECH32
    assert btc.bech32_encode(hrp, data, encoding) == text.lower()


@pytest.mark.parametrize("text", VALID_BECH32M)
def test_valid_bech32m(text: str) -> None:
    hrp, data, encoding = btc.bech32_decode(text)
    assert encoding is btc.Bech32Encoding.BECH32M
    assert btc.bech32_encode(hrp, data, encoding) == text.lower()


@pytest.mark.parametrize("text", INVALID_BECH32 + INVALID_BECH32M)
def test_invalid_bech32_strings(text: str) -> None:
    with pytest.raises(btc.AddressError):
        btc.bech32_decode(text)


@pytest.mark.parametrize("text", VALID_BECH32 + VALID_BECH32M)
def test_one_changed_character_breaks_the_checksum(text: str) -> None:
    position = text.rfind("1") + 1
    swapped = "q" if text[position].lower() != "q" else "p"
    if text.isupper():
        swapped = swapped.upper()
    with pytest.raises(btc.AddressError, match="checksum"):
        btc.bech32_decode(text[:position] + swapped + text[position + 1 :])


def test_mixed_case_message() -> None:
    with pytest.raises(btc.AddressError, match=r"^Mixed-case bech32 address$"):
        btc.bech32_decode("a12UEL5L")


# --- segwit addresses (BIP350 list, which replaced BIP173's) ----------------------------------

VALID_SEGWIT = [
    ("mainnet", "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
     "0014751e76e8199196d454941c45d1b3a323f1433bd6"),
    ("testnet", "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
     "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262"),
    ("mainnet", "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
     "5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6"),
    ("mainnet", "BC1SW50QGDZ25J", "6002751e"),
    ("mainnet", "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs",
     "5210751e76e8199196d454941c45d1b3a323"),
    ("testnet", "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
     "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433"),
    ("testnet", "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
     "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433"),
    ("mainnet", "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
     "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"),
]  # fmt: skip


@pytest.mark.parametrize(("network", "address", "script"), VALID_SEGWIT)
def test_valid_segwit_addresses(network: btc.Network, address: str, script: str) -> None:
    assert btc.validate_address(address, network) == address.lower()
    assert btc.script_pubkey_for_address(address, network).hex() == script


# (network the address is tried on, address, a word the error message must contain)
INVALID_SEGWIT = [
    ("testnet", "tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut", ""),
    ("mainnet", "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", "checksum"),
    ("testnet", "tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf", "checksum"),
    ("mainnet", "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL", "checksum"),
    ("mainnet", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", "checksum"),
    ("testnet", "tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47", "checksum"),
    ("mainnet", "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4", "character"),
    ("mainnet", "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R", "version"),
    ("mainnet", "bc1pw5dgrnzv", "program length"),
    ("mainnet",
     "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",
     "program length"),
    ("mainnet", "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P", "v0 program length"),
    ("testnet", "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq", "Mixed-case"),
    ("mainnet", "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf", "padding"),
    ("testnet", "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j", "padding"),
    ("mainnet", "bc1gmk9yu", "Empty witness data"),
    # BIP173's list (all still invalid)
    ("testnet", "tc1qw508d6qejxtdg4y5r3zarvary0c5xw7kg3g4ty", ""),
    ("mainnet", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", "checksum"),
    ("mainnet", "BC13W508D6QEJXTDG4Y5R3ZARVARY0C5XW7KN40WF2", "version"),
    ("mainnet", "bc1rw5uspcuh", ""),
    ("mainnet",
     "bc10w508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kw5rljs90", ""),
    ("testnet", "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sL5k7", "Mixed-case"),
    ("mainnet", "bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du", ""),
    ("testnet", "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3pjxtptv", "padding"),
]  # fmt: skip


@pytest.mark.parametrize(("network", "address", "reason"), INVALID_SEGWIT)
def test_invalid_segwit_addresses(network: btc.Network, address: str, reason: str) -> None:
    for tried in btc.NETWORKS:
        with pytest.raises(btc.AddressError) as caught:
            btc.validate_address(address, tried)
        if tried == network:
            assert reason in str(caught.value)


def test_segwit_of_another_network() -> None:
    address = "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7"
    with pytest.raises(btc.AddressError, match="another Bitcoin network"):
        btc.validate_address(address, "mainnet")


def test_regtest_prefix() -> None:
    address = btc.encode_segwit_address("bcrt", 0, bytes(range(20)))
    assert address.startswith("bcrt1q")
    assert btc.validate_address(address, "regtest") == address
    with pytest.raises(btc.AddressError, match="another Bitcoin network"):
        btc.validate_address(address, "testnet")


@given(
    st.sampled_from(btc.NETWORKS),
    st.integers(0, 16),
    st.binary(min_size=2, max_size=40),
)
def test_segwit_round_trip(network: btc.Network, version: int, program: bytes) -> None:
    if version == 0 and len(program) not in (20, 32):
        return
    hrp = {"mainnet": "bc", "testnet": "tb", "regtest": "bcrt"}[network]
    address = btc.encode_segwit_address(hrp, version, program)
    assert btc.validate_address(address.upper(), network) == address
    assert btc.decode_address(address, network) == btc.DecodedAddress(
        btc.AddressKind.WITNESS, program, version
    )
    script = btc.script_pubkey_for_address(address, network)
    assert script[0] == (0x50 + version if version else 0)
    assert script[1:] == bytes([len(program)]) + program
