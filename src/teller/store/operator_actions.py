"""The operator's SQL: the audit trail, voids of payouts, and the deposit changes operators make.

Place in the flow: services/operator.py (the `teller payout void` / `teller deposit …`
commands and the admin API's actions) and payout/void.py (the sender's side of a void) call
these inside their one transaction per action. Every change here is a compare-and-set on
what the caller read (status, payout pointer, hold), so an action decided on an old read
changes nothing (the function returns False or raises StaleStatus) instead of overwriting
what the sender did in the meantime.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, and_, insert, or_, select, update

from teller.store.deposits import StaleStatus
from teller.store.models import Deposit, Payout, _FromRow
from teller.store.tables import deposits as d
from teller.store.tables import operator_actions as a
from teller.store.tables import payout_inputs as pi
from teller.store.tables import payouts as p

# payouts.kind
KIND_PAYOUT = "payout"
KIND_VOID = "void"
KIND_MANUAL = "manual"
# payouts.status of a payout being voided, and of one the chain proved can never confirm
# because its void confirmed. (The void row itself goes signed → broadcast → confirmed, or
# conflicted when the payout confirmed first, like any payout.)
VOIDING = "voiding"
VOIDED = "voided"


@dataclass(frozen=True, slots=True)
class OperatorAction(_FromRow):
    id: int
    at: int
    actor: str
    action: str
    target: str
    detail: str
    outcome: str


# -- the audit trail ---------------------------------------------------------------------------


def record_action(
    conn: Connection, *, at: int, actor: str, action: str, target: str, detail: str, outcome: str
) -> None:
    conn.execute(
        insert(a).values(
            at=at, actor=actor, action=action, target=target, detail=detail, outcome=outcome
        )
    )


def recent_actions(conn: Connection, limit: int, target: str | None = None) -> list[OperatorAction]:
    """The `limit` newest actions (of one payout or deposit with `target`), newest first."""
    query = select(a).order_by(a.c.id.desc()).limit(limit)
    if target is not None:
        query = query.where(a.c.target == target)
    return [OperatorAction.from_row(r) for r in conn.execute(query)]


# -- voids -------------------------------------------------------------------------------------


def store_void(
    conn: Connection,
    *,
    original: Payout,
    void_txid: str,
    raw_tx: str,
    inputs: Sequence[str],
    total_droplets: int,
    now: int,
) -> None:
    """Store a signed void of `original` and mark `original` voiding, in the caller's transaction.

    Compare-and-set on the status `original` was read in (StaleStatus if it moved on). The
    locks on the inputs the void spends (payout_inputs) pass from the payout to the void, so
    no new payout may choose them while either could still confirm.
    """
    result = conn.execute(
        update(p)
        .where(and_(p.c.txid == original.txid, p.c.status == original.status))
        .values(status=VOIDING, updated_at=now)
    )
    if result.rowcount != 1:
        raise StaleStatus(f"payout {original.txid} is no longer {original.status}")
    conn.execute(
        insert(p).values(
            txid=void_txid,
            raw_tx=raw_tx,
            inputs=json.dumps(list(inputs)),
            total_droplets=total_droplets,
            status="signed",
            kind=KIND_VOID,
            void_of=original.txid,
            created_at=now,
            updated_at=now,
        )
    )
    move_input_locks(conn, inputs, original.txid, void_txid, now)


def move_input_locks(
    conn: Connection, inputs: Sequence[str], from_txid: str, to_txid: str, now: int
) -> None:
    """Hand the locks on `inputs` from one payout to another (taking any that are free)."""
    for uxid in inputs:
        held = conn.execute(select(pi.c.txid).where(pi.c.uxid == uxid)).first()
        if held is None:
            conn.execute(insert(pi).values(uxid=uxid, txid=to_txid, created_at=now))
        elif held[0] == from_txid:
            conn.execute(update(pi).where(pi.c.uxid == uxid).values(txid=to_txid))


def void_of(conn: Connection, txid: str) -> Payout | None:
    """The void stored for payout `txid`, if any (at most one: a payout is voided once)."""
    row = conn.execute(select(p).where(and_(p.c.void_of == txid, p.c.kind == KIND_VOID))).first()
    return None if row is None else Payout.from_row(row)


def voiding_payouts(conn: Connection) -> list[Payout]:
    query = select(p).where(p.c.status == VOIDING).order_by(p.c.created_at, p.c.txid)
    return [Payout.from_row(r) for r in conn.execute(query)]


def set_status_from(
    conn: Connection, txid: str, expected: Sequence[str], new: str, now: int, error: str = ""
) -> bool:
    """Set a payout's status if it is one of `expected` (compare-and-set)."""
    result = conn.execute(
        update(p)
        .where(and_(p.c.txid == txid, p.c.status.in_(expected)))
        .values(status=new, updated_at=now, last_error=error)
    )
    return result.rowcount == 1


def back_to_waiting_send(conn: Connection, txid: str, now: int) -> list[str]:
    """The deposits of voided payout `txid` go back to waiting_send, unassigned. Their ids.

    Only deposits still pointing at `txid` with nothing sent on record: waiting_send,
    waiting_confirm (sent on record, but the void proved it never will be), or done with
    nothing sent (stopped when the payout was taken for conflicted). A deposit the operator
    has since paid by hand points at that payment instead and is left alone.
    """
    ids = [
        str(r[0])
        for r in conn.execute(
            select(d.c.deposit_id).where(
                and_(
                    d.c.payout_txid == txid,
                    or_(
                        d.c.status.in_(("waiting_send", "waiting_confirm")),
                        and_(d.c.status == "done", d.c.error != "", d.c.sky_sent == 0),
                    ),
                )
            )
        )
    ]
    if ids:
        conn.execute(
            update(d)
            .where(and_(d.c.payout_txid == txid, d.c.deposit_id.in_(ids)))
            .values(status="waiting_send", payout_txid=None, sky_sent=0, error="", updated_at=now)
        )
    return ids


# -- deposits ------------------------------------------------------------------------------------


def release_hold(conn: Connection, deposit_id: str, now: int) -> bool:
    """A held deposit (hold_reason set) may be paid again; False if it was not held."""
    result = conn.execute(
        update(d)
        .where(
            and_(d.c.deposit_id == deposit_id, d.c.hold_reason.is_not(None), d.c.status != "done")
        )
        .values(hold_reason=None, updated_at=now)
    )
    return result.rowcount == 1


def stop_deposit(conn: Connection, deposit: Deposit, reason: str, now: int) -> bool:
    """`deposit` → done with `reason`, nothing sent, if it is still as read and in no payout."""
    result = conn.execute(
        update(d)
        .where(
            and_(
                d.c.deposit_id == deposit.deposit_id,
                d.c.status == deposit.status,
                d.c.payout_txid.is_(None),
            )
        )
        .values(status="done", error=reason, sky_sent=0, updated_at=now)
    )
    return result.rowcount == 1


def settle_by_hand(conn: Connection, deposit: Deposit, txid: str, now: int) -> bool:
    """`deposit` → done, paid its sky_due by the hand-made payment `txid` (a manual payout row).

    Compare-and-set on its status, its payout pointer and nothing sent, as read.
    """
    same_payout = (
        d.c.payout_txid.is_(None)
        if deposit.payout_txid is None
        else d.c.payout_txid == deposit.payout_txid
    )
    result = conn.execute(
        update(d)
        .where(
            and_(
                d.c.deposit_id == deposit.deposit_id,
                d.c.status == deposit.status,
                d.c.sky_sent == 0,
                same_payout,
            )
        )
        .values(status="done", payout_txid=txid, sky_sent=d.c.sky_due, error="", updated_at=now)
    )
    return result.rowcount == 1


def insert_manual_payout(conn: Connection, txid: str, paid_droplets: int, now: int) -> None:
    """A payment made by hand, confirmed on the chain: no raw bytes, nothing to broadcast."""
    conn.execute(
        insert(p).values(
            txid=txid,
            raw_tx="",
            inputs="[]",
            total_droplets=paid_droplets,
            status="confirmed",
            kind=KIND_MANUAL,
            created_at=now,
            updated_at=now,
        )
    )
