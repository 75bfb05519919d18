"""The admin API's deposit queries: lists, search, counts, errored, orphaned, orders, totals.

Place in the flow: the admin server's routes (http/admin.py) call one function each; every
answer is read from the store in one read transaction, in a worker thread (the event loop
keeps serving the sender and scanners), and shaped as the original's JSON (services/views.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from typing import Any

from teller.coins import COIN_TYPES
from teller.deposits.states import ALL_STATUSES, WAITING_DEPOSIT
from teller.errors import BadRequest
from teller.money import format_droplets, format_units
from teller.services import params
from teller.services.parts import Services
from teller.services.views import COIN_DECIMALS, deposit_info
from teller.store.deposits import (
    count_by_status,
    deposits_by_status,
    deposits_page,
    errored_deposits,
    find_deposits,
    held_deposits,
    received_totals,
    sent_total,
)
from teller.store.orders import orders_of, recent_orders
from teller.store.scans import orphans

MAX_SEARCH_LIMIT = params.MAX_SEARCH_LIMIT
PAGE_LIMIT = 100  # deposits per page of GET /api/deposits?after= without limit
RECENT_ORDERS = 500


@dataclass(frozen=True)
class DepositSearch:
    """GET /api/deposits' parameters: a status alone lists; any other one searches."""

    status: str | None = None
    sky_address: str | None = None
    deposit_id: str | None = None
    limit: int | None = None
    after: int | None = None  # keyset pagination: deposits with seq above this, oldest first


async def deposits(parts: Services, search: DepositSearch) -> dict[str, Any]:
    """All deposits, or those of one status; with sky_address, deposit_id (exact) or limit
    (only the most recent), the dashboard's search. BadRequest for an unknown status."""
    if search.after is not None:
        return await asyncio.to_thread(_page, parts, search)
    if search.sky_address is None and search.deposit_id is None and search.limit is None:
        return await asyncio.to_thread(_deposits_of_status, parts, search.status)
    return await asyncio.to_thread(_search, parts, search)


async def counts(parts: Services) -> dict[str, int]:
    """How many deposits are in each status (for the dashboard)."""
    return await asyncio.to_thread(_counts, parts)


async def errored(parts: Services) -> dict[str, Any]:
    """Deposits stopped with an error (done with nothing sent): /api/deposits/errored."""
    return await asyncio.to_thread(_errored, parts)


async def held(parts: Services) -> dict[str, Any]:
    """Deposits the sender does not pay until decided (an imported Go deposit that may have
    been paid already), each with why (hold_reason) and what it is owed (sky_due, droplets):
    /api/deposits/held. Released with `teller deposit release DEPOSIT_ID`."""
    return await asyncio.to_thread(_held, parts)


async def orphaned(parts: Services) -> dict[str, Any]:
    """Deposits handed on that a reorg then removed from the chain (scanners/base.py)."""
    return await asyncio.to_thread(_orphaned, parts)


async def orders(parts: Services, deposit_id: str | None) -> dict[str, Any]:
    """Exchange orders of passthrough deposits: one deposit's, or the most recent ones."""
    if deposit_id is not None:
        deposit_id = params.deposit_id("deposit_id", deposit_id)
    return await asyncio.to_thread(_orders, parts, deposit_id)


async def accounting(parts: Services) -> dict[str, Any]:
    """SKY sent and coins received in total, exact."""
    return await asyncio.to_thread(_accounting, parts)


def _deposits_of_status(parts: Services, status: str | None) -> dict[str, Any]:
    if status is not None and status not in ALL_STATUSES:
        raise BadRequest("Invalid status")
    if status == WAITING_DEPOSIT:
        return {"deposits": []}
    with parts.db.read() as conn:
        found = deposits_by_status(conn, status)
    return {"deposits": [deposit_info(d) for d in found]}


def _page(parts: Services, search: DepositSearch) -> dict[str, Any]:
    """GET /api/deposits?after=SEQ[&limit=N][&status=…][&sky_address=…][&deposit_id=…]:
    `limit` (default PAGE_LIMIT) deposits after seq SEQ, oldest first, and next_after, the
    cursor of the next page (null on the last page)."""
    if search.status is not None and search.status not in ALL_STATUSES:
        raise BadRequest("Invalid status")
    limit = PAGE_LIMIT if search.limit is None else search.limit
    if not 1 <= limit <= MAX_SEARCH_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_SEARCH_LIMIT}")
    after = search.after if search.after is not None else 0
    if not 0 <= after <= params.MAX_SEQ:
        raise BadRequest("after must be 0 or a deposit's seq")
    sky_address, deposit_id = _search_terms(search)
    if search.status == WAITING_DEPOSIT:
        return {"deposits": [], "next_after": None}
    with parts.db.read() as conn:
        found = deposits_page(
            conn,
            after=after,
            limit=limit,
            status=search.status,
            sky_address=sky_address,
            deposit_id=deposit_id,
        )
    next_after = found[-1].seq if len(found) == limit else None
    return {"deposits": [deposit_info(d) for d in found], "next_after": next_after}


def _search_terms(search: DepositSearch) -> tuple[str | None, str | None]:
    """The search's sky_address and deposit_id, checked (blank = not given)."""
    sky_address = (search.sky_address or "").strip() or None
    if sky_address is not None:
        sky_address = params.sky_address_shape("sky_address", sky_address)
    deposit_id = (search.deposit_id or "").strip() or None
    if deposit_id is not None:
        deposit_id = params.deposit_id("deposit_id", deposit_id)
    return sky_address, deposit_id


def _search(parts: Services, search: DepositSearch) -> dict[str, Any]:
    if search.status is not None and search.status not in ALL_STATUSES:
        raise BadRequest("Invalid status")
    if search.limit is not None and not 1 <= search.limit <= MAX_SEARCH_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_SEARCH_LIMIT}")
    # Every parameter is checked before any answer, the empty one of waiting_deposit included.
    sky_address, deposit_id = _search_terms(search)
    if search.status == WAITING_DEPOSIT:
        return {"deposits": []}
    with parts.db.read() as conn:
        found = find_deposits(
            conn,
            status=search.status,
            sky_address=sky_address,
            deposit_id=deposit_id,
            last=search.limit,
        )
    return {"deposits": [deposit_info(d) for d in found]}


def _counts(parts: Services) -> dict[str, int]:
    with parts.db.read() as conn:
        by_status = count_by_status(conn)
    return {s: by_status.get(s, 0) for s in ALL_STATUSES if s != WAITING_DEPOSIT}


def _errored(parts: Services) -> dict[str, Any]:
    with parts.db.read() as conn:
        return {"deposits": [deposit_info(d) for d in errored_deposits(conn)]}


def _held(parts: Services) -> dict[str, Any]:
    with parts.db.read() as conn:
        found = held_deposits(conn)
    return {
        "deposits": [
            deposit_info(d) | {"hold_reason": d.hold_reason, "sky_due": d.sky_due} for d in found
        ]
    }


def _orphaned(parts: Services) -> dict[str, Any]:
    with parts.db.read() as conn:
        found = orphans(conn)
    return {"deposits": [asdict(o) for o in found]}


def _orders(parts: Services, deposit_id: str | None) -> dict[str, Any]:
    with parts.db.read() as conn:
        found = orders_of(conn, deposit_id) if deposit_id else recent_orders(conn, RECENT_ORDERS)
    return {"orders": [asdict(o) for o in found]}


def _accounting(parts: Services) -> dict[str, Any]:
    with parts.db.read() as conn:
        received = received_totals(conn)
        sent = sent_total(conn)
    return {
        "sent": format_droplets(sent),
        "received": {
            coin: format_units(received.get(coin, 0), COIN_DECIMALS[coin]) for coin in COIN_TYPES
        },
    }
