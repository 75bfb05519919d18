"""ASGI guards of the admin and dummy servers: the Host allow-list and the admin credential.

- HostAllowList (admin and dummy): a request whose Host header is not one of the server's
  names gets 421 and reaches no route. This stops DNS rebinding: a web page on
  evil.example whose name an attacker points at 127.0.0.1 makes the operator's browser send
  `Host: evil.example:7711`, and would otherwise read the answers (the database backup) as
  its own. The names: the listen host (unless it is 0.0.0.0 or ::), localhost, 127.0.0.1, ::1
  and the config's `allowed_hosts`.
- AdminAuth (admin): every request carries `Authorization: Bearer TOKEN`, checked against the
  AdminCredential (config/admin_auth.py, constant-time), or gets 401 with WWW-Authenticate.
  Open without it: the dashboard's own files (HTML, script, style, icon: no data; the page
  then asks for the token and sends it with every API call), and /metrics to a client on
  loopback (a local Prometheus). No cookie is ever accepted, so a page in another tab cannot
  make the browser act for the operator (no CSRF). The token is never logged or echoed.

Order on the admin server (outermost first): security headers, Host allow-list, credential,
then the routes.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterable

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from teller.config.admin_auth import LOOPBACK_NAMES, AdminCredential, is_loopback_host
from teller.config.preflight import listen_host, split_host_port
from teller.http.middleware import SecurityHeaders
from teller.http.responses import text_error

REALM = 'Bearer realm="teller admin"'
MAX_TOKEN_LENGTH = 1024
METRICS_PATH = "/metrics"
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::"})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def normal_host(name: str) -> str:
    """A host name as compared: lower case, no brackets, no trailing dot."""
    return name.strip().lower().strip("[]").rstrip(".")


def host_of_header(value: str) -> str:
    """The host part of a Host header ("name:port", "[::1]:port", "name")."""
    value = value.strip()
    if value.startswith("["):
        return normal_host(value.partition("]")[0])
    return normal_host(value.rpartition(":")[0] if ":" in value else value)


def allowed_host_names(address: str, extra: Iterable[str]) -> frozenset[str]:
    """The Host names a server listening on `address` answers: its listen host (unless it
    listens on every interface), the loopback names, and the configured extra names."""
    names = {normal_host(n) for n in (*LOOPBACK_NAMES, *extra)}
    try:
        host = normal_host(listen_host(split_host_port(address)[0]))
    except ValueError:
        host = ""
    if host and host not in WILDCARD_HOSTS:
        names.add(host)
    return frozenset(names)


def guard_private_server(app: FastAPI, address: str, extra_hosts: Iterable[str], key: str) -> None:
    """The outer guards of the admin and dummy servers: only this server's own Host names
    (no DNS rebinding), and the security headers (nosniff) on every answer, refusals too.
    Call it last: add_middleware wraps what is there, the last added is the outermost."""
    app.add_middleware(HostAllowList, names=allowed_host_names(address, extra_hosts), key=key)
    app.add_middleware(SecurityHeaders)


class HostAllowList:
    def __init__(self, app: ASGIApp, *, names: frozenset[str], key: str) -> None:
        self.app = app
        self.names = names
        self.key = key  # the config key that lists more names, for the message

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = _header(scope, b"host")
        if header is None:
            await text_error(400, "Host header required")(scope, receive, send)
            return
        host = host_of_header(header)
        if host not in self.names:
            shown = host.encode("ascii", "backslashreplace").decode()[:100]
            message = (
                f"Host {shown!r} is not a name of this server (DNS rebinding is refused):"
                f" use one of {', '.join(sorted(self.names))}, or list the name in {self.key}"
            )
            await text_error(421, message)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _client_on_loopback(scope: Scope) -> bool:
    client = scope.get("client")
    if not client:
        return False
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return is_loopback_host(str(client[0]))


class AdminAuth:
    def __init__(
        self, app: ASGIApp, *, credential: AdminCredential, open_paths: frozenset[str]
    ) -> None:
        self.app = app
        self.credential = credential
        self.open_paths = open_paths  # the dashboard's files

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        if scope["path"] == METRICS_PATH and _client_on_loopback(scope):
            await self.app(scope, receive, send)
            return
        scheme, _, token = (_header(scope, b"authorization") or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            message = (
                "admin API: a credential is required: send the header Authorization: Bearer"
                " <token> (the token is in admin_panel.auth_token_file, by default the data"
                " directory's admin_token; README: Security)"
            )
            await text_error(401, message, {"WWW-Authenticate": REALM})(scope, receive, send)
            return
        if len(token) > MAX_TOKEN_LENGTH or not await self._accepts(token):
            refused = {"WWW-Authenticate": f'{REALM}, error="invalid_token"'}
            await text_error(401, "admin API: the token is not valid", refused)(
                scope, receive, send
            )
            return
        await self.app(scope, receive, send)

    async def _accepts(self, token: str) -> bool:
        if self.credential.known(token):
            return True
        # A PBKDF2 hash takes a good part of a second: off the event loop.
        return await asyncio.to_thread(self.credential.accepts, token)
