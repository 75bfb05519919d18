"""The parts of a running teller that the HTTP layer calls, built once by app.py."""

from __future__ import annotations

from dataclasses import dataclass

from teller.audit.loop import Auditor
from teller.config.schema import Config
from teller.deposits.binding import BindService
from teller.deposits.health import StatusBoard
from teller.deposits.intake import DepositIntake
from teller.deposits.worker_role import WorkerRole
from teller.passthrough.quote import QuoteService
from teller.payout.base import Payer
from teller.payout.dummy import DummyPayer
from teller.store.db import Database
from teller.worker import Waker


@dataclass
class Services:
    config: Config
    db: Database
    bind: BindService
    intake: DepositIntake
    payer: Payer
    board: StatusBoard
    processor_waker: Waker
    sender_waker: Waker
    enabled_coins: frozenset[str]
    pool_coins: frozenset[str]
    quote: QuoteService
    dummy_payer: DummyPayer | None = None
    audit: Auditor | None = None  # the audit loop (audit/loop.py); None: audit.interval = 0
    role: WorkerRole | None = None  # this process's worker-role candidacy; None: api_only
