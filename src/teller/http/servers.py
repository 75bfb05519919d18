"""Running several uvicorn servers (public, HTTPS, admin, dummy) inside teller's one event loop.

The HTTPS server serves the TLS context it is given (tls/context.py), never files of its own.

Sockets are bound by teller before uvicorn starts, so "address already in use" is reported
as a clear start-up error naming the config key, and tests can ask for port 0.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Generator
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from teller.config.preflight import listen_host, split_host_port
from teller.errors import TellerError


class ListenError(TellerError):
    pass


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to teller's own loop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass
class Listener:
    name: str  # the config key, for messages: "web.http_addr"
    app: ASGIApp
    sock: socket.socket
    # web.https_addr: the one context of the listener's life (tls/context.py); a renewed
    # certificate is loaded into it, so new connections get it without a restart.
    ssl_context: ssl.SSLContext | None = None

    @property
    def address(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"{host}:{port}"

    def server(self) -> EmbeddedServer:
        config = uvicorn.Config(
            self.app,
            # teller configures logging itself (uvicorn's dictConfig would close its handlers)
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_keep_alive=120,
            ssl_context_factory=self._ssl_context if self.ssl_context is not None else None,
            server_header=False,
            # Never let uvicorn take the client address or scheme from X-Forwarded-* (it
            # would for peers on 127.0.0.1): teller reads X-Forwarded-For itself, and only
            # with web.behind_proxy; HSTS follows the real TLS connection.
            proxy_headers=False,
        )
        return EmbeddedServer(config)

    def _ssl_context(self, _config: uvicorn.Config, _default: object) -> ssl.SSLContext:
        assert self.ssl_context is not None
        return self.ssl_context


def bind_socket(name: str, address: str) -> socket.socket:
    host, port = split_host_port(address)
    host = listen_host(host)  # ":port" is loopback; every interface only when written
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, sockaddr = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        sock.listen(1024)
        sock.setblocking(False)
    except OSError as exc:
        raise ListenError(f"{name}: cannot listen on {address}: {exc.strerror or exc}") from exc
    return sock
