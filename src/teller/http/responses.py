"""Response shapes shared by every teller server: indented JSON, plain-text errors.

As in the original, a 200 answer is JSON indented by four spaces and any other answer is
the error message as plain text followed by a newline.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from teller.errors import TellerError


class IndentedJSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(content, indent=4, ensure_ascii=False).encode("utf-8")


def text_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return PlainTextResponse(
        message + "\n",
        status_code=status,
        headers={"X-Content-Type-Options": "nosniff", **(headers or {})},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as plain text; internal errors never leak their details."""

    async def teller_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, TellerError)
        if exc.http_status >= 500 and type(exc).__name__ == "TellerError":
            return text_error(500, "Internal Server Error")
        return text_error(exc.http_status, str(exc))

    async def http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return text_error(404, "404 page not found")
        if exc.status_code == 405:
            return text_error(405, "Invalid request method", dict(exc.headers or {}))
        return text_error(exc.status_code, str(exc.detail))

    async def validation_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "body"))
        return text_error(400, f"invalid {where}: {first.get('msg', 'bad request')}")

    async def internal_error(_: Request, exc: Exception) -> Response:
        return text_error(500, "Internal Server Error")

    app.add_exception_handler(TellerError, teller_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, internal_error)
