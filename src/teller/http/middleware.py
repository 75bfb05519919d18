"""ASGI middleware of the public server (and the body limit and /api/health throttle of the
admin and dummy servers): body limit, throttle, security headers.

- Bodies over `max_body_bytes` are refused with 413 before the handler reads them.
- Throttle: a token bucket per (client, path) on the rate-limited routes, `throttle_max`
  requests per `throttle_duration` with bursts up to `throttle_max` (the original allowed one
  request per second, no burst). The client IP is the last X-Forwarded-For entry only when
  `behind_proxy` is set; otherwise the socket's peer. A client is one IPv4 address or one
  IPv6 /64 (client_key.py). Every response of a limited route carries the original's
  X-Rate-Limit-* headers.
- Security headers as the original sent them; HSTS only on HTTPS.

Order on the public server (outermost first): security headers, CORS, Accept header,
throttle, body limit, then the routes; CORS is outside the throttle so that preflight
requests never use up a client's requests and a 429 is readable by the browser.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from teller.http.client_key import client_key

TOO_MANY = b"You have reached maximum request limit."
SECURITY_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-xss-protection", b"1; mode=block"),
    (b"referrer-policy", b"no-referrer"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000")


async def send_text(
    send: Send, status: int, body: bytes, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tls = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = with_security_headers(message.get("headers", []), tls)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def with_security_headers(
    headers: Iterable[tuple[bytes, bytes]], tls: bool
) -> list[tuple[bytes, bytes]]:
    """`headers` and after them each security header they lack (HSTS on HTTPS only)."""
    headers = list(headers)
    present = {name for name, _ in headers}
    headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
    if tls:
        headers.append(HSTS)
    return headers


class PathHeaders:
    """Fixed headers on every response of some paths (e.g. Accept on /api/bind, as the
    original set it before any check, so a 405 or 415 also tells what the route accepts),
    or of every path when `paths` is None. A header the response already has is kept."""

    def __init__(
        self, app: ASGIApp, *, paths: frozenset[str] | None, headers: list[tuple[bytes, bytes]]
    ) -> None:
        self.app = app
        self.paths = paths
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.paths is not None and scope["path"] not in self.paths):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name for name, _ in headers}
                headers.extend(h for h in self.headers if h[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await send_text(send, 400, b"Invalid Content-Length\n")
                    return
                if declared > self.max_bytes:
                    await self._too_large(send)
                    return
        # Bodies are small (a bind request), so read the whole body first and refuse it
        # before the handler runs if it is too large, whatever its transfer encoding.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left mid-body: never act on a truncated request
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        await send_text(send, 413, f"Request body larger than {self.max_bytes} bytes\n".encode())


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets per (client, path): `throttle_max` requests per `throttle_duration`.
    One per server, shared by the Throttle middleware and the public server's hot paths
    (http/hot.py), so a client has one budget however its requests are served."""

    def __init__(self, *, max_requests: int, per_seconds: float, behind_proxy: bool) -> None:
        self.capacity: float = max_requests  # tokens (requests), not money
        self.refill_per_second = max_requests / per_seconds
        self.per_seconds = per_seconds
        self.behind_proxy = behind_proxy
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()
        self._last_prune = time.monotonic()
        self._limit_headers = [
            (b"x-rate-limit-limit", str(int(self.capacity)).encode()),
            (b"x-rate-limit-duration", f"{self.per_seconds:g}s".encode()),
        ]

    def client_ip(self, scope: Scope) -> str:
        """The address a request is counted against.

        Behind a proxy: the last X-Forwarded-For entry (of the last such header: a proxy
        that adds its own header line instead of appending must win over a client's forged
        one), else X-Real-IP; otherwise the socket's peer.
        """
        if self.behind_proxy:
            forwarded = [v for n, v in scope.get("headers", []) if n == b"x-forwarded-for"]
            if forwarded:
                last = str(forwarded[-1].decode("latin-1")).split(",")[-1].strip()
                if last:
                    return last
            for name, value in scope.get("headers", []):
                if name == b"x-real-ip" and value.strip():
                    return str(value.decode("latin-1")).strip()
        client = scope.get("client")
        return str(client[0]) if client else "unknown"

    def take(self, key: tuple[str, str], now: float) -> float:
        """Take a token; returns 0 when allowed, else seconds until one is available."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(self.capacity, now)
            bucket.tokens = min(
                self.capacity, bucket.tokens + (now - bucket.updated) * self.refill_per_second
            )
            bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                self._prune(now)
                return 0.0
            return (1 - bucket.tokens) / self.refill_per_second

    def _prune(self, now: float) -> None:
        # A bucket idle long enough to be full again carries no information: drop it, so
        # the table stays as small as the set of recently active clients.
        if now - self._last_prune < self.per_seconds:
            return
        self._last_prune = now
        stale = [k for k, b in self._buckets.items() if now - b.updated >= self.per_seconds]
        for key in stale:
            del self._buckets[key]

    def rate_headers(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        """The original's (tollbooth's) headers, sent on every response of a limited path."""
        headers = list(self._limit_headers)
        for name, value in scope.get("headers", []):
            if name == b"x-forwarded-for":
                headers.append((b"x-rate-limit-request-forwarded-for", value))
                break
        client = scope.get("client")
        if client:
            headers.append(
                (b"x-rate-limit-request-remote-addr", f"{client[0]}:{client[1]}".encode())
            )
        return headers

    def admit(self, scope: Scope) -> tuple[list[tuple[bytes, bytes]], float]:
        """A request of a limited path: (its rate headers, 0) if allowed, else (the headers,
        seconds until the client may ask again)."""
        client = client_key(self.client_ip(scope))  # an IPv6 client is its /64
        return self.rate_headers(scope), self.take((client, scope["path"]), time.monotonic())


def too_many_headers(
    rate_headers: list[tuple[bytes, bytes]], wait: float
) -> list[tuple[bytes, bytes]]:
    """The headers of a 429 after `rate_headers`: when to ask again."""
    return [*rate_headers, (b"retry-after", str(math.ceil(wait)).encode())]


class Throttle:
    """The RateLimiter applied to the paths in `limited_paths`: 429 when a client's bucket
    is empty; the rate headers on every answer of those paths."""

    def __init__(
        self, app: ASGIApp, *, limiter: RateLimiter, limited_paths: frozenset[str]
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.limited_paths = limited_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.limited_paths:
            await self.app(scope, receive, send)
            return
        headers, wait = self.limiter.admit(scope)
        if wait > 0:
            await send_text(send, 429, TOO_MANY, too_many_headers(headers, wait))
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def normalize_cors_origins(entries: Iterable[str]) -> list[str]:
    """Config entries as browser origins: "127.0.0.1:6420" allows http:// and https://.

    "*" stays "*" (every origin, an explicit choice; an empty list allows none). Origins are
    lower-cased, as browsers send them.
    """
    origins: list[str] = []
    for entry in entries:
        entry = entry.strip().rstrip("/").lower()
        if not entry:
            continue
        if entry == "*" or "://" in entry:
            origins.append(entry)
        else:
            origins.extend([f"http://{entry}", f"https://{entry}"])
    return origins


def cors_rules(entries: Iterable[str]) -> tuple[list[str], str | None]:
    """(allow_origins, allow_origin_regex) for CORSMiddleware from web.cors_allowed.

    As in the original (rs/cors), "*" allows every origin and an entry with one "*" inside,
    such as "https://*.example.com", allows the host names it stands for.
    """
    origins = normalize_cors_origins(entries)
    if "*" in origins:
        return ["*"], None
    exact = [o for o in origins if "*" not in o]
    patterns = [re.escape(o).replace(r"\*", r"[a-z0-9.-]+") for o in origins if "*" in o]
    return exact, ("|".join(f"(?:{p})" for p in patterns) or None)
