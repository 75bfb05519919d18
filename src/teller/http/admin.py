"""The admin (monitoring) server on admin_panel.host: addresses, deposits, accounting, backup.

Unlike the original's, every request needs the admin credential and a Host name of this
server (http/admin_guard.py; README "Security"), except the dashboard's own files.
Routes only: each makes one call to a service (services/) and turns its answer into JSON,
a file or plain text; errors (TellerError) become plain-text answers (http/responses.py).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Path, Query
from fastapi.responses import FileResponse, PlainTextResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from teller.config.admin_auth import AdminCredential
from teller.http.admin_guard import METRICS_PATH, AdminAuth, guard_private_server
from teller.http.metrics import render_metrics
from teller.http.middleware import BodyLimit, RateLimiter, Throttle
from teller.http.openapi import (
    DEPOSIT_ID,
    SKY_ADDRESS,
    SKY_TXID,
    declare_guards,
    or_empty,
    text_errors,
)
from teller.http.pages import ADMIN_WEB_DIR, page_files
from teller.http.public import WebMount
from teller.http.responses import IndentedJSON, create_app
from teller.services import addresses as addresses_service
from teller.services import admin as admin_service
from teller.services import audit as audit_service
from teller.services import backup as backup_service
from teller.services import dashboard as dashboard_service
from teller.services import health as health_service
from teller.services import metrics as metrics_service
from teller.services import operator as operator_service
from teller.services import params
from teller.services import webhooks as webhooks_service
from teller.services.admin import DepositSearch
from teller.services.dashboard import PageQuery
from teller.services.operator import ADMIN_ACTOR
from teller.services.parts import Services
from teller.services.stacks import all_stacks

BINARY = "application/octet-stream"
METRICS_TYPE = CONTENT_TYPE_LATEST.split(";")[0]  # text/plain (with a version parameter)


class PaymentBody(BaseModel):
    txid: str = Field(json_schema_extra=SKY_TXID)


class StopBody(BaseModel):
    # Checked by the service (a refusal is audited): printable, one line, at most 500.
    reason: str = Field(json_schema_extra={"format": "operator-text", "maxLength": 500})


# The admin API's parameters as /openapi.json describes them (the services check them).
STATUS = Query(None, json_schema_extra={"enum": ["", *params.DEPOSIT_STATUSES]})
# Empty search fields (the dashboard's form sends them) mean "any".
SKY_ADDRESS_SEARCH = Query(None, json_schema_extra=or_empty(SKY_ADDRESS))
DEPOSIT_ID_QUERY = Query(None, json_schema_extra=or_empty(DEPOSIT_ID))
TXID_PATH = Path(json_schema_extra=SKY_TXID)
DEPOSIT_ID_PATH = Path(json_schema_extra=DEPOSIT_ID)
ACTION_ERRORS = text_errors(404, 409, 503, e404="No such deposit or payout")
COIN = Query(None, json_schema_extra={"enum": ["", *dashboard_service.COINS]})
AFTER = Query(
    None,
    description="The `next` of the page before (empty or absent: the newest deposits)",
    json_schema_extra={"pattern": f"^[0-9]{{0,{dashboard_service.MAX_CURSOR_DIGITS}}}$"},
)
CSV_TYPE = "text/csv"


def admin_router(services: Services) -> APIRouter:
    router = APIRouter()

    @router.get("/api/deposit-addresses", response_class=IndentedJSON)
    async def deposit_addresses() -> IndentedJSON:
        return IndentedJSON(await addresses_service.deposit_addresses(services))

    @router.get("/api/deposits", response_class=IndentedJSON)
    async def deposits(
        status: str | None = STATUS,
        sky_address: str | None = SKY_ADDRESS_SEARCH,
        deposit_id: str | None = DEPOSIT_ID_QUERY,
        limit: int | None = Query(
            None, json_schema_extra={"minimum": 1, "maximum": params.MAX_SEARCH_LIMIT}
        ),
        after: int | None = Query(
            None,
            json_schema_extra={"minimum": 0, "maximum": params.MAX_SEQ},
            description="keyset pagination: the deposits with seq above this, oldest first,"
            " `limit` (default 100) of them, and next_after, the next page's cursor",
        ),
    ) -> IndentedJSON:
        """All deposits, or those of one status; the dashboard's search adds sky_address,
        deposit_id (exact) and limit (only the most recent). With after: one page of them
        (keyset pagination: as fast deep in a large store as at its start)."""
        search = DepositSearch(status or None, sky_address, deposit_id, limit, after)
        return IndentedJSON(await admin_service.deposits(services, search))

    @router.get("/api/deposits/page", response_class=IndentedJSON)
    async def deposits_page(
        status: str | None = STATUS,
        coin: str | None = COIN,
        after: str | None = AFTER,
        limit: int = Query(
            dashboard_service.DEFAULT_PAGE,
            json_schema_extra={"minimum": 1, "maximum": dashboard_service.MAX_PAGE},
        ),
    ) -> IndentedJSON:
        """Deposits newest first, one page at a time ({"deposits": […], "next": cursor or
        null}); the next page is ?after=<next>, with the same filters (status, coin)."""
        query = PageQuery(status, coin, after, limit)
        return IndentedJSON(await dashboard_service.page(services, query))

    @router.get(
        "/api/deposits.csv",
        response_class=StreamingResponse,
        responses={200: {"description": "Deposits as CSV", "content": {CSV_TYPE: {}}}},
    )
    async def deposits_csv(
        status: str | None = STATUS, coin: str | None = COIN, after: str | None = AFTER
    ) -> StreamingResponse:
        """The deposits (of one status, of one coin) newest first as CSV, a header row first,
        amounts exact in the coin's units; streamed."""
        query = PageQuery(status, coin, after)
        dashboard_service.check_csv(query)
        return StreamingResponse(
            dashboard_service.csv_rows(services, query),
            media_type=f"{CSV_TYPE}; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="teller-deposits.csv"'},
        )

    @router.get("/api/stats/daily", response_class=IndentedJSON)
    async def stats_daily(
        days: int = Query(
            dashboard_service.DEFAULT_DAYS,
            json_schema_extra={"minimum": 1, "maximum": dashboard_service.MAX_DAYS},
        ),
    ) -> IndentedJSON:
        """Deposits (count and exact sum per coin) and SKY sent per UTC day, the last `days`
        days (today included), days without activity as zeros."""
        return IndentedJSON(await dashboard_service.daily(services, days))

    @router.get("/api/history", response_class=IndentedJSON)
    async def history() -> IndentedJSON:
        """The hot wallet's SKY and each pool's free addresses over the last 30 days, as the
        worker sampled them (on change, and at least every 10 minutes)."""
        return IndentedJSON(await dashboard_service.history(services))

    @router.get("/api/deposits/counts", response_class=IndentedJSON)
    async def counts() -> IndentedJSON:
        """How many deposits are in each status (for the dashboard)."""
        return IndentedJSON(await admin_service.counts(services))

    cached_health = health_service.CachedHealth(services, public=False)

    @router.get("/api/health", response_class=IndentedJSON, responses=text_errors(429))
    async def health() -> IndentedJSON:
        """The public /api/health, here too for the dashboard (same origin); made at most
        once a second."""
        return IndentedJSON(await cached_health.answer())

    @router.get("/api/deposits/errored", response_class=IndentedJSON)
    async def errored() -> IndentedJSON:
        return IndentedJSON(await admin_service.errored(services))

    @router.get("/api/orders", response_class=IndentedJSON)
    async def orders(deposit_id: str | None = DEPOSIT_ID_QUERY) -> IndentedJSON:
        """The exchange orders placed for passthrough deposits (one deposit's with
        deposit_id=txid:n), each with its client id, state, fills and the exchange's answer."""
        return IndentedJSON(await admin_service.orders(services, deposit_id or None))

    @router.get("/api/deposits/held", response_class=IndentedJSON)
    async def held() -> IndentedJSON:
        """Deposits held from payment until the operator decides (hold_reason says why)."""
        return IndentedJSON(await admin_service.held(services))

    @router.get("/api/deposits/orphaned", response_class=IndentedJSON)
    async def orphaned() -> IndentedJSON:
        return IndentedJSON(await admin_service.orphaned(services))

    @router.get("/api/accounting", response_class=IndentedJSON)
    async def accounting() -> IndentedJSON:
        return IndentedJSON(await admin_service.accounting(services))

    @router.get("/api/audit", response_class=IndentedJSON)
    async def audit() -> IndentedJSON:
        """The latest audit: teller's books against the chain nodes and the exchange."""
        return IndentedJSON(audit_service.audit_report(services))

    async def backup() -> FileResponse:
        copy = await backup_service.backup_copy(services)
        return FileResponse(
            copy.path,
            media_type=BINARY,
            filename=copy.name,
            background=BackgroundTask(copy.cleanup),
        )

    for method in ("GET", "POST"):
        router.add_api_route(
            "/api/backup",
            backup,
            methods=[method],
            response_class=FileResponse,
            responses={200: {"description": "A copy of the database", "content": {BINARY: {}}}},
            operation_id=f"backup_{method.lower()}",
        )

    # -- operator actions (services/operator.py); each writes an audit row -----------------

    def operator_context() -> operator_service.OperatorContext:
        return operator_service.OperatorContext.of(services)

    @router.post("/api/payouts/{txid}/void", response_class=IndentedJSON, responses=ACTION_ERRORS)
    async def void_payout(txid: str = TXID_PATH) -> IndentedJSON:
        """Void a stuck payout: the void is stored and sent by the sender; the payout's
        deposits are paid again only once it confirms (GET /api/payouts/{txid}/void)."""
        ctx = operator_context()
        return IndentedJSON(await operator_service.void_payout(ctx, txid, ADMIN_ACTOR))

    @router.get("/api/payouts/{txid}/void", response_class=IndentedJSON, responses=text_errors(404))
    async def void_progress(txid: str = TXID_PATH) -> IndentedJSON:
        """Where a void stands: voiding, then voided (deposits paid anew) or confirmed."""
        return IndentedJSON(await operator_service.void_progress(operator_context(), txid))

    @router.get("/api/payouts/hold", response_class=IndentedJSON)
    async def payout_hold() -> IndentedJSON:
        """Whether the audit holds the sender (a transaction teller did not make spent from
        the hot wallet), and the spends that held it, released or not."""
        return IndentedJSON(await operator_service.payout_holds(operator_context()))

    @router.post("/api/payouts/resume", response_class=IndentedJSON, responses=ACTION_ERRORS)
    async def resume_payouts() -> IndentedJSON:
        """Release the audit-driven hold: new payouts are signed again (409 if none)."""
        ctx = operator_context()
        return IndentedJSON(await operator_service.resume_payouts(ctx, ADMIN_ACTOR))

    @router.post(
        "/api/deposits/{deposit_id}/record-payment",
        response_class=IndentedJSON,
        responses=ACTION_ERRORS,
    )
    async def record_payment(body: PaymentBody, deposit_id: str = DEPOSIT_ID_PATH) -> IndentedJSON:
        """A payment made by hand ({"txid": …}), checked on the node, ends the deposit."""
        ctx = operator_context()
        found = await operator_service.record_payment(ctx, deposit_id, body.txid, ADMIN_ACTOR)
        return IndentedJSON(found)

    @router.post(
        "/api/deposits/{deposit_id}/release", response_class=IndentedJSON, responses=ACTION_ERRORS
    )
    async def release(deposit_id: str = DEPOSIT_ID_PATH) -> IndentedJSON:
        ctx = operator_context()
        return IndentedJSON(await operator_service.release(ctx, deposit_id, ADMIN_ACTOR))

    @router.post(
        "/api/deposits/{deposit_id}/stop", response_class=IndentedJSON, responses=ACTION_ERRORS
    )
    async def stop(body: StopBody, deposit_id: str = DEPOSIT_ID_PATH) -> IndentedJSON:
        """The deposit ends with {"reason": …} as its error, never paid."""
        ctx = operator_context()
        found = await operator_service.stop(ctx, deposit_id, body.reason, ADMIN_ACTOR)
        return IndentedJSON(found)

    @router.get("/api/webhooks/deliveries", response_class=IndentedJSON)
    async def webhook_deliveries(
        status: str | None = Query(
            None, json_schema_extra={"enum": ["", "pending", "delivered", "dead"]}
        ),
        limit: int = Query(100, json_schema_extra={"minimum": 1, "maximum": 1000}),
    ) -> IndentedJSON:
        """The webhook outbox, newest first: each event per webhook, its status (pending,
        delivered, dead), attempts, last error and next try; with counts by status."""
        found = await webhooks_service.deliveries_async(services, status or None, limit)
        return IndentedJSON(found)

    @router.post(
        "/api/webhooks/deliveries/{delivery_id}/resend",
        response_class=IndentedJSON,
        responses=text_errors(404, e404="No such delivery"),
    )
    async def resend_webhook(delivery_id: int) -> IndentedJSON:
        """Post a delivery again (a dead one, or a delivered one): same event id and body."""
        found = await webhooks_service.resend_async(services, delivery_id, ADMIN_ACTOR)
        return IndentedJSON(found)

    @router.get("/api/actions", response_class=IndentedJSON)
    async def actions(
        limit: int = Query(100, json_schema_extra={"minimum": 1, "maximum": params.MAX_ACTIONS}),
        target: str | None = Query(
            None, json_schema_extra={"format": "action-target", "maxLength": 77}
        ),
    ) -> IndentedJSON:
        """The operators' audit trail, newest first (of one txid or deposit with target)."""
        found = await operator_service.actions(operator_context(), limit, target or None)
        return IndentedJSON(found)

    @router.get(
        "/metrics",
        response_class=Response,
        responses={200: {"description": "Prometheus text format", "content": {METRICS_TYPE: {}}}},
    )
    async def metrics() -> Response:
        figures = await metrics_service.store_figures(services)
        return Response(render_metrics(figures), media_type=CONTENT_TYPE_LATEST)

    if services.config.profile:

        @router.get("/debug/stacks", response_class=PlainTextResponse)
        async def stacks() -> PlainTextResponse:
            return PlainTextResponse(all_stacks())

    return router


def dashboard_paths() -> frozenset[str]:
    """The URL paths of the dashboard's own files, served without the credential."""
    return frozenset({"/"} | {f"/{p.name}" for p in ADMIN_WEB_DIR.iterdir() if p.is_file()})


def create_admin_app(services: Services, credential: AdminCredential | None) -> FastAPI:
    """The admin server; `credential` None only with admin_panel.disable_auth_on_loopback
    (preflight refuses it unless admin_panel.host is loopback)."""
    app = create_app("teller admin API")
    router = admin_router(services)
    app.include_router(router)
    # The dashboard at "/" (its files; the API paths keep their own 404s and 405s).
    api_paths = frozenset(r.path for r in router.routes if isinstance(r, APIRoute))
    files = page_files(ADMIN_WEB_DIR, shipped=True)
    app.router.routes.append(WebMount("/", files, api_paths, name="dashboard"))
    add_admin_limits(app, services)
    # add_middleware wraps what is already there: the last added is the outermost.
    if credential is not None:
        app.add_middleware(AdminAuth, credential=credential, open_paths=dashboard_paths())
    admin = services.config.admin_panel
    guard_private_server(app, admin.host, admin.allowed_hosts, "admin_panel.allowed_hosts")
    declare_guards(
        app,
        bearer=credential is not None,
        host_checked=True,
        open_on_loopback=frozenset({METRICS_PATH}),
    )
    return app


def add_admin_limits(app: FastAPI, services: Services) -> None:
    """The public server's body limit, and its throttle on /api/health (the one admin call
    that asks a node; the admin server is never behind the public proxy)."""
    web = services.config.web
    app.add_middleware(BodyLimit, max_bytes=web.max_body_bytes)
    limiter = RateLimiter(
        max_requests=web.throttle_max,
        per_seconds=web.throttle_duration.total_seconds(),
        behind_proxy=False,
    )
    app.add_middleware(Throttle, limiter=limiter, limited_paths=frozenset({"/api/health"}))
