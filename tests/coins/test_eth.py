"""Ethereum addresses: shape checks, EIP-55 checksums (the EIP's own examples), lower-casing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from teller.coins import eth

# EIP-55 "Test Cases": all caps, all lower, and normal mixed case.
EIP55_EXAMPLES = [
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    "0xde709f2102306220921060314715629080e2fb77",
    "0x27b1fdb04752bbc536007a920d24acb045561c26",
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]

# The original's example pool file (go-teller-files/example_eth_addresses.json), all lower case.
ORIGINAL_POOL = [
    "0x77720eeb0be8b4060636e4f8e77b178ace343e11",
    "0x0d9afd2189d05b8e5f2e3d48c03a7cafdc562029",
    "0x392cded14b8f12cb6cbb1c7922810f4fbd80c3f6",
]


def test_units() -> None:
    assert eth.WEI_PER_ETH == 10**18


@pytest.mark.parametrize("address", EIP55_EXAMPLES)
def test_eip55_examples(address: str) -> None:
    assert eth.checksum_address(address.lower()) == address
    assert eth.checksum_address(address) == address
    assert eth.validate_address(address) == address.lower()


@pytest.mark.parametrize("address", ORIGINAL_POOL)
def test_lower_case_is_accepted_unchanged(address: str) -> None:
    assert eth.validate_address(address) == address


def test_all_upper_hex_is_accepted_whatever_its_checksum() -> None:
    upper = "0x" + ORIGINAL_POOL[0][2:].upper()
    assert eth.validate_address(upper) == ORIGINAL_POOL[0]


@pytest.mark.parametrize("address", EIP55_EXAMPLES[4:])
def test_wrong_mixed_case_is_refused(address: str) -> None:
    letter = next(i for i, c in enumerate(address) if i > 1 and c.isalpha())
    broken = address[:letter] + address[letter].swapcase() + address[letter + 1 :]
    with pytest.raises(eth.AddressError) as caught:
        eth.validate_address(broken)
    assert str(caught.value) == "Invalid EIP-55 checksum"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Address must start with 0x"),
        ("5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "Address must start with 0x"),
        ("0X5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "Address must start with 0x"),
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe", "Invalid address length"),
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAedd", "Invalid address length"),
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg", "Invalid hex character in address"),
        (" 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe", "Address must start with 0x"),
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe\u0661", "Invalid hex character in address"),
    ],
)
def test_malformed_addresses(text: str, message: str) -> None:
    with pytest.raises(eth.AddressError) as caught:
        eth.validate_address(text)
    assert str(caught.value) == message


def test_address_error_is_a_value_error() -> None:
    assert issubclass(eth.AddressError, ValueError)


@given(st.binary(min_size=20, max_size=20))
def test_checksummed_form_validates_to_lower_case(raw: bytes) -> None:
    lower = "0x" + raw.hex()
    checksummed = eth.checksum_address(lower)
    assert checksummed.lower() == lower
    assert eth.validate_address(checksummed) == lower


@given(st.binary(min_size=20, max_size=20), st.data())
def test_one_flipped_letter_is_caught(raw: bytes, data: st.DataObject) -> None:
    checksummed = eth.checksum_address("0x" + raw.hex())
    letters = [i for i, c in enumerate(checksummed) if i > 1 and c.isalpha()]
    if not letters:
        return
    i = data.draw(st.sampled_from(letters))
    flipped = checksummed[:i] + checksummed[i].swapcase() + checksummed[i + 1 :]
    body = flipped[2:]
    if body in (body.lower(), body.upper()):
        assert eth.validate_address(flipped) == "0x" + raw.hex()  # no checksum to check
    else:
        with pytest.raises(eth.AddressError, match="Invalid EIP-55 checksum"):
            eth.validate_address(flipped)
