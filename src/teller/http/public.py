"""The public server (web.http_addr / https_addr): bind, status, config, health, the web page.

Routes and middleware only: each route reads its request, makes one call to a service
(services/) and turns the answer into indented JSON; errors (TellerError) become plain-text
answers (http/responses.py).
"""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from starlette.responses import Response
from starlette.routing import Match, Mount, compile_path
from starlette.types import ASGIApp, Scope

from teller.errors import BadRequest, UnsupportedMedia
from teller.http.hot import HotPaths
from teller.http.middleware import (
    BodyLimit,
    PathHeaders,
    RateLimiter,
    SecurityHeaders,
    Throttle,
    cors_rules,
)
from teller.http.openapi import JSON, SKY_ADDRESS, json_answer, query, text_errors
from teller.http.pages import page_files
from teller.http.qr import QR_PATH, qr_router
from teller.http.responses import IndentedJSON, create_app
from teller.services import binding as binding_service
from teller.services import health as health_service
from teller.services import params
from teller.services import quote as quote_service
from teller.services import status as status_service
from teller.services.config_view import public_config
from teller.services.parts import Services

WEB_DIR = Path(__file__).resolve().parent / "web"
RATE_LIMITED_PATHS = frozenset({"/api/bind", "/api/status", "/api/quote", "/api/health", QR_PATH})


def _json_object(body: bytes) -> dict[str, Any]:
    if not body.strip():
        raise BadRequest("Invalid json request body: EOF")
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError, bad UTF-8 and integers too long to convert;
        # RecursionError deeply nested arrays or objects.
        raise BadRequest(f"Invalid json request body: {_json_error_text(exc)}") from exc
    if not isinstance(document, dict):
        raise BadRequest("Invalid json request body: expected a JSON object")
    return document


def _json_error_text(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nesting too deep"
    return str(exc)


def _string_field(document: dict[str, Any], name: str) -> str:
    value = document.get(name, "")
    if not isinstance(value, str):
        raise BadRequest(f"Invalid json request body: {name} must be a string")
    return value


class WebMount(Mount):
    """The web page's files at "/", except on the API's own paths.

    A plain Mount("/") matches every path, so a request with the wrong method on an API
    route (GET /api/bind, OPTIONS /api/deposits/{deposit_id}/release) would get the file
    server's 404 or 405 instead of the route's 405 with the route's Allow header.
    """

    def __init__(self, path: str, app: ASGIApp, api_paths: frozenset[str], name: str) -> None:
        super().__init__(path, app=app, name=name)
        self.api_paths = api_paths
        self.api_patterns = [compile_path(p)[0] for p in api_paths if "{" in p]

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and (
            scope["path"] in self.api_paths
            or any(p.match(scope["path"]) for p in self.api_patterns)
        ):
            return Match.NONE, {}
        return super().matches(scope)


def bind_openapi(coins: list[str]) -> dict[str, Any]:
    """POST /api/bind as /openapi.json describes it (its handler reads the body itself, to
    answer with the original's messages); `coins` are the coin types this teller binds."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                JSON: {
                    "schema": {
                        "type": "object",
                        "required": ["skyaddr", "coin_type"],
                        "properties": {
                            "skyaddr": SKY_ADDRESS | {"description": "the buyer's SKY address"},
                            "coin_type": {"type": "string", "enum": coins},
                        },
                    }
                }
            },
        },
        "responses": {
            "200": json_answer(
                "The deposit address to pay to",
                {
                    "type": "object",
                    "properties": {
                        "deposit_address": {"type": "string"},
                        "coin_type": {"type": "string"},
                        "buy_method": {"type": "string", "enum": ["direct", "passthrough"]},
                        "bound_addrs_left": {
                            "type": "integer",
                            "minimum": -1,
                            "description": "addresses this skyaddr can still get (-1: no limit)",
                        },
                    },
                },
            ),
            **text_errors(
                400,
                403,
                413,
                415,
                429,
                500,
                e400="Bad request body, skyaddr or coin_type",
                e403="Address binding is disabled",
                e500="Deposit address pool is empty, or too many addresses bound",
            ),
        },
    }


def status_openapi() -> dict[str, Any]:
    return {
        "parameters": [query("skyaddr", SKY_ADDRESS, "the buyer's SKY address", required=True)],
        "responses": {
            "200": json_answer("The deposits of skyaddr (statuses: [] when none)"),
            **text_errors(400, 429, e400="Missing or invalid skyaddr"),
        },
    }


def quote_openapi(coins: list[str]) -> dict[str, Any]:
    return {
        "parameters": [
            query("coin_type", {"type": "string", "enum": coins, "default": "BTC"}, "the coin"),
            query(
                "amount",
                {
                    "type": "string",
                    "format": "amount",
                    "pattern": r"^([0-9]+(\.[0-9]*)?|\.[0-9]+)$",
                    "maxLength": params.MAX_AMOUNT_CHARS,
                },
                "a plain decimal of coin_type, greater than 0 (e.g. 0.01)",
                required=True,
            ),
        ],
        "responses": {
            "200": json_answer("The SKY teller would pay now for amount"),
            **text_errors(
                400,
                429,
                503,
                e400="Missing or invalid coin_type or amount",
                e503="The exchange's order book is not available or too old",
            ),
        },
    }


async def bind_answer(services: Services, content_type: str, body: bytes) -> dict[str, Any]:
    """POST /api/bind's work, for both of its ways in (the full app's route and the hot path,
    hot.py): the media type, the JSON object, its two strings, then the bind."""
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise UnsupportedMedia("Invalid content type")
    document = _json_object(body)
    sky_address = _string_field(document, "skyaddr")
    coin_type = _string_field(document, "coin_type")
    return await binding_service.bind(services, sky_address, coin_type)


def api_router(services: Services, config_answer: Response) -> APIRouter:
    """The public API as FastAPI routes (and /openapi.json); the hot paths (hot.py) answer
    the most frequent requests of three of them the same way, ahead of these."""
    router = APIRouter()

    coins = params.coins_in_order(services.enabled_coins)

    @router.post("/api/bind", response_class=IndentedJSON, openapi_extra=bind_openapi(coins))
    async def bind(request: Request) -> IndentedJSON:
        """Bind a SKY address to a new BTC/ETH deposit address."""
        content_type = request.headers.get("content-type", "")
        return IndentedJSON(await bind_answer(services, content_type, await request.body()))

    @router.get("/api/status", response_class=IndentedJSON, openapi_extra=status_openapi())
    async def status(request: Request) -> IndentedJSON:
        skyaddr = request.query_params.get("skyaddr", "")
        return IndentedJSON(await status_service.status_of(services, skyaddr))

    @router.get("/api/config", response_class=IndentedJSON)
    async def config() -> Response:
        return config_answer

    @router.get("/api/quote", response_class=IndentedJSON, openapi_extra=quote_openapi(coins))
    async def quote(request: Request) -> IndentedJSON:
        """The SKY teller would pay now for `amount` of `coin_type` (a decimal, e.g. 0.01):
        from the fixed rate (direct) or walked over the exchange's order book
        (passthrough; exchange fees not included)."""
        coin_type = request.query_params.get("coin_type", "BTC")
        amount = request.query_params.get("amount", "")
        return IndentedJSON(quote_service.quote(services, coin_type, amount))

    cached_health = health_service.CachedHealth(services, public=True)

    @router.get("/api/health", response_class=IndentedJSON, responses=text_errors(429))
    async def health() -> IndentedJSON:
        """Made at most once a second (the same answer for every client in between)."""
        return IndentedJSON(await cached_health.answer())

    return router


def create_public_app(services: Services, throttle_share: int = 1) -> ASGIApp:
    """The public app: the hot paths (hot.py) in front of the full FastAPI app.
    throttle_share: the API processes serving the public addresses together (web.processes):
    each allows a client its share of web.throttle_max (rounded up), as the kernel spreads a
    client's connections over them (DESIGN.md §6)."""
    web = services.config.web
    app = create_app("teller public API")
    config_answer = IndentedJSON(public_config(services))  # the config does not change
    router = api_router(services, config_answer)
    app.include_router(router)
    app.include_router(qr_router())  # the page's QR codes
    static_dir = Path(web.static_dir) if web.static_dir else WEB_DIR
    if static_dir.is_dir():
        api_paths = frozenset(r.path for r in router.routes if isinstance(r, APIRoute))
        files = page_files(static_dir, shipped=not web.static_dir)
        app.router.routes.append(WebMount("/", files, api_paths | {QR_PATH}, name="web"))
    # add_middleware wraps what is already there: the last added is the outermost.
    app.add_middleware(BodyLimit, max_bytes=web.max_body_bytes)
    limiter = RateLimiter(
        max_requests=-(-web.throttle_max // max(1, throttle_share)),
        per_seconds=web.throttle_duration.total_seconds(),
        behind_proxy=web.behind_proxy,
    )
    app.add_middleware(Throttle, limiter=limiter, limited_paths=RATE_LIMITED_PATHS)
    app.add_middleware(
        PathHeaders,
        paths=frozenset({"/api/bind"}),
        headers=[(b"accept", b"application/json")],
    )
    origins, origin_regex = cors_rules(web.cors_allowed)
    if origins or origin_regex:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_origin_regex=origin_regex,
            allow_methods=["GET", "POST", "HEAD"],
            allow_headers=["Origin", "Accept", "Content-Type"],
        )
    app.add_middleware(SecurityHeaders)

    async def status(skyaddr: str) -> dict[str, Any]:
        return await status_service.status_of(services, skyaddr)

    async def bind(content_type: str, body: bytes) -> dict[str, Any]:
        return await bind_answer(services, content_type, body)

    return HotPaths(
        app,
        status=status,
        bind=bind,
        config_body=bytes(config_answer.body),
        limiter=limiter,
        max_body_bytes=web.max_body_bytes,
        change_count=partial(status_service.change_count, services),
    )
