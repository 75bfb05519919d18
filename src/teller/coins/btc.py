"""Bitcoin addresses: validation, P2PKH derivation and the scriptPubKey each address pays to.

Place in the flow: the BTC deposit pool is derived with `p2pkh_address_from_pubkey` (keys from
`coins.sky.DeterministicKeyChain`, as the original `tool newbtcaddress`) and every pool entry is
checked with `validate_address` at start-up; the BTC scanner matches deposits to addresses by
`script_pubkey_for_address`.

Accepted: base58check P2PKH and P2SH, and native segwit (BIP173 bech32 for v0, BIP350 bech32m
for v1..v16). `validate_p2pkh_address` is the original teller's stricter rule (P2PKH only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Literal, get_args

from teller.coins.base58check import (
    Base58Error,
    bitcoin_checksum,
    decode_base58,
    encode_base58check,
    hash160,
)
from teller.errors import InvalidValue

SATOSHIS_PER_BTC = 100_000_000

Network = Literal["mainnet", "testnet", "regtest"]
NETWORKS: tuple[Network, ...] = get_args(Network)

# Messages of skycoin v0.22 cipher.BitcoinDecodeBase58Address (the original's pool check).
INVALID_LENGTH = "Invalid address length"
INVALID_VERSION = "Invalid version"
INVALID_CHECKSUM = "Invalid checksum"


class AddressError(InvalidValue):
    """A string is not a valid Bitcoin address for the network; str() is the message."""


@dataclass(frozen=True, slots=True)
class _NetworkParams:
    p2pkh_version: int
    p2sh_version: int
    bech32_hrp: str


_PARAMS: dict[str, _NetworkParams] = {
    "mainnet": _NetworkParams(0x00, 0x05, "bc"),
    "testnet": _NetworkParams(0x6F, 0xC4, "tb"),
    "regtest": _NetworkParams(0x6F, 0xC4, "bcrt"),
}


class AddressKind(Enum):
    P2PKH = "p2pkh"
    P2SH = "p2sh"
    WITNESS = "witness"


@dataclass(frozen=True, slots=True)
class DecodedAddress:
    kind: AddressKind
    payload: bytes  # hash160 for P2PKH/P2SH, the witness program for segwit
    witness_version: int | None = None


def _params(network: str) -> _NetworkParams:
    try:
        return _PARAMS[network]
    except KeyError:
        raise InvalidValue(f"unknown bitcoin network {network!r}") from None


# --- base58check ------------------------------------------------------------------------------


def _decode_base58_payload(text: str, allowed_versions: Sequence[int]) -> tuple[int, bytes]:
    """(version, hash160) of a 25-byte base58check address.

    Check order as skycoin v0.22: base58 characters, length, version, checksum.
    """
    try:
        raw = decode_base58(text)
    except Base58Error as exc:
        raise AddressError(str(exc)) from None
    if len(raw) != 25:
        raise AddressError(INVALID_LENGTH)
    if raw[0] not in allowed_versions:
        raise AddressError(INVALID_VERSION)
    if bitcoin_checksum(raw[:21]) != raw[21:]:
        raise AddressError(INVALID_CHECKSUM)
    return raw[0], raw[1:21]


def validate_p2pkh_address(text: str, network: Network = "mainnet") -> str:
    """`text` if it is a base58 P2PKH address: the original teller's pool rule (no P2SH,
    no segwit), with its messages."""
    _decode_base58_payload(text, (_params(network).p2pkh_version,))
    return text


def p2pkh_address_from_hash160(key_hash: bytes, network: Network = "mainnet") -> str:
    if len(key_hash) != 20:
        raise InvalidValue(f"hash160 must be 20 bytes, got {len(key_hash)}")
    return encode_base58check(bytes([_params(network).p2pkh_version]) + key_hash)


def p2pkh_address_from_pubkey(pub33: bytes, network: Network = "mainnet") -> str:
    """P2PKH address of a compressed public key: base58check(version || RIPEMD160(SHA256(pub)))."""
    if len(pub33) != 33 or pub33[0] not in (2, 3):
        raise InvalidValue("public key must be 33 bytes, compressed (02/03 prefix)")
    return p2pkh_address_from_hash160(hash160(pub33), network)


# --- bech32 / bech32m (BIP173, BIP350) --------------------------------------------------------

BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHARSET_INDEX = {c: i for i, c in enumerate(BECH32_CHARSET)}
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_BECH32_MAX_LENGTH = 90
_CHECKSUM_LENGTH = 6


class Bech32Encoding(Enum):
    BECH32 = 1
    BECH32M = 0x2BC830A3

    @property
    def constant(self) -> int:
        return self.value


def _polymod(values: Sequence[int]) -> int:
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for bit, generator in enumerate(_GENERATOR):
            if (top >> bit) & 1:
                checksum ^= generator
    return checksum


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _create_checksum(hrp: str, data: Sequence[int], encoding: Bech32Encoding) -> list[int]:
    polymod = _polymod([*_hrp_expand(hrp), *data, 0, 0, 0, 0, 0, 0]) ^ encoding.constant
    return [(polymod >> 5 * (5 - i)) & 31 for i in range(_CHECKSUM_LENGTH)]


def bech32_encode(hrp: str, data: Sequence[int], encoding: Bech32Encoding) -> str:
    """hrp + "1" + data and checksum characters (lower case); data are 5-bit values."""
    symbols = [*data, *_create_checksum(hrp, data, encoding)]
    return hrp + "1" + "".join(BECH32_CHARSET[v] for v in symbols)


def bech32_decode(text: str) -> tuple[str, list[int], Bech32Encoding]:
    """(hrp, 5-bit data without checksum, encoding) of a bech32 or bech32m string.

    The hrp is returned lower-cased. Raises AddressError with a plain-English reason.
    """
    if any(not 33 <= ord(c) <= 126 for c in text):
        raise AddressError("Invalid character in bech32 address")
    if text.lower() != text and text.upper() != text:
        raise AddressError("Mixed-case bech32 address")
    if len(text) > _BECH32_MAX_LENGTH:
        raise AddressError("Bech32 address too long")
    text = text.lower()
    separator = text.rfind("1")
    if separator < 1:
        raise AddressError("Missing bech32 human-readable part")
    hrp, data_part = text[:separator], text[separator + 1 :]
    if len(data_part) < _CHECKSUM_LENGTH:
        raise AddressError("Bech32 checksum too short")
    if any(c not in _CHARSET_INDEX for c in data_part):
        raise AddressError("Invalid bech32 character")
    data = [_CHARSET_INDEX[c] for c in data_part]
    encoding = _checksum_encoding(hrp, data)
    return hrp, data[:-_CHECKSUM_LENGTH], encoding


def _checksum_encoding(hrp: str, data_with_checksum: Sequence[int]) -> Bech32Encoding:
    residue = _polymod([*_hrp_expand(hrp), *data_with_checksum])
    for encoding in Bech32Encoding:
        if residue == encoding.constant:
            return encoding
    raise AddressError("Invalid bech32 checksum")


def _convert_bits(data: Sequence[int], from_bits: int, to_bits: int, pad: bool) -> list[int]:
    """Regroup bits; without `pad`, leftover bits must be fewer than from_bits and all zero."""
    accumulator, bits, out = 0, 0, []
    mask = (1 << to_bits) - 1
    for value in data:
        accumulator = (accumulator << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((accumulator >> bits) & mask)
    if pad:
        if bits:
            out.append((accumulator << (to_bits - bits)) & mask)
    elif bits >= from_bits:
        raise AddressError("Invalid bech32 padding: more than 4 bits")
    elif (accumulator << (to_bits - bits)) & mask:
        raise AddressError("Invalid bech32 padding: non-zero bits")
    return out


def encode_segwit_address(hrp: str, witness_version: int, program: bytes) -> str:
    encoding = Bech32Encoding.BECH32 if witness_version == 0 else Bech32Encoding.BECH32M
    data = [witness_version, *_convert_bits(program, 8, 5, pad=True)]
    return bech32_encode(hrp, data, encoding)


def _decode_segwit(text: str, expected_hrp: str) -> tuple[int, bytes]:
    hrp, data, encoding = bech32_decode(text)
    if hrp != expected_hrp:
        raise AddressError(
            f"Address is for another Bitcoin network (prefix {hrp!r}, expected {expected_hrp!r})"
        )
    if not data:
        raise AddressError("Empty witness data")
    version = data[0]
    if version > 16:
        raise AddressError("Invalid witness version")
    if version == 0 and encoding is not Bech32Encoding.BECH32:
        raise AddressError("Invalid checksum: witness v0 addresses use bech32, not bech32m")
    if version > 0 and encoding is not Bech32Encoding.BECH32M:
        raise AddressError("Invalid checksum: witness v1+ addresses use bech32m, not bech32")
    program = bytes(_convert_bits(data[1:], 5, 8, pad=False))
    if not 2 <= len(program) <= 40:
        raise AddressError("Invalid witness program length")
    if version == 0 and len(program) not in (20, 32):
        raise AddressError("Invalid witness v0 program length (must be 20 or 32 bytes)")
    return version, program


# --- any address ------------------------------------------------------------------------------

_KNOWN_HRPS = tuple(params.bech32_hrp for params in _PARAMS.values())


def _looks_like_segwit(text: str) -> bool:
    lowered = text.lower()
    return any(lowered.startswith(hrp + "1") for hrp in _KNOWN_HRPS)


def decode_address(text: str, network: Network = "mainnet") -> DecodedAddress:
    """What `text` pays to on `network`; raises AddressError."""
    params = _params(network)
    if _looks_like_segwit(text):
        version, program = _decode_segwit(text, params.bech32_hrp)
        return DecodedAddress(AddressKind.WITNESS, program, version)
    version_byte, key_hash = _decode_base58_payload(
        text, (params.p2pkh_version, params.p2sh_version)
    )
    kind = AddressKind.P2PKH if version_byte == params.p2pkh_version else AddressKind.P2SH
    return DecodedAddress(kind, key_hash)


def validate_address(text: str, network: Network = "mainnet") -> str:
    """The address in canonical form (segwit lower-cased, base58 unchanged); AddressError if
    it is not a P2PKH, P2SH or native segwit address of `network`."""
    decoded = decode_address(text, network)
    return text.lower() if decoded.kind is AddressKind.WITNESS else text


def script_pubkey(decoded: DecodedAddress) -> bytes:
    if decoded.kind is AddressKind.P2PKH:  # OP_DUP OP_HASH160 <20> OP_EQUALVERIFY OP_CHECKSIG
        return b"\x76\xa9\x14" + decoded.payload + b"\x88\xac"
    if decoded.kind is AddressKind.P2SH:  # OP_HASH160 <20> OP_EQUAL
        return b"\xa9\x14" + decoded.payload + b"\x87"
    version = decoded.witness_version or 0  # OP_0 or OP_1..OP_16, then the program push
    version_opcode = 0x50 + version if version else 0x00
    return bytes([version_opcode, len(decoded.payload)]) + decoded.payload


def script_pubkey_for_address(address: str, network: Network = "mainnet") -> bytes:
    """The output script an address pays to; the scanner matches deposits by it."""
    return script_pubkey(decode_address(address, network))
