"""Payments seen before they count: the seen_payments table (store/tables.py).

Place in the flow: each round a chain scanner (scanners/seen.py) works out every output paying
a bound address that it sees in the node's mempool or in a block without the confirmations
required yet, and `sync_seen` makes the coin's rows exactly that set, in one transaction: new
payments are inserted (returned, so that the scanner queues their payment.seen webhook events
in that transaction), changed ones
updated, and the rest deleted (recorded as a deposit meanwhile, dropped from the mempool, or
reorganized away). /api/status reads the rows with the SKY address's deposits
(store/deposits.py `status_tuples`). Nothing here is ever recorded as a deposit or paid: the block
loop (scanners/base.py) alone hands deposits on, once they have their confirmations.

The table is the one place every API process reads them from (the scanner runs in one process
only, its worker; /api/status may be answered by any process or replica).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from sqlalchemy import Connection, and_, delete, select, update

from teller.store.tables import deposits as d
from teller.store.tables import seen_payments as s


@dataclass(frozen=True, slots=True)
class SeenOutput:
    """What a scanner sees of one payment this round (store side: no timestamps yet)."""

    deposit_id: str  # "txid:n", the id its deposit will have
    deposit_address: str  # the bound address, as the bindings table holds it
    value: int  # base units (satoshi, wei, droplet), exact
    confirmations: int  # 0: in the mempool; k: in a block with k confirmations (tip = 1)


@dataclass(frozen=True, slots=True)
class SeenPayment:
    coin_type: str
    deposit_id: str
    deposit_address: str
    value: int
    confirmations: int
    seen_at: int
    updated_at: int


def sync_seen(
    conn: Connection, coin_type: str, seen: Iterable[SeenOutput], now: int
) -> list[SeenPayment]:
    """Make `coin_type`'s rows exactly `seen`, less the payments already recorded as deposits.

    A row already there keeps its seen_at; its updated_at moves only when its confirmations
    or value change. Returns the payments new this time: the caller queues their payment.seen
    events in the same transaction (scanners/seen.py).
    """
    wanted = {o.deposit_id: o for o in seen}
    if wanted:
        recorded = conn.execute(
            select(d.c.deposit_id).where(d.c.deposit_id.in_(list(wanted)))
        ).scalars()
        for deposit_id in recorded:
            del wanted[deposit_id]  # the block loop handed it on: a deposit now, not "seen"
    rows = {
        r.deposit_id: r
        for r in conn.execute(
            select(s.c.deposit_id, s.c.deposit_address, s.c.value, s.c.confirmations).where(
                s.c.coin_type == coin_type
            )
        )
    }
    gone = [deposit_id for deposit_id in rows if deposit_id not in wanted]
    if gone:
        conn.execute(delete(s).where(and_(s.c.coin_type == coin_type, s.c.deposit_id.in_(gone))))
    new: list[SeenPayment] = []
    for deposit_id, output in wanted.items():
        row = rows.get(deposit_id)
        if row is None:
            payment = SeenPayment(
                coin_type=coin_type,
                deposit_id=deposit_id,
                deposit_address=output.deposit_address,
                value=output.value,
                confirmations=output.confirmations,
                seen_at=now,
                updated_at=now,
            )
            conn.execute(s.insert().values(**asdict(payment)))
            new.append(payment)
        elif (row.confirmations, row.value) != (output.confirmations, output.value):
            conn.execute(
                update(s)
                .where(and_(s.c.coin_type == coin_type, s.c.deposit_id == deposit_id))
                .values(confirmations=output.confirmations, value=output.value, updated_at=now)
            )
    return new


def seen_payments(conn: Connection, coin_type: str | None = None) -> list[SeenPayment]:
    """The rows (of one coin, or all), in the order they were first seen."""
    query = select(
        s.c.coin_type,
        s.c.deposit_id,
        s.c.deposit_address,
        s.c.value,
        s.c.confirmations,
        s.c.seen_at,
        s.c.updated_at,
    ).order_by(s.c.seen_at, s.c.coin_type, s.c.deposit_id)
    if coin_type is not None:
        query = query.where(s.c.coin_type == coin_type)
    return [SeenPayment(*row) for row in conn.execute(query)]
