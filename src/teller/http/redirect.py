"""web.http_addr once teller serves HTTPS itself: every request is sent to HTTPS (301).

Place in the flow: app.py puts this app on web.http_addr instead of the public API when
web.https_addr is set (as the original did), so the API is never served in plain text beside
HTTPS. `Location` is `https://` + the host + the same path and query: the host is
web.auto_tls_host when set (the only name the certificate holds; a forged Host header cannot
send buyers elsewhere), else the request's Host without its port; the port is web.https_addr's,
left out when it is 443. The one exception is the ACME HTTP-01 challenge of web.auto_tls_host:
GET /.well-known/acme-challenge/<token> answers the key authorization tls/auto.py published
(the CA asks over plain HTTP on port 80, and follows no redirect to a certificate that does not
exist yet).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.types import Receive, Scope, Send

from teller.http.middleware import SECURITY_HEADERS, send_text

CHALLENGE_PREFIX = "/.well-known/acme-challenge/"
HTTPS_DEFAULT_PORT = 443
# A Host header teller will put in a Location: a name or an IPv4 address, or [IPv6], + port.
_HOST = re.compile(r"(?P<name>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
_TOKEN = re.compile(r"[A-Za-z0-9_-]+")  # base64url, RFC 8555 §8.3


class HttpsRedirect:
    """The ASGI app of web.http_addr when HTTPS is served."""

    def __init__(
        self,
        https_port: int,
        *,
        host: str = "",
        challenge_answer: Callable[[str], str | None] | None = None,
    ) -> None:
        self.port_suffix = "" if https_port == HTTPS_DEFAULT_PORT else f":{https_port}"
        self.host = host
        self.challenge_answer = challenge_answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan is off; websockets are not served
            return
        path: str = scope.get("path", "/")
        if self.challenge_answer is not None and path.startswith(CHALLENGE_PREFIX):
            token = path[len(CHALLENGE_PREFIX) :]
            answer = self.challenge_answer(token) if _TOKEN.fullmatch(token) else None
            if answer is None:
                await send_text(send, 404, b"no such challenge", SECURITY_HEADERS)
            else:
                await send_text(send, 200, answer.encode("ascii"), SECURITY_HEADERS)
            return
        host = self.host or _request_host(scope)
        if not host:
            await send_text(send, 400, b"Bad Host", SECURITY_HEADERS)
            return
        raw_path: bytes = scope.get("raw_path") or path.encode("utf-8")
        target = f"https://{host}{self.port_suffix}{raw_path.decode('latin-1')}"
        query: bytes = scope.get("query_string", b"")
        if query:
            target += "?" + query.decode("latin-1")
        location = (b"location", target.encode("latin-1"))
        await send_text(send, 301, b"", [*SECURITY_HEADERS, location])


def _request_host(scope: Scope) -> str:
    """The Host header's name (no port), or "" when it is missing or not a plain host."""
    for name, value in scope.get("headers", []):
        if name == b"host":
            match = _HOST.fullmatch(value.decode("latin-1"))
            return match.group("name") if match else ""
    return ""
