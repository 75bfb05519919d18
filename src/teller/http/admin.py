"""The admin (monitoring) server on admin_panel.host: addresses, deposits, accounting, backup.

It has no authentication, as in the original: bind it to localhost or a private network.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import threading
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.background import BackgroundTask

from teller.clock import unix_now
from teller.deposits.hd import hd_admin_view
from teller.deposits.states import ALL_STATUSES, COIN_TYPES, WAITING_DEPOSIT
from teller.errors import BadRequest, NotFound
from teller.http.metrics import render_metrics
from teller.http.pages import ADMIN_WEB_DIR, page_files
from teller.http.public import WebMount, health_view
from teller.http.responses import IndentedJSON, create_app
from teller.money import format_droplets, format_units
from teller.services.parts import Services
from teller.services.views import COIN_DECIMALS, deposit_info
from teller.store.backup import BackupUnsupported, backup_sqlite
from teller.store.bindings import bound_addresses
from teller.store.deposits import (
    count_by_status,
    deposits_by_status,
    errored_deposits,
    find_deposits,
    received_totals,
    sent_total,
)
from teller.store.orders import orders_of, recent_orders
from teller.store.pool import pool_usage
from teller.store.scans import count_orphans, orphans


def deposit_addresses_view(services: Services) -> dict[str, Any]:
    with services.db.read() as conn:
        usage = pool_usage(conn)
        scanning = {coin: bound_addresses(conn, coin) for coin in COIN_TYPES}
        orphaned = count_orphans(conn)
    hd = hd_admin_view(services.db, services.bind.hd_chains)
    view: dict[str, Any] = {}
    for coin in COIN_TYPES:
        pool = usage.get(coin)
        view[coin] = {
            "remaining_addresses": pool.remaining if pool else 0,
            "scanning_addresses": scanning[coin],
            "scanning_enabled": coin in services.enabled_coins,
            "address_manager_enabled": coin in services.pool_coins,
        }
        scanner = services.board.scanners.get(coin)
        if scanner is not None:  # teller's own: the chain scanner's state
            view[coin]["scanner"] = {**scanner.view(), "orphaned_deposits": orphaned.get(coin, 0)}
        if coin in hd:  # teller's own: derived from an extended public key; never runs dry
            view[coin].update(hd[coin])
    return view


def orphaned_view(services: Services) -> dict[str, Any]:
    """Deposits handed on that a reorg then removed from the chain (scanner/base.py)."""
    with services.db.read() as conn:
        found = orphans(conn)
    return {"deposits": [asdict(o) for o in found]}


def accounting_view(services: Services) -> dict[str, Any]:
    with services.db.read() as conn:
        received = received_totals(conn)
        sent = sent_total(conn)
    return {
        "sent": format_droplets(sent),
        "received": {
            coin: format_units(received.get(coin, 0), COIN_DECIMALS[coin]) for coin in COIN_TYPES
        },
    }


def deposits_view(services: Services, status: str | None) -> dict[str, Any]:
    if status is not None and status not in ALL_STATUSES:
        raise BadRequest("Invalid status")
    if status == WAITING_DEPOSIT:
        return {"deposits": []}
    with services.db.read() as conn:
        found = deposits_by_status(conn, status)
    return {"deposits": [deposit_info(d) for d in found]}


@dataclass(frozen=True)
class DepositSearch:
    status: str | None
    sky_address: str | None
    deposit_id: str | None
    limit: int | None


MAX_SEARCH_LIMIT = 10_000


def search_view(services: Services, search: DepositSearch) -> dict[str, Any]:
    if search.status is not None and search.status not in ALL_STATUSES:
        raise BadRequest("Invalid status")
    if search.limit is not None and not 1 <= search.limit <= MAX_SEARCH_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_SEARCH_LIMIT}")
    if search.status == WAITING_DEPOSIT:
        return {"deposits": []}
    with services.db.read() as conn:
        found = find_deposits(
            conn,
            status=search.status,
            sky_address=(search.sky_address or "").strip() or None,
            deposit_id=(search.deposit_id or "").strip() or None,
            last=search.limit,
        )
    return {"deposits": [deposit_info(d) for d in found]}


def counts_view(services: Services) -> dict[str, int]:
    with services.db.read() as conn:
        counts = count_by_status(conn)
    return {status: counts.get(status, 0) for status in ALL_STATUSES if status != WAITING_DEPOSIT}


def errored_view(services: Services) -> dict[str, Any]:
    with services.db.read() as conn:
        return {"deposits": [deposit_info(d) for d in errored_deposits(conn)]}


RECENT_ORDERS = 500


def orders_view(services: Services, deposit_id: str | None) -> dict[str, Any]:
    """Exchange orders of passthrough deposits: one deposit's, or the most recent ones."""
    with services.db.read() as conn:
        found = orders_of(conn, deposit_id) if deposit_id else recent_orders(conn, RECENT_ORDERS)
    return {"orders": [asdict(o) for o in found]}


def all_stacks() -> str:
    """Stacks of every asyncio task and every thread: the counterpart of the original's gops."""
    lines = []
    try:
        tasks = asyncio.all_tasks()
    except RuntimeError:
        tasks = set()
    for task in sorted(tasks, key=lambda t: t.get_name()):
        lines.append(f"task {task.get_name()}:")
        for frame in task.get_stack():
            lines.extend("    " + s.rstrip() for s in traceback.format_stack(frame, limit=1))
    frames = sys._current_frames()
    for thread in threading.enumerate():
        lines.append(f"thread {thread.name} (ident {thread.ident}):")
        thread_frame = frames.get(thread.ident or -1)
        if thread_frame is not None:
            lines.extend("    " + s.rstrip() for s in traceback.format_stack(thread_frame))
    return "\n".join(lines) + "\n"


def admin_router(services: Services) -> APIRouter:
    router = APIRouter()

    @router.get("/api/deposit-addresses", response_class=IndentedJSON)
    async def deposit_addresses() -> IndentedJSON:
        return IndentedJSON(await asyncio.to_thread(deposit_addresses_view, services))

    @router.get("/api/deposits", response_class=IndentedJSON)
    async def deposits(
        status: str | None = None,
        sky_address: str | None = None,
        deposit_id: str | None = None,
        limit: int | None = None,
    ) -> IndentedJSON:
        """All deposits, or those of one status; the dashboard's search adds sky_address,
        deposit_id (exact) and limit (only the most recent)."""
        if sky_address is None and deposit_id is None and limit is None:
            return IndentedJSON(await asyncio.to_thread(deposits_view, services, status or None))
        search = DepositSearch(status or None, sky_address, deposit_id, limit)
        return IndentedJSON(await asyncio.to_thread(search_view, services, search))

    @router.get("/api/deposits/counts", response_class=IndentedJSON)
    async def counts() -> IndentedJSON:
        """How many deposits are in each status (for the dashboard)."""
        return IndentedJSON(await asyncio.to_thread(counts_view, services))

    @router.get("/api/health", response_class=IndentedJSON)
    async def health() -> IndentedJSON:
        """The public /api/health, here too for the dashboard (same origin)."""
        return IndentedJSON(await health_view(services, public=False))

    @router.get("/api/deposits/errored", response_class=IndentedJSON)
    async def errored() -> IndentedJSON:
        return IndentedJSON(await asyncio.to_thread(errored_view, services))

    @router.get("/api/orders", response_class=IndentedJSON)
    async def orders(deposit_id: str | None = None) -> IndentedJSON:
        """The exchange orders placed for passthrough deposits (one deposit's with
        deposit_id=txid:n), each with its client id, state, fills and the exchange's answer."""
        return IndentedJSON(await asyncio.to_thread(orders_view, services, deposit_id or None))

    @router.get("/api/deposits/orphaned", response_class=IndentedJSON)
    async def orphaned() -> IndentedJSON:
        return IndentedJSON(await asyncio.to_thread(orphaned_view, services))

    @router.get("/api/accounting", response_class=IndentedJSON)
    async def accounting() -> IndentedJSON:
        return IndentedJSON(await asyncio.to_thread(accounting_view, services))

    @router.api_route("/api/backup", methods=["GET", "POST"])
    async def backup() -> FileResponse:
        folder = Path(tempfile.mkdtemp(prefix="teller-backup-"))
        name = f"teller-{unix_now()}.db"
        path = folder / name

        def cleanup() -> None:
            shutil.rmtree(folder, ignore_errors=True)

        try:
            await asyncio.to_thread(backup_sqlite, services.db.engine, path)
        except BackupUnsupported as exc:
            cleanup()
            raise NotFound(str(exc)) from exc
        except BaseException:
            cleanup()  # never leave a partial copy of the database in /tmp
            raise

        return FileResponse(
            path,
            media_type="application/octet-stream",
            filename=name,
            background=BackgroundTask(cleanup),
        )

    @router.get("/metrics")
    async def metrics() -> Response:
        body = await asyncio.to_thread(render_metrics, services)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    if services.config.profile:

        @router.get("/debug/stacks", response_class=PlainTextResponse)
        async def stacks() -> PlainTextResponse:
            return PlainTextResponse(all_stacks())

    return router


def create_admin_app(services: Services) -> FastAPI:
    app = create_app("teller admin API")
    router = admin_router(services)
    app.include_router(router)
    # The dashboard at "/" (its files; the API paths keep their own 404s and 405s).
    api_paths = frozenset(r.path for r in router.routes if isinstance(r, APIRoute))
    files = page_files(ADMIN_WEB_DIR, shipped=True)
    app.router.routes.append(WebMount("/", files, api_paths, name="dashboard"))
    return app
