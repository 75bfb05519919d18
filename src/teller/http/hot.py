"""The public server's hot paths: GET /api/status, POST /api/bind and GET /api/config answered
ahead of the framework.

Place in the flow: the outermost ASGI app of the public server (public.py `create_public_app`),
right under uvicorn. These three are what buyers' pages and wallets send most; through FastAPI
and the middleware layers a status request spent about two thirds of its CPU time outside its
own work (the routing, six wrappers of `send`, a Request and a Response object). Here each is
one call doing the same steps in the same order as the full stack, with the same services and
the same answers, byte for byte: the rate limiter (the same buckets), the body limit, the
route's own checks and messages, then the headers the middleware would add (rate headers,
Accept on /api/bind, security headers, HSTS on HTTPS). tests/http/test_hot_paths.py holds each
answer of the edge against the full app's.

A status answer is kept per SKY address until the store changes (`change_count`: SQLite's
data_version, which moves at every commit of any connection of any process): a buyer's page
polls its address every few seconds, and most polls find nothing new. The counter is read
before the answer is built, so an answer is never kept under a count older than what it shows.

What the edge does not answer exactly as the full app would goes to the full app untouched:
another path or method (HEAD, a 405), a request with an Origin header (CORS), a GET that
announces a body, a bind whose body has no Content-Length, a chunked one, or one over the
limit.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from teller.errors import TellerError
from teller.http.middleware import (
    TOO_MANY,
    RateLimiter,
    too_many_headers,
    with_security_headers,
)
from teller.http.responses import INTERNAL_ERROR, error_answer, indented_json, text_error

log = logging.getLogger("teller.http")

Headers = list[tuple[bytes, bytes]]
JSON_TYPE = (b"content-type", b"application/json")
ACCEPT_JSON = (b"accept", b"application/json")
TEXT_TYPE = (b"content-type", b"text/plain; charset=utf-8")
# Status answers kept: of at most this many SKY addresses (the oldest kept goes first), each
# at most this long (the answer of an address with hundreds of bindings is built each time).
STATUS_KEPT = 2048
STATUS_KEPT_BYTES = 16 * 1024
STATUS_KEY_CHARS = 64  # a SKY address has 26 to 35 characters: a longer key is never kept


class HotPaths:
    """`status(skyaddr)`, `bind(content_type, body)`: the routes' own work (public.py), each
    returning the JSON answer or raising TellerError; `config_body`: the /api/config answer;
    `change_count()`: the store's change counter (None: answers are not kept)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        status: Callable[[str], Awaitable[Any]],
        bind: Callable[[str, bytes], Awaitable[Any]],
        config_body: bytes,
        limiter: RateLimiter,
        max_body_bytes: int,
        change_count: Callable[[], int | None],
    ) -> None:
        self.app = app
        self.status = status
        self.change_count = change_count
        self._kept: dict[str, tuple[int, bytes]] = {}  # skyaddr → (change count, answer)
        self.bind = bind
        self.limiter = limiter
        self.max_body_bytes = max_body_bytes
        self._config = {
            tls: with_security_headers(_json_headers(config_body), tls) for tls in (False, True)
        }
        self._config_body = config_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not _has_origin(scope):
            path, method = scope["path"], scope["method"]
            get = method == "GET" and _without_body(scope)
            if path == "/api/status" and get:
                await self._status(scope, send)
                return
            if path == "/api/config" and get and not scope["query_string"]:
                await _send(send, 200, self._config[scope["scheme"] == "https"], self._config_body)
                return
            bind = path == "/api/bind" and method == "POST"
            if bind and _plain_body_within(scope, self.max_body_bytes):
                await self._bind(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _status(self, scope: Scope, send: Send) -> None:
        rate, wait = self.limiter.admit(scope)
        if wait > 0:
            await self._too_many(scope, send, rate, wait, accept=False)
            return
        skyaddr = QueryParams(scope["query_string"]).get("skyaddr", "")
        try:
            count = self.change_count()  # before the answer is built: see the docstring
        except Exception:
            count = None  # not known: build the answer (whose own read reports any trouble)
        if len(skyaddr) > STATUS_KEY_CHARS:
            count = None  # no SKY address is this long: not worth a place
        kept = self._kept.get(skyaddr) if count is not None else None
        if kept is not None and kept[0] == count:
            same = kept[1]
            await self._finish(scope, send, 200, [*_json_headers(same), *rate], same, accept=False)
            return
        body = await self._answer(scope, send, rate, self.status(skyaddr), accept=False)
        if count is not None and body is not None and len(body) <= STATUS_KEPT_BYTES:
            self._keep(skyaddr, count, body)

    def _keep(self, skyaddr: str, count: int, body: bytes) -> None:
        self._kept.pop(skyaddr, None)  # re-inserted last: the newest kept
        if len(self._kept) >= STATUS_KEPT:
            del self._kept[next(iter(self._kept))]
        self._kept[skyaddr] = (count, body)

    async def _bind(self, scope: Scope, receive: Receive, send: Send) -> None:
        rate, wait = self.limiter.admit(scope)  # the throttle comes before the body limit
        if wait > 0:
            await self._too_many(scope, send, rate, wait, accept=True)
            return
        body = await _read_body(receive)
        if body is None:
            return  # the client left mid-body: never act on a truncated request
        content_type = ""
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1")
                break
        await self._answer(scope, send, rate, self.bind(content_type, body), accept=True)

    async def _answer(
        self, scope: Scope, send: Send, rate: Headers, work: Awaitable[Any], *, accept: bool
    ) -> bytes | None:
        """Send what `work` answers, or its error; the body of a 200 (None for an error)."""
        answered: bytes | None = None
        try:
            content = await work
        except TellerError as exc:
            answer = error_answer(exc, scope["method"], scope["path"])
            status, headers, body = answer.status_code, answer.raw_headers, bytes(answer.body)
        except Exception:
            log.exception("unexpected error serving %s %s", scope["method"], scope["path"])
            answer = text_error(500, INTERNAL_ERROR)
            status, headers, body = answer.status_code, answer.raw_headers, bytes(answer.body)
        else:
            body = answered = indented_json(content)
            status, headers = 200, _json_headers(body)
        await self._finish(scope, send, status, [*headers, *rate], body, accept=accept)
        return answered

    async def _too_many(
        self, scope: Scope, send: Send, rate: Headers, wait: float, *, accept: bool
    ) -> None:
        headers = [TEXT_TYPE, (b"content-length", str(len(TOO_MANY)).encode())]
        headers += too_many_headers(rate, wait)
        await self._finish(scope, send, 429, headers, TOO_MANY, accept=accept)

    async def _finish(
        self, scope: Scope, send: Send, status: int, headers: Headers, body: bytes, *, accept: bool
    ) -> None:
        if accept and not any(name == b"accept" for name, _ in headers):
            headers.append(ACCEPT_JSON)
        await _send(send, status, with_security_headers(headers, scope["scheme"] == "https"), body)


def _json_headers(body: bytes) -> Headers:
    return [(b"content-length", str(len(body)).encode()), JSON_TYPE]


async def _send(send: Send, status: int, headers: Headers, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _has_origin(scope: Scope) -> bool:
    return any(name == b"origin" for name, _ in scope["headers"])


def _without_body(scope: Scope) -> bool:
    """No body announced (the full app's body limit answers any other GET, as before)."""
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            return False
    return True


def _plain_body_within(scope: Scope, limit: int) -> bool:
    """Whether the body is one the edge may read: one Content-Length, a number within
    `limit`, not chunked (the full app answers any other)."""
    length: int | None = None
    for name, value in scope["headers"]:
        if name == b"transfer-encoding":
            return False
        if name == b"content-length":
            if length is not None or not value.isdigit():
                return False
            length = int(value)
    return length is not None and length <= limit


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body (no more than its Content-Length: the server frames it); None if the
    client left before sending it all."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
