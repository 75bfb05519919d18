"""Certificates for TLS peers on 127.0.0.1, made in the test with the `cryptography` package.

`self_signed` is a node's own certificate (its own CA, as btcd's rpc.cert): trusted by
pinning that file. `ca_and_leaf` is a CA and a server certificate it signed: trusted through
the CA file. Both name 127.0.0.1 and localhost.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NAMES = x509.SubjectAlternativeName(
    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
)


@dataclass(frozen=True)
class ServerFiles:
    cert: Path  # what the server presents (PEM)
    key: Path  # its private key (PEM, mode 0600)
    trust: Path  # what a client trusts: the certificate itself, or its CA


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    names: bool,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if names:
        builder = builder.add_extension(NAMES, critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(
    directory: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def self_signed(directory: Path, stem: str = "node") -> ServerFiles:
    """A self-signed certificate for 127.0.0.1 and localhost; trust = the certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate(stem, key, stem, key, ca=True, names=True)
    cert_path, key_path = _write(directory, stem, cert, key)
    return ServerFiles(cert_path, key_path, cert_path)


def ca_and_leaf(directory: Path, stem: str = "server") -> ServerFiles:
    """A server certificate for 127.0.0.1 and localhost signed by a new CA; trust = the CA."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _certificate(
        f"{stem} test CA", ca_key, f"{stem} test CA", ca_key, ca=True, names=False
    )
    ca_path, _ca_key_path = _write(directory, f"{stem}-ca", ca_cert, ca_key)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate(stem, key, f"{stem} test CA", ca_key, ca=False, names=True)
    cert_path, key_path = _write(directory, stem, cert, key)
    return ServerFiles(cert_path, key_path, ca_path)
