"""Queries on bindings: which deposit address was handed to which SKY address."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, func, insert, select, text

from teller.store.driver import DriverStatement
from teller.store.models import Binding
from teller.store.tables import bindings as t


def lock_sky_address(conn: Connection, sky_address: str) -> None:
    """Serialize binds for one SKY address until the end of the transaction.

    SQLite writers already hold the database lock (BEGIN IMMEDIATE); PostgreSQL takes a
    transaction-scoped advisory lock, so two concurrent binds cannot both pass the
    max_bound_addrs check.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": sky_address})


# Statements of the bind and status paths, built once (building them costs more than
# running them on SQLite); those a bind runs holding SQLite's writer lock on the driver's
# cursor (store/driver.py).
_COUNT_OF_SKY = DriverStatement(select(func.count()).where(t.c.sky_address == bindparam("sky")))
_OF_SKY = select(t).where(t.c.sky_address == bindparam("sky")).order_by(t.c.id)
_BY_ADDRESS = select(t).where(
    t.c.coin_type == bindparam("coin"), t.c.deposit_address == bindparam("address")
)
_INSERT = DriverStatement(
    insert(t)
    .values(
        coin_type=bindparam("coin_type"),
        deposit_address=bindparam("deposit_address"),
        sky_address=bindparam("sky_address"),
        buy_method=bindparam("buy_method"),
        bound_at=bindparam("bound_at"),
    )
    .returning(t.c.id)
)


def count_bindings(conn: Connection, sky_address: str) -> int:
    return int(_COUNT_OF_SKY.rows(conn, sky=sky_address)[0][0])


def insert_binding(
    conn: Connection,
    *,
    coin_type: str,
    deposit_address: str,
    sky_address: str,
    buy_method: str,
    now: int,
) -> Binding:
    ((binding_id,),) = _INSERT.rows(
        conn,
        coin_type=coin_type,
        deposit_address=deposit_address,
        sky_address=sky_address,
        buy_method=buy_method,
        bound_at=now,
    )
    return Binding(int(binding_id), coin_type, deposit_address, sky_address, buy_method, now)


def find_binding(conn: Connection, coin_type: str, deposit_address: str) -> Binding | None:
    row = conn.execute(_BY_ADDRESS, {"coin": coin_type, "address": deposit_address}).first()
    return None if row is None else Binding.from_row(row)


def bindings_of(conn: Connection, sky_address: str) -> list[Binding]:
    rows = conn.execute(_OF_SKY, {"sky": sky_address}).all()
    return [Binding.from_row(r) for r in rows]


def bound_addresses(conn: Connection, coin_type: str) -> list[str]:
    rows = conn.execute(
        select(t.c.deposit_address).where(t.c.coin_type == coin_type).order_by(t.c.id)
    ).scalars()
    return list(rows)
