"""The processor: decides how each recorded deposit is paid (waiting_decide → next status).

Direct buy: the SKY amount is computed from the deposit and the fixed rate in force now;
the rate and the amount are stored with the deposit in the same transaction that moves it
to waiting_send, so a later change of the config never changes what a deposit is owed.
A deposit too small to buy anything ends `done` with the original's error text.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from teller.clock import unix_now
from teller.config.schema import Config
from teller.deposits import states
from teller.deposits.health import StatusBoard
from teller.logs import log_event
from teller.money import (
    AmountError,
    sky_droplets_for_satoshis,
    sky_droplets_for_wei,
)
from teller.store.db import Database
from teller.store.deposits import deposits_by_status, has_deposits
from teller.store.models import Deposit
from teller.worker import Waker

log = logging.getLogger("teller.processor")

BATCH = 500
PASSTHROUGH_UNAVAILABLE = (
    "passthrough deposits wait in waiting_decide: the exchange is used only with"
    " sky_exchanger.buy_method passthrough and sky_exchanger.exchange_client.key and .secret"
)


def sky_droplets_owed(deposit: Deposit, rate: str, max_decimals: int) -> int:
    """The SKY (in droplets) a direct buy pays for `deposit` at `rate` SKY per coin.

    Rounding: toward zero at `max_decimals` SKY decimals (the original's rule), so teller
    never pays more than the exact product.
    """
    if deposit.coin_type == "BTC":
        return sky_droplets_for_satoshis(deposit.value, rate, max_decimals)
    if deposit.coin_type == "ETH":
        return sky_droplets_for_wei(deposit.value, rate, max_decimals)
    if deposit.coin_type == "SKY":
        # droplets × 100 is the same amount in 1e-8 units, so the BTC formula applies exactly.
        return sky_droplets_for_satoshis(deposit.value * 100, rate, max_decimals)
    raise AmountError(f"unsupported coin type {deposit.coin_type}")


class DirectProcessor:
    def __init__(
        self,
        db: Database,
        config: Config,
        board: StatusBoard,
        sender_waker: Waker,
        *,
        passthrough_available: bool = False,
    ) -> None:
        self.db = db
        self.config = config
        self.board = board
        self.sender_waker = sender_waker
        # With an exchange, passthrough deposits are the passthrough processor's (and so is
        # processor_error); without one they wait, and this processor says why.
        self.passthrough_available = passthrough_available

    async def step(self) -> bool:
        decided = await asyncio.to_thread(self.decide_batch)
        if decided:
            self.sender_waker.wake()
        return decided == BATCH

    def decide_batch(self) -> int:
        """Decide up to BATCH waiting deposits in one transaction; returns how many moved.

        Each deposit read in waiting_decide gets its next status, its rate and its amount in
        one batched compare-and-set (states.move_each) inside the transaction that read it:
        a deposit some other step moved meanwhile makes the whole batch roll back
        (StaleStatus), and the next round decides again from what is stored. The log lines
        are written after the commit, so they only tell of decisions that stand.
        """
        exchanger = self.config.sky_exchanger
        moves: list[tuple[Deposit, str, dict[str, Any]]] = []
        with self.db.write() as conn:
            now = unix_now()
            # Direct deposits only: passthrough ones (not decided here) must not fill the
            # batch and hold the direct ones back.
            waiting = deposits_by_status(
                conn, states.WAITING_DECIDE, BATCH, buy_method=states.BUY_DIRECT
            )
            waiting_passthrough = has_deposits(conn, states.WAITING_DECIDE, states.BUY_PASSTHROUGH)
            for deposit in waiting:
                rate = exchanger.rate_for(deposit.coin_type)
                try:
                    droplets = sky_droplets_owed(deposit, rate, exchanger.max_decimals)
                except AmountError as exc:
                    moves.append(_failed(deposit, rate, str(exc)))
                    continue
                if droplets == 0:
                    moves.append(_failed(deposit, rate, states.ERR_SEND_AMOUNT_ZERO))
                    continue
                values = {"conversion_rate": rate, "sky_due": droplets}
                moves.append((deposit, states.WAITING_SEND, values))
            states.move_each(conn, moves, now)
        if not self.passthrough_available:
            self.board.processor_error = PASSTHROUGH_UNAVAILABLE if waiting_passthrough else ""
        for deposit, new_status, values in moves:
            if new_status == states.WAITING_SEND:
                log_event(
                    log,
                    logging.INFO,
                    "deposit decided: direct buy",
                    deposit_id=deposit.deposit_id,
                    rate=values["conversion_rate"],
                    sky_droplets=values["sky_due"],
                )
            else:
                log_event(
                    log,
                    logging.WARNING,
                    "deposit will not be paid",
                    watch=True,
                    deposit_id=deposit.deposit_id,
                    error=values["error"],
                )
        return len(moves)


def _failed(deposit: Deposit, rate: str, error: str) -> tuple[Deposit, str, dict[str, Any]]:
    """The move of a deposit that can never be paid: done, with the reason."""
    return deposit, states.DONE, {"conversion_rate": rate, "error": error}
