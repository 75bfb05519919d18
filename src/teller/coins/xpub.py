"""Extended public keys (BIP32 public derivation): parse an xpub/ypub/zpub, derive its receive
chain's addresses. Pure coin knowledge, no I/O; deposits/hd.py hands the addresses out.

Keys and addresses (the account key's receive chain `0/i`):
| key   | written as        | addresses                              |
|-------|-------------------|----------------------------------------|
| xpub  | BIP44 m/44'/0'/0' | P2PKH, 1…                              |
| ypub  | BIP49 m/49'/0'/0' | P2SH-P2WPKH (nested segwit), 3…        |
| zpub  | BIP84 m/84'/0'/0' | P2WPKH (native segwit), bc1q…          |
| xpub  | BIP44 m/44'/60'/0'| Ethereum, 0x… (stored lower case)      |

Testnet keys (tpub/upub/vpub) derive testnet (or regtest) addresses; the config accepts
them only when btc_scanner.network is testnet or regtest, and mainnet keys only on mainnet.
Private keys (xprv…) are refused with a message saying so: teller never needs them, and
must never hold them.

BIP32 arithmetic is embit's (pure Python with libsecp256k1 through ctypes when available,
no dependencies): bip-utils would have pulled in a dozen packages and needs pycryptodome 3,
while teller pins 4. Address encoding is teller's own (coins/btc.py, coins/eth.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Final

import coincurve
from Crypto.Hash import keccak
from embit import base58 as embit_base58
from embit.bip32 import HDKey

from teller.coins.base58check import encode_base58check, hash160
from teller.coins.btc import encode_segwit_address, p2pkh_address_from_pubkey
from teller.errors import InvalidValue

MAX_INDEX: Final = 2**31 - 1  # receive addresses use non-hardened indices only
RECEIVE_CHAIN: Final = 0
GAP_LIMIT: Final = 20  # what wallets scan past the last used address (BIP44)
ACCOUNT_DEPTH: Final = 3  # m / purpose' / coin_type' / account'


class HdKeyError(InvalidValue):
    """Not a usable extended public key; str() says why, without echoing the key."""


@dataclass(frozen=True, slots=True)
class _KeyKind:
    key_type: str
    network: str  # "mainnet" or "testnet"
    script: str  # "p2pkh", "p2sh-p2wpkh", "p2wpkh"


# SLIP-132 version bytes of the public keys teller accepts.
_PUBLIC_VERSIONS: Final = {
    bytes.fromhex("0488b21e"): _KeyKind("xpub", "mainnet", "p2pkh"),
    bytes.fromhex("049d7cb2"): _KeyKind("ypub", "mainnet", "p2sh-p2wpkh"),
    bytes.fromhex("04b24746"): _KeyKind("zpub", "mainnet", "p2wpkh"),
    bytes.fromhex("043587cf"): _KeyKind("tpub", "testnet", "p2pkh"),
    bytes.fromhex("044a5262"): _KeyKind("upub", "testnet", "p2sh-p2wpkh"),
    bytes.fromhex("045f1cf6"): _KeyKind("vpub", "testnet", "p2wpkh"),
}
_PRIVATE_VERSIONS: Final = {
    bytes.fromhex(v): name
    for v, name in (
        ("0488ade4", "xprv"),
        ("049d7878", "yprv"),
        ("04b2430c", "zprv"),
        ("04358394", "tprv"),
        ("044a4e28", "uprv"),
        ("045f18bc", "vprv"),
    )
}
_P2SH_VERSION: Final = {"mainnet": 0x05, "testnet": 0xC4, "regtest": 0xC4}
_BECH32_HRP: Final = {"mainnet": "bc", "testnet": "tb", "regtest": "bcrt"}


@dataclass(frozen=True)
class HdChain:
    """One coin's receive chain: address(i) for i = 0, 1, …"""

    coin_type: str
    key_type: str
    network: str
    script: str
    depth: int
    key_id: str  # stored in the database instead of the key (which reveals every address)
    _receive: Any = field(repr=False)  # embit HDKey of <account>/0

    def address(self, index: int) -> str:
        if not 0 <= index <= MAX_INDEX:
            raise InvalidValue(f"derivation index {index} is out of range 0..{MAX_INDEX}")
        pub33 = self._receive.child(index).sec()
        if self.coin_type == "ETH":
            return eth_address_from_pubkey(pub33)
        return btc_address_from_pubkey(pub33, self.script, self.network)

    def addresses(self, start: int, count: int) -> list[str]:
        return [self.address(i) for i in range(start, start + count)]


def btc_address_from_pubkey(pub33: bytes, script: str, network: str) -> str:
    key_hash = hash160(pub33)
    if script == "p2pkh":
        return p2pkh_address_from_pubkey(pub33, "mainnet" if network == "mainnet" else "testnet")
    if script == "p2sh-p2wpkh":
        redeem_script = b"\x00\x14" + key_hash  # OP_0 <20-byte key hash>
        return encode_base58check(bytes([_P2SH_VERSION[network]]) + hash160(redeem_script))
    if script == "p2wpkh":
        return encode_segwit_address(_BECH32_HRP[network], 0, key_hash)
    raise InvalidValue(f"unknown script type {script!r}")


def eth_address_from_pubkey(pub33: bytes) -> str:
    """The lower-case Ethereum address of a public key: keccak256(X || Y)[12:]."""
    uncompressed = coincurve.PublicKey(pub33).format(compressed=False)
    digest = keccak.new(digest_bits=256, data=uncompressed[1:]).digest()
    return "0x" + digest[12:].hex()


def parse_key(text: str, coin_type: str, network: str | None = None) -> HdChain:
    """The receive chain of an extended public key for "BTC" or "ETH"; HdKeyError if the
    text is not one teller can use. `network` (BTC: mainnet, testnet, regtest) must suit
    the key (testnet keys serve testnet and regtest); None = the key's own."""
    key = text.strip()
    if not key:
        raise HdKeyError("the extended public key is empty")
    try:
        raw = embit_base58.decode_check(key)
    except (ValueError, KeyError, IndexError):
        raise HdKeyError("not an extended public key (bad base58 characters or checksum)") from None
    if len(raw) != 78:
        raise HdKeyError(f"not an extended public key ({len(raw)} bytes, expected 78)")
    version = raw[:4]
    if version in _PRIVATE_VERSIONS:
        raise HdKeyError(
            f"this is a private key ({_PRIVATE_VERSIONS[version]}): give teller the account's"
            " extended PUBLIC key; teller never needs, and must never hold, the private one"
        )
    kind = _PUBLIC_VERSIONS.get(version)
    if kind is None:
        raise HdKeyError(f"unknown extended key version {version.hex()}")
    if coin_type == "ETH" and kind.key_type != "xpub":
        raise HdKeyError(
            f"an Ethereum account key is an xpub (m/44'/60'/0'), not a {kind.key_type}"
        )
    if coin_type not in ("BTC", "ETH"):
        raise HdKeyError(f"HD addresses are for BTC and ETH, not {coin_type}")
    try:
        account = HDKey.from_base58(key)
        receive = account.child(RECEIVE_CHAIN)
    except Exception as exc:  # embit raises several types for a malformed key
        raise HdKeyError(f"not a valid extended public key: {exc}") from None
    if account.is_private:  # pragma: no cover - the version check refuses these first
        raise HdKeyError("this is a private key")
    if coin_type == "ETH":
        network = "mainnet"
    elif network is None:
        network = kind.network
    elif (network == "mainnet") != (kind.network == "mainnet"):
        raise HdKeyError(
            f"a {kind.key_type} is a {kind.network} key, but btc_scanner.network is {network}"
        )
    key_id = hashlib.sha256(b"teller-hd:" + coin_type.encode() + b":" + raw).hexdigest()[:32]
    return HdChain(
        coin_type=coin_type,
        key_type=kind.key_type,
        network=network,
        script="eth" if coin_type == "ETH" else kind.script,
        depth=account.depth,
        key_id=key_id,
        _receive=receive,
    )


def config_key_problems(
    coin_type: str, key_name: str, text: str, network: str = "mainnet"
) -> list[str]:
    """Config problems of `<coin>_xpub` (empty = unset, no problem)."""
    if not text:
        return []
    if network not in _BECH32_HRP:
        network = "mainnet"  # an unknown network is reported by its own rule
    try:
        parse_key(text, coin_type, network)
    except HdKeyError as exc:
        return [f"{key_name} invalid: {exc}"]
    return []


@dataclass(frozen=True, slots=True)
class GapReport:
    """How the handed-out addresses of a chain were used, for the gap-limit warning."""

    next_index: int
    funded: int  # handed-out addresses that received a deposit
    longest_unfunded_run: int
    unfunded_since_last_deposit: int

    @property
    def warning(self) -> str:
        if self.longest_unfunded_run < GAP_LIMIT:
            return ""
        return (
            f"{self.longest_unfunded_run} consecutive deposit addresses received nothing:"
            f" a wallet scanning this key with a gap limit of {GAP_LIMIT} will not see funds"
            " sent to the addresses after them; raise the wallet's gap limit to at least"
            f" {self.longest_unfunded_run + 1} (or scan with teller's addresses)"
        )


def gap_report(next_index: int, funded_indices: list[int]) -> GapReport:
    """Runs of consecutive handed-out indices 0..next_index-1 whose address got nothing."""
    funded = sorted({i for i in funded_indices if 0 <= i < next_index})
    longest = 0
    previous = -1
    for index in funded:
        longest = max(longest, index - previous - 1)
        previous = index
    trailing = next_index - previous - 1
    return GapReport(
        next_index=next_index,
        funded=len(funded),
        longest_unfunded_run=max(longest, trailing),
        unfunded_since_last_deposit=trailing,
    )
