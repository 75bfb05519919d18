"""Deposit statuses and the transitions allowed between them (DESIGN.md §3).

Every status change in teller goes through `check_transition`, called by the store's one
update function, so a step taken from the wrong status fails loudly instead of silently
re-paying or skipping a deposit.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import Connection

from teller.store.deposits import update_deposit
from teller.store.models import Deposit

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

COIN_TYPES: Final = ("BTC", "ETH", "SKY")

# Error text of a deposit too small to pay anything (the original's wording).
ERR_SEND_AMOUNT_ZERO: Final = "Skycoin send amount is 0"

_ALLOWED: Final[dict[str, frozenset[str]]] = {
    WAITING_DECIDE: frozenset({WAITING_SEND, WAITING_PASSTHROUGH, DONE}),
    WAITING_PASSTHROUGH: frozenset({WAITING_PASSTHROUGH_ORDER_COMPLETE, DONE}),
    WAITING_PASSTHROUGH_ORDER_COMPLETE: frozenset({WAITING_PASSTHROUGH, WAITING_SEND, DONE}),
    WAITING_SEND: frozenset({WAITING_CONFIRM, DONE}),
    WAITING_CONFIRM: frozenset({DONE}),
    DONE: frozenset(),
}


def is_stored_status(status: str) -> bool:
    """True for the statuses a deposit row can have (all but waiting_deposit)."""
    return status in _ALLOWED


def check_transition(current: str, new: str) -> None:
    """Raise ValueError unless a deposit may move from `current` to `new`."""
    if new not in _ALLOWED.get(current, frozenset()):
        raise ValueError(f"deposit cannot move from {current!r} to {new!r}")


def move(conn: Connection, deposit: Deposit, new_status: str, now: int, **values: Any) -> None:
    """Advance `deposit` to `new_status` (and set `values`) if it is still where we read it.

    The one place a deposit's status changes: the transition is checked against the state
    machine, then written with a compare-and-set on the status read (StaleStatus otherwise).
    """
    check_transition(deposit.status, new_status)
    update_deposit(conn, deposit.deposit_id, deposit.status, now, status=new_status, **values)
