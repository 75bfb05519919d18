"""The history sampler: the hot wallet's balance and each pool's free addresses, over time.

Place in the flow: off the money path, beside the audit in the worker role (app.py
`run_workers`). Every CHECK_SECONDS it asks the payer for the hot wallet's balance and the
store for the free addresses of the pools read from address files (not of HD coins, whose
derived addresses never run out), and writes a sample of every series (store/history.py)
when one of them changed since the last sample or the last is SAMPLE_SECONDS old; samples
older than KEEP_DAYS are deleted as it writes. The admin API draws them as the dashboard's
lines (GET /api/history). A balance the payer cannot tell now (node down) is left out of that
sample; any other error is logged and the sampler goes on: it must never stop the stages.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection

from teller.clock import unix_now
from teller.errors import TellerError
from teller.logs import log_event
from teller.store import history as history_store
from teller.store.db import Database
from teller.store.pool import pool_usage
from teller.store.worker_role import Fenced
from teller.worker import run_every

log = logging.getLogger("teller.history")

CHECK_SECONDS = 60.0
SAMPLE_SECONDS = 600
KEEP_DAYS = 30
DAY = 86_400


class HistorySampler:
    def __init__(
        self,
        db: Database,
        hot_droplets: Callable[[], Awaitable[int]],
        *,
        skip_pools: Collection[str] = (),
        check_seconds: float | None = None,  # None: CHECK_SECONDS
        sample_seconds: int = SAMPLE_SECONDS,
        keep_days: int = KEEP_DAYS,
        clock: Callable[[], int] = unix_now,
    ) -> None:
        self.db = db
        self.hot_droplets = hot_droplets
        self.skip_pools = frozenset(skip_pools)  # HD coins: derived addresses never run out
        self.check_seconds = CHECK_SECONDS if check_seconds is None else check_seconds
        self.sample_seconds = sample_seconds
        self.keep_days = keep_days
        self.clock = clock

    async def run(self) -> None:
        """Sample now, then every check_seconds, until cancelled (Fenced: the worker role is
        lost, the stages stop)."""
        await run_every(log, "history sample", self.sample_once, self.check_seconds, (Fenced,))

    async def sample_once(self) -> bool:
        """Write a sample if a value changed or the last one is due; True if written."""
        values: dict[str, int] = {}
        try:
            values[history_store.HOT_WALLET] = await self.hot_droplets()
        except TellerError as exc:
            log_event(log, logging.DEBUG, "history: hot wallet balance unknown now", error=exc)
        return await asyncio.to_thread(self._write, values)

    def _write(self, values: dict[str, int]) -> bool:
        now = self.clock()
        with self.db.write() as conn:
            for coin, usage in pool_usage(conn).items():
                if coin not in self.skip_pools:
                    values[history_store.pool_series(coin)] = usage.remaining
            last = history_store.latest(conn)
            changed = any(
                s not in last or last[s].value != v or last[s].at <= now - self.sample_seconds
                for s, v in values.items()
            )
            if changed:
                history_store.record(conn, values, now, now - self.keep_days * DAY)
        return changed
