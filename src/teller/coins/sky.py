"""Skycoin addresses and deterministic keys, bit-compatible with skycoin `cipher` (v0.22).

Place in the flow: the HTTP layer validates the SKY address a user binds with
`validate_address`; the payer checks payout targets with it; `teller addresses` and the BTC
deposit pool derive keys from a seed with `DeterministicKeyChain` exactly as the original
`tool newbtcaddress` did (skycoin `GenerateDeterministicKeyPairs`).

Address bytes (base58 form): key20 || version(0x00) || SHA256(key20 || version)[:4], where
key20 = RIPEMD160(SHA256(SHA256(pubkey33))). Only compressed pubkeys are used.

Transactions, signatures, coin hours and the payout builder are in `coins/sky_tx.py`; the
`.wlt` wallet file is in `coins/sky_wallet.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from itertools import islice
from typing import NamedTuple

from coincurve import PublicKey

from teller.coins.base58check import (
    Base58Error,
    decode_base58,
    encode_base58,
    ripemd160,
    sha256,
)
from teller.errors import InvalidValue

DROPLETS_PER_SKY = 1_000_000
ADDRESS_VERSION = 0
KEY_HASH_LENGTH = 20
ADDRESS_LENGTH = 25  # key20 + version + checksum4
NULL_ADDRESS = "111111111111111111111691FSP"

SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

# Messages of skycoin v0.22 cipher.DecodeBase58Address, as teller's HTTP layer showed them.
INVALID_LENGTH = "Invalid address length"
INVALID_VERSION = "Invalid version"
INVALID_CHECKSUM = "Invalid checksum"
NULL_ADDRESS_ERROR = "Address is the null address"
EMPTY_SEED = "Seed input is empty"


class AddressError(InvalidValue):
    """A string is not a usable Skycoin address; str() is the exact message."""


class KeyPair(NamedTuple):
    seckey: bytes  # 32 bytes
    pubkey: bytes  # 33 bytes, compressed


@lru_cache(maxsize=65536)
def decode_address(text: str) -> bytes:
    """The 20-byte key hash of a Skycoin address.

    Cached: buyers' pages ask about the same addresses again and again (errors are not
    cached, they are raised anew).

    Checks in skycoin v0.22 order: base58 characters, decoded length 25, version byte 0,
    checksum; then rejects the null address (all-zero key hash), which decodes fine but
    can never own coins.
    """
    try:
        raw = decode_base58(text)
    except Base58Error as exc:
        raise AddressError(str(exc)) from None
    if len(raw) != ADDRESS_LENGTH:
        raise AddressError(INVALID_LENGTH)
    key_hash, version, checksum = raw[:20], raw[20], raw[21:]
    if version != ADDRESS_VERSION:
        raise AddressError(INVALID_VERSION)
    if sha256(raw[:21])[:4] != checksum:
        raise AddressError(INVALID_CHECKSUM)
    if key_hash == bytes(KEY_HASH_LENGTH):
        raise AddressError(NULL_ADDRESS_ERROR)
    return key_hash


def validate_address(text: str) -> str:
    """`text` unchanged if it is a valid, non-null Skycoin address; else AddressError."""
    decode_address(text)
    return text


def address_from_key_hash(key_hash: bytes) -> str:
    if len(key_hash) != KEY_HASH_LENGTH:
        raise InvalidValue(f"key hash must be {KEY_HASH_LENGTH} bytes, got {len(key_hash)}")
    body = key_hash + bytes([ADDRESS_VERSION])
    return encode_base58(body + sha256(body)[:4])


def key_hash_from_pubkey(pub33: bytes) -> bytes:
    """RIPEMD160(SHA256(SHA256(pubkey))): note the double SHA256, unlike Bitcoin."""
    _check_compressed_pubkey(pub33)
    return ripemd160(sha256(sha256(pub33)))


def address_from_pubkey(pub33: bytes) -> str:
    return address_from_key_hash(key_hash_from_pubkey(pub33))


def pubkey_from_seckey(seckey: bytes) -> bytes:
    """The 33-byte compressed public key of a valid 32-byte secret key."""
    if len(seckey) != 32 or not 0 < int.from_bytes(seckey, "big") < SECP256K1_ORDER:
        raise InvalidValue("invalid secret key")
    return _pubkey_of_valid_secret(seckey)


def _check_compressed_pubkey(pub33: bytes) -> None:
    if len(pub33) != 33 or pub33[0] not in (2, 3):
        raise InvalidValue("public key must be 33 bytes, compressed (02/03 prefix)")


def _pubkey_of_valid_secret(seckey: bytes) -> bytes:
    return PublicKey.from_valid_secret(seckey).format(compressed=True)


# --- deterministic keys (skycoin.md §2, teller-go.md §10.2) ---------------------------------


def _seckey_from_hash_chain(data: bytes) -> tuple[bytes, int]:
    """Hash repeatedly until the digest is a valid secret key (0 < k < n).

    Skycoin's deterministicKeyPairIteratorStep; returns the key as bytes and as an int.
    The first digest is valid except with negligible probability.
    """
    while True:
        data = sha256(data)
        value = int.from_bytes(data, "big")
        if 0 < value < SECP256K1_ORDER:
            return data, value


def _secp256k1_hash(seed: bytes) -> bytes:
    """Skycoin's Secp256k1Hash: H(h || compressed(sk1 · pubkey(sk2))), h = H(seed).

    sk1 = step(h) and sk2 = step(H(h)). The ECDH point sk1·(sk2·G) equals (sk1·sk2 mod n)·G,
    which is computed with one fast base-point multiplication instead of two multiplications.
    """
    h = sha256(seed)
    _, sk1 = _seckey_from_hash_chain(h)
    _, sk2 = _seckey_from_hash_chain(sha256(h))
    shared_scalar = (sk1 * sk2) % SECP256K1_ORDER  # never 0: n is prime, both factors < n
    shared_point = _pubkey_of_valid_secret(shared_scalar.to_bytes(32, "big"))
    return sha256(h + shared_point)


class DeterministicKeyChain:
    """Skycoin's DeterministicKeyPairIterator as a stateful chain.

    `next()` returns the next key pair; `seed` is then the seed for the key after it (a
    deterministic wallet's `lastSeed`). Before the first key, `seed` is the input seed. The seed
    is used as raw bytes: no normalisation, no BIP39.
    """

    def __init__(self, seed: bytes) -> None:
        if not seed:
            raise InvalidValue(EMPTY_SEED)
        self.seed = bytes(seed)

    def next(self) -> KeyPair:
        next_seed = _secp256k1_hash(self.seed)
        seckey, _ = _seckey_from_hash_chain(sha256(self.seed + next_seed))
        self.seed = next_seed
        return KeyPair(seckey, _pubkey_of_valid_secret(seckey))

    def __iter__(self) -> Iterator[KeyPair]:
        return self

    def __next__(self) -> KeyPair:
        return self.next()


def deterministic_keypairs(seed: bytes, n: int) -> Iterator[KeyPair]:
    """The first `n` key pairs (seckey32, pubkey33) of GenerateDeterministicKeyPairs(seed, n).

    Prefix-stable: key i does not depend on n. Raises ValueError for an empty seed or n < 0.
    """
    if n < 0:
        raise InvalidValue("n must not be negative")
    return islice(DeterministicKeyChain(seed), n)
