"""/api/health (public and admin servers): is teller up, what went wrong last, the balance.

Place in the flow: the stages write their latest errors to the worker's StatusBoard
(deposits/health.py), which the worker publishes to the store (store/worker_status.py): a
process that does not hold the worker role shows the stored one, so every process answers
alike; `worker` says which process holds the role (store/worker_role.py). The errored-deposit
count and the audit-driven hold (store/holds.py) are
read from the store, so every replica reports the same; the balance is asked of the payer (a
node, or the dummy payer).
The routes answer from CachedHealth: the count and the node call are made at most once a
second per server, however many clients ask (the routes are throttled too).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from teller import __version__
from teller.deposits.health import StatusBoard, go_duration
from teller.money import format_droplets
from teller.services.board import shown_board
from teller.services.parts import Services
from teller.store.deposits import count_errored
from teller.store.holds import payouts_held
from teller.store.pool import free_counts
from teller.store.worker_role import RoleState

# sender_error while the audit holds the sender (no txid or address: this is public).
HELD = (
    "payouts held: a transaction teller did not make spent from the hot wallet; new payouts"
    " wait until the operator checks the wallet and resumes them"
)


async def health(parts: Services, *, public: bool = True) -> dict[str, Any]:
    """/api/health. On the public server a scanner's error is only named, not detailed: the
    node's address and its answers are for the operator (the admin server's /api/health)."""
    try:
        balance = await parts.payer.balance()
        coins, hours = format_droplets(balance.droplets), str(balance.hours)
    except Exception:
        coins, hours = "0.000000", "0"
    errored, held, free, (board, role, this_process) = await asyncio.to_thread(_from_store, parts)
    sender_error = "; ".join(e for e in (HELD if held else "", board.sender_error) if e)
    return {
        "status": "OK",
        "application": "teller",
        "version": __version__,
        "uptime": go_duration(board.uptime_seconds()),
        "exchange": {
            "buy_method": parts.config.sky_exchanger.buy_method,
            "processor_error": board.processor_error,
            "sender_error": sender_error,
            "deposit_error_count": errored,
            "payouts_held": held,  # teller's own: the audit-driven hold (README Audit)
            "balance": {"coins": coins, "hours": hours},
        },
        # teller's own: each chain scanner (source node/dummy/off, node reachable, heights).
        "scanners": {coin.lower(): s.view(public=public) for coin, s in board.scanners.items()},
        # teller's own: each enabled coin's deposit address pool (README "When something goes
        # wrong": the pool running low).
        "pools": {c.lower(): _pool_view(parts, c, free) for c in sorted(parts.pool_coins)},
        # teller's own: the process holding the worker role (README "Running in production").
        "worker": worker_view(role, this_process, public=public),
    }


def worker_view(role: RoleState, this_process: bool, *, public: bool) -> dict[str, Any]:
    """Who holds the worker role: held (a live lease), its epoch, since when and until when
    its lease lasts (UTC, the database's clock), and whether it is the process answering. The
    holder (host, pid) only on the admin server: machine names are not for the public."""
    view: dict[str, Any] = {
        "held": role.held,
        "epoch": role.epoch,
        "since": _utc(role.since_ms) if role.held else None,
        "lease_until": _utc(role.lease_until_ms) if role.held else None,
        "this_process": this_process,
    }
    if not public:
        view["holder"] = role.holder if role.held else ""
    return view


def _utc(ms: int | None) -> str | None:
    if ms is None:
        return None
    seconds, millis = divmod(ms, 1000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{stamp}.{millis:03d}Z"


def _pool_view(parts: Services, coin: str, free: dict[str, int]) -> dict[str, Any]:
    """One coin's pool: free addresses left (None: derived from an xpub, never runs out),
    the warning threshold and whether it is below it."""
    threshold = parts.bind.low_threshold(coin)
    if coin in parts.bind.hd_chains:
        return {"source": "xpub", "remaining": None, "low_warning": 0, "low": False}
    remaining = free.get(coin, 0)
    return {
        "source": "file",
        "remaining": remaining,
        "low_warning": threshold,
        "low": remaining < threshold,
    }


HEALTH_MAX_AGE = 1.0  # seconds an answer is served again


class CachedHealth:
    """health(), made again only when the last answer is older than `max_age` seconds.

    Requests arriving while it is being made wait for that one answer instead of each
    making their own (so a burst costs one table count and one node call)."""

    def __init__(
        self,
        parts: Services,
        *,
        public: bool,
        max_age: float = HEALTH_MAX_AGE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.parts = parts
        self.public = public
        self.max_age = max_age
        self.clock = clock
        self._answer: dict[str, Any] | None = None
        self._made_at = 0.0
        self._lock = asyncio.Lock()

    def _fresh(self) -> dict[str, Any] | None:
        if self._answer is not None and self.clock() - self._made_at < self.max_age:
            return self._answer
        return None

    async def answer(self) -> dict[str, Any]:
        found = self._fresh()
        if found is not None:
            return found
        async with self._lock:
            found = self._fresh()  # made by the request this one waited for
            if found is not None:
                return found
            answer = await health(self.parts, public=self.public)
            self._answer, self._made_at = answer, self.clock()
            return answer


def _from_store(
    parts: Services,
) -> tuple[int, bool, dict[str, int], tuple[StatusBoard, RoleState, bool]]:
    """Each an indexed read whose cost does not grow with the store (migration 0010), and the
    worker's board (the worker_status rows) with who holds the role."""
    file_coins = [c for c in parts.pool_coins if c not in parts.bind.hd_chains]
    with parts.db.read() as conn:
        return (
            count_errored(conn),
            bool(payouts_held(conn)),
            free_counts(conn, file_coins),
            shown_board(parts, conn),
        )
