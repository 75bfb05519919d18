"""Queries on payouts: signed SKY transactions, stored before they are broadcast.

Every output a payout spends is locked by a row of payout_inputs written with the payout, in
the same transaction (`insert_payout`). Its primary key is the uxid, so two senders that chose
the same output (a worker hand-over while one of them was reading) cannot both store a payout:
the second one's transaction fails with InputsTaken and nothing of it is stored. Locks are never
released when a payout confirms or conflicts: a confirmed payout's inputs are spent on chain,
and a conflicted one's other inputs stay its own until an operator voids it (the void takes the
locks over: store/operator_actions.py), so no new payout and no void ever race for one output.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import Connection, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from teller.errors import StoreError
from teller.store.deposits import deposits_of_payout
from teller.store.models import Deposit, Payout
from teller.store.tables import deposits as d
from teller.store.tables import payout_inputs as locks
from teller.store.tables import payouts as t

SIGNED = "signed"  # stored, maybe broadcast already (a crash may have hit before the commit)
BROADCAST = "broadcast"  # accepted by the node; waiting for a block
CONFIRMED = "confirmed"
CONFLICTED = "conflicted"  # can never confirm: a synced node showed its inputs spent elsewhere


class InputsTaken(StoreError):
    """A payout was not stored: another stored payout spends one of its inputs (a lost race)."""


def insert_payout(
    conn: Connection,
    *,
    txid: str,
    raw_tx: str,
    inputs: Sequence[str],
    total_droplets: int,
    now: int,
) -> None:
    """Store a signed payout and lock the outputs it spends, in the caller's transaction.

    Raises InputsTaken when another stored payout already spends one of `inputs` (or has this
    txid): the caller's transaction must then roll back, so neither the payout nor any lock
    of it stands, and its deposits stay unassigned for a payout built on fresh outputs.
    """
    try:
        conn.execute(
            insert(t).values(
                txid=txid,
                raw_tx=raw_tx,
                inputs=json.dumps(list(inputs)),
                total_droplets=total_droplets,
                status=SIGNED,
                created_at=now,
                updated_at=now,
            )
        )
        if inputs:
            conn.execute(
                insert(locks), [{"uxid": u, "txid": txid, "created_at": now} for u in inputs]
            )
    except IntegrityError as exc:
        # Only the two primary keys can be violated here (payouts.txid, payout_inputs.uxid).
        raise InputsTaken(
            f"payout {txid} not stored: a stored payout already spends one of its inputs"
        ) from exc


def locked_inputs(conn: Connection) -> frozenset[str]:
    """Every output a stored payout spends (confirmed, pending or conflicted): never chosen
    by a new payout."""
    return frozenset(str(u) for u in conn.execute(select(locks.c.uxid)).scalars())


def inputs_of(conn: Connection, txid: str) -> list[str]:
    """The outputs locked for payout `txid`."""
    query = select(locks.c.uxid).where(locks.c.txid == txid).order_by(locks.c.uxid)
    return [str(u) for u in conn.execute(query).scalars()]


def insert_found_payout(conn: Connection, txid: str, droplets: int, status: str, now: int) -> None:
    """A payment found on the chain, made before teller ran (the Go teller's): no raw bytes
    (teller never signed it: nothing to re-send, only to watch) and no inputs on record.
    Raises InputsTaken if the txid is stored already."""
    try:
        conn.execute(
            insert(t).values(
                txid=txid,
                raw_tx="",
                inputs="[]",
                total_droplets=droplets,
                status=status,
                created_at=now,
                updated_at=now,
            )
        )
    except IntegrityError as exc:
        raise InputsTaken(f"payout {txid} is stored already") from exc


def known_txids(conn: Connection, txids: Sequence[str]) -> set[str]:
    """Those of `txids` that are stored payouts."""
    found: set[str] = set()
    unique = sorted(set(txids))
    for i in range(0, len(unique), 500):
        chunk = unique[i : i + 500]
        found.update(
            str(x) for x in conn.execute(select(t.c.txid).where(t.c.txid.in_(chunk))).scalars()
        )
    return found


def payouts_by_status(conn: Connection, *statuses: str) -> list[Payout]:
    query = select(t).where(t.c.status.in_(statuses)).order_by(t.c.created_at, t.c.txid)
    return [Payout.from_row(r) for r in conn.execute(query)]


def get_payout(conn: Connection, txid: str) -> Payout | None:
    row = conn.execute(select(t).where(t.c.txid == txid)).first()
    return None if row is None else Payout.from_row(row)


def set_payout_status(
    conn: Connection, txid: str, expected: str, new: str, now: int, last_error: str = ""
) -> bool:
    result = conn.execute(
        update(t)
        .where(and_(t.c.txid == txid, t.c.status == expected))
        .values(status=new, updated_at=now, last_error=last_error)
    )
    return result.rowcount == 1


def record_payout_error(conn: Connection, txid: str, error: str, now: int) -> Payout | None:
    """Count a failed broadcast (the first one's time is kept); the payout as it is now."""
    conn.execute(
        update(t)
        .where(t.c.txid == txid)
        .values(
            attempts=t.c.attempts + 1,
            last_error=error,
            updated_at=now,
            first_error_at=func.coalesce(t.c.first_error_at, now),
        )
    )
    return get_payout(conn, txid)


def settle_deposits_paid_after_all(conn: Connection, txid: str, now: int) -> list[Deposit]:
    """The deposits of payout `txid`, taken for conflicted, that it paid after all.

    When a payout was marked conflicted its deposits were stopped: done, nothing sent, an
    error for the operator. It confirmed, so the chain paid each the sky_due it was signed
    for: those still pointing at it with nothing sent get sky_sent = sky_due and the error
    cleared (a compare-and-set on exactly that, row by row). Returns those, as read before.
    """
    stopped = [x for x in deposits_of_payout(conn, txid) if x.status == "done" and x.sky_sent == 0]
    paid: list[Deposit] = []
    for deposit in stopped:
        result = conn.execute(
            update(d)
            .where(
                and_(
                    d.c.deposit_id == deposit.deposit_id,
                    d.c.payout_txid == txid,
                    d.c.status == "done",
                    d.c.sky_sent == 0,
                )
            )
            .values(sky_sent=d.c.sky_due, error="", updated_at=now)
        )
        if result.rowcount == 1:
            paid.append(deposit)
    return paid
