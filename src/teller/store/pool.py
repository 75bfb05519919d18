"""Queries on the deposit address pool: loading the files' addresses, taking a free one."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, select, update

from teller.store.driver import DriverStatement
from teller.store.models import PoolUsage
from teller.store.tables import deposit_addresses as t


def sync_pool(conn: Connection, coin_type: str, addresses: Sequence[str]) -> int:
    """Make the free part of `coin_type`'s pool equal the file's list, in file order.

    Addresses already handed out stay recorded (they are history, and must never be handed
    out again even if the file still lists them). Returns how many addresses were added.
    """
    rows = conn.execute(
        select(t.c.id, t.c.address, t.c.bound_at).where(t.c.coin_type == coin_type)
    ).all()
    known = {r.address: r for r in rows}
    wanted = set(addresses)
    stale_free = [r.id for r in rows if r.bound_at is None and r.address not in wanted]
    if stale_free:
        conn.execute(delete(t).where(t.c.id.in_(stale_free)))
    new_rows = []
    for position, address in enumerate(addresses):
        row = known.get(address)
        if row is None:
            new_rows.append({"coin_type": coin_type, "address": address, "position": position})
        elif row.bound_at is None:
            conn.execute(update(t).where(t.c.id == row.id).values(position=position))
    if new_rows:
        conn.execute(insert(t), new_rows)
    return len(new_rows)


def take_free_address(conn: Connection, coin_type: str, now: int) -> str | None:
    """Mark the first free address of the pool as bound and return it (None: pool empty).

    Must run inside a write transaction together with the binding insert, so that a failed
    bind rolls the address back into the pool.
    """
    while True:
        rows = _FIRST_FREE.rows(conn, coin=coin_type)
        if not rows:
            return None
        row_id, address = rows[0]
        if _TAKE.run(conn, row_id=row_id, now=now) == 1:
            return str(address)


# On the driver's cursor (store/driver.py): a bind runs them holding SQLite's writer lock.
_FIRST_FREE = DriverStatement(
    select(t.c.id, t.c.address)
    .where(and_(t.c.coin_type == bindparam("coin"), t.c.bound_at.is_(None)))
    .order_by(t.c.position)
    .limit(1)
    .with_for_update(skip_locked=True)
)
_TAKE = DriverStatement(
    update(t)
    .where(and_(t.c.id == bindparam("row_id"), t.c.bound_at.is_(None)))
    .values(bound_at=bindparam("now"))
)


def mark_address_used(conn: Connection, coin_type: str, address: str, now: int) -> None:
    """Record `address` as handed out (adding it to the pool table if it is not listed)."""
    found = conn.execute(
        update(t)
        .where(and_(t.c.coin_type == coin_type, t.c.address == address))
        .values(bound_at=func.coalesce(t.c.bound_at, now))
    )
    if found.rowcount == 0:
        position = conn.execute(
            select(func.coalesce(func.max(t.c.position), -1) + 1).where(t.c.coin_type == coin_type)
        ).scalar_one()
        conn.execute(
            insert(t).values(coin_type=coin_type, address=address, position=position, bound_at=now)
        )


def pool_usage(conn: Connection) -> dict[str, PoolUsage]:
    total = func.count(t.c.id)
    remaining = func.count(t.c.id).filter(t.c.bound_at.is_(None))
    rows = conn.execute(select(t.c.coin_type, total, remaining).group_by(t.c.coin_type)).all()
    return {r[0]: PoolUsage(coin_type=r[0], total=r[1], remaining=r[2]) for r in rows}


_FREE = select(func.count()).where(t.c.coin_type == bindparam("coin"), t.c.bound_at.is_(None))


def free_counts(conn: Connection, coins: Iterable[str]) -> dict[str, int]:
    """Free addresses of each coin, counted on the (coin_type, bound_at) index: the cost is
    the free addresses', not the bound ones' (which grow with every bind): /api/health."""
    return {coin: int(conn.execute(_FREE, {"coin": coin}).scalar_one()) for coin in coins}


_FREE_UP_TO = DriverStatement(
    select(func.count()).select_from(
        select(t.c.id)
        .where(and_(t.c.coin_type == bindparam("coin"), t.c.bound_at.is_(None)))
        .limit(bindparam("most"))
        .subquery()
    )
)


def free_count_up_to(conn: Connection, coin_type: str, most: int) -> int:
    """Free addresses of `coin_type`, counted up to `most` (cheap on a large pool)."""
    return int(_FREE_UP_TO.rows(conn, coin=coin_type, most=most)[0][0])
