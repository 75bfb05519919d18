"""Running several uvicorn servers (public, HTTPS, admin, dummy) inside teller's one event loop.

Sockets are bound by teller before uvicorn starts, so "address already in use" is reported
as a clear start-up error naming the config key, and tests can ask for port 0.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Generator
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

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
    app: FastAPI
    sock: socket.socket
    ssl_certfile: str = ""
    ssl_keyfile: str = ""

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
            ssl_certfile=self.ssl_certfile or None,
            ssl_keyfile=self.ssl_keyfile or None,
            server_header=False,
            # Never let uvicorn take the client address or scheme from X-Forwarded-* (it
            # would for peers on 127.0.0.1): teller reads X-Forwarded-For itself, and only
            # with web.behind_proxy; HSTS follows the real TLS connection.
            proxy_headers=False,
        )
        return EmbeddedServer(config)


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
