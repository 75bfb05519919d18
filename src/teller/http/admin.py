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
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.background import BackgroundTask

from teller.clock import unix_now
from teller.errors import BadRequest, NotFound
from teller.exchange.amounts import format_droplets, format_units
from teller.exchange.states import ALL_STATUSES, COIN_TYPES, WAITING_DEPOSIT
from teller.exchange.views import COIN_DECIMALS, deposit_info
from teller.http.metrics import render_metrics
from teller.http.responses import IndentedJSON, create_app
from teller.services import Services
from teller.store.backup import BackupUnsupported, backup_sqlite
from teller.store.bindings import bound_addresses
from teller.store.deposits import (
    deposits_by_status,
    errored_deposits,
    received_totals,
    sent_total,
)
from teller.store.pool import pool_usage


def deposit_addresses_view(services: Services) -> dict[str, Any]:
    with services.db.read() as conn:
        usage = pool_usage(conn)
        scanning = {coin: bound_addresses(conn, coin) for coin in COIN_TYPES}
    view: dict[str, Any] = {}
    for coin in COIN_TYPES:
        pool = usage.get(coin)
        view[coin] = {
            "remaining_addresses": pool.remaining if pool else 0,
            "scanning_addresses": scanning[coin],
            "scanning_enabled": coin in services.enabled_coins,
            "address_manager_enabled": coin in services.pool_coins,
        }
    return view


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


def errored_view(services: Services) -> dict[str, Any]:
    with services.db.read() as conn:
        return {"deposits": [deposit_info(d) for d in errored_deposits(conn)]}


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
    async def deposits(status: str | None = None) -> IndentedJSON:
        return IndentedJSON(await asyncio.to_thread(deposits_view, services, status or None))

    @router.get("/api/deposits/errored", response_class=IndentedJSON)
    async def errored() -> IndentedJSON:
        return IndentedJSON(await asyncio.to_thread(errored_view, services))

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
    app.include_router(admin_router(services))
    return app
