"""The sender: pays SKY for deposits in waiting_send, exactly once (DESIGN.md §4).

The order of steps is what makes a crash at any moment safe:

1. Sign a transaction for a batch of waiting deposits, then store it (txid + bytes) and point
   the deposits at it, in one database transaction. A crash before that commit loses only an
   unsent signature; the deposits are still unassigned and will be paid by a new one.
2. Broadcast the stored bytes, then commit `broadcast` / `waiting_confirm`. A crash between
   the two re-broadcasts the same bytes on restart: the same txid, harmless. A deposit that
   points at a stored payout is never put in another one.
3. Ask for the stored txid until it is confirmed, then commit `done`.

A stored transaction that can never confirm (its inputs spent elsewhere) is never replaced:
its deposits stop with notice=WATCH for the operator. "Can never confirm" needs a proof from
a synced node (payout/skycoin_node.py `_prove_conflict`): a node that was swapped, restored or
is still syncing answers exactly like a double spend while the payout confirms elsewhere, so
without the proof the payout stays as it is and waits, the reason shown in /api/health.
Conflicted payouts are still asked about every round: one that confirms after all is recorded
confirmed and its deposits paid by it (notice=WATCH), never paid again.

The audit-driven hold (store/holds.py, written by audit/loop.py when someone else spends from
the hot wallet): while it is on, step 1 signs nothing; steps 2 and 3 go on, so a payout stored
before the hold is still broadcast and confirmed and nothing in flight is lost. The hold is
read before signing and again inside the transaction that stores the payout: a hold
committed between the two makes that transaction roll back, and the signature is thrown away
unbroadcast, as if it had never been made.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from teller.clock import unix_now
from teller.deposits import events, states
from teller.deposits.health import StatusBoard
from teller.errors import (
    ConflictNotProven,
    InsufficientBalance,
    PayoutDeferred,
    SendConflict,
    SendTemporary,
)
from teller.logs import log_event, log_once
from teller.money import format_droplets
from teller.payout.base import Payer, PayoutOutput, SignedPayout, TxState
from teller.payout.earlier_payment import EarlierPaymentCheck
from teller.payout.skycoin_node import SkyNodePayer
from teller.payout.void import VoidWatcher
from teller.store import payouts as payout_store
from teller.store.db import Database
from teller.store.deposits import (
    StaleStatus,
    assign_payout,
    deposits_of_payout,
    unpaid_waiting_send,
)
from teller.store.holds import PayoutHold, PayoutsHeld, payouts_held, refuse_if_held
from teller.store.models import Deposit, Payout

log = logging.getLogger("teller.sender")

_T = TypeVar("_T")

# A payout the node holds but has not confirmed for this long is shown to the operator
# (notice=WATCH, /api/health): it is never re-signed, so someone has to look at it.
STUCK_AFTER_SECONDS = 30 * 60
# A stored payout whose broadcast has failed for this long, or this many times, for any reason
# but spent inputs (those make it conflicted), is stuck: retried for ever, it would never get
# anywhere. It is shown in /api/health and raised once with notice=WATCH; the way out is the
# operator's `teller payout void TXID` (payout/void.py). It is still retried meanwhile.
STUCK_BROADCAST_SECONDS = 60 * 60
STUCK_BROADCAST_ATTEMPTS = 500


def choose_affordable(deposits: Sequence[Deposit], spendable: int) -> list[Deposit]:
    """The deposits, oldest first, that fit in `spendable` droplets.

    One that does not fit is skipped, not waited for: a large unpayable deposit must not hold
    back the smaller ones behind it (the original's head-of-line blocking).
    """
    chosen: list[Deposit] = []
    left = spendable
    for deposit in deposits:
        if deposit.sky_due <= left:
            chosen.append(deposit)
            left -= deposit.sky_due
    return chosen


class Sender:
    def __init__(
        self, db: Database, payer: Payer, board: StatusBoard, *, send_enabled: bool
    ) -> None:
        self.db = db
        self.payer = payer
        self.board = board
        self.send_enabled = send_enabled
        self._problems: list[str] = []
        self._reported_short: set[str] = set()
        self._reported_unknown: set[str] = set()  # imported payouts the node did not know
        self._reported_stuck: set[str] = set()  # payouts pending past STUCK_AFTER_SECONDS
        self._reported_unsendable: set[str] = set()  # stored payouts stuck in broadcast
        self.stuck_broadcast_seconds = STUCK_BROADCAST_SECONDS
        self.stuck_broadcast_attempts = STUCK_BROADCAST_ATTEMPTS
        # Imported Go deposits that may have been paid before a crash (payout/earlier_payment.py).
        self.earlier = EarlierPaymentCheck(db)
        self._reported_unproven: set[str] = set()  # refused payouts waiting for a proof
        self._reported_held: frozenset[str] = frozenset()  # the holds last logged
        # Voids of stuck payouts asked for by the operator (payout/void.py); real payer only.
        self.voids = VoidWatcher(db, payer) if isinstance(payer, SkyNodePayer) else None

    async def step(self) -> bool:
        """One round: re-broadcast stored payouts, pay new deposits, check confirmations.

        What went wrong in this round (sold out, broadcast refused) is shown in /api/health
        until a round passes without it.
        """
        self._problems = []
        busy = False
        try:
            # Each phase runs even when another failed: a node answering garbage to new
            # payouts must not stop the confirmation of payouts already sent (and the other
            # way round). A failure is shown in /api/health and retried next round.
            await self._phase("broadcast", self.broadcast_stored())
            if self.send_enabled:
                busy = bool(await self._phase("pay", self.pay_waiting()))
            await self._phase("confirm", self.check_confirmations())
            if self.voids is not None:  # after confirm: a void confirmed this round is settled
                await self._phase("void", self.voids.step())
        finally:
            self.board.sender_error = "; ".join(dict.fromkeys(self._problems))
        return busy

    async def _phase(self, name: str, work: Coroutine[Any, Any, _T]) -> _T | None:
        try:
            return await work
        except SendTemporary as exc:
            # The node is down or answered garbage: shown in /api/health, retried next round.
            self._problem(f"Send skycoin failed: {exc}")
            log_event(
                log, logging.WARNING, "skycoin node unavailable; will retry", phase=name, error=exc
            )
            return None

    def _problem(self, message: str) -> None:
        self._problems.append(message)

    # -- 1. sign and store ---------------------------------------------------------------

    async def pay_waiting(self) -> bool:
        """Sign and store one payout for waiting deposits and broadcast it. True if made."""
        if await asyncio.to_thread(self._held):
            return False  # the audit-driven hold: nothing is signed until the operator resumes
        # First the held imports: one found unpaid is released here and paid below.
        problem = await self.earlier.run(self.payer)
        if problem is not None:
            self._problem(problem)
        waiting = await asyncio.to_thread(self._read_unpaid)
        if not waiting:
            return False
        pending = await asyncio.to_thread(self._read_pending)
        locked = await asyncio.to_thread(self._read_locked)
        spendable = await self.payer.spendable(pending, locked)
        chosen = choose_affordable(waiting, spendable)
        if len(chosen) < len(waiting):
            short = next(d for d in waiting if d not in chosen)
            # Public (/api/health): amounts only; which deposit waits goes to the log.
            self._problem(
                f"not enough coins to pay a waiting deposit of {format_droplets(short.sky_due)}"
                f" SKY ({format_droplets(max(spendable, 0))} SKY spendable)"
            )
            log_once(  # once per deposit, not per round
                self._reported_short,
                short.deposit_id,
                log,
                logging.WARNING,
                "deposit waits: hot wallet balance too low",
                watch=True,  # sold out: only a refill of the hot wallet helps
                deposit_id=short.deposit_id,
                sky_droplets=short.sky_due,
                spendable=spendable,
            )
        if not chosen:
            return False
        outputs = [PayoutOutput(d.sky_address, d.sky_due, d.deposit_id) for d in chosen]
        try:
            signed = await self.payer.build_payout(outputs, pending, locked)
        except PayoutDeferred:
            return False  # the wallet's change is on its way: not sold out, just wait
        except InsufficientBalance as exc:
            self._problem(str(exc))
            return False
        try:
            await asyncio.to_thread(self._store_payout, signed)
        except StaleStatus:
            # Another round assigned some of these deposits first; this signature is thrown
            # away unbroadcast, so nothing can be paid twice.
            return True
        except PayoutsHeld:
            # The audit held the sender after this round read the hold: the transaction rolled
            # back, nothing of this payout is stored, and its bytes are never broadcast.
            log_event(log, logging.WARNING, "payout not stored: payouts are held", txid=signed.txid)
            return False
        except payout_store.InputsTaken:
            # Another sender stored a payout spending one of these outputs first (a worker
            # hand-over while this one was reading): the whole transaction rolled back, so
            # nothing of this payout is stored and its bytes are never broadcast; the
            # deposits stay unassigned and the next round signs on fresh outputs.
            log_event(
                log,
                logging.WARNING,
                "payout not stored: another payout took one of its inputs; signing again",
                txid=signed.txid,
            )
            return True
        log_event(
            log,
            logging.INFO,
            "payout signed and stored",
            txid=signed.txid,
            deposits=len(signed.outputs),  # a payer may pay only some of them now
            droplets=signed.total_droplets,
        )
        await self._broadcast(signed.txid, signed.raw_tx)
        return True

    def _held(self) -> bool:
        """Whether the audit-driven hold is on; logged when the set of holds changes."""
        with self.db.read() as conn:
            held = payouts_held(conn)
        self._note_held(held)
        return bool(held)

    def _note_held(self, held: list[PayoutHold]) -> None:
        txids = frozenset(h.spend_txid for h in held)
        if txids and txids != self._reported_held:
            log_event(
                log,
                logging.WARNING,
                "payouts held: no new payout is signed until the operator runs"
                " `teller payout resume`; stored payouts are still sent and confirmed",
                holds=len(txids),
                reason=held[0].reason,
            )
        elif not txids and self._reported_held:
            log_event(log, logging.INFO, "payouts resumed: the sender signs new payouts again")
        self._reported_held = txids

    def _read_unpaid(self) -> list[Deposit]:
        with self.db.read() as conn:
            return unpaid_waiting_send(conn, self.payer.max_outputs_per_tx)

    def _read_pending(self) -> list[Payout]:
        with self.db.read() as conn:
            return payout_store.payouts_by_status(conn, payout_store.SIGNED, payout_store.BROADCAST)

    def _read_locked(self) -> frozenset[str]:
        with self.db.read() as conn:
            return payout_store.locked_inputs(conn)

    def _store_payout(self, signed: SignedPayout) -> None:
        """Store the payout, lock its inputs and point its deposits at it: one transaction.

        PayoutsHeld (the audit-driven hold is on), InputsTaken (an input locked by another
        payout) or StaleStatus (a deposit assigned meanwhile) roll all of it back: then it is
        as if this payout was never signed.
        """
        with self.db.write() as conn:
            # First, in this transaction: a hold committed before it began is never signed past.
            refuse_if_held(conn)
            now = unix_now()
            payout_store.insert_payout(
                conn,
                txid=signed.txid,
                raw_tx=signed.raw_tx,
                inputs=signed.inputs,
                total_droplets=signed.total_droplets,
                now=now,
            )
            assign_payout(conn, [o.deposit_id for o in signed.outputs], signed.txid, now)

    # -- 2. broadcast --------------------------------------------------------------------

    async def broadcast_stored(self) -> None:
        for payout in await asyncio.to_thread(self._read_signed):
            await self._broadcast(payout.txid, payout.raw_tx)

    def _read_signed(self) -> list[Payout]:
        with self.db.read() as conn:
            return payout_store.payouts_by_status(conn, payout_store.SIGNED)

    async def _broadcast(self, txid: str, raw_tx: str) -> None:
        try:
            await self.payer.broadcast(raw_tx)
        except ConflictNotProven as exc:
            await self._wait_for_proof(txid, exc)
            return
        except SendTemporary as exc:
            self._problem(f"Send skycoin failed: {exc}")
            await asyncio.to_thread(self._record_error, txid, str(exc))
            log_event(log, logging.WARNING, "broadcast failed; will retry", txid=txid, error=exc)
            return
        except SendConflict as exc:
            await asyncio.to_thread(self._mark_conflicted, txid, str(exc))
            return
        await asyncio.to_thread(self._mark_broadcast, txid)
        log_event(log, logging.INFO, "payout broadcast", txid=txid)

    async def _wait_for_proof(self, txid: str, exc: ConflictNotProven) -> None:
        """The node refuses payout `txid` as spending gone outputs but cannot prove it (not
        synced, no peers, inputs it never saw): the payout stays as it is, signed or
        broadcast, its deposits keep waiting, and the reason is shown in /api/health. The
        payout may be on the network and confirm: the next rounds ask again."""
        self._problem(str(exc))
        await asyncio.to_thread(self._record_error, txid, str(exc))
        log_once(  # once per payout, not per round
            self._reported_unproven,
            txid,
            log,
            logging.WARNING,
            "payout refused by a node that cannot prove a conflict; waiting, not stopped",
            txid=txid,
            reason=exc,
        )

    def _record_error(self, txid: str, error: str) -> None:
        with self.db.write() as conn:
            payout = payout_store.record_payout_error(conn, txid, error, unix_now())
        if payout is not None:
            self._note_stuck_broadcast(payout)

    def _note_stuck_broadcast(self, payout: Payout) -> None:
        """A stored payout that still cannot be broadcast after `stuck_broadcast_seconds` or
        `stuck_broadcast_attempts` failures: shown in /api/health every round it stays so,
        raised once with notice=WATCH. Nothing changes for it: only the operator decides."""
        if payout.status != payout_store.SIGNED or payout.first_error_at is None:
            return
        failing = max(0, unix_now() - payout.first_error_at)
        if (
            failing < self.stuck_broadcast_seconds
            and payout.attempts < self.stuck_broadcast_attempts
        ):
            return
        self._problem(
            f"payout {payout.txid} is stuck: {payout.attempts} broadcasts failed over"
            f" {failing // 60} minutes (teller payout void {payout.txid})"
        )
        log_once(  # once per payout, not per round
            self._reported_unsendable,
            payout.txid,
            log,
            logging.ERROR,
            "payout stuck: it cannot be broadcast; fix the node or void it",
            watch=True,
            txid=payout.txid,
            attempts=payout.attempts,
            minutes=failing // 60,
            last_error=payout.last_error,
        )

    def _mark_broadcast(self, txid: str) -> None:
        """Record that the node accepted payout `txid`: the payout and its deposits move on.

        Safe in any order with a crash: the bytes were broadcast before this commit, and if
        the commit is lost the payout is still `signed`, so the next round broadcasts the same
        bytes again (same txid) and comes back here. One statement moves all the payout's
        deposits from waiting_send (compare-and-set on each row; states checks the
        transition once) and records that each was sent exactly its sky_due, the amount the
        signed transaction pays it.
        """
        with self.db.write() as conn:
            now = unix_now()
            if not payout_store.set_payout_status(
                conn, txid, payout_store.SIGNED, payout_store.BROADCAST, now
            ):
                return  # already marked by an earlier round
            states.move_payout_deposits(
                conn, txid, states.WAITING_SEND, states.WAITING_CONFIRM, now, send_due=True
            )

    def _mark_conflicted(self, txid: str, error: str) -> None:
        message = (
            f"payout transaction {txid} can never confirm ({error}); it was not re-sent:"
            " check the hot wallet and pay this deposit by hand (teller keeps watching it)"
        )
        with self.db.write() as conn:
            now = unix_now()
            payout_store.set_payout_status(
                conn, txid, payout_store.SIGNED, payout_store.CONFLICTED, now, error
            )
            payout_store.set_payout_status(
                conn, txid, payout_store.BROADCAST, payout_store.CONFLICTED, now, error
            )
            affected = deposits_of_payout(conn, txid)
            for deposit in affected:
                if deposit.status in (states.WAITING_SEND, states.WAITING_CONFIRM):
                    # sky_sent back to 0: a deposit already marked waiting_confirm recorded
                    # its sky_due as sent, but this transaction will never pay it.
                    states.move(conn, deposit, states.DONE, now, error=message, sky_sent=0)
        for deposit in affected:
            log_event(
                log,
                logging.ERROR,
                "payout conflicted",
                watch=True,
                deposit_id=deposit.deposit_id,
                txid=txid,
                error=error,
            )

    # -- 3. confirm ----------------------------------------------------------------------

    async def check_confirmations(self) -> None:
        for payout in await asyncio.to_thread(self._read_broadcast):
            # One payout's garbage answer must not keep the others from being confirmed.
            await self._phase(f"confirm {payout.txid}", self._check_confirmation(payout))
        for payout in await asyncio.to_thread(self._read_conflicted):
            await self._phase(f"watch {payout.txid}", self._watch_conflicted(payout))

    def _read_conflicted(self) -> list[Payout]:
        with self.db.read() as conn:
            return payout_store.payouts_by_status(conn, payout_store.CONFLICTED)

    async def _watch_conflicted(self, payout: Payout) -> None:
        """A conflicted payout is asked about for ever: one taken for conflicted on a node
        that did not know (before teller asked for a proof), or whose conflicting spend the
        chain later dropped, may still confirm. Then its deposits were paid by it."""
        if await self.payer.tx_state(payout.txid) is TxState.CONFIRMED:
            await asyncio.to_thread(self._mark_conflicted_confirmed, payout.txid)

    def _mark_conflicted_confirmed(self, txid: str) -> None:
        """Payout `txid`, marked conflicted, is in a block: record it confirmed and its
        deposits done, paid by it (sky_sent = sky_due, the amount it pays each), error cleared.

        One transaction, compare-and-set on `conflicted`: a crash before the commit leaves it
        conflicted and the next round asks again (a confirmed transaction stays confirmed).
        Nothing is signed: the deposits were done, and they stay done. Only deposits still
        pointing at the payout with nothing sent are corrected; one the operator has since
        paid by hand points at that payment (or records what it sent) and is left alone, but
        the buyer then got paid twice: that is logged with notice=WATCH either way.
        """
        with self.db.write() as conn:
            now = unix_now()
            if not payout_store.set_payout_status(
                conn, txid, payout_store.CONFLICTED, payout_store.CONFIRMED, now
            ):
                return  # already settled, or an operator took it over (a void)
            paid = payout_store.settle_deposits_paid_after_all(conn, txid, now)
            events.paid_after_all(conn, paid, now)  # in this transaction: never lost
        for deposit in paid:
            log_event(
                log,
                logging.WARNING,
                "payout marked conflicted confirmed after all: the deposit is paid by it;"
                " if it was also paid by hand, it was paid twice",
                watch=True,
                deposit_id=deposit.deposit_id,
                txid=txid,
                sky_sent=deposit.sky_due,
            )
        if not paid:
            log_event(
                log,
                logging.WARNING,
                "payout marked conflicted confirmed after all; none of its deposits was"
                " waiting on it any more: check them for a double payment",
                watch=True,
                txid=txid,
            )

    async def _check_confirmation(self, payout: Payout) -> None:
        state = await self.payer.tx_state(payout.txid)
        if state is TxState.CONFIRMED:
            await asyncio.to_thread(self._mark_confirmed, payout.txid)
            log_event(log, logging.INFO, "payout confirmed", txid=payout.txid)
            return
        if state is TxState.UNKNOWN:
            # The node lost it (restart, mempool eviction): send the same bytes again.
            await self._rebroadcast(payout)
        waited = unix_now() - payout.created_at
        if waited >= STUCK_AFTER_SECONDS:
            self._problem(f"payout {payout.txid} unconfirmed for {waited // 60} minutes")
            log_once(  # once per payout, not per round
                self._reported_stuck,
                payout.txid,
                log,
                logging.WARNING,
                "payout not confirmed; it is never re-signed: check the node",
                watch=True,
                txid=payout.txid,
                minutes=waited // 60,
                node_state=state.value,
            )

    def _read_broadcast(self) -> list[Payout]:
        with self.db.read() as conn:
            return payout_store.payouts_by_status(conn, payout_store.BROADCAST)

    async def _rebroadcast(self, payout: Payout) -> None:
        if not payout.raw_tx:
            # Imported from the Go teller (goteller/importer.py): it signed and broadcast this
            # payment; teller has only the txid, so there is nothing it could re-send, and it
            # must never sign a new payment for these deposits. Keep asking about the txid;
            # tell the operator once that the node does not know it.
            log_once(
                self._reported_unknown,
                payout.txid,
                log,
                logging.WARNING,
                "the node does not know an imported payout yet; watching it, never re-sent",
                watch=True,
                txid=payout.txid,
            )
            return
        try:
            await self.payer.broadcast(payout.raw_tx)
        except ConflictNotProven as exc:
            await self._wait_for_proof(payout.txid, exc)
        except SendTemporary as exc:
            self._problem(f"Send skycoin failed: {exc}")
            await asyncio.to_thread(self._record_error, payout.txid, str(exc))
        except SendConflict as exc:
            await asyncio.to_thread(self._mark_conflicted, payout.txid, str(exc))

    def _mark_confirmed(self, txid: str) -> None:
        with self.db.write() as conn:
            now = unix_now()
            # The payout and its deposits are done in one transaction: a crash before the
            # commit leaves the payout `broadcast`, and the next round asks the node again.
            if payout_store.set_payout_status(
                conn, txid, payout_store.BROADCAST, payout_store.CONFIRMED, now
            ):
                states.move_payout_deposits(conn, txid, states.WAITING_CONFIRM, states.DONE, now)
