"""Before paying an imported Go `waiting_send` deposit: was it paid already? (issue 13, item 3)

Place in the flow: the Go teller broadcast a payment inside its Bolt write transaction, so a
crash after the broadcast left the deposit `waiting_send` with no txid, paid on the chain. The
importer (goteller/importer.py) holds such deposits (HOLD_CHECK_EARLIER_PAYMENT); at the start
of each pay round the sender (payout/sender.py) runs `EarlierPaymentCheck.run`, which asks the
node for the transactions paying the deposit's SKY address and decides, for each deposit:

- paid: exactly one transaction from the hot wallet, unknown to the store, pays the address
  exactly the deposit's sky_due → it is recorded as a payout row with no raw bytes (as the
  importer records the Go teller's waiting_confirm payments: watched, never re-sent), and
  the deposit points at it, waiting_confirm or done as the node says; never paid again;
- not paid: no transaction from the hot wallet that the store does not know pays the address
  → the hold is lifted and the sender pays it in this same round;
- not decidable (several such transactions, another amount, inputs of the wallet and of
  others) → held for the operator with the reason (notice=WATCH, GET /api/deposits/held),
  until `teller deposit release DEPOSIT_ID` (or a hand settlement) decides;
- the node cannot answer now → stays held under the check and is asked again next round.

Transactions already recorded as payouts (the Go teller's waiting_confirm and done payments,
teller's own) are left out: they paid other deposits. When one payment would fit two held
deposits to the same address, the first (by seq) takes it and the other is judged again
without it, so one payment never settles two deposits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from teller.clock import unix_now
from teller.deposits import states
from teller.errors import SendTemporary
from teller.logs import log_event, log_once
from teller.money import format_droplets
from teller.payout.base import PastPayment, Payer
from teller.store import payouts as payout_store
from teller.store.db import Database
from teller.store.deposits import (
    StaleStatus,
    change_hold,
    deposits_to_check,
    settle_held,
)
from teller.store.models import Deposit

log = logging.getLogger("teller.sender")

CHECKS_PER_ROUND = 50


@dataclass(frozen=True, slots=True)
class Verdict:
    """`paid_by`: the payment that paid it; else `hold`: why it stays held; else pay it."""

    paid_by: PastPayment | None = None
    hold: str | None = None


def judge(deposit: Deposit, payments: Sequence[PastPayment], known: set[str]) -> Verdict:
    """Did the hot wallet pay `deposit` in one of `payments` (those to its SKY address)?"""
    ours = [p for p in payments if p.any_from_wallet and p.txid not in known]
    if not ours:
        return Verdict()
    listed = ", ".join(f"{p.txid} ({format_droplets(p.droplets)} SKY)" for p in ours)
    if any(not p.all_from_wallet for p in ours):
        return Verdict(
            hold=f"a transaction spending the hot wallet's and other coins pays"
            f" {deposit.sky_address}: {listed}; decide by hand"
        )
    exact = [p for p in ours if p.droplets == deposit.sky_due]
    if len(ours) == 1 and exact:
        return Verdict(paid_by=exact[0])
    due = format_droplets(deposit.sky_due)
    if not exact:
        return Verdict(
            hold=f"the hot wallet paid {deposit.sky_address} in {listed}, not the {due} SKY"
            " this deposit is owed; decide by hand"
        )
    return Verdict(
        hold=f"the hot wallet paid {deposit.sky_address} in {len(ours)} transactions no"
        f" stored payout knows: {listed}; this deposit is owed {due} SKY; decide by hand"
    )


class EarlierPaymentCheck:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._reported_unreachable: set[str] = set()

    async def run(self, payer: Payer) -> str | None:
        """Decide every held deposit awaiting the check, asking `payer`'s node. A problem
        for /api/health, or None."""
        waiting = await asyncio.to_thread(self._read_to_check)
        if not waiting:
            return None
        payments: dict[str, list[PastPayment]] = {}
        try:
            for address in dict.fromkeys(d.sky_address for d in waiting):
                payments[address] = await payer.payments_to(address)
        except SendTemporary as exc:
            # Nothing is decided without the node's answer: they stay held and are asked
            # about again next round (never paid meanwhile).
            for deposit in waiting:
                log_once(
                    self._reported_unreachable,
                    deposit.deposit_id,
                    log,
                    logging.WARNING,
                    "cannot search the chain for an earlier payment; held, asked again",
                    deposit_id=deposit.deposit_id,
                    error=exc,
                )
            return f"imported deposits held: the node cannot tell if they were paid: {exc}"
        every = [p.txid for found in payments.values() for p in found]
        known = await asyncio.to_thread(self._read_known, every)
        left = list(waiting)
        while left:
            verdicts = [(d, judge(d, payments[d.sky_address], known)) for d in left]
            paid = next(((d, v.paid_by) for d, v in verdicts if v.paid_by is not None), None)
            if paid is not None:
                deposit, payment = paid
                await asyncio.to_thread(self._settle, deposit, payment)
                known.add(payment.txid)  # it paid this deposit: no other one
                left.remove(deposit)
                continue
            for deposit, verdict in verdicts:
                await asyncio.to_thread(self._release_or_hold, deposit, verdict.hold)
            break
        return None

    def _read_to_check(self) -> list[Deposit]:
        with self.db.read() as conn:
            return deposits_to_check(conn, CHECKS_PER_ROUND)

    def _read_known(self, txids: list[str]) -> set[str]:
        with self.db.read() as conn:
            return payout_store.known_txids(conn, txids)

    def _settle(self, deposit: Deposit, payment: PastPayment) -> None:
        """Record `payment` as the deposit's payout, in one transaction: the payout row (no
        raw bytes: watched, never re-sent) and the deposit pointing at it. A crash before
        the commit leaves the deposit held under the check, to be judged again."""
        if payment.confirmed:
            payout_status, deposit_status = payout_store.CONFIRMED, states.DONE
        else:
            payout_status, deposit_status = payout_store.BROADCAST, states.WAITING_CONFIRM
        states.check_transition(deposit.status, deposit_status)
        try:
            with self.db.write() as conn:
                now = unix_now()
                payout_store.insert_found_payout(
                    conn, payment.txid, payment.droplets, payout_status, now
                )
                settle_held(conn, deposit, payment.txid, deposit_status, now)
                states.announce(conn, [(deposit.deposit_id, deposit.status)], now)
        except (StaleStatus, payout_store.InputsTaken):
            return  # another sender or the operator got there first: judged again from the store
        log_event(
            log,
            logging.WARNING,
            "imported deposit was paid by the Go teller before its crash; recorded, not paid again",
            watch=True,
            deposit_id=deposit.deposit_id,
            txid=payment.txid,
            sky_droplets=payment.droplets,
            confirmed=payment.confirmed,
        )

    def _release_or_hold(self, deposit: Deposit, reason: str | None) -> None:
        try:
            with self.db.write() as conn:
                change_hold(conn, deposit, reason, unix_now())
        except StaleStatus:
            return  # released or settled meanwhile: nothing to decide here
        if reason is None:
            log_event(
                log,
                logging.INFO,
                "no earlier payment of an imported deposit on the chain; it is paid now",
                deposit_id=deposit.deposit_id,
            )
            return
        log_event(
            log,
            logging.ERROR,
            "imported deposit held: it may have been paid already; release or settle it by hand",
            watch=True,
            deposit_id=deposit.deposit_id,
            reason=reason,
        )
