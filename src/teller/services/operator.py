"""Operator actions (no SQL ever): void a stuck payout, resume payouts held by the audit, record a
payment made by hand, release a held deposit, stop a deposit. Each is one transaction with its
audit row.

Place in the flow: the CLI (`teller payout void|resume`, `teller deposit
record-payment|release|stop`)
and the admin API (http/admin.py) call one function each, with who acts (`actor`: the OS
user, or "admin-api"). Every action reads, checks, and commits with a compare-and-set on what
it read (store/operator_actions.py), so it never races the sender into paying twice; a
refused action changes nothing but its audit row ("refused: why"). What each refuses:

- void: anything but a payout of teller's that is signed, broadcast or conflicted and still
  has an unspent input (payout/void.py explains the order of its steps).
- resume: when the sender is not held (store/holds.py; the audit holds it when a transaction
  teller did not make spends from the hot wallet).
- record-payment: a deposit that is paid or in a payout that could still confirm (void that
  first), one not yet decided (no SKY owed known), a txid not confirmed on the node or paying
  the deposit's SKY address less than it owes. One txid may cover several deposits of the
  same SKY address only if it paid that address at least their sum (each recorded in turn);
  a txid of teller's own payouts is refused.
- release: a deposit that is not held, or done.
- stop: a deposit that is done, in a payout (void that first), or with an exchange order open.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from teller.clients.skycoin_node import SkyNodeError
from teller.clock import unix_now
from teller.deposits import states
from teller.errors import (
    ActionRefused,
    BadRequest,
    NotFound,
    SendTemporary,
    TellerError,
    Unavailable,
)
from teller.logs import log_event
from teller.money import format_droplets
from teller.payout.base import Payer
from teller.payout.skycoin_node import SkyNodePayer
from teller.payout.void import SignedVoid, check_voidable, sign_void
from teller.services import params
from teller.services.parts import Services
from teller.store import holds as hold_store
from teller.store import operator_actions as ops
from teller.store import payouts as payout_store
from teller.store.db import Database
from teller.store.deposits import StaleStatus, deposits_of_payout, get_deposit
from teller.store.models import Deposit, Payout
from teller.worker import Waker

log = logging.getLogger("teller.operator")

T = TypeVar("T")
ADMIN_ACTOR = "admin-api"
MAX_REASON = 500
MAX_ACTIONS = params.MAX_ACTIONS
# The audit-trail target of actions on all payouts (payout.resume: the audit-driven hold).
PAYOUTS_TARGET = "payouts"
# A deposit in a payout with one of these statuses was provably never paid by it.
_PAYOUT_IMPOSSIBLE = (payout_store.CONFLICTED, ops.VOIDED)


@dataclass
class OperatorContext:
    """What an action needs: the store, the payer (its node and wallet), the sender's waker."""

    db: Database
    payer: Payer | None  # None: actions that need no node (release, stop)
    sender_waker: Waker | None = None

    @classmethod
    def of(cls, parts: Services) -> OperatorContext:
        return cls(parts.db, parts.payer, parts.sender_waker)

    def node_payer(self, what: str) -> SkyNodePayer:
        if not isinstance(self.payer, SkyNodePayer):
            raise ActionRefused(f"{what} needs the Skycoin node payer (not dummy.sender)")
        return self.payer

    def wake_sender(self) -> None:
        if self.sender_waker is not None:
            self.sender_waker.wake()


def _txid(text: str) -> str:
    return params.txid("txid", text, "SKY")


async def _audited(
    ctx: OperatorContext,
    actor: str,
    action: str,
    target: str,
    detail: str,
    work: Callable[[], Awaitable[T]],
) -> T:
    """Run `work`; a refusal or failure is written to the audit trail, then raised."""
    try:
        return await work()
    except TellerError as exc:
        outcome = "failed" if isinstance(exc, Unavailable) else "refused"
        await asyncio.to_thread(_record, ctx.db, actor, action, target, detail, f"{outcome}: {exc}")
        raise


def _record(db: Database, actor: str, action: str, target: str, detail: str, outcome: str) -> None:
    with db.write() as conn:
        ops.record_action(
            conn, at=unix_now(), actor=actor, action=action, target=target[:200],
            detail=detail, outcome=outcome,
        )  # fmt: skip


def _node(call: Awaitable[T]) -> Awaitable[T]:
    async def ask() -> T:
        try:
            return await call
        except (SkyNodeError, SendTemporary) as exc:
            raise Unavailable(f"the Skycoin node cannot answer now: {exc}") from exc

    return ask()


# -- payout void ---------------------------------------------------------------------------------


async def void_payout(ctx: OperatorContext, txid_text: str, actor: str) -> dict[str, Any]:
    """Sign and store a void of a stuck payout; the sender broadcasts it and settles it.

    Returns at once (the payout is `voiding`); `void_progress` tells how it ends.
    """
    target = txid_text.strip().lower()[:64]

    def commit(payout: Payout, signed: SignedVoid) -> list[str]:
        with ctx.db.write() as conn:
            now = unix_now()
            try:
                # Compare-and-set on the status read before signing: a payout the sender
                # moved on meanwhile (confirmed) is not voided.
                ops.store_void(
                    conn, original=payout, void_txid=signed.txid, raw_tx=signed.raw_tx,
                    inputs=signed.inputs, total_droplets=signed.droplets, now=now,
                )  # fmt: skip
            except StaleStatus as exc:
                raise ActionRefused(f"payout {payout.txid} changed meanwhile; try again") from exc
            deposits = [d.deposit_id for d in deposits_of_payout(conn, payout.txid)]
            ops.record_action(
                conn, at=now, actor=actor, action="payout.void", target=payout.txid,
                detail=f"void {signed.txid} spends {len(signed.inputs)} input(s),"
                f" {format_droplets(signed.droplets)} SKY back to the wallet",
                outcome="requested: the sender broadcasts the void; deposits are paid again"
                " only once it confirms",
            )  # fmt: skip
        return deposits

    async def work() -> dict[str, Any]:
        txid = _txid(txid_text)
        payer = ctx.node_payer("voiding a payout")
        payout = check_voidable(await asyncio.to_thread(_read_payout, ctx.db, txid), txid)
        signed = await _node(sign_void(payer, payout))
        deposits = await asyncio.to_thread(commit, payout, signed)
        ctx.wake_sender()
        log_event(
            log, logging.WARNING, "payout void requested", watch=True, txid=txid,
            void_txid=signed.txid, actor=actor, deposits=len(deposits),
        )  # fmt: skip
        return {
            "payout": txid,
            "status": ops.VOIDING,
            "void_txid": signed.txid,
            "void_inputs": list(signed.inputs),
            "void_sky": format_droplets(signed.droplets),
            "deposits": deposits,
        }

    return await _audited(ctx, actor, "payout.void", target, "", work)


def _read_payout(db: Database, txid: str) -> Any:
    with db.read() as conn:
        return payout_store.get_payout(conn, txid)


async def void_progress(ctx: OperatorContext, txid_text: str) -> dict[str, Any]:
    """Where a void stands: the payout's status (voiding, then voided or confirmed), its
    void's, and its deposits'."""
    txid = _txid(txid_text)
    return await asyncio.to_thread(_progress, ctx.db, txid)


def _progress(db: Database, txid: str) -> dict[str, Any]:
    with db.read() as conn:
        payout = payout_store.get_payout(conn, txid)
        if payout is None:
            raise NotFound(f"no payout {txid}")
        void = ops.void_of(conn, txid)
        deposits = deposits_of_payout(conn, txid)
        actions = ops.recent_actions(conn, 1, target=txid)  # how it ended, once it did
    return {
        "payout": txid,
        "status": payout.status,
        "void_txid": void.txid if void else None,
        "void_status": void.status if void else None,
        "deposits": {d.deposit_id: d.status for d in deposits},
        "outcome": actions[0].outcome if actions else "",
    }


# -- payouts held by the audit -------------------------------------------------------------------


async def resume_payouts(ctx: OperatorContext, actor: str) -> dict[str, Any]:
    """Release the audit-driven hold: the sender signs new payouts again.

    The operator has checked the hot wallet (moved the coins to a new wallet if its key
    leaked, stopped the second teller). The spends released never hold the sender again; a
    spend found later holds it anew.
    """

    def commit() -> list[hold_store.PayoutHold]:
        with ctx.db.write() as conn:
            held = hold_store.payouts_held(conn)
            if not held:
                raise ActionRefused("payouts are not held")
            now = unix_now()
            hold_store.release_holds(conn, [h.spend_txid for h in held], actor, now)
            ops.record_action(
                conn, at=now, actor=actor, action="payout.resume", target=PAYOUTS_TARGET,
                detail="; ".join(f"{h.spend_txid}: {h.reason}" for h in held)[:2000],
                outcome=f"done: {len(held)} hold(s) released; new payouts are signed again",
            )  # fmt: skip
        return held

    async def work() -> dict[str, Any]:
        released = await asyncio.to_thread(commit)
        ctx.wake_sender()
        log_event(
            log, logging.WARNING, "payouts resumed by the operator", watch=True, actor=actor,
            spends=" ".join(h.spend_txid for h in released),
        )  # fmt: skip
        return {"held": False, "released": [h.spend_txid for h in released]}

    return await _audited(ctx, actor, "payout.resume", PAYOUTS_TARGET, "", work)


async def payout_holds(ctx: OperatorContext) -> dict[str, Any]:
    """The audit-driven hold: whether payouts are held, and the spends that held them."""
    return await asyncio.to_thread(_holds, ctx.db)


def _holds(db: Database) -> dict[str, Any]:
    with db.read() as conn:
        found = hold_store.all_holds(conn)
    return {
        "held": any(h.active for h in found),
        "holds": [
            {
                "spend_txid": h.spend_txid,
                "reason": h.reason,
                "found_at": h.found_at,
                "released_at": h.released_at,
                "released_by": h.released_by,
            }
            for h in found
        ],
    }


# -- deposits ------------------------------------------------------------------------------------


def _read_deposit(db: Database, deposit_id: str) -> tuple[Deposit, Any]:
    with db.read() as conn:
        deposit = get_deposit(conn, deposit_id)
        if deposit is None:
            raise NotFound(f"no deposit {deposit_id}")
        payout = payout_store.get_payout(conn, deposit.payout_txid) if deposit.payout_txid else None
    return deposit, payout


def _in_live_payout(deposit: Deposit, payout: Any) -> None:
    """ActionRefused if `deposit` is in a payout that could still pay it."""
    if deposit.payout_txid is not None and (
        payout is None or payout.status not in _PAYOUT_IMPOSSIBLE
    ):
        status = payout.status if payout is not None else "unknown"
        hint = (
            ""
            if status == payout_store.CONFIRMED
            else f": void it first (teller payout void {deposit.payout_txid})"
        )
        raise ActionRefused(
            f"deposit {deposit.deposit_id} is in payout {deposit.payout_txid} ({status}){hint}"
        )


async def record_payment(
    ctx: OperatorContext, deposit_id: str, txid_text: str, actor: str
) -> dict[str, Any]:
    """A payment made by hand: checked on the node, then the deposit is done with it."""
    deposit_id = deposit_id.strip()

    async def work() -> dict[str, Any]:
        params.deposit_id("deposit_id", deposit_id)  # refusals are audited too
        txid = _txid(txid_text)
        payer = ctx.node_payer("checking a payment")
        deposit, payout = await asyncio.to_thread(_read_deposit, ctx.db, deposit_id)
        _check_payable_by_hand(deposit, payout)
        others, total_owed = await asyncio.to_thread(_manual_claims, ctx.db, txid, deposit)
        paid = await _node(_paid_to(payer, txid, deposit.sky_address))
        if paid < total_owed:
            covered = f" with the {len(others)} deposit(s) it already pays" if others else ""
            raise ActionRefused(
                f"transaction {txid} paid {deposit.sky_address} {format_droplets(paid)} SKY;"
                f" deposit {deposit_id} is owed {format_droplets(deposit.sky_due)} SKY{covered}"
                f" ({format_droplets(total_owed)} SKY in all)"
            )

        def commit() -> None:
            with ctx.db.write() as conn:
                now = unix_now()
                existing = payout_store.get_payout(conn, txid)
                if existing is None:
                    ops.insert_manual_payout(conn, txid, paid, now)
                elif [d.deposit_id for d in deposits_of_payout(conn, txid)] != others:
                    raise ActionRefused(f"payment {txid} was recorded meanwhile; try again")
                if not ops.settle_by_hand(conn, deposit, txid, now):
                    raise ActionRefused(f"deposit {deposit_id} changed meanwhile; try again")
                states.announce(conn, [(deposit_id, deposit.status)], now)  # webhook events
                ops.record_action(
                    conn, at=now, actor=actor, action="deposit.record_payment", target=deposit_id,
                    detail=f"txid {txid} paid {deposit.sky_address} {format_droplets(paid)} SKY",
                    outcome=f"done: paid {format_droplets(deposit.sky_due)} SKY by hand",
                )  # fmt: skip

        await asyncio.to_thread(commit)
        log_event(
            log, logging.INFO, "payment made by hand recorded", deposit_id=deposit_id,
            txid=txid, sky_droplets=deposit.sky_due, actor=actor,
        )  # fmt: skip
        return {
            "deposit_id": deposit_id,
            "status": states.DONE,
            "txid": txid,
            "sky_sent": format_droplets(deposit.sky_due),
        }

    return await _audited(ctx, actor, "deposit.record_payment", deposit_id, txid_text, work)


def _check_payable_by_hand(deposit: Deposit, payout: Any) -> None:
    if deposit.sky_sent > 0 and deposit.status == states.DONE:
        raise ActionRefused(f"deposit {deposit.deposit_id} is paid already")
    _in_live_payout(deposit, payout)
    if deposit.status not in (states.WAITING_SEND, states.DONE):
        raise ActionRefused(
            f"deposit {deposit.deposit_id} is {deposit.status}: what it is owed is not decided"
        )
    if deposit.sky_due <= 0:
        raise ActionRefused(f"deposit {deposit.deposit_id} is owed no SKY")


def _manual_claims(db: Database, txid: str, deposit: Deposit) -> tuple[list[str], int]:
    """The deposits `txid` already pays and what all of them with `deposit` are owed."""
    with db.read() as conn:
        existing = payout_store.get_payout(conn, txid)
        if existing is None:
            return [], deposit.sky_due
        if existing.kind != ops.KIND_MANUAL:
            raise ActionRefused(f"{txid} is a {existing.kind} transaction of teller's own")
        others = deposits_of_payout(conn, txid)
    if any(d.sky_address != deposit.sky_address for d in others):
        raise ActionRefused(
            f"payment {txid} is recorded for deposits of another SKY address; one payment covers"
            " deposits of one address only"
        )
    return [d.deposit_id for d in others], deposit.sky_due + sum(d.sky_due for d in others)


async def _paid_to(payer: SkyNodePayer, txid: str, address: str) -> int:
    """Droplets confirmed transaction `txid` pays `address`; ActionRefused if not confirmed."""
    status = await payer.client.transaction_status(txid)
    if not status.confirmed:
        state = "unknown to the node" if not status.known else "not confirmed yet"
        raise ActionRefused(f"transaction {txid} is {state}")
    block = await payer.client.block(status.block_seq)
    for tx in block.transactions:
        if tx.txid == txid:
            return sum(o.droplets for o in tx.outputs if o.address == address)
    raise Unavailable(f"the node says {txid} is in block {status.block_seq}, which lacks it")


async def release(ctx: OperatorContext, deposit_id: str, actor: str) -> dict[str, Any]:
    """A held deposit goes on to be paid."""
    deposit_id = deposit_id.strip()

    async def work() -> dict[str, Any]:
        params.deposit_id("deposit_id", deposit_id)  # refusals are audited too
        deposit, _ = await asyncio.to_thread(_read_deposit, ctx.db, deposit_id)
        if deposit.status == states.DONE:
            raise ActionRefused(f"deposit {deposit_id} is done")
        if deposit.hold_reason is None:
            raise ActionRefused(f"deposit {deposit_id} is not held")

        def commit() -> None:
            with ctx.db.write() as conn:
                now = unix_now()
                if not ops.release_hold(conn, deposit_id, now):
                    raise ActionRefused(f"deposit {deposit_id} changed meanwhile; try again")
                ops.record_action(
                    conn, at=now, actor=actor, action="deposit.release", target=deposit_id,
                    detail=f"held: {deposit.hold_reason}", outcome="done: released",
                )  # fmt: skip

        await asyncio.to_thread(commit)
        ctx.wake_sender()
        log_event(log, logging.INFO, "held deposit released", deposit_id=deposit_id, actor=actor)
        return {"deposit_id": deposit_id, "status": deposit.status, "held": False}

    return await _audited(ctx, actor, "deposit.release", deposit_id, "", work)


async def stop(ctx: OperatorContext, deposit_id: str, reason: str, actor: str) -> dict[str, Any]:
    """A deposit → done with `reason`, never paid."""
    deposit_id = deposit_id.strip()
    reason = reason.strip()

    async def work() -> dict[str, Any]:
        params.deposit_id("deposit_id", deposit_id)  # refusals are audited too
        params.free_text("reason", reason, MAX_REASON)
        deposit, payout = await asyncio.to_thread(_read_deposit, ctx.db, deposit_id)
        if deposit.status == states.DONE:
            raise ActionRefused(f"deposit {deposit_id} is done already")
        _in_live_payout(deposit, payout)
        if deposit.status == states.WAITING_PASSTHROUGH_ORDER_COMPLETE:
            raise ActionRefused(
                f"deposit {deposit_id} has an exchange order open; wait until it is final"
            )
        states.check_transition(deposit.status, states.DONE)

        def commit() -> None:
            with ctx.db.write() as conn:
                now = unix_now()
                # Compare-and-set on status and "in no payout": the sender cannot have put it in
                # a payout between the read and this commit.
                if not ops.stop_deposit(conn, deposit, reason, now):
                    raise ActionRefused(f"deposit {deposit_id} changed meanwhile; try again")
                states.announce(conn, [(deposit_id, deposit.status)], now)  # deposit.errored
                ops.record_action(
                    conn, at=now, actor=actor, action="deposit.stop", target=deposit_id,
                    detail=reason, outcome=f"done: stopped ({deposit.status} → done, nothing sent)",
                )  # fmt: skip

        await asyncio.to_thread(commit)
        log_event(
            log, logging.WARNING, "deposit stopped by the operator", watch=True,
            deposit_id=deposit_id, reason=reason, actor=actor,
        )  # fmt: skip
        return {"deposit_id": deposit_id, "status": states.DONE, "error": reason}

    return await _audited(ctx, actor, "deposit.stop", deposit_id, reason, work)


async def actions(
    ctx: OperatorContext, limit: int = 100, target: str | None = None
) -> dict[str, Any]:
    """The audit trail, newest first (of one payout or deposit with `target`)."""
    if not 1 <= limit <= MAX_ACTIONS:
        raise BadRequest(f"limit must be between 1 and {MAX_ACTIONS}")
    if target is not None and target != PAYOUTS_TARGET:
        target = params.txid_or_deposit_id("target", target)
    return await asyncio.to_thread(_actions, ctx.db, limit, target)


def _actions(db: Database, limit: int, target: str | None) -> dict[str, Any]:
    with db.read() as conn:
        found = ops.recent_actions(conn, limit, target)
    return {
        "actions": [
            {
                "id": a.id,
                "at": a.at,
                "actor": a.actor,
                "action": a.action,
                "target": a.target,
                "detail": a.detail,
                "outcome": a.outcome,
            }
            for a in found
        ]
    }
