"""Queries on exchange orders: each stored under its client id before it is placed.

Place in the flow: passthrough/orders.py writes a row (state `placing`) in the transaction
that moves its deposit to waiting_passthrough_order_complete, places the order, records the
exchange's order id (`open`), and finally records the fills (`filled` or `failed`) in the
transaction that adds them to the deposit. Every change is a compare-and-set on the state
read, so two steps can never both record one order's fills.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import Connection, and_, insert, select, update

from teller.errors import InvalidValue
from teller.store.deposits import StaleStatus
from teller.store.models import ExchangeOrder
from teller.store.tables import exchange_orders as t

PLACING: Final = "placing"  # stored; maybe placed already (a crash may hit before the id)
OPEN: Final = "open"  # placed: the exchange's order id is known
CANCELLING: Final = "cancelling"  # the exchange accepted a cancel; its last fills to come
FILLED: Final = "filled"  # final: completed or cancelled, its fills recorded
FAILED: Final = "failed"  # final: expired or errored on the exchange, its fills recorded
REFUSED: Final = "refused"  # final: the exchange refused to place it (never on the book)
ABSENT: Final = "absent"  # final: an imported order the exchange does not know (never placed)

UNRESOLVED: Final = (PLACING, OPEN, CANCELLING)
FINAL: Final = (FILLED, FAILED, REFUSED, ABSENT)

LIMIT_BUY: Final = "limit_buy"
IMPORTED: Final = "imported"  # placed by the Go teller (a market buy under the deposit id)


def insert_order(
    conn: Connection,
    *,
    client_id: str,
    deposit_id: str,
    number: int,
    exchange: str,
    kind: str,
    price: str,
    volume: str,
    now: int,
    order_id: str = "",
    state: str = PLACING,
) -> ExchangeOrder:
    values = {
        "client_id": client_id,
        "deposit_id": deposit_id,
        "number": number,
        "exchange": exchange,
        "kind": kind,
        "order_id": order_id,
        "state": state,
        "price": price,
        "volume": volume,
        "created_at": now,
        "updated_at": now,
    }
    conn.execute(insert(t).values(**values))
    found = get_order(conn, client_id)
    assert found is not None
    return found


def get_order(conn: Connection, client_id: str) -> ExchangeOrder | None:
    row = conn.execute(select(t).where(t.c.client_id == client_id)).first()
    return None if row is None else ExchangeOrder.from_row(row)


def orders_of(conn: Connection, deposit_id: str) -> list[ExchangeOrder]:
    query = select(t).where(t.c.deposit_id == deposit_id).order_by(t.c.number)
    return [ExchangeOrder.from_row(r) for r in conn.execute(query)]


def orders_in(conn: Connection, deposit_ids: list[str]) -> dict[str, list[ExchangeOrder]]:
    """Every order of each deposit in `deposit_ids`, numbered order."""
    found: dict[str, list[ExchangeOrder]] = {d: [] for d in deposit_ids}
    if deposit_ids:
        query = select(t).where(t.c.deposit_id.in_(deposit_ids)).order_by(t.c.number)
        for row in conn.execute(query):
            order = ExchangeOrder.from_row(row)
            found[order.deposit_id].append(order)
    return found


def update_order(
    conn: Connection, client_id: str, expected_state: str, now: int, **values: Any
) -> None:
    """Set `values` on an order still in `expected_state` (compare-and-set), else StaleStatus."""
    if "client_id" in values or "deposit_id" in values:
        raise InvalidValue("an order's client id and deposit never change")
    result = conn.execute(
        update(t)
        .where(and_(t.c.client_id == client_id, t.c.state == expected_state))
        .values(**values, updated_at=now)
    )
    if result.rowcount != 1:
        raise StaleStatus(f"order {client_id} is no longer {expected_state}")


def recent_orders(conn: Connection, limit: int) -> list[ExchangeOrder]:
    """The `limit` most recently changed orders, most recent first (admin API)."""
    query = select(t).order_by(t.c.updated_at.desc(), t.c.client_id).limit(limit)
    return [ExchangeOrder.from_row(r) for r in conn.execute(query)]
