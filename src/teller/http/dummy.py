"""The dummy API (dummy.http_addr): fake deposits in, fake SKY transactions out.

/dummy/scanner/deposit feeds a deposit through the same intake a real scanner uses;
/dummy/sender/broadcasts and /dummy/sender/confirm show and confirm what the dummy payer sent.
Routes only: each reads the request's parameters and makes one call to services/dummy.py.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from teller.errors import BadRequest, UnsupportedMedia
from teller.http.responses import IndentedJSON, create_app
from teller.services import dummy
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


def dummy_router(services: Services) -> APIRouter:
    router = APIRouter()

    if services.config.dummy.scanner:

        @router.api_route("/dummy/scanner/deposit", methods=["GET", "POST"])
        async def deposit(request: Request) -> Response:
            await dummy.receive_deposit(services, await _params(request))
            return Response(status_code=200)

    if services.dummy_payer is not None:

        @router.get("/dummy/sender/broadcasts", response_class=IndentedJSON)
        async def broadcasts() -> IndentedJSON:
            return IndentedJSON(dummy.broadcasts(services))

        @router.api_route("/dummy/sender/confirm", methods=["GET", "POST"])
        async def confirm(request: Request) -> Response:
            await dummy.confirm(services, await _params(request))
            return Response(status_code=200)

    return router


def create_dummy_app(services: Services) -> FastAPI:
    app = create_app("teller dummy API")
    app.include_router(dummy_router(services))
    return app
