"""Admin /api/deposit-addresses: per coin, the pool left, the addresses scanned, the scanner.

Place in the flow: read from the store (pool usage, bound addresses, orphaned deposits, HD
chains) in the admin server's worker thread; the scanners' state comes from the worker's
StatusBoard (services/board.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

from teller.coins import COIN_TYPES
from teller.services.board import shown_board
from teller.services.hd import hd_view
from teller.services.parts import Services
from teller.store.bindings import bound_addresses
from teller.store.pool import pool_usage
from teller.store.scans import count_orphans


async def deposit_addresses(parts: Services) -> dict[str, Any]:
    """The /api/deposit-addresses answer (the original's fields, plus teller's scanner and
    HD key views)."""
    return await asyncio.to_thread(_deposit_addresses, parts)


def _deposit_addresses(parts: Services) -> dict[str, Any]:
    with parts.db.read() as conn:
        usage = pool_usage(conn)
        scanning = {coin: bound_addresses(conn, coin) for coin in COIN_TYPES}
        orphaned = count_orphans(conn)
        board = shown_board(parts, conn)[0]  # the worker's scanners, in every process
    hd = hd_view(parts.db, parts.bind.hd_chains)
    view: dict[str, Any] = {}
    for coin in COIN_TYPES:
        pool = usage.get(coin)
        view[coin] = {
            "remaining_addresses": pool.remaining if pool else 0,
            "scanning_addresses": scanning[coin],
            # As the Go teller's: a chain scanner reads the coin's node (false with the dummy
            # scanner, where deposits come only from the dummy API).
            "scanning_enabled": _scans_a_chain(parts, coin),
            "address_manager_enabled": coin in parts.pool_coins,
        }
        scanner = board.scanners.get(coin)
        if scanner is not None:  # teller's own: the chain scanner's state
            view[coin]["scanner"] = {**scanner.view(), "orphaned_deposits": orphaned.get(coin, 0)}
        if coin in hd:  # teller's own: derived from an extended public key; never runs dry
            view[coin].update(hd[coin])
    return view


def _scans_a_chain(parts: Services, coin: str) -> bool:
    scanner = parts.board.scanners.get(coin)
    return coin in parts.enabled_coins and scanner is not None and scanner.source == "node"
