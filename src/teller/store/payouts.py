"""Queries on payouts: signed SKY transactions, stored before they are broadcast."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import Connection, and_, insert, select, update

from teller.store.models import Payout
from teller.store.tables import payouts as t

SIGNED = "signed"  # stored, maybe broadcast already (a crash may have hit before the commit)
BROADCAST = "broadcast"  # accepted by the node; waiting for a block
CONFIRMED = "confirmed"
CONFLICTED = "conflicted"  # can never confirm: its inputs were spent elsewhere


def insert_payout(
    conn: Connection,
    *,
    txid: str,
    raw_tx: str,
    inputs: Sequence[str],
    total_droplets: int,
    now: int,
) -> None:
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


def record_payout_error(conn: Connection, txid: str, error: str, now: int) -> None:
    conn.execute(
        update(t)
        .where(t.c.txid == txid)
        .values(attempts=t.c.attempts + 1, last_error=error, updated_at=now)
    )
