"""The dummy API (dummy.http_addr): fake deposits in, fake SKY transactions out.

/dummy/scanner/deposit feeds a deposit through the same intake a real scanner uses;
/dummy/sender/broadcasts and /dummy/sender/confirm show and confirm what the dummy payer sent.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from teller.deposits.address_files import address_validator
from teller.deposits.states import COIN_TYPES
from teller.errors import BadRequest, UnsupportedMedia
from teller.http.responses import IndentedJSON, create_app
from teller.money import format_droplets
from teller.services.parts import Services
from teller.store.models import IncomingDeposit

MAX_N = 2**32 - 1
MAX_VALUE = 2**256 - 1


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


def _is_decimal_digits(raw: str) -> bool:
    return raw.isascii() and raw.isdigit()


def _integer(values: dict[str, str], name: str, *, required: bool, maximum: int) -> int:
    raw = values.get(name, "").strip()
    if not raw:
        if required:
            raise BadRequest(f"{name} required")
        return 0
    if not _is_decimal_digits(raw):
        raise BadRequest(f"invalid {name}")
    # Compare lengths first: int() refuses strings of thousands of digits.
    if len(raw.lstrip("0")) > len(str(maximum)) or int(raw) > maximum:
        raise BadRequest(f"{name} too large")
    return int(raw)


def parse_dummy_deposit(
    values: dict[str, str], enabled_coins: frozenset[str], btc_network: str
) -> IncomingDeposit:
    coin = values.get("coin", "").strip() or "BTC"
    if coin not in COIN_TYPES:
        raise BadRequest(f"invalid coin {coin!r}: expected one of {', '.join(COIN_TYPES)}")
    if coin not in enabled_coins:
        raise BadRequest(f"{coin} not enabled")
    address = values.get("addr", "").strip()
    if not address:
        raise BadRequest("addr required")
    try:
        address = address_validator(coin, btc_network)(address)
    except ValueError as exc:
        raise BadRequest(f"invalid addr: {exc}") from exc
    value = _integer(values, "value", required=True, maximum=MAX_VALUE)
    if value == 0:
        raise BadRequest("invalid value: must be greater than 0")
    height = _integer(values, "height", required=False, maximum=2**63 - 1)
    tx = values.get("tx", "").strip()
    if not tx:
        raise BadRequest("tx required")
    if len(tx) > 128 or ":" in tx:
        raise BadRequest("invalid tx")
    n = _integer(values, "n", required=False, maximum=MAX_N)
    return IncomingDeposit(coin_type=coin, address=address, value=value, height=height, tx=tx, n=n)


def dummy_router(services: Services) -> APIRouter:
    router = APIRouter()

    if services.config.dummy.scanner:

        @router.api_route("/dummy/scanner/deposit", methods=["GET", "POST"])
        async def deposit(request: Request) -> Response:
            incoming = parse_dummy_deposit(
                await _params(request),
                services.enabled_coins,
                services.config.btc_scanner.network,
            )
            await services.intake.receive_async(incoming)
            return Response(status_code=200)

    payer = services.dummy_payer
    if payer is not None:

        @router.get("/dummy/sender/broadcasts", response_class=IndentedJSON)
        async def broadcasts() -> IndentedJSON:
            listing: list[dict[str, Any]] = [
                {
                    "txid": b.txid,
                    "outputs": [{"address": a, "coins": format_droplets(d)} for a, d in b.outputs],
                    "confirmed": b.confirmed,
                }
                for b in payer.broadcasts()
            ]
            return IndentedJSON(listing)

        @router.api_route("/dummy/sender/confirm", methods=["GET", "POST"])
        async def confirm(request: Request) -> Response:
            values = await _params(request)
            txid = values.get("txid", "").strip() or None
            raw_seq = values.get("seq", "").strip()
            if txid is None and not raw_seq:
                raise BadRequest("txid or seq required")
            seq = None
            if txid is None:
                if not _is_decimal_digits(raw_seq) or len(raw_seq.lstrip("0")) > 18:
                    raise BadRequest("invalid seq")
                seq = int(raw_seq)
            await asyncio.to_thread(payer.confirm, txid=txid, seq=seq)
            services.sender_waker.wake()
            return Response(status_code=200)

    return router


def create_dummy_app(services: Services) -> FastAPI:
    app = create_app("teller dummy API")
    app.include_router(dummy_router(services))
    return app
