"""Skycoin addresses and deterministic keys against skycoin's golden files and teller's verdicts."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from coincurve import PublicKey
from hypothesis import given
from hypothesis import strategies as st

from teller.coins import sky
from teller.coins.base58check import decode_base58, encode_base58
from tests.vectors import GOLDEN_FILES, load_json, vector_params


def vector_cases(relpath: str) -> list[Any]:
    return vector_params(relpath, "cases", id_key="input")


# --- deterministic keys -----------------------------------------------------------------------


@pytest.mark.parametrize("name", GOLDEN_FILES)
def test_golden_keys_addresses(name: str) -> None:
    golden = load_json(f"skycoin/cipher/{name}")
    seed = base64.b64decode(golden["seed"])
    expected = golden["keys"]
    pairs = list(sky.deterministic_keypairs(seed, len(expected)))
    assert len(pairs) == len(expected)
    for index, (pair, key) in enumerate(zip(pairs, expected, strict=True)):
        assert pair.seckey.hex() == key["secret"], index
        assert pair.pubkey.hex() == key["public"], index
        assert sky.address_from_pubkey(pair.pubkey) == key["address"], index
        assert sky.pubkey_from_seckey(pair.seckey) == pair.pubkey


@pytest.mark.parametrize("name", [n for n in GOLDEN_FILES if n.startswith("seed-")])
def test_golden_signatures_recover_to_the_public_key(name: str) -> None:
    golden = load_json(f"skycoin/cipher/{name}")
    hashes = [bytes.fromhex(h) for h in load_json("skycoin/cipher/input-hashes.golden")["hashes"]]
    for key in golden["keys"]:
        for digest, signature in zip(hashes, key["signatures"], strict=True):
            recovered = PublicKey.from_signature_and_message(
                bytes.fromhex(signature), digest, hasher=None
            )
            assert recovered.format(compressed=True).hex() == key["public"]


def test_golden_seeds_are_raw_bytes() -> None:
    seed0 = base64.b64decode(load_json("skycoin/cipher/seed-0000.golden")["seed"])
    seed5 = base64.b64decode(load_json("skycoin/cipher/seed-0005.golden")["seed"])
    assert seed0.startswith(b"hobby grace lumber")
    assert seed5 == b"\xae"


@pytest.mark.parametrize(
    ("wallet", "keys"),
    [("integration-test.wlt", 1), ("generate-addresses.v0.27.1.golden", 2)],
)
def test_wallet_entries_and_last_seed(wallet: str, keys: int) -> None:
    document = load_json(f"skycoin/wallet/{wallet}")
    chain = sky.DeterministicKeyChain(document["meta"]["seed"].encode())
    for entry in document["entries"]:
        pair = chain.next()
        assert pair.seckey.hex() == entry["secret_key"]
        assert pair.pubkey.hex() == entry["public_key"]
        assert sky.address_from_pubkey(pair.pubkey) == entry["address"]
    assert len(document["entries"]) == keys
    assert chain.seed.hex() == document["meta"]["lastSeed"]


def test_chain_seed_starts_as_the_input_and_iterates() -> None:
    chain = sky.DeterministicKeyChain(b"seed")
    assert chain.seed == b"seed"
    first, second = next(chain), next(chain)
    assert [first, second] == list(sky.deterministic_keypairs(b"seed", 2))
    assert len(chain.seed) == 32


def test_keys_are_prefix_stable() -> None:
    ten = list(sky.deterministic_keypairs(b"prefix", 10))
    assert list(sky.deterministic_keypairs(b"prefix", 3)) == ten[:3]
    assert list(sky.deterministic_keypairs(b"prefix", 0)) == []


def test_keypair_is_a_tuple_of_seckey_and_pubkey() -> None:
    seckey, pubkey = next(sky.deterministic_keypairs(b"x", 1))
    assert len(seckey) == 32
    assert len(pubkey) == 33
    assert pubkey[0] in (2, 3)


def test_empty_seed_is_refused() -> None:
    with pytest.raises(ValueError, match="Seed input is empty"):
        sky.deterministic_keypairs(b"", 1)
    with pytest.raises(ValueError, match="Seed input is empty"):
        sky.DeterministicKeyChain(b"")


def test_negative_count_is_refused() -> None:
    with pytest.raises(ValueError):
        sky.deterministic_keypairs(b"seed", -1)


# --- addresses --------------------------------------------------------------------------------


@pytest.mark.parametrize("case", vector_cases("teller/address_validation.json"))
def test_teller_address_verdicts(case: dict[str, Any]) -> None:
    if case["sky_valid"]:
        assert sky.validate_address(case["input"]) == case["input"]
        assert len(sky.decode_address(case["input"])) == 20
    else:
        with pytest.raises(sky.AddressError) as caught:
            sky.decode_address(case["input"])
        assert str(caught.value) == case["sky_error"]


def test_null_address_is_refused() -> None:
    assert sky.address_from_key_hash(bytes(20)) == sky.NULL_ADDRESS
    with pytest.raises(sky.AddressError) as caught:
        sky.validate_address(sky.NULL_ADDRESS)
    assert str(caught.value) == "Address is the null address"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Invalid base58 string"),
        ("2Wbi4wvxC4fkTYMsS2f6HaFfW4pafDjXcQW ", "Invalid base58 character"),
        ("2Wbi4wvxC4fkTYMsS2f6HaFfW4pafDjXcQW\n", "Invalid base58 character"),
        ("2Wbi4wvxC4fkTYMsS2f6HaFfW4pafDjXcQW\t", "Invalid base58 character"),
        ("2Wbi4wvxC4fkTYMsS2f6HaFfW4pafDjXcQl", "Invalid base58 character"),
        ("2Wbi4wvxC4fkTYMsS2f6HaFfW4pafDjXcQ\u0663", "Invalid base58 character"),
        ("1" * 25, "Invalid checksum"),
    ],
)
def test_malformed_strings(text: str, message: str) -> None:
    with pytest.raises(sky.AddressError) as caught:
        sky.decode_address(text)
    assert str(caught.value) == message


def test_address_error_is_a_value_error() -> None:
    assert issubclass(sky.AddressError, ValueError)


def test_known_address_of_the_first_golden_key() -> None:
    pub = bytes.fromhex("03b79123b2a3100420b19cccbfc688aa39f510b8491b67bdd296a92a021a3d0d8e")
    assert sky.address_from_pubkey(pub) == "cfb24jWcms9pZtvEx3UjUuLPdT6rbx6r9M"
    assert sky.decode_address("cfb24jWcms9pZtvEx3UjUuLPdT6rbx6r9M") == sky.key_hash_from_pubkey(pub)


def test_address_from_pubkey_needs_a_compressed_key() -> None:
    with pytest.raises(ValueError):
        sky.address_from_pubkey(b"\x04" + bytes(64))
    with pytest.raises(ValueError):
        sky.address_from_pubkey(b"\x02" + bytes(31))


@given(st.binary(min_size=20, max_size=20).filter(any))
def test_key_hash_round_trip(key_hash: bytes) -> None:
    address = sky.address_from_key_hash(key_hash)
    assert sky.decode_address(address) == key_hash


@given(st.binary(min_size=20, max_size=20).filter(any), st.integers(0, 24), st.integers(1, 255))
def test_corrupted_byte_is_refused(key_hash: bytes, position: int, flip: int) -> None:
    raw = bytearray(decode_base58(sky.address_from_key_hash(key_hash)))
    raw[position] ^= flip
    with pytest.raises(sky.AddressError):
        sky.decode_address(encode_base58(bytes(raw)))
