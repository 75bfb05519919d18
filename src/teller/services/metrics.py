"""The figures of the admin server's /metrics, read from the store at scrape time.

Place in the flow: nothing is counted in memory; each scrape reads what the store holds
(deposits by status, errored deposits, deposit addresses left, HD chains included, the
audit-driven hold), so the
figures are right after a restart and agree with the admin API. http/metrics.py renders them
in Prometheus' text format.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from teller.coins import COIN_TYPES
from teller.deposits.states import ALL_STATUSES, WAITING_DEPOSIT
from teller.services import audit as audit_service
from teller.services.board import shown_board
from teller.services.hd import hd_view
from teller.services.parts import Services
from teller.store.deposits import count_by_status, count_errored
from teller.store.holds import payouts_held
from teller.store.pool import pool_usage
from teller.store.webhooks import count_deliveries


@dataclass(frozen=True)
class StoreFigures:
    deposits_by_status: list[tuple[str, int]]  # every status but waiting_deposit, in order
    errored: int
    addresses_remaining: list[tuple[str, int]]  # per coin type
    sender_error: bool
    processor_error: bool
    payouts_held: bool = False  # the audit-driven hold (store/holds.py)
    # The audit's latest report (in memory, audit/loop.py): findings per kind, and when it
    # ran; None where the audit is off or has not run in this process.
    audit_findings: list[tuple[str, int]] | None = None
    audit_ran_at: int | None = None
    # The webhook outbox (store/webhooks.py) by status: pending, delivered, dead, and
    # failing (pending after a failed attempt); None without [[webhooks]].
    webhook_deliveries: list[tuple[str, int]] | None = None


async def store_figures(parts: Services) -> StoreFigures:
    """What /metrics reports now."""
    return await asyncio.to_thread(_store_figures, parts)


def _store_figures(parts: Services) -> StoreFigures:
    with parts.db.read() as conn:
        by_status = count_by_status(conn)
        errored = count_errored(conn)
        usage = pool_usage(conn)
        held = bool(payouts_held(conn))
        hooks = sorted(count_deliveries(conn).items()) if parts.config.webhooks else None
        board = shown_board(parts, conn)[0]  # the worker's, in every process
    hd = hd_view(parts.db, parts.bind.hd_chains)  # never runs dry
    remaining = []
    for coin in COIN_TYPES:
        pool = usage.get(coin)
        left = pool.remaining if pool else 0
        remaining.append((coin, hd[coin]["remaining_addresses"] if coin in hd else left))
    return StoreFigures(
        deposits_by_status=[
            (status, by_status.get(status, 0))
            for status in ALL_STATUSES
            if status != WAITING_DEPOSIT
        ],
        errored=errored,
        addresses_remaining=remaining,
        sender_error=bool(board.sender_error),
        processor_error=bool(board.processor_error),
        payouts_held=held,
        audit_findings=audit_service.findings_by_kind(parts),
        audit_ran_at=audit_service.last_run(parts),
        webhook_deliveries=hooks,
    )
