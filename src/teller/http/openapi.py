"""The OpenAPI documents the three servers serve at /openapi.json: what they really answer.

Place: http/ only. FastAPI describes a route from its Python signature; teller's routes read
some parameters themselves (to answer with the original's messages) and answer every error
as plain text, so this module supplies what the signature cannot say:

- `query`, `path_param`: a parameter with its alphabet (pattern), length and, where a pattern
  cannot say it all (a checksum, a range), a `format` naming what it is (`sky-address`,
  `deposit-id`, `amount`, …; tests/http/test_openapi.py generates valid ones of each);
- `text_errors(400, 404, …)`: plain-text error answers with what each means here;
- `install_openapi(app)`: the served document without FastAPI's 422 (validation errors are
  answered 400, http/responses.py) and without `null` for parameters a query cannot carry as
  null, with a 400 on every operation that takes a parameter or a body.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from teller.services import params

TEXT = "text/plain"
JSON = "application/json"

ERROR_MEANINGS = {
    400: "A parameter or the body is missing or malformed (the message names it)",
    403: "Refused here (the message says why)",
    404: "Not found",
    405: "Method not allowed here",
    409: "Refused in the present state (the message says why)",
    401: "No admin token, or a wrong one (send Authorization: Bearer <token>; README: Security)",
    413: "Request body too large",
    415: "Invalid content type",
    421: "The Host header names no host this server answers (admin_panel/dummy allowed_hosts)",
    429: "You have reached maximum request limit.",
    500: "Internal Server Error",
    503: "A peer (node, exchange) cannot answer now; try again",
}

SKY_ADDRESS: dict[str, Any] = {
    "type": "string",
    "format": "sky-address",
    "pattern": f"^{params.SKY_ADDRESS_PATTERN}$",
    "maxLength": 35,
}
SKY_TXID: dict[str, Any] = {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}
DEPOSIT_ID: dict[str, Any] = {
    "type": "string",
    "format": "deposit-id",
    "pattern": "^(0x)?[0-9a-fA-F]{64}:[0-9]{1,10}$",
}


def or_empty(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` for a parameter that may also be empty (meaning: not given)."""
    pattern = schema["pattern"].removeprefix("^").removesuffix("$")
    return schema | {"pattern": f"^({pattern})?$"}


def text_answer(description: str) -> dict[str, Any]:
    return {"description": description, "content": {TEXT: {"schema": {"type": "string"}}}}


def text_errors(*statuses: int, **meanings: str) -> dict[int | str, dict[str, Any]]:
    """Plain-text error answers; `meanings` (e.g. e404="no such deposit") say more."""
    return {
        str(status): text_answer(meanings.get(f"e{status}", ERROR_MEANINGS[status]))
        for status in statuses
    }


def json_answer(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema or {}}}}


def query(
    name: str, schema: dict[str, Any], description: str, *, required: bool = False
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": description,
    }


def install_openapi(app: FastAPI) -> None:
    """Serve the app's OpenAPI document as teller answers (see the module docstring)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, routes=app.routes, description=None
            )
            for item in document.get("paths", {}).values():
                for operation in item.values():
                    _tidy(operation)
            document.get("components", {}).get("schemas", {}).pop("HTTPValidationError", None)
            document.get("components", {}).get("schemas", {}).pop("ValidationError", None)
            if not document.get("components", {}).get("schemas"):
                document.pop("components", None)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def declare_guards(
    app: FastAPI,
    *,
    bearer: bool,
    host_checked: bool,
    open_on_loopback: frozenset[str] = frozenset(),
) -> None:
    """Add what the admin and dummy servers' guards (http/admin_guard.py) answer to every
    operation of the served document: 421 for a Host not allowed, and with `bearer` the
    admin token (a bearer security scheme, 401 without it; optional on `open_on_loopback`
    paths, which a client on loopback may ask without it). Call after install_openapi."""
    make = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = make()
            for path, item in document.get("paths", {}).items():
                for operation in item.values():
                    statuses = ([421] if host_checked else []) + ([401] if bearer else [])
                    for status in statuses:
                        operation["responses"].setdefault(
                            str(status), text_answer(ERROR_MEANINGS[status])
                        )
                    if bearer:
                        operation["security"] = [{"adminToken": []}]
                        if path in open_on_loopback:  # the token, or a client on loopback
                            operation["security"].append({})
            if bearer:
                components = document.setdefault("components", {})
                components.setdefault("securitySchemes", {})["adminToken"] = {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the admin token (README: Security)",
                }
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _tidy(operation: dict[str, Any]) -> None:
    # Status codes as strings (openapi_extra may bring integers): one key per status.
    responses = {str(k): v for k, v in operation.get("responses", {}).items()}
    operation["responses"] = responses
    responses.pop("422", None)
    for parameter in operation.get("parameters", []):
        parameter["schema"] = _without_null(parameter.get("schema", {}))
    if operation.get("parameters") or operation.get("requestBody"):
        responses.setdefault("400", text_answer(ERROR_MEANINGS[400]))


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """`str | None` is written anyOf [string, null]; a query or path carries no null."""
    options = schema.get("anyOf")
    if not options:
        return schema
    kept = [o for o in options if o.get("type") != "null"]
    if len(kept) != 1:
        return schema
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**kept[0], **rest}
