"""The admin server's credential: tokens, their stored hashes, the token file, loopback names.

Place in the flow: preflight.py checks the [admin_panel] keys with these functions before
anything starts; app.py builds the AdminCredential the admin server's middleware
(http/admin_guard.py) checks every request against; `teller admin token` (cli.py) makes a
new token. Pure (hashlib, hmac, secrets) apart from reading and writing the token file.

A request carries the token as `Authorization: Bearer TOKEN`. teller keeps only hashes of
the accepted tokens in memory and compares digests with hmac.compare_digest, so neither the
time an answer takes nor a log line tells anything of a token. Stored forms
(`admin_panel.auth_token_hash`):

- `sha256:<64 hex digits>`: for a random token such as `teller admin token` makes (256 bits:
  no dictionary can find it, so one hash is enough);
- `pbkdf2_sha256:<iterations>:<salt hex>:<hash hex>`: for a password a person chose
  (`teller admin token --password` reads one from stdin). A request's PBKDF2 is computed
  once per distinct token and remembered by its SHA-256, so the dashboard's polling costs one
  hash per request, not a PBKDF2.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import re
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

from teller.errors import TellerError

TOKEN_FILE_NAME = "admin_token"  # in the data directory, when no credential is configured
TOKEN_BYTES = 32
MIN_TOKEN_LENGTH = 16
PBKDF2_ITERATIONS = 600_000  # OWASP's 2023 figure for PBKDF2-HMAC-SHA256
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")

_SHA256 = re.compile(r"sha256:([0-9a-f]{64})")
_PBKDF2 = re.compile(r"pbkdf2_sha256:([1-9][0-9]{0,8}):([0-9a-f]{16,128}):([0-9a-f]{64})")


class CredentialError(TellerError):
    """A token, token file or stored hash that cannot be used; the message says why."""


def new_token() -> str:
    """A new random token: 256 bits, URL-safe text (43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def sha256_hash(token: str) -> str:
    """The `sha256:` stored form of a token."""
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


def pbkdf2_hash(password: str, iterations: int = PBKDF2_ITERATIONS) -> str:
    """The `pbkdf2_sha256:` stored form of a password, with a new random salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return f"pbkdf2_sha256:{iterations}:{salt.hex()}:{digest.hex()}"


def hash_problem(stored: str) -> str | None:
    """Why `stored` is no usable stored form, or None."""
    if _SHA256.fullmatch(stored) or _PBKDF2.fullmatch(stored):
        return None
    return (
        'must be "sha256:<64 hex digits>" or "pbkdf2_sha256:<iterations>:<salt hex>:<hash hex>"'
        " (teller admin token prints one)"
    )


@dataclass
class StoredHash:
    """One accepted credential, as stored; matches() checks a presented token in constant time."""

    stored: str

    def __post_init__(self) -> None:
        problem = hash_problem(self.stored)
        if problem:
            raise CredentialError(f"admin_panel.auth_token_hash {problem}")

    def digest_of(self, token: str) -> bytes:
        """The presented token in this hash's form (the bytes compared)."""
        sha = _SHA256.fullmatch(self.stored)
        if sha:
            return hashlib.sha256(token.encode("utf-8")).digest()
        pbkdf2 = _PBKDF2.fullmatch(self.stored)
        assert pbkdf2 is not None
        salt = bytes.fromhex(pbkdf2.group(2))
        return hashlib.pbkdf2_hmac("sha256", token.encode("utf-8"), salt, int(pbkdf2.group(1)))

    @property
    def expected(self) -> bytes:
        return bytes.fromhex(self.stored.rsplit(":", 1)[1])


def read_token_file(path: Path) -> str:
    """The token in `path` (its first line, trimmed); CredentialError says what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CredentialError(
            f"admin_panel.auth_token_file {path} does not exist (make one: teller admin token"
            f" --file {path})"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialError(f"admin_panel.auth_token_file {path} cannot be read: {exc}") from exc
    lines = text.strip().splitlines()
    token = lines[0].strip() if lines else ""
    if len(token) < MIN_TOKEN_LENGTH:
        raise CredentialError(
            f"admin_panel.auth_token_file {path} must hold a token of at least"
            f" {MIN_TOKEN_LENGTH} characters on its first line"
        )
    return token


def write_token_file(path: Path, token: str) -> None:
    """Write `token` to a new file readable by its owner only (never over an existing one)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(token + "\n")


@dataclass
class AdminCredential:
    """The tokens the admin server accepts: one or more stored hashes.

    `accepts(token)` compares in constant time against every stored hash (no early exit);
    a token that matched once is remembered by its SHA-256, so a PBKDF2 is not run on every
    request of the dashboard.
    """

    hashes: list[StoredHash]
    _known: set[bytes] = field(default_factory=set, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def of(cls, stored_hash: str, token_file: Path | None) -> AdminCredential:
        hashes = [StoredHash(stored_hash)] if stored_hash else []
        if token_file is not None:
            hashes.append(StoredHash(sha256_hash(read_token_file(token_file))))
        if not hashes:
            raise CredentialError("no admin credential configured")
        return cls(hashes)

    def known(self, token: str) -> bool:
        """Whether `token` matched before (cheap: one SHA-256 and a set look-up)."""
        quick = hashlib.sha256(token.encode("utf-8")).digest()
        with self._lock:
            return quick in self._known

    def accepts(self, token: str) -> bool:
        if self.known(token):
            return True
        quick = hashlib.sha256(token.encode("utf-8")).digest()
        matched = False
        for stored in self.hashes:
            # Every hash is checked (no short cut), each in constant time.
            matched |= hmac.compare_digest(stored.digest_of(token), stored.expected)
        if matched:
            with self._lock:
                self._known.add(quick)
        return matched


def default_token_file(appdir: Path) -> tuple[Path, bool]:
    """The data directory's token file, made with a new token if missing: (path, made)."""
    path = appdir / TOKEN_FILE_NAME
    try:
        write_token_file(path, new_token())
    except FileExistsError:
        return path, False
    return path, True


def is_loopback_host(host: str) -> bool:
    """Whether a listen or Host name stands for this machine only: "localhost", 127.0.0.0/8
    or ::1 (an empty host, ":PORT", listens on loopback: preflight.listen_host)."""
    host = host.strip().strip("[]").lower().rstrip(".")
    if host in ("", "localhost") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_name_problem(name: str) -> str | None:
    """Why `name` cannot be an allowed Host name (a DNS name or an IP address), or None."""
    bare = name.strip("[]")
    try:
        ipaddress.ip_address(bare)
        return None
    except ValueError:
        pass
    if re.fullmatch(r"(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.?)+", name.lower()):
        return None
    return f"{name!r} is not a host name or IP address (write names without a port)"
