"""Ethereum addresses: format check, EIP-55 checksum, and the lower-case form used everywhere.

Place in the flow: ETH deposit pool entries are checked with `validate_address` at start-up
and stored lower-cased, which is also how the ETH scanner reports recipients, so the two always
match (the original only checked "0x" and the length, so a mixed-case entry never matched).
Buyers are handed the `checksum_address` form (deposits/binding.py).
"""

from __future__ import annotations

import re

from Crypto.Hash import keccak

from teller.errors import InvalidValue

WEI_PER_ETH = 10**18
GWEI_PER_ETH = 10**9
WEI_PER_GWEI = 10**9

ADDRESS_LENGTH = 42  # "0x" + 40 hex digits
_HEX_BODY = re.compile(r"[0-9a-fA-F]{40}")

MISSING_PREFIX = "Address must start with 0x"
INVALID_LENGTH = "Invalid address length"
INVALID_HEX = "Invalid hex character in address"
INVALID_CHECKSUM = "Invalid EIP-55 checksum"


class AddressError(InvalidValue):
    """A string is not a valid Ethereum address; str() is the message."""


def _hex_body(text: str) -> str:
    """The 40 hex digits after "0x", in the case given; AddressError if the shape is wrong."""
    if not text.startswith("0x"):
        raise AddressError(MISSING_PREFIX)
    if len(text) != ADDRESS_LENGTH:
        raise AddressError(INVALID_LENGTH)
    body = text[2:]
    if _HEX_BODY.fullmatch(body) is None:
        raise AddressError(INVALID_HEX)
    return body


def _keccak256(data: bytes) -> bytes:
    return keccak.new(digest_bits=256, data=data).digest()


def _eip55_body(lower_body: str) -> str:
    """EIP-55: a letter is upper case where the matching nibble of keccak256(lower hex) >= 8."""
    digest = _keccak256(lower_body.encode("ascii")).hex()
    return "".join(
        char.upper() if int(nibble, 16) >= 8 else char
        for char, nibble in zip(lower_body, digest, strict=False)
    )


def checksum_address(address: str) -> str:
    """The EIP-55 mixed-case form of an address (any case accepted, checksum not checked)."""
    return "0x" + _eip55_body(_hex_body(address).lower())


def validate_address(text: str) -> str:
    """The lower-case form of a valid address; AddressError otherwise.

    All-lower and all-upper hex are accepted as they are; mixed case must be EIP-55.
    """
    body = _hex_body(text)
    lower_body = body.lower()
    is_mixed_case = body != lower_body and body != body.upper()
    if is_mixed_case and _eip55_body(lower_body) != body:
        raise AddressError(INVALID_CHECKSUM)
    return "0x" + lower_body
