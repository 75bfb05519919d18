"""Base58 strings and the hashes around them, shared by the SKY and BTC address codecs.

Place in the flow: the bottom layer of address handling. `coins.sky` and `coins.btc` call these
to turn payload bytes into address strings and back; nothing here knows about versions,
checksum layouts or networks.
"""

from __future__ import annotations

import hashlib
import re

import base58
from Crypto.Hash import RIPEMD160

from teller.errors import InvalidValue

BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

# The base58 package strips trailing whitespace and accepts "", so strings are checked first.
_BASE58_STRING = re.compile(r"[1-9A-HJ-NP-Za-km-z]+")

EMPTY_STRING = "Invalid base58 string"
BAD_CHARACTER = "Invalid base58 character"


class Base58Error(InvalidValue):
    """A string is not base58; str() is the message Skycoin's decoder uses."""


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def double_sha256(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def ripemd160(data: bytes) -> bytes:
    """RIPEMD-160 from pycryptodome (hashlib's may be missing under OpenSSL 3)."""
    return RIPEMD160.new(data).digest()


def hash160(data: bytes) -> bytes:
    """RIPEMD160(SHA256(data)): Bitcoin's key and script hash."""
    return ripemd160(sha256(data))


def encode_base58(data: bytes) -> str:
    """Base58 (Bitcoin alphabet); each leading zero byte becomes one leading '1'."""
    return base58.b58encode(data).decode("ascii")


def decode_base58(text: str) -> bytes:
    """The bytes of a base58 string; raises Base58Error for "" or any non-alphabet char."""
    if text == "":
        raise Base58Error(EMPTY_STRING)
    if _BASE58_STRING.fullmatch(text) is None:
        raise Base58Error(BAD_CHARACTER)
    return base58.b58decode(text)


def bitcoin_checksum(payload: bytes) -> bytes:
    """The 4-byte Base58Check checksum: SHA256(SHA256(payload))[:4]."""
    return double_sha256(payload)[:4]


def encode_base58check(payload: bytes) -> str:
    """Bitcoin-style Base58Check: base58(payload || SHA256(SHA256(payload))[:4])."""
    return encode_base58(payload + bitcoin_checksum(payload))
