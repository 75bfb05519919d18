"""The dummy API (dummy.http_addr): fake deposits in, fake SKY transactions out.

/dummy/scanner/deposit feeds a deposit through the same intake a real scanner uses;
/dummy/sender/broadcasts and /dummy/sender/confirm show and confirm what the dummy payer sent.
Routes only: each reads the request's parameters and makes one call to services/dummy.py.

The two calls that change state (deposit, confirm) answer GET, as the seed README documents
them, only in all-dummy mode (dummy.scanner and dummy.sender both on: nothing real at
stake). Otherwise they are POST only, and a request a browser sent for a web page (it has an
Origin header) is refused: a page the operator opens must not be able to add a deposit that a
real sender pays (a GET or a form POST needs no CORS preflight). A request whose Host is
not one of this server's names is refused (http/admin_guard.py: no DNS rebinding).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import PlainTextResponse, Response

from teller.errors import BadRequest, Forbidden, UnsupportedMedia
from teller.http.admin_guard import guard_private_server
from teller.http.middleware import BodyLimit
from teller.http.openapi import SKY_TXID, declare_guards, query, text_answer, text_errors
from teller.http.responses import IndentedJSON, create_app, text_error
from teller.services import dummy, params
from teller.services.parts import Services

FORM_TYPE = "application/x-www-form-urlencoded"


async def _params(request: Request) -> dict[str, str]:
    """Query parameters, overridden by form fields on POST (as the original's FormValue).

    The form body is parsed here (urlencoded only), not by Starlette, whose form parser
    needs the optional python-multipart package.
    """
    values = dict(request.query_params)
    if request.method == "POST":
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = await request.body()
        if content_type == FORM_TYPE:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise BadRequest("invalid form body: not UTF-8") from exc
            values.update(dict(parse_qsl(text, keep_blank_values=True)))
        elif body.strip():
            raise UnsupportedMedia(
                f"Invalid content type: send the form as {FORM_TYPE} or use query parameters"
            )
    return values


def get_refused(path: str) -> Response:
    """405 for a GET of a state-changing call outside all-dummy mode, saying why."""
    return text_error(
        405,
        f"GET {path} is refused: it changes state, so send it as POST (a web page can make a"
        " browser send a GET). GET is served only when dummy.scanner and dummy.sender are"
        " both true",
        {"Allow": "POST"},
    )


def _refuse_browser_pages(services: Services, request: Request) -> None:
    """Outside all-dummy mode, a state-changing call from a web page (the browser sets Origin
    on every cross-site POST, and a form POST needs no preflight) is refused; curl, scripts
    and test code send no Origin."""
    if not services.config.dummy.all_dummy and "origin" in request.headers:
        raise Forbidden(
            "dummy API: requests from a web page (with an Origin header) are refused unless"
            " dummy.scanner and dummy.sender are both true"
        )


def deposit_openapi(coins: list[str]) -> dict[str, Any]:
    """/dummy/scanner/deposit's parameters (query, or the same as a POST form)."""
    digits = {"type": "string", "pattern": "^[0-9]+$"}
    return {
        "parameters": [
            query("coin", {"type": "string", "enum": coins, "default": "BTC"}, "the coin"),
            query(
                "addr",
                {"type": "string", "format": "bound-deposit-address", "pattern": "^[0-9A-Za-z]+$"},
                "a deposit address of coin, bound to a SKY address",
                required=True,
            ),
            query(
                "value",
                digits | {"format": "positive-integer", "maxLength": 78},
                "base units (satoshis, wei, droplets), greater than 0",
                required=True,
            ),
            query("height", digits | {"maxLength": 19}, "block height (default 0)"),
            query(
                "tx",
                {"type": "string", "pattern": "^(0x)?[0-9a-fA-F]{64}$", "format": "txid"},
                "transaction id: 64 hex digits (0x before them allowed for ETH)",
                required=True,
            ),
            query("n", digits | {"format": "output-index", "maxLength": 10}, "output number"),
        ],
        "responses": {
            "200": text_answer("Recorded (or already recorded); an empty body"),
            **text_errors(
                400, 403, 405, 415, e403="From a web page (Origin header) outside all-dummy mode"
            ),
        },
    }


def confirm_openapi() -> dict[str, Any]:
    return {
        "parameters": [
            query("txid", SKY_TXID, "the broadcast's transaction id (or seq)"),
            query(
                "seq",
                {"type": "string", "pattern": "^[0-9]+$", "maxLength": 18},
                "the broadcast's number, from 0 (or txid)",
            ),
        ],
        "responses": {
            "200": text_answer("Confirmed; an empty body"),
            **text_errors(400, 403, 404, 405, 415, e404="txn not found"),
        },
    }


def dummy_router(services: Services) -> APIRouter:
    router = APIRouter()
    # The seed README documents GET for deposit and confirm; kept only where nothing real
    # is at stake.
    changing = ["GET", "POST"] if services.config.dummy.all_dummy else ["POST"]

    def refuse_get(path: str) -> None:
        if "GET" in changing:
            return

        @router.get(path, include_in_schema=False)
        async def refused() -> Response:
            return get_refused(path)

    if services.config.dummy.scanner:

        async def deposit(request: Request) -> Response:
            _refuse_browser_pages(services, request)
            await dummy.receive_deposit(services, await _params(request))
            return PlainTextResponse("")

        coins = params.coins_in_order(services.enabled_coins)
        for method in changing:
            router.add_api_route(
                "/dummy/scanner/deposit",
                deposit,
                methods=[method],
                openapi_extra=deposit_openapi(coins),
                operation_id=f"deposit_{method.lower()}",
            )

        refuse_get("/dummy/scanner/deposit")

    if services.dummy_payer is not None:

        @router.get("/dummy/sender/broadcasts", response_class=IndentedJSON)
        async def broadcasts() -> IndentedJSON:
            return IndentedJSON(dummy.broadcasts(services))

        async def confirm(request: Request) -> Response:
            _refuse_browser_pages(services, request)
            await dummy.confirm(services, await _params(request))
            return PlainTextResponse("")

        for method in changing:
            router.add_api_route(
                "/dummy/sender/confirm",
                confirm,
                methods=[method],
                openapi_extra=confirm_openapi(),
                operation_id=f"confirm_{method.lower()}",
            )

        refuse_get("/dummy/sender/confirm")

    return router


def create_dummy_app(services: Services) -> FastAPI:
    dummy.announce_mode(services)
    app = create_app("teller dummy API")
    app.include_router(dummy_router(services))
    app.add_middleware(BodyLimit, max_bytes=services.config.web.max_body_bytes)
    config = services.config.dummy
    guard_private_server(app, config.http_addr, config.allowed_hosts, "dummy.allowed_hosts")
    declare_guards(app, bearer=False, host_checked=True)
    return app
