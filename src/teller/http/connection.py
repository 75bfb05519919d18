"""One HTTP/1.1 connection under uvicorn, with the limits every teller server keeps.

Place in the flow: servers.py runs each server (public, HTTPS, admin, dummy) with
`protocol_class(limits)`, a subclass of uvicorn's httptools protocol made for that listener.
Routes and middleware never see a request refused here.

What a connection may not do, and what it gets ([http] config table):
- a request head (request line and headers) over `max_header_bytes` → 431, connection closed;
  at most one read (≤ 256 KiB) past the limit is ever held, so a client sending an endless
  header costs no memory (uvicorn and httptools keep no limit of their own: a 2 MiB header
  was answered 200, and endless ones grew the process by 50 MB each);
- a head not received within `header_timeout` of its first byte (or of the connection's
  start) → 408 and closed: slowloris clients trickling a header keep no socket for long (a
  connection that sent nothing at all is just closed);
- a body not received within `body_timeout` of its head → 408 (or closed, if the answer
  has started);
- idle between requests longer than `keep_alive_timeout` → closed (uvicorn's own timer);
- more than `max_connections_per_client` open connections from one client (one IPv4
  address or one IPv6 /64, client_key.py) → 429 at once and closed. 0 turns the cap off
  (the public servers with web.behind_proxy, where every connection comes from the proxy).

A refused connection is answered, its writing side shut (the client reads the answer and an
end of file), and whatever the client still sends is read and dropped for up to
LINGER_SECONDS / LINGER_BYTES before the socket is closed: closing a socket with unread data
makes the kernel send a reset, which a client still sending takes as a write error before it
reads the answer. The byte bound is small because each dropped byte is read by teller's one
event loop: a client sending more gets the reset (on Linux the answer stays readable).
"""

from __future__ import annotations

import asyncio
import http
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from teller.http.client_key import client_key

LINGER_SECONDS = 2.0
LINGER_BYTES = 256 * 1024
HEADER_LINE_OVERHEAD = 4  # ": " and CRLF of each header line


@dataclass(frozen=True)
class ConnectionLimits:
    """The [http] table's limits of one listener (defaults as in config/schema.py)."""

    max_header_bytes: int = 16384
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    keep_alive_timeout: float = 15.0
    max_connections_per_client: int = 64  # 0 = no cap


@dataclass
class ClientConnections:
    """Open connections per client key, of one listener (the event loop's thread only)."""

    cap: int
    open: dict[str, int] = field(default_factory=dict)

    def add(self, key: str) -> bool:
        """Count a new connection of `key`; False (not counted) when it is over the cap."""
        count = self.open.get(key, 0)
        if self.cap and count >= self.cap:
            return False
        self.open[key] = count + 1
        return True

    def remove(self, key: str) -> None:
        count = self.open.get(key, 0) - 1
        if count > 0:
            self.open[key] = count
        else:
            self.open.pop(key, None)


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a refused request."""


def _response(status: int, text: str, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    body = text.encode("ascii")
    phrase = http.HTTPStatus(status).phrase
    lines = [f"HTTP/1.1 {status} {phrase}".encode("ascii")]
    lines.extend(name + b": " + value for name, value in default_headers)
    lines.extend(
        [
            b"content-type: text/plain; charset=utf-8",
            b"content-length: " + str(len(body)).encode("ascii"),
            b"x-content-type-options: nosniff",
            b"connection: close",
        ]
    )
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with teller's limits; made per listener by protocol_class."""

    limits: ClassVar[ConnectionLimits] = ConnectionLimits()
    clients: ClassVar[ClientConnections] = ClientConnections(cap=0)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.client_key: str | None = None  # set once counted in `clients`
        self.in_head = False  # a request head has begun and is not complete yet
        self.head_read = 0  # bytes of reads made while a head was incomplete
        self.head_size = 0  # the head's request target and headers, as parsed
        self.head_timer: asyncio.TimerHandle | None = None
        self.body_timer: asyncio.TimerHandle | None = None
        self.linger_timer: asyncio.TimerHandle | None = None
        self.refused = False
        self.dropped = 0  # bytes read and dropped after a refusal

    # -- the connection ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        key = client_key(self.client[0]) if self.client else "unknown"
        if not self.clients.add(key):
            self.refuse(429, "Too many connections from your address\n")
            return
        self.client_key = key
        # A connection that sends nothing is held no longer than a head may take.
        self.arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self.cancel_timers()
        if self.client_key is not None:
            self.clients.remove(self.client_key)
            self.client_key = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.refused:
            self.drop(len(data))
            return
        self._unset_keepalive_if_required()
        if self.head_timer is None and self.cycle_done():
            self.arm_head_timer()  # the first bytes after an idle keep-alive wait
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            if self.refused:
                return  # a limit below refused the request
            message = "Invalid HTTP request received."
            self.logger.warning(message)
            self.send_400_response(message)
            return
        if self.in_head:
            # Parsed so far without the head's end: the whole read was head (or, after a
            # pipelined request, partly its body: counting it too only errs on the safe side).
            self.head_read += len(data)
            if self.head_read > self.limits.max_header_bytes:
                self.refuse_large_head()

    # -- parser callbacks --------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.in_head = True
        self.head_read = 0
        self.head_size = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self.head_size += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self.head_size += len(name) + len(value) + HEADER_LINE_OVERHEAD

    def on_headers_complete(self) -> None:
        self.in_head = False
        self.cancel_head_timer()
        if self.head_size > self.limits.max_header_bytes:
            self.refuse_large_head()
            raise _Refused
        super().on_headers_complete()
        # Cancelled by on_message_complete, at once for a request without a body.
        self.body_timer = self.loop.call_later(self.limits.body_timeout, self.body_too_slow)

    def on_message_complete(self) -> None:
        if self.body_timer is not None:
            self.body_timer.cancel()
            self.body_timer = None
        super().on_message_complete()

    # -- deadlines ---------------------------------------------------------------------------

    def cycle_done(self) -> bool:
        """No request is being answered on this connection."""
        return self.cycle is None or self.cycle.response_complete

    def arm_head_timer(self) -> None:
        self.cancel_head_timer()
        self.head_timer = self.loop.call_later(self.limits.header_timeout, self.head_too_slow)

    def cancel_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def cancel_timers(self) -> None:
        self.cancel_head_timer()
        for timer in (self.body_timer, self.linger_timer):
            if timer is not None:
                timer.cancel()
        self.body_timer = self.linger_timer = None

    def head_too_slow(self) -> None:
        self.head_timer = None
        if self.transport.is_closing():
            return
        if not self.in_head:
            # Nothing of a request came (a connection opened ahead of use, as browsers do):
            # closed without a word, as an idle keep-alive connection is.
            self.transport.close()
            return
        seconds = f"{self.limits.header_timeout:g}"
        self.refuse(408, f"Request headers not received within {seconds} s\n")

    def body_too_slow(self) -> None:
        self.body_timer = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            # The application waits for the rest of the body: it is told the client left
            # (and its answer, if it still makes one, goes nowhere), so 408 is the answer.
            cycle.disconnected = True
            cycle.message_event.set()
        seconds = f"{self.limits.body_timeout:g}"
        self.refuse(408, f"Request body not received within {seconds} s\n")

    # -- refusing ----------------------------------------------------------------------------

    def refuse_large_head(self) -> None:
        limit = self.limits.max_header_bytes
        self.refuse(431, f"Request header fields larger than {limit} bytes\n")

    def refuse(self, status: int, text: str) -> None:
        """Answer `status`, then close (see the module docstring). While a request is being
        answered (pipelining) nothing can be said in between: the connection is just closed."""
        if self.refused:
            return
        self.refused = True
        self.cancel_timers()
        transport = self.transport
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete and not cycle.disconnected:
            transport.close()
            return
        transport.write(_response(status, text, self.server_state.default_headers))
        if not transport.can_write_eof():  # TLS: no half close
            transport.close()
            return
        transport.write_eof()
        self.linger_timer = self.loop.call_later(LINGER_SECONDS, transport.close)

    def drop(self, size: int) -> None:
        self.dropped += size
        if self.dropped > LINGER_BYTES:
            self.transport.close()


def protocol_class(limits: ConnectionLimits) -> type[LimitedHttpProtocol]:
    """A protocol class for one listener: its limits and its own count of open connections."""

    class ListenerHttpProtocol(LimitedHttpProtocol):
        pass

    ListenerHttpProtocol.limits = limits
    ListenerHttpProtocol.clients = ClientConnections(cap=limits.max_connections_per_client)
    return ListenerHttpProtocol
