"""The parts of a running teller that the HTTP layer calls, built once by app.py."""

from __future__ import annotations

from dataclasses import dataclass

from teller.binding import BindService
from teller.config import Config
from teller.exchange.health import StatusBoard
from teller.exchange.intake import DepositIntake
from teller.exchange.quote import QuoteService
from teller.payers.base import Payer
from teller.payers.dummy import DummyPayer
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
