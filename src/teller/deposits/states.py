"""Deposit statuses and the transitions allowed between them (DESIGN.md §3).

Every status change in teller goes through one of the functions at the end of this module:
`move` (one deposit), `move_each` (many deposits, one batched statement) or
`move_payout_deposits` (the deposits of one payout, one statement). Each checks the transition with
`check_transition` before writing, and writes with a compare-and-set on the status it
expects, so a step taken from the wrong status fails loudly instead of silently re-paying or
skipping a deposit.

Each of them also queues, in the same transaction, the webhook events the change reports
(deposits/events.py: sky.sent, deposit.done, deposit.errored), so a committed change is
never left unreported, and an event never reports a change that was rolled back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from sqlalchemy import Connection

from teller.deposits import events
from teller.errors import InvalidTransition, InvalidValue
from teller.store import deposits as store
from teller.store.models import Deposit
from teller.store.operator_actions import back_to_waiting_send

WAITING_DEPOSIT: Final = "waiting_deposit"  # bound address, no deposit yet (never stored)
WAITING_DECIDE: Final = "waiting_decide"
WAITING_PASSTHROUGH: Final = "waiting_passthrough"
WAITING_PASSTHROUGH_ORDER_COMPLETE: Final = "waiting_passthrough_order_complete"
WAITING_SEND: Final = "waiting_send"
WAITING_CONFIRM: Final = "waiting_confirm"
DONE: Final = "done"

# The order in which the admin API documents them.
ALL_STATUSES: Final = (
    WAITING_DEPOSIT,
    WAITING_SEND,
    WAITING_CONFIRM,
    DONE,
    WAITING_DECIDE,
    WAITING_PASSTHROUGH,
    WAITING_PASSTHROUGH_ORDER_COMPLETE,
)

BUY_DIRECT: Final = "direct"
BUY_PASSTHROUGH: Final = "passthrough"
BUY_METHODS: Final = (BUY_DIRECT, BUY_PASSTHROUGH)


# Error text of a deposit too small to pay anything (the original's wording).
ERR_SEND_AMOUNT_ZERO: Final = "Skycoin send amount is 0"

_ALLOWED: Final[dict[str, frozenset[str]]] = {
    WAITING_DECIDE: frozenset({WAITING_SEND, WAITING_PASSTHROUGH, DONE}),
    WAITING_PASSTHROUGH: frozenset({WAITING_PASSTHROUGH_ORDER_COMPLETE, WAITING_SEND, DONE}),
    WAITING_PASSTHROUGH_ORDER_COMPLETE: frozenset({WAITING_PASSTHROUGH, WAITING_SEND, DONE}),
    WAITING_SEND: frozenset({WAITING_CONFIRM, DONE}),
    WAITING_CONFIRM: frozenset({DONE}),
    DONE: frozenset(),
}


def is_stored_status(status: str) -> bool:
    """True for the statuses a deposit row can have (all but waiting_deposit)."""
    return status in _ALLOWED


def check_transition(current: str, new: str) -> None:
    """Raise InvalidTransition unless a deposit may move from `current` to `new`."""
    if new not in _ALLOWED.get(current, frozenset()):
        raise InvalidTransition(f"deposit cannot move from {current!r} to {new!r}")


def move(conn: Connection, deposit: Deposit, new_status: str, now: int, **values: Any) -> None:
    """Advance `deposit` to `new_status` (and set `values`) if it is still where we read it.

    The transition is checked against the state machine, then written with a compare-and-set
    on the status read (StaleStatus otherwise).
    """
    check_transition(deposit.status, new_status)
    store.update_deposit(conn, deposit.deposit_id, deposit.status, now, status=new_status, **values)
    announce(conn, [(deposit.deposit_id, deposit.status)], now)


def move_each(
    conn: Connection,
    moves: Sequence[tuple[Deposit, str, Mapping[str, Any]]],
    now: int,
) -> None:
    """`move` for many deposits at once: each (deposit, new_status, values) of `moves`.

    Every transition is checked before anything is written; then each deposit is written
    with the same compare-and-set on the status it was read in, all in one batched statement
    (one per distinct set of value names).
    If any deposit was no longer in that status, StaleStatus is raised and the caller's
    transaction must not commit (a `Database.write` block rolls back on it): then none of
    the moves stands and the caller's next round re-reads them all.
    """
    for deposit, new_status, values in moves:
        check_transition(deposit.status, new_status)
        if "status" in values:
            raise InvalidValue("the new status is given apart from the values")
    store.update_deposits(
        conn,
        [(d.deposit_id, d.status, {**values, "status": new}) for d, new, values in moves],
        now,
    )
    announce(conn, [(d.deposit_id, d.status) for d, _new, _values in moves], now)


def move_payout_deposits(
    conn: Connection,
    txid: str,
    expected_status: str,
    new_status: str,
    now: int,
    *,
    send_due: bool = False,
    **values: Any,
) -> int:
    """Move the deposits of payout `txid` from `expected_status` to `new_status`, in one go.

    The transition is checked once (it is the same for every deposit moved); the statement
    then moves only the payout's deposits still in `expected_status` (a compare-and-set on
    each row) and leaves the others alone. `send_due` records sky_sent = sky_due. Returns
    how many moved.
    """
    check_transition(expected_status, new_status)
    moving: list[tuple[str, str]] = []
    if events.announces_moves(conn):  # the payout's deposits this statement is to move
        moving = [
            (d.deposit_id, expected_status)
            for d in store.deposits_of_payout(conn, txid)
            if d.status == expected_status
        ]
    moved = store.move_payout_deposits(
        conn, txid, expected_status, new_status, now, send_due=send_due, **values
    )
    if moving:
        announce(conn, moving, now)
    return moved


def announce(conn: Connection, moved: Sequence[tuple[str, str]], now: int) -> None:
    """Queue the webhook events of deposits just moved: (deposit_id, status before) each,
    read again as the move left them. Nothing is read when no webhook takes such events.
    Called by the moves above, and by whatever moves a deposit in another way (a held
    deposit found paid: payout/earlier_payment.py), in the transaction of the move."""
    if not events.announces_moves(conn):
        return
    before = dict(moved)
    after = store.deposits_by_ids(conn, list(before))
    events.deposits_moved(conn, [(before[d.deposit_id], d) for d in after], now)


def back_after_void(conn: Connection, txid: str, now: int) -> list[str]:
    """The one step back of the state machine: the deposits of payout `txid` → waiting_send.

    Taken only by payout/void.py, in the transaction that records that the payout's void
    confirmed: the chain then proves the payout can never confirm (the void spent one of its
    inputs), so its deposits were never paid and are paid again by a new payout. Deposits
    in waiting_send or waiting_confirm, or done with nothing sent (stopped when the payout
    was taken for conflicted), still pointing at `txid`, go back unassigned. Their ids.
    """
    return back_to_waiting_send(conn, txid, now)
