"""Where deposits enter: every scanner (dummy, BTC, ETH, SKY) hands its deposits to `receive`.

A deposit is recorded only if its address is bound to a SKY address; it is recorded once
per "txid:n", whatever number of times it is reported, and the processor is woken.

On SQLite, where writers take turns anyway, deposits reported at the same moment by several
threads are recorded together in one transaction (a group commit): each thread queues its
deposit and waits for the committer's turn; whoever gets the turn first records everything
queued, the others find theirs already done. `receive` returns only after the transaction
holding its own deposit has committed, so what it returns is as durable as a commit of its
own, and one failing deposit never fails the others (the group is then recorded one by one).
PostgreSQL runs concurrent transactions side by side: there each deposit commits alone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from teller.clock import unix_now
from teller.errors import DepositRejected
from teller.logs import log_event
from teller.store.bindings import find_binding
from teller.store.db import Database
from teller.store.deposits import insert_deposit_if_new
from teller.store.models import Deposit, IncomingDeposit
from teller.worker import Waker

log = logging.getLogger("teller.intake")

# What recording one deposit came to: (the stored record, newly recorded), or why not.
Outcome = tuple[Deposit, bool] | Exception


@dataclass(eq=False, slots=True)
class _Queued:
    """A deposit waiting for a group commit; `outcome` is set by the thread that commits it."""

    incoming: IncomingDeposit
    outcome: Outcome | None = None


class DepositIntake:
    def __init__(self, db: Database, processor_waker: Waker) -> None:
        self.db = db
        self.processor_waker = processor_waker
        self._group_commits = db.backend == "sqlite"
        self._queue: list[_Queued] = []
        self._queue_lock = threading.Lock()
        self._committer = threading.Lock()  # the turn to record what is queued

    def receive(self, incoming: IncomingDeposit) -> tuple[Deposit, bool]:
        """Record `incoming` (idempotent). Returns (record, newly_recorded)."""
        if incoming.value <= 0:
            raise DepositRejected("deposit value must be greater than 0")
        if self._group_commits:
            outcome = self._record_in_group(incoming)
        else:
            [outcome] = self._record_together([incoming])  # a failed transaction raises
        if isinstance(outcome, Exception):
            raise outcome
        deposit, inserted = outcome
        if inserted:
            log_event(
                log,
                logging.INFO,
                "deposit recorded",
                deposit_id=deposit.deposit_id,
                coin_type=deposit.coin_type,
                value=deposit.value,
                sky_address=deposit.sky_address,
            )
            self.processor_waker.wake()
        else:
            log_event(log, logging.INFO, "deposit already recorded", deposit_id=deposit.deposit_id)
        return deposit, inserted

    def _record_in_group(self, incoming: IncomingDeposit) -> Outcome:
        """Queue `incoming`, then record the whole queue unless an earlier committer did."""
        mine = _Queued(incoming)
        with self._queue_lock:
            self._queue.append(mine)
        with self._committer:
            if mine.outcome is None:
                # No committer has taken `mine` yet (one that takes a deposit settles it
                # before giving up the turn), so it is in the queue: take the queue, all of
                # it (its length is bounded by the threads that report deposits).
                with self._queue_lock:
                    group, self._queue = self._queue, []
                outcomes: list[Outcome] = []
                try:
                    outcomes = self._record_group([q.incoming for q in group])
                finally:
                    for i, queued in enumerate(group):
                        queued.outcome = (
                            outcomes[i]
                            if i < len(outcomes)
                            else RuntimeError("deposit not recorded: its group commit failed")
                        )
        assert mine.outcome is not None
        return mine.outcome

    def _record_group(self, group: Sequence[IncomingDeposit]) -> list[Outcome]:
        """Record `group` in one transaction if it can be; else each deposit on its own."""
        if len(group) > 1:
            try:
                return self._record_together(group)
            except Exception as exc:
                # The group's transaction rolled back: record each deposit in its own, so
                # only the one at fault fails. Safe even if a failed COMMIT did in fact land:
                # a deposit id already stored is found again, never inserted twice.
                log_event(log, logging.WARNING, "group commit failed; one by one", error=exc)
        outcomes: list[Outcome] = []
        for incoming in group:
            try:
                [outcome] = self._record_together([incoming])
            except Exception as exc:
                outcome = exc
            outcomes.append(outcome)
        return outcomes

    def _record_together(self, group: Sequence[IncomingDeposit]) -> list[Outcome]:
        """Record `group` in one transaction; raises if the transaction fails.

        A deposit to an unbound address is refused (its outcome is DepositRejected) without
        writing anything, so it does not spoil the others.
        """
        with self.db.write() as conn:
            now = unix_now()
            return [_record_one(conn, incoming, now) for incoming in group]


def _record_one(conn: Connection, incoming: IncomingDeposit, now: int) -> Outcome:
    binding = find_binding(conn, incoming.coin_type, incoming.address)
    if binding is None:
        return DepositRejected(
            f"{incoming.coin_type} address {incoming.address} is not bound to a SKY address"
        )
    return insert_deposit_if_new(conn, incoming, binding, now)
