"""Running several uvicorn servers (public, HTTPS, admin, dummy) inside teller's one event loop.

The HTTPS server serves the TLS context it is given (tls/context.py), never files of its own.

Sockets are bound by teller before uvicorn starts, so "address already in use" is reported
as a clear start-up error naming the config key, and tests can ask for port 0. Every server
speaks HTTP through connection.py's protocol, with the limits of the [http] config table
(header size, header and body deadlines, keep-alive, connections per client).
"""

from __future__ import annotations

import contextlib
import math
import socket
import ssl
from collections.abc import Generator
from dataclasses import dataclass, field

import uvicorn
from starlette.types import ASGIApp

from teller.config.preflight import listen_host, split_host_port
from teller.config.schema import Config
from teller.errors import TellerError
from teller.http.connection import ConnectionLimits, protocol_class


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
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)

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
            http=protocol_class(self.limits),
            timeout_keep_alive=max(1, math.ceil(self.limits.keep_alive_timeout)),
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


def connection_limits(config: Config, name: str) -> ConnectionLimits:
    """The [http] limits of the listener of config key `name` ("web.http_addr", ...).

    Behind a reverse proxy every connection to the public servers comes from the proxy, so
    there the cap of connections per client is off (set one on the proxy: nginx limit_conn).
    """
    limits = config.http
    per_client = limits.max_connections_per_client
    if config.web.behind_proxy and name.startswith("web."):
        per_client = 0
    return ConnectionLimits(
        max_header_bytes=limits.max_header_bytes,
        header_timeout=limits.header_timeout.total_seconds(),
        body_timeout=limits.body_timeout.total_seconds(),
        keep_alive_timeout=limits.keep_alive_timeout.total_seconds(),
        max_connections_per_client=per_client,
    )


def bind_socket(
    name: str, address: str, *, reuse_port: bool = False, listen: bool = True
) -> socket.socket:
    """A listening socket on `address` (config key `name` in messages).

    reuse_port: SO_REUSEPORT, so that several API processes (api_procs.py) each listen on the
    port and the kernel shares the connections out between them. listen=False only reserves
    the address (the parent of those processes: its socket gets no connections).
    """
    host, port = split_host_port(address)
    host = listen_host(host)  # ":port" is loopback; every interface only when written
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, sockaddr = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(sockaddr)
        if listen:
            sock.listen(1024)
        sock.setblocking(False)
    except OSError as exc:
        raise ListenError(f"{name}: cannot listen on {address}: {exc.strerror or exc}") from exc
    return sock
