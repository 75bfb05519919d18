"""The dashboard's figures per UTC day: deposits recorded and SKY sent (GET /api/stats/daily).

Place in the flow: read-only, for services/dashboard.py. Each figure is one grouped query over
a range of an indexed timestamp (deposits.created_at, payouts.created_at), so its cost follows
the deposits of the days asked for, not the size of the table. A UTC day is `timestamp / 86400`
(integer division of a Unix time: days start at 00:00 UTC on both databases).

Sums are exact. PostgreSQL sums NUMERIC exactly; SQLite stores amounts as decimal text
(store/types.py) and has no integer wider than 64 bits, so there the text is cut into chunks
of 12 digits, each chunk summed as an integer (9.2 million rows of 10^12 fit in 63 bits) and
the chunks put back together in Python: one row per day and coin, never one per deposit.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Integer, and_, cast, func, select
from sqlalchemy.sql.elements import ColumnElement

from teller.store.tables import deposits as d
from teller.store.tables import payouts as p

DAY = 86_400
_CHUNK = 12  # digits per chunk on SQLite
_CHUNKS = 7  # 84 digits: more than any amount stored (NUMERIC(78, 0))


@dataclass(frozen=True, slots=True)
class DayCoin:
    """Deposits of one coin recorded on one UTC day (day: Unix time // 86400)."""

    day: int
    coin_type: str
    count: int
    value: int  # base units, exact


@dataclass(frozen=True, slots=True)
class DaySent:
    """SKY sent on one UTC day: deposits paid by payouts made that day."""

    day: int
    deposits: int
    droplets: int


def _day(column: ColumnElement[int]) -> ColumnElement[int]:
    return (column // DAY).label("day")


def deposits_per_day(conn: Connection, first_day: int, last_day: int) -> list[DayCoin]:
    """Deposits recorded per UTC day and coin, days first_day..last_day (both included)."""
    day = _day(d.c.created_at)
    in_range = and_(d.c.created_at >= first_day * DAY, d.c.created_at < (last_day + 1) * DAY)
    if conn.dialect.name == "sqlite":
        chunks = [
            func.sum(cast(func.substr(d.c.value, -_CHUNK * (k + 1), _CHUNK), Integer))
            for k in range(_CHUNKS)
        ]
    else:
        chunks = [func.sum(d.c.value)]
    query = (
        select(day, d.c.coin_type, func.count(), *chunks)
        .where(in_range)
        .group_by(day, d.c.coin_type)
        .order_by(day, d.c.coin_type)
    )
    found = []
    for row in conn.execute(query):
        sums = [int(s or 0) for s in row[3:]]
        value = sum(s * 10 ** (_CHUNK * k) for k, s in enumerate(sums))
        found.append(DayCoin(int(row[0]), str(row[1]), int(row[2]), value))
    return found


def sent_per_day(conn: Connection, first_day: int, last_day: int) -> list[DaySent]:
    """SKY sent per UTC day, days first_day..last_day: the sky_sent of deposits (as the
    accounting's total counts it), on the day their payout (or recorded payment) was made.

    The payouts of the range are found by their created_at index and their deposits by
    payout_txid's (a plain join lets SQLite scan every deposit instead)."""
    in_range = and_(p.c.created_at >= first_day * DAY, p.c.created_at < (last_day + 1) * DAY)
    of_range = select(p.c.txid).where(in_range)
    per_payout = (
        select(
            d.c.payout_txid.label("txid"),
            func.count().label("deposits"),
            func.sum(d.c.sky_sent).label("droplets"),
        )
        .where(and_(d.c.payout_txid.in_(of_range), d.c.sky_sent > 0))
        .group_by(d.c.payout_txid)
        .subquery("per_payout")
    )
    day = _day(p.c.created_at)
    query = (
        select(day, func.sum(per_payout.c.deposits), func.sum(per_payout.c.droplets))
        .select_from(p.join(per_payout, per_payout.c.txid == p.c.txid))
        .where(in_range)
        .group_by(day)
        .order_by(day)
    )
    return [DaySent(int(r[0]), int(r[1]), int(r[2] or 0)) for r in conn.execute(query)]
