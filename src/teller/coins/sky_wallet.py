"""Skycoin `.wlt` wallet files: read a deterministic wallet (encrypted or not), or write one.

Place in the flow: the SKY payer loads the hot wallet named by `sky_exchanger.wallet` with
`load_wallet` and signs payouts with its keys (coins/sky_tx.py); the node simulator writes a
funded demo wallet with `write_wallet`. The only I/O here is reading and writing that file.

A `.wlt` file is JSON (skycoin.md §1):

    {"meta": {"coin": "skycoin", "type": "deterministic", "seed": "...", "lastSeed": hex,
              "encrypted": "false", "label", "filename", "tm", "version", ...},
     "entries": [{"address", "public_key": hex33, "secret_key": hex32}, ...]}

An encrypted wallet (`meta.encrypted == "true"`, skycoin.md §10) keeps its addresses and
public keys in the clear and its seed and secret keys in `meta.secrets`; with its password,
coins/sky_wallet_crypto.py decrypts them and each entry's secret key is taken from there. A
loaded `Wallet` holds only what the payer signs with: each entry's address, public key and
secret key, every one checked against the others. Never the seed, the lastSeed or the rest of
the meta: a leaked process memory or core dump then holds the keys of these addresses, not
the seed of every key the wallet could still derive. The decrypted text is dropped as soon as
the keys are read (Python cannot overwrite it; it is freed) and never written anywhere.

    WalletError (InvalidValue)   missing file, not JSON, bad entries; str() names the file
    └── EncryptedWalletError     encrypted and no password given, a refused cipher
        │                        (sha256-xor: re-encrypt), secrets that cannot be read
        └── WalletPasswordError  the password does not decrypt the secrets
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from teller.coins.sky import (
    AddressError,
    DeterministicKeyChain,
    address_from_pubkey,
    decode_address,
    pubkey_from_seckey,
)
from teller.coins.sky_wallet_crypto import (
    READABLE_CRYPTO_TYPES,
    WalletCryptoError,
    WrongPasswordError,
    decrypt_secrets,
    reencrypt_advice,
)
from teller.errors import InvalidValue

WALLET_VERSION = "0.1"
DETERMINISTIC = "deterministic"


class WalletError(InvalidValue):
    """A wallet file that cannot be used to sign; str() names the file and the problem."""


class EncryptedWalletError(WalletError):
    """The wallet's secrets are encrypted and cannot be read as given (the message says why)."""


class WalletPasswordError(EncryptedWalletError):
    """The password given does not decrypt the wallet's secrets."""


@dataclass(frozen=True, slots=True)
class WalletEntry:
    address: str
    pubkey: bytes  # 33 bytes, compressed
    seckey: bytes = field(repr=False)  # 32 bytes; never in a repr, a log or a traceback


@dataclass(frozen=True, slots=True)
class Wallet:
    """A wallet's entries, every key checked against its address; no seed, no meta."""

    path: Path
    entries: tuple[WalletEntry, ...]

    @property
    def addresses(self) -> tuple[str, ...]:
        return tuple(e.address for e in self.entries)

    @property
    def seckeys(self) -> dict[str, bytes]:
        """address → secret key, what `sky_tx.build_transaction` signs with."""
        return {e.address: e.seckey for e in self.entries}

    @property
    def change_address(self) -> str:
        """Entry 0, where the original teller sent change."""
        return self.entries[0].address


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _entry(path: Path, index: int, raw: Any, secrets: Mapping[str, str] | None) -> WalletEntry:
    """Entry `index`, its secret key from the entry itself or, for an encrypted wallet, from
    the decrypted `secrets` (address -> secret key hex)."""
    where = f"{path}: entry {index}"
    if not isinstance(raw, dict):
        raise WalletError(f"{where} is not an object")
    address, pub_hex = raw.get("address"), raw.get("public_key")
    sec_hex = raw.get("secret_key") if secrets is None else secrets.get(str(address), "")
    if not all(isinstance(v, str) for v in (address, pub_hex, sec_hex)):
        raise WalletError(f"{where} needs address, public_key and secret_key strings")
    assert isinstance(address, str) and isinstance(pub_hex, str) and isinstance(sec_hex, str)
    try:
        decode_address(address)
    except AddressError as exc:
        raise WalletError(f"{where}: address {address!r}: {exc}") from None
    if secrets is not None and not sec_hex:
        raise EncryptedWalletError(f"{where}: the decrypted secrets hold no key for {address}")
    if sec_hex == "" or set(sec_hex) == {"0"}:
        raise EncryptedWalletError(
            f"{path}: entry {index} has no secret key (an encrypted wallet whose meta does"
            " not say so?)"
        )
    try:
        seckey, pubkey = bytes.fromhex(sec_hex), bytes.fromhex(pub_hex)
        derived = pubkey_from_seckey(seckey)
    except ValueError:
        raise WalletError(f"{where}: secret_key or public_key is not a valid key in hex") from None
    if derived != pubkey:
        raise WalletError(f"{where}: public_key does not belong to secret_key")
    if address_from_pubkey(derived) != address:
        raise WalletError(f"{where}: address does not belong to secret_key")
    return WalletEntry(address, pubkey, seckey)


def crypto_type(document: Any) -> str | None:
    """The cipher of an encrypted wallet document ("" if it does not say), None if the
    document is not encrypted. For start-up checks that need no password."""
    meta = document.get("meta") if isinstance(document, dict) else None
    if not isinstance(meta, dict) or not _is_true(meta.get("encrypted")):
        return None
    value = meta.get("cryptoType") or meta.get("crypto_type") or ""
    return value if isinstance(value, str) else ""


def _decrypted_secrets(
    meta: Mapping[str, Any], path: Path, password: bytes | None
) -> dict[str, str]:
    cipher = crypto_type({"meta": meta}) or "unknown cipher"
    if cipher not in READABLE_CRYPTO_TYPES:
        raise EncryptedWalletError(f"{path}: {reencrypt_advice(cipher)}")
    if password is None:
        raise EncryptedWalletError(
            f"{path}: the wallet is encrypted ({cipher}) and no password was given"
        )
    data = meta.get("secrets")
    if not isinstance(data, str) or not data:
        raise EncryptedWalletError(f"{path}: the wallet is encrypted but meta.secrets is empty")
    try:
        return decrypt_secrets(cipher, data, password)
    except WrongPasswordError as exc:
        raise WalletPasswordError(f"{path}: {exc}") from None
    except WalletCryptoError as exc:
        raise EncryptedWalletError(f"{path}: {exc}") from None


def parse_wallet(document: Any, path: Path, *, password: bytes | None = None) -> Wallet:
    """A Wallet from a parsed `.wlt` document; `path` is only for messages. An encrypted
    wallet needs its `password`; an unencrypted one ignores it."""
    if not isinstance(document, dict):
        raise WalletError(f"{path}: not a wallet file (expected a JSON object)")
    meta, entries = document.get("meta"), document.get("entries")
    if not isinstance(meta, dict) or not isinstance(entries, list):
        raise WalletError(f"{path}: not a wallet file (needs meta and entries)")
    if not entries:
        raise WalletError(f"{path}: the wallet has no addresses")
    secrets = _decrypted_secrets(meta, path, password) if _is_true(meta.get("encrypted")) else None
    # Only the entries' keys are kept: the seed (in `meta` or in `secrets`) goes out of scope
    # with them when this returns.
    parsed = tuple(_entry(path, i, raw, secrets) for i, raw in enumerate(entries))
    if len({e.address for e in parsed}) != len(parsed):
        raise WalletError(f"{path}: an address appears twice")
    return Wallet(path, parsed)


def load_wallet(path: str | os.PathLike[str], *, password: bytes | None = None) -> Wallet:
    """Read and check a `.wlt` file (an encrypted one with its `password`); raises
    WalletError (or a subclass)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WalletError(f"{file}: wallet file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise WalletError(f"{file}: cannot read the wallet file: {exc}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WalletError(f"{file}: not a wallet file (bad JSON: {exc})") from None
    return parse_wallet(document, file, password=password)


def wallet_document(seed: str, count: int, *, label: str, filename: str) -> dict[str, Any]:
    """A deterministic wallet's JSON document: the first `count` keys of `seed`."""
    if count < 1:
        raise InvalidValue("a wallet needs at least one address")
    chain = DeterministicKeyChain(seed.encode("utf-8"))
    entries = []
    for _ in range(count):
        pair = chain.next()
        entries.append(
            {
                "address": address_from_pubkey(pair.pubkey),
                "public_key": pair.pubkey.hex(),
                "secret_key": pair.seckey.hex(),
            }
        )
    return {
        "meta": {
            "coin": "skycoin",
            "cryptoType": "",
            "encrypted": "false",
            "filename": filename,
            "label": label,
            "lastSeed": chain.seed.hex(),
            "secrets": "",
            "seed": seed,
            "tm": str(int(time.time())),
            "type": DETERMINISTIC,
            "version": WALLET_VERSION,
        },
        "entries": entries,
    }


def write_wallet(path: str | os.PathLike[str], seed: str, count: int, *, label: str = "") -> Wallet:
    """Write a new unencrypted deterministic wallet (mode 0600) and return it loaded."""
    file = Path(path)
    document = wallet_document(seed, count, label=label or file.stem, filename=file.name)
    tmp = file.with_name(file.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(document, fh, indent=4)
        fh.write("\n")
    os.replace(tmp, file)
    return load_wallet(file)
