"""Voiding a stuck payout: spend its inputs back to the hot wallet, then pay its deposits anew.

Place in the flow: `teller payout void TXID` and POST /api/payouts/{txid}/void
(services/operator.py) call `sign_void` and store the signed void (store/operator_actions.py);
the sender (payout/sender.py) broadcasts and confirms the void like any stored payout, and
each round calls `VoidWatcher.step` to settle the voids that are decided on the chain.

The order of steps, and what a crash at each point leaves:

1. The operator's process reads the payout (signed, broadcast or conflicted: not confirmed),
   asks the node which of its inputs are still unspent, and signs a transaction spending
   all of those to the wallet's change address. Nothing is stored or sent yet: a crash
   here leaves nothing behind.
2. One transaction stores the void (a payouts row of kind "void", with its bytes, like any
   payout: signed once, stored, then broadcast), sets the payout to `voiding` (compare-and-
   set on the status read) and hands the locks on those inputs to the void. From then on the
   sender never broadcasts the payout's bytes again (it broadcasts only `signed` rows), and
   no new payout may choose its inputs. A crash before the commit: as in 1.
3. The sender broadcasts the void's stored bytes and asks for it, as for any payout; a crash
   anywhere re-broadcasts the same bytes. The payout itself may still be in a node's pool
   (broadcast before the void was asked for): the two spend the same output, so the chain
   confirms at most one of them.
4. `VoidWatcher.step`, each round, for each `voiding` payout, asks the node:
   - the payout confirmed (it won): one transaction records it confirmed and its deposits
     done and paid, and the void conflicted. The void failed; nothing is paid again.
   - the void confirmed: the payout can never confirm (an input it spends is spent by the
     void). One transaction records the payout `voided`, the void confirmed, and moves its
     deposits back to waiting_send with no payout: the sender pays them with a new payout,
     signed fresh. Never before this point: until the void is in a block the payout could
     still confirm, and paying its deposits again would pay them twice.
   - the void can never confirm (conflicted) while the payout did not confirm: something
     else spent the wallet's outputs. The payout is recorded conflicted, its deposits done
     with nothing sent and notice=WATCH; nothing is paid again automatically.
   - otherwise: nothing is decided yet; asked again next round.
   Each outcome is one transaction, with its audit row; a crash before the commit leaves the
   payout `voiding` and the next round asks the node again and gets the same answer (a
   confirmed transaction stays confirmed).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy import Connection

from teller.clients.skycoin_node import SkyNodeError
from teller.clock import unix_now
from teller.coins.sky_tx import (
    DROPLET_PRECISION,
    TransactionBuildError,
    Unspent,
    build_transaction,
)
from teller.deposits import events, states
from teller.errors import ActionRefused, SendTemporary
from teller.logs import log_event
from teller.payout.base import TxState
from teller.payout.skycoin_node import SkyNodePayer, payout_inputs
from teller.store import operator_actions as ops
from teller.store import payouts as payout_store
from teller.store.db import Database
from teller.store.deposits import deposits_of_payout
from teller.store.models import Payout

log = logging.getLogger("teller.void")

VOIDABLE = (payout_store.SIGNED, payout_store.BROADCAST, payout_store.CONFLICTED)
RESOLVER = "teller"  # the actor of the audit rows the sender writes when a void is decided


@dataclass(frozen=True, slots=True)
class SignedVoid:
    txid: str
    raw_tx: str
    inputs: tuple[str, ...]
    droplets: int  # what goes back to the wallet


def check_voidable(payout: Payout | None, txid: str) -> Payout:
    """The payout, if a void may be asked for it; ActionRefused (saying why) otherwise."""
    if payout is None:
        raise ActionRefused(f"no payout {txid}")
    if payout.kind != ops.KIND_PAYOUT:
        raise ActionRefused(f"{txid} is not a payout of teller's but a {payout.kind} transaction")
    if payout.status not in VOIDABLE:
        raise ActionRefused(
            f"payout {txid} is {payout.status}: only a signed, broadcast or conflicted payout"
            " can be voided"
        )
    if not payout.raw_tx or not payout_inputs(payout):
        raise ActionRefused(
            f"payout {txid} has no stored inputs (imported from the Go teller?): teller cannot"
            " void it"
        )
    return payout


async def sign_void(payer: SkyNodePayer, payout: Payout) -> SignedVoid:
    """Sign a transaction spending every still-unspent input of `payout` to the wallet.

    ActionRefused if the payout confirmed or none of its inputs is unspent any more (then it
    confirmed, or something else spent them: there is nothing to void). Unavailable-type
    SendTemporary if the node cannot answer. Nothing is stored or broadcast here.
    """
    try:
        status = await payer.client.transaction_status(payout.txid)
        if status.confirmed:
            raise ActionRefused(f"payout {payout.txid} is confirmed: its deposits are paid")
        outputs = await payer.client.outputs(payer.addresses)
        rules = await payer.client.node_info()
    except SkyNodeError as exc:
        raise SendTemporary(str(exc)) from exc
    wanted = set(payout_inputs(payout))
    # Confirmed and unspent on the chain; the payout itself may spend them in the node's
    # pool (outgoing), which is what a void races against.
    found = {o.uxid: o for o in outputs.confirmed if o.uxid in wanted}
    unspent = [
        Unspent(o.uxid, o.address, o.droplets, o.hours)
        for o in sorted(found.values(), key=lambda o: o.uxid)
        if o.address in payer.wallet.seckeys and o.droplets % DROPLET_PRECISION == 0
    ]
    if not unspent:
        raise ActionRefused(
            f"none of the inputs of payout {payout.txid} is unspent: it confirmed or another"
            " transaction spent them; nothing to void"
        )
    total = sum(u.droplets for u in unspent)
    try:
        built = build_transaction(
            unspent,
            [(payer.wallet.change_address, total)],
            payer.wallet.change_address,
            payer.wallet.seckeys,
            burn_factor=rules.burn_factor,
            max_size=rules.max_transaction_size,
        )
    except (TransactionBuildError, ValueError) as exc:
        raise ActionRefused(f"cannot build a void of payout {payout.txid}: {exc}") from exc
    if set(built.inputs) != {u.uxid for u in unspent}:  # the builder chose fewer: all or none
        raise ActionRefused(f"cannot spend every unspent input of payout {payout.txid}")
    return SignedVoid(built.txid, built.raw_hex, built.inputs, total)


class VoidWatcher:
    """The sender's side of voids: settles each `voiding` payout once the chain decides."""

    def __init__(self, db: Database, payer: SkyNodePayer) -> None:
        self.db = db
        self.payer = payer

    async def step(self) -> None:
        for payout in await asyncio.to_thread(self._read_voiding):
            await self._settle(payout)

    def _read_voiding(self) -> list[Payout]:
        with self.db.read() as conn:
            return ops.voiding_payouts(conn)

    def _read_void(self, txid: str) -> Payout | None:
        with self.db.read() as conn:
            return ops.void_of(conn, txid)

    async def _state(self, txid: str) -> TxState:
        return await self.payer.tx_state(txid)  # SendTemporary if the node cannot answer

    async def _settle(self, payout: Payout) -> None:
        void = await asyncio.to_thread(self._read_void, payout.txid)
        if void is None:  # cannot happen: stored in the same transaction
            log_event(log, logging.ERROR, "voiding payout without a void", txid=payout.txid)
            return
        # The payout first: if it is in a block, it won, whatever the void's row says.
        if await self._state(payout.txid) is TxState.CONFIRMED:
            await asyncio.to_thread(self._payout_won, payout, void)
            return
        if (
            void.status == payout_store.CONFIRMED
            or await self._state(void.txid) is TxState.CONFIRMED
        ):
            await asyncio.to_thread(self._void_won, payout, void)
            return
        if void.status == payout_store.CONFLICTED:
            await asyncio.to_thread(self._both_lost, payout, void)

    def _payout_won(self, payout: Payout, void: Payout) -> None:
        with self.db.write() as conn:
            now = unix_now()
            if not ops.set_status_from(
                conn, payout.txid, [ops.VOIDING], payout_store.CONFIRMED, now
            ):
                return
            paid = states.move_payout_deposits(
                conn, payout.txid, states.WAITING_CONFIRM, states.DONE, now
            )
            paid += states.move_payout_deposits(
                conn, payout.txid, states.WAITING_SEND, states.DONE, now, send_due=True
            )
            settled = payout_store.settle_deposits_paid_after_all(conn, payout.txid, now)
            events.paid_after_all(conn, settled, now)
            paid += len(settled)
            ops.set_status_from(
                conn,
                void.txid,
                [payout_store.SIGNED, payout_store.BROADCAST],
                payout_store.CONFLICTED,
                now,
                f"payout {payout.txid} confirmed first",
            )
            ops.move_input_locks(conn, list(_inputs(void)), void.txid, payout.txid, now)
            outcome = f"failed: the payout confirmed before its void; {paid} deposit(s) paid by it"
            _record_outcome(conn, payout, void, now, outcome)
        log_event(
            log,
            logging.WARNING,
            "void failed: the payout confirmed first; its deposits are paid",
            watch=True,
            txid=payout.txid,
            void_txid=void.txid,
        )

    def _void_won(self, payout: Payout, void: Payout) -> None:
        with self.db.write() as conn:
            now = unix_now()
            # The void is in a block and spends an input of the payout: the payout can never
            # confirm. Only now are its deposits paid again (by a new payout, signed fresh).
            if not ops.set_status_from(conn, payout.txid, [ops.VOIDING], ops.VOIDED, now):
                return
            ops.set_status_from(
                conn,
                void.txid,
                [payout_store.SIGNED, payout_store.BROADCAST],
                payout_store.CONFIRMED,
                now,
            )
            back = states.back_after_void(conn, payout.txid, now)
            _record_outcome(
                conn,
                payout,
                void,
                now,
                f"done: void confirmed; {len(back)} deposit(s) back to waiting_send",
            )
        for deposit_id in back:
            log_event(
                log,
                logging.INFO,
                "payout voided: deposit goes back to be paid",
                deposit_id=deposit_id,
                txid=payout.txid,
                void_txid=void.txid,
            )

    def _both_lost(self, payout: Payout, void: Payout) -> None:
        message = (
            f"payout {payout.txid} and its void {void.txid} can never confirm (their inputs"
            " were spent elsewhere): check the hot wallet and pay this deposit by hand"
        )
        with self.db.write() as conn:
            now = unix_now()
            if not ops.set_status_from(
                conn, payout.txid, [ops.VOIDING], payout_store.CONFLICTED, now, message
            ):
                return
            stopped = []
            for deposit in deposits_of_payout(conn, payout.txid):
                if deposit.status in (states.WAITING_SEND, states.WAITING_CONFIRM):
                    states.move(conn, deposit, states.DONE, now, error=message, sky_sent=0)
                    stopped.append(deposit.deposit_id)
            _record_outcome(
                conn,
                payout,
                void,
                now,
                "failed: the void and the payout can never confirm; check the wallet",
            )
        for deposit_id in stopped:
            log_event(
                log,
                logging.ERROR,
                "void failed: inputs spent elsewhere",
                watch=True,
                deposit_id=deposit_id,
                txid=payout.txid,
                void_txid=void.txid,
            )


def _record_outcome(conn: Connection, payout: Payout, void: Payout, now: int, outcome: str) -> None:
    """The audit row saying how the void of `payout` ended (written by the sender's watcher)."""
    ops.record_action(
        conn,
        at=now,
        actor=RESOLVER,
        action="payout.void",
        target=payout.txid,
        detail=f"void {void.txid}",
        outcome=outcome,
    )


def _inputs(payout: Payout) -> tuple[str, ...]:
    return tuple(payout_inputs(payout))
