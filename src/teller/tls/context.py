"""The server TLS context of web.https_addr, one object for the listener's whole life.

Place in the flow: app.py makes it and hands it to the HTTPS listener (http/servers.py); for
web.tls_cert/web.tls_key it is loaded once here, for web.auto_tls_host by tls/auto.py, again
at every renewal. `load_cert_chain` on the same context is what swaps a certificate without a
restart: each new TLS handshake takes the context's certificate at that moment, connections
already open keep theirs. Until a certificate is loaded, handshakes fail at once (the client
sees a TLS alert, never a hang) and plain HTTP requests are unaffected.
"""

from __future__ import annotations

import ssl
from pathlib import Path


def server_context() -> ssl.SSLContext:
    """A server context with the library's secure defaults (TLS 1.2+), no certificate yet."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    return context


def load_certificate(context: ssl.SSLContext, cert_path: Path | str, key_path: Path | str) -> None:
    """Serve this certificate (PEM chain, leaf first) and key on every new handshake."""
    context.load_cert_chain(str(cert_path), str(key_path))
