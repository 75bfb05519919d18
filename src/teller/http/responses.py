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
