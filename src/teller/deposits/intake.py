"""Where deposits enter: every scanner (dummy, BTC, ETH, SKY) hands its deposits to `receive`.

A deposit is recorded only if its address is bound to a SKY address; it is recorded once
per "txid:n", whatever number of times it is reported, and the processor is woken.
Deposits reported at the same moment share one transaction (store/group_commit.py);
`receive` returns only after the transaction holding its deposit has committed.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection

from teller.deposits import events
from teller.errors import DepositRejected
from teller.logs import log_event
from teller.store.bindings import find_binding
from teller.store.db import Database
from teller.store.deposits import insert_deposit_if_new
from teller.store.group_commit import GroupCommit
from teller.store.models import Deposit, IncomingDeposit
from teller.worker import Waker

log = logging.getLogger("teller.intake")


class DepositIntake:
    def __init__(self, db: Database, processor_waker: Waker) -> None:
        self.db = db
        self.processor_waker = processor_waker
        self._group: GroupCommit[IncomingDeposit, tuple[Deposit, bool]] = GroupCommit(
            db, record_deposit, refusals=(DepositRejected,)
        )

    def receive(self, incoming: IncomingDeposit) -> tuple[Deposit, bool]:
        """Record `incoming` (idempotent). Returns (record, newly_recorded)."""
        _check_value(incoming)
        return self._recorded(*self._group.submit(incoming))

    async def receive_async(self, incoming: IncomingDeposit) -> tuple[Deposit, bool]:
        """`receive` for the event loop (the dummy API)."""
        _check_value(incoming)
        return self._recorded(*await self._group.submit_async(incoming))

    def _recorded(self, deposit: Deposit, inserted: bool) -> tuple[Deposit, bool]:
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


def _check_value(incoming: IncomingDeposit) -> None:
    if incoming.value <= 0:
        raise DepositRejected("deposit value must be greater than 0")


def record_deposit(conn: Connection, incoming: IncomingDeposit, now: int) -> tuple[Deposit, bool]:
    """Record one deposit; refuses (DepositRejected) before writing anything."""
    binding = find_binding(conn, incoming.coin_type, incoming.address)
    if binding is None:
        raise DepositRejected(
            f"{incoming.coin_type} address {incoming.address} is not bound to a SKY address"
        )
    deposit, inserted = insert_deposit_if_new(conn, incoming, binding, now)
    if inserted:
        events.deposit_recorded(conn, deposit, now)
    return deposit, inserted
