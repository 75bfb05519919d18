"""Response shapes shared by every teller server: indented JSON, plain-text errors.

As in the original, a 200 answer is JSON indented by four spaces and any other answer is
the error message as plain text followed by a newline.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from teller import __version__
from teller.errors import BindError, DepositRejected, RequestError, TellerError, Unavailable
from teller.http.openapi import install_openapi

log = logging.getLogger("teller.http")

INTERNAL_ERROR = "Internal Server Error"

# Errors whose message is meant for the API caller; any other error is internal and its
# details stay in the log.
CALLER_ERRORS = (RequestError, BindError, DepositRejected, Unavailable)


class IndentedJSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        return indented_json(content)


def indented_json(content: Any) -> bytes:
    """`content` as JSON indented by four spaces, byte for byte as json.dumps(indent=4,
    ensure_ascii=False) writes it, made by orjson (in C: the /api/status answer of thousands
    of bindings costs a fraction of a millisecond instead of milliseconds). What orjson
    refuses (integers beyond 64 bits, keys that are not strings) goes through json.dumps."""
    try:
        data = orjson.dumps(content, option=orjson.OPT_INDENT_2)
    except TypeError:
        return json.dumps(content, indent=4, ensure_ascii=False).encode("utf-8")
    return _four_space_indent(data)


def _four_space_indent(data: bytes) -> bytes:
    """orjson's two-space indentation made four-space. Every line's indentation follows a
    newline (JSON strings hold none: orjson escapes control characters). Pass j adds two
    spaces to every line at depth j or deeper: after passes 1..j-1 a line at depth k >= j-1
    has 2k + 2(j-1) spaces, so those at depth j and deeper are exactly the lines with at
    least 4j - 2; after the last pass a line at depth k has 4k."""
    depth = 0
    while b"\n" + b"  " * (depth + 1) in data:
        depth += 1
    for level in range(1, depth + 1):
        data = data.replace(b"\n" + b" " * (4 * level - 2), b"\n" + b" " * (4 * level))
    return data


def text_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return PlainTextResponse(
        message + "\n",
        status_code=status,
        headers={"X-Content-Type-Options": "nosniff", **(headers or {})},
    )


def error_answer(exc: TellerError, method: str, path: str) -> Response:
    """The answer to a TellerError: its message for a caller's error, else a bare 500 with
    the details in the log only."""
    if isinstance(exc, CALLER_ERRORS):
        return text_error(exc.http_status, str(exc))
    log.error("internal error serving %s %s: %s", method, path, exc)
    return text_error(500, INTERNAL_ERROR)


class InternalErrors:
    """Turn an unexpected exception into 500 "Internal Server Error" (plain text, logged).

    Installed as the innermost middleware, so the 500 still passes through the outer ones
    (security headers, CORS), unlike Starlette's own catch-all, which answers from outside
    every middleware.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            log.exception("unexpected error serving %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await text_error(500, INTERNAL_ERROR)(scope, receive, send)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app answers at this path (a path can have a route per
    method, and Starlette's 405 names only the first route's)."""
    methods: set[str] = set()
    path = request.scope["path"]
    for route in _flat_routes(request.app.router.routes):
        if (
            isinstance(route, Route)
            and route.methods
            and route.include_in_schema  # not a refusal such as the dummy API's GET
            and route.path_regex.match(path)
        ):
            methods |= route.methods
    return sorted(methods)


def _flat_routes(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    """The routes of an app, those of included routers too (FastAPI keeps an included
    router as one entry whose `original_router` holds its routes)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _flat_routes(included.routes)
        else:
            yield route


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as plain text; internal errors never leak their details.

    Call it before adding any other middleware: InternalErrors must be the innermost one.
    """

    async def teller_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, TellerError)
        return error_answer(exc, request.method, request.url.path)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return text_error(404, "404 page not found")
        if exc.status_code == 405:
            headers = dict(exc.headers or {})
            allowed = _allowed_methods(request)
            if allowed:
                headers["Allow"] = ", ".join(allowed)
            return text_error(405, "Invalid request method", headers)
        return text_error(exc.status_code, str(exc.detail))

    async def validation_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "body"))
        return text_error(400, f"invalid {where}: {first.get('msg', 'bad request')}")

    app.add_exception_handler(TellerError, teller_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_middleware(InternalErrors)


def create_app(title: str) -> FastAPI:
    """A FastAPI app as every teller server is built: plain-text errors, no CDN docs page
    (the schema is at /openapi.json), no per-request telemetry checks."""
    app = FastAPI(
        title=title,
        version=__version__,
        docs_url=None,
        redoc_url=None,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_error_handlers(app)  # first: its catch-all must be the innermost middleware
    install_openapi(app)
    return app
