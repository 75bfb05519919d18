"""Read-only queries of the audit (audit/loop.py): what teller's books say, to be compared with
what the chain nodes and the exchange say. Nothing here writes.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Connection, and_, func, select

from teller.store.models import ExchangeOrder, Payout
from teller.store.scans import open_orphan_ids
from teller.store.tables import deposits, exchange_orders, payouts

WAITING_SEND = "waiting_send"  # deposits/states.py's name (store/ may not import deposits/)


def all_payouts(conn: Connection) -> list[Payout]:
    """Every stored payout of any status or kind, oldest first."""
    query = select(payouts).order_by(payouts.c.created_at, payouts.c.txid)
    return [Payout.from_row(r) for r in conn.execute(query)]


def all_orders(conn: Connection) -> list[ExchangeOrder]:
    """Every stored exchange order, oldest first."""
    query = select(exchange_orders).order_by(
        exchange_orders.c.created_at, exchange_orders.c.client_id
    )
    return [ExchangeOrder.from_row(r) for r in conn.execute(query)]


def recorded_by_address(conn: Connection, coin_type: str, up_to_height: int) -> dict[str, int]:
    """Σ recorded deposit value per deposit address of `coin_type`, for deposits in blocks up
    to `up_to_height`, leaving out deposits a reorg removed that have not come back (their
    value is not on the chain). Summed in Python: SQLite stores wei as text."""
    gone = open_orphan_ids(conn, coin_type)
    query = select(deposits.c.deposit_id, deposits.c.deposit_address, deposits.c.value).where(
        and_(deposits.c.coin_type == coin_type, deposits.c.height <= up_to_height)
    )
    totals: dict[str, int] = defaultdict(int)
    for deposit_id, address, value in conn.execute(query):
        if deposit_id not in gone:
            totals[address] += int(value)
    return dict(totals)


def unpaid_sky_due(conn: Connection) -> int:
    """Droplets owed to deposits waiting to be paid that no stored payout covers yet."""
    query = select(func.coalesce(func.sum(deposits.c.sky_due), 0)).where(
        and_(deposits.c.status == WAITING_SEND, deposits.c.payout_txid.is_(None))
    )
    return int(conn.execute(query).scalar_one())
