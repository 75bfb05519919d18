"""QR codes for the web page (GET /api/qr?data=… on the public server): an SVG image.

Place in the flow: the buyer's page shows the deposit address (as a `bitcoin:` payment URI
for BTC) as a QR code, drawn here with segno so the page needs no QR library and no CDN.

The data is refused with 400 unless it is short and made only of the characters addresses
and payment URIs use, so the endpoint cannot be used to draw arbitrary text or to make the
server do much work; answers are the same for the same data, so they are cached here and
may be cached by browsers.
"""

from __future__ import annotations

import asyncio
import io
import re
from functools import lru_cache
from typing import Any

import segno
from fastapi import APIRouter, Request
from starlette.responses import Response

from teller.errors import BadRequest
from teller.http.openapi import query, text_errors

QR_PATH = "/api/qr"
MAX_QR_DATA = 200  # characters: a payment URI with an address and an amount fits easily
# Letters, digits and the punctuation of payment URIs (bitcoin:ADDR?amount=0.1&label=x).
_QR_CHARACTERS = re.compile(r"[A-Za-z0-9:?=&.,_/+%-]+")
SVG_TYPE = "image/svg+xml"


def check_qr_data(data: str) -> str:
    """`data` if it may be drawn, else BadRequest with what is wrong."""
    if not data:
        raise BadRequest("data required")
    if len(data) > MAX_QR_DATA:
        raise BadRequest(f"data longer than {MAX_QR_DATA} characters")
    if _QR_CHARACTERS.fullmatch(data) is None:
        raise BadRequest("data may contain only letters, digits and : ? = & . , _ / + % -")
    return data


@lru_cache(maxsize=512)
def qr_svg(data: str) -> bytes:
    """The QR code of `data` as a standalone SVG that scales to its box (no width/height).

    Error correction M (15% of the code may be damaged) and the standard 4-module quiet zone,
    dark on white whatever the page's colours, as phone cameras read best.
    """
    code = segno.make(data, error="m", micro=False)
    out = io.BytesIO()
    code.save(out, kind="svg", xmldecl=False, omitsize=True, border=4, dark="#000", light="#fff")
    return out.getvalue()


def qr_router() -> APIRouter:
    router = APIRouter()

    data_schema: dict[str, Any] = {
        "type": "string",
        "pattern": f"^{_QR_CHARACTERS.pattern}$",
        "maxLength": MAX_QR_DATA,
    }

    @router.get(
        QR_PATH,
        response_class=Response,
        openapi_extra={
            "parameters": [query("data", data_schema, "what to draw", required=True)],
            "responses": {
                "200": {
                    "content": {SVG_TYPE: {"schema": {"type": "string"}}},
                    "description": "The QR code as SVG",
                },
                **text_errors(400, 429, e400="Missing, too long or bad data"),
            },
        },
    )
    async def qr(request: Request) -> Response:
        """A QR code (SVG) of a deposit address or payment URI, for the web page."""
        data = request.query_params.get("data", "")
        # Drawing takes milliseconds of CPU: off the event loop the sender and scanners share.
        svg = await asyncio.to_thread(qr_svg, check_qr_data(data))
        return Response(
            svg,
            media_type=SVG_TYPE,
            headers={
                "Cache-Control": "public, max-age=86400",
                # Opened on its own, the image may do nothing but be drawn.
                "Content-Security-Policy": "default-src 'none'",
            },
        )

    return router
