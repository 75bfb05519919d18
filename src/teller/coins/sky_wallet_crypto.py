"""The secrets of an encrypted Skycoin `.wlt` wallet: decrypt them with the wallet's password.

Place in the flow: coins/sky_wallet.py hands `meta.secrets` of an encrypted hot wallet here
at start-up (the password came from sky_exchanger.wallet_password_file or the environment);
what comes back is the secrets JSON object, of which the wallet module keeps only the entries'
secret keys. Nothing is ever written: the plaintext lives in memory only while it is read.

The format, as Skycoin v0.27.1 writes it (reference skycoin.md §10; `src/cipher/encrypt/`):

    secrets = base64(std, padded) of  L ‖ M ‖ C
      L  the length of M, 2 bytes little-endian
      M  JSON {"n", "r", "p", "keyLen", "salt", "nonce"}   (salt 32 bytes, nonce 12, base64)
      C  IETF ChaCha20-Poly1305 of the secrets JSON under key = scrypt(password, salt, n, r,
         p, keyLen), nonce = M.nonce, additional data = L ‖ M

`scrypt-chacha20poly1305` (n = 2^20: about 3 s and 1 GiB to derive) and
`scrypt-chacha20poly1305-insecure` (n = 2^15) differ only in the parameters stored in M, so
one decoder reads both. `sha256-xor`, the old method without key stretching, is refused with
the advice to re-encrypt. A wrong password fails the Poly1305 tag check.

    WalletCryptoError (InvalidValue)   the secrets cannot be read: unknown or refused cipher,
    │                                  malformed data, parameters out of range
    └── WrongPasswordError             the tag check failed: a wrong password (or altered data)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from teller.errors import InvalidValue

SCRYPT_CHACHA20POLY1305 = "scrypt-chacha20poly1305"
SCRYPT_CHACHA20POLY1305_INSECURE = "scrypt-chacha20poly1305-insecure"
SHA256_XOR = "sha256-xor"
READABLE_CRYPTO_TYPES = (SCRYPT_CHACHA20POLY1305, SCRYPT_CHACHA20POLY1305_INSECURE)

KEY_LENGTH = 32  # ChaCha20-Poly1305 takes a 256-bit key
NONCE_LENGTH = 12  # the IETF construction
# Bounds on the stored scrypt parameters: Skycoin writes n = 2^20 or 2^15, r = 8, p = 1.
# Anything far above would make start-up take minutes or gigabytes, so it is refused instead.
MAX_SCRYPT_N = 2**21
MAX_SCRYPT_R = 32
MAX_SCRYPT_P = 16
_MAXMEM_SLACK = 64 * 1024 * 1024


class WalletCryptoError(InvalidValue):
    """The wallet's encrypted secrets cannot be read (the message says why)."""


class WrongPasswordError(WalletCryptoError):
    """The password does not decrypt the wallet's secrets."""


def reencrypt_advice(crypto_type: str) -> str:
    """Why `crypto_type` is refused and what to do, for sha256-xor or an unknown cipher."""
    if crypto_type == SHA256_XOR:
        return (
            "the wallet is encrypted with sha256-xor, which has no key stretching (the Skycoin"
            " authors call it insecure) and teller does not read it: re-encrypt it with"
            f" {SCRYPT_CHACHA20POLY1305} (decrypt it in the Skycoin wallet or with skycoin-cli"
            " decryptWallet, then encrypt it again: the default cipher is"
            f" {SCRYPT_CHACHA20POLY1305})"
        )
    return f"the wallet's cipher {crypto_type!r} is unknown; teller reads " + " and ".join(
        READABLE_CRYPTO_TYPES
    )


def decrypt_secrets(crypto_type: str, data: str, password: bytes) -> dict[str, str]:
    """The secrets JSON object (seed, lastSeed, address -> secret key hex) of an encrypted
    wallet. WrongPasswordError when the password does not fit; WalletCryptoError for the rest.
    """
    if crypto_type not in READABLE_CRYPTO_TYPES:
        raise WalletCryptoError(reencrypt_advice(crypto_type))
    if not password:
        raise WalletCryptoError("missing password")  # Skycoin refuses an empty one too
    header, params, ciphertext = _split(data)
    key = _derive_key(password, params)
    try:
        plaintext = ChaCha20Poly1305(key).decrypt(params["nonce"], ciphertext, header)
    except InvalidTag:
        raise WrongPasswordError(
            "wrong wallet password: the wallet's secrets do not decrypt with it"
        ) from None
    return _secrets_object(plaintext)


def _split(data: str) -> tuple[bytes, dict[str, Any], bytes]:
    """(L ‖ M, the parameters of M, C) of the stored text."""
    try:
        raw = base64.b64decode(data.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise WalletCryptoError("meta.secrets is not base64") from None
    if len(raw) < 2:
        raise WalletCryptoError("meta.secrets is too short")
    length = int.from_bytes(raw[:2], "little")
    if len(raw) < 2 + length:
        raise WalletCryptoError("meta.secrets is shorter than its header says")
    header, ciphertext = raw[: 2 + length], raw[2 + length :]
    try:
        meta = json.loads(header[2:])
    except (ValueError, RecursionError):
        raise WalletCryptoError("meta.secrets has no readable scrypt parameters") from None
    return header, _params(meta), ciphertext


def _params(meta: Any) -> dict[str, Any]:
    if not isinstance(meta, dict):
        raise WalletCryptoError("meta.secrets has no readable scrypt parameters")
    numbers = {}
    for name in ("n", "r", "p", "keyLen"):
        value = meta.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise WalletCryptoError(f"meta.secrets: scrypt parameter {name} is not a number >= 1")
        numbers[name] = value
    n, r, p = numbers["n"], numbers["r"], numbers["p"]
    if n < 2 or n & (n - 1) or n > MAX_SCRYPT_N or r > MAX_SCRYPT_R or p > MAX_SCRYPT_P:
        raise WalletCryptoError(
            f"meta.secrets: scrypt parameters n={n} r={r} p={p} are out of range (n a power of"
            f" 2 up to 2^21, r <= {MAX_SCRYPT_R}, p <= {MAX_SCRYPT_P})"
        )
    if numbers["keyLen"] != KEY_LENGTH:
        raise WalletCryptoError(f"meta.secrets: keyLen must be {KEY_LENGTH}")
    blobs = {}
    for name in ("salt", "nonce"):
        try:
            blobs[name] = base64.b64decode(str(meta.get(name, "")), validate=True)
        except binascii.Error:
            raise WalletCryptoError(f"meta.secrets: {name} is not base64") from None
    if len(blobs["nonce"]) != NONCE_LENGTH or not blobs["salt"]:
        raise WalletCryptoError("meta.secrets: the salt or the nonce has the wrong length")
    return numbers | blobs


def _derive_key(password: bytes, params: dict[str, Any]) -> bytes:
    n, r, p = params["n"], params["r"], params["p"]
    # scrypt needs 128 * r * n bytes (1 GiB for Skycoin's default), beyond hashlib's 32 MiB
    # default limit; the parameters were bounded above.
    maxmem = 128 * r * (n + p + 2) + _MAXMEM_SLACK
    try:
        return hashlib.scrypt(
            password, salt=params["salt"], n=n, r=r, p=p, dklen=params["keyLen"], maxmem=maxmem
        )
    except (ValueError, MemoryError) as exc:
        raise WalletCryptoError(f"scrypt could not derive the wallet key: {exc}") from None


def _secrets_object(plaintext: bytes) -> dict[str, str]:
    try:
        secrets = json.loads(plaintext)
    except (ValueError, RecursionError):
        secrets = None
    if not isinstance(secrets, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in secrets.items()
    ):
        raise WalletCryptoError("the decrypted secrets are not a JSON object of strings")
    return secrets
