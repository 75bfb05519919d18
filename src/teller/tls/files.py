"""The automatic certificate's files in the data directory: ACME account key, certificate, key.

Place in the flow: tls/auto.py reads them at start (a stored certificate still good is served
at once, with no new order) and writes them after each issuance. The folder is
`<data directory>/acme` (mode 700) and every file is mode 600: the keys are secrets. A write
goes to a temporary file, is flushed to disk, then renamed over the old one, so a crash leaves
the old certificate or the new one, never half of either; the certificate and its key are
written key first, and a certificate that does not match its key is read as no certificate.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from teller.errors import TellerError

FOLDER = "acme"
ACCOUNT_KEY = "account_key.pem"
CERTIFICATE = "certificate.pem"  # the leaf, then the chain the CA sent
CERTIFICATE_KEY = "certificate_key.pem"


class CertificateFileError(TellerError):
    """A stored certificate file cannot be written (the data directory is not writable)."""


@dataclass(frozen=True)
class StoredCertificate:
    """A certificate read from the data directory, with what renewal decides on."""

    chain_pem: bytes
    key_pem: bytes
    hosts: frozenset[str]
    serial: str  # hexadecimal, as `openssl x509 -serial` and Pebble print it
    not_before: datetime.datetime
    not_after: datetime.datetime

    def renew_at(self, renew_left: float) -> datetime.datetime:
        """When less than `renew_left` of its lifetime (0..1) will be left."""
        lifetime = self.not_after - self.not_before
        return self.not_after - lifetime * renew_left


def describe(chain_pem: bytes, key_pem: bytes) -> StoredCertificate:
    """The certificate `chain_pem` begins with; ValueError if it is no PEM certificate or does
    not belong to `key_pem`."""
    leaf = x509.load_pem_x509_certificate(chain_pem)
    key = serialization.load_pem_private_key(key_pem, password=None)
    if leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise ValueError("the certificate is not for the stored key")
    hosts: set[str] = set()
    with contextlib.suppress(x509.ExtensionNotFound):
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        hosts.update(str(name).lower() for name in names.get_values_for_type(x509.DNSName))
    for attribute in leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        hosts.add(str(attribute.value).lower())
    return StoredCertificate(
        chain_pem=chain_pem,
        key_pem=key_pem,
        hosts=frozenset(hosts),
        serial=format(leaf.serial_number, "x"),
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
    )


class CertificateFiles:
    """The `acme` folder of one data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.folder = data_dir / FOLDER

    @property
    def certificate_path(self) -> Path:
        return self.folder / CERTIFICATE

    @property
    def key_path(self) -> Path:
        return self.folder / CERTIFICATE_KEY

    def account_key(self, create: bytes) -> bytes:
        """The stored account key; `create` is stored and returned when there is none."""
        path = self.folder / ACCOUNT_KEY
        try:
            return path.read_bytes()
        except FileNotFoundError:
            self._write(path, create)
            return create

    def read(self) -> StoredCertificate | None:
        """The stored certificate, or None when there is none usable (missing, unreadable,
        not matching its key)."""
        try:
            return describe(self.certificate_path.read_bytes(), self.key_path.read_bytes())
        except (OSError, ValueError):
            return None

    def write(self, chain_pem: bytes, key_pem: bytes) -> StoredCertificate:
        """Store a new certificate and its key (the key first: see the module docstring)."""
        stored = describe(chain_pem, key_pem)
        self._write(self.key_path, key_pem)
        self._write(self.certificate_path, chain_pem)
        return stored

    def _write(self, path: Path, data: bytes) -> None:
        temporary = path.with_name(path.name + ".tmp")
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.folder, 0o700)
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
            folder_fd = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(folder_fd)
            finally:
                os.close(folder_fd)
        except OSError as exc:
            raise CertificateFileError(f"cannot write {path}: {exc.strerror or exc}") from exc
