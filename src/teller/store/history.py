"""The dashboard's history: the hot wallet's balance and the pools' free addresses over time.

Place in the flow: written by the worker's sampler (audit/history.py), read by the admin API
(services/dashboard.py, GET /api/history). One row per sample of one series, keyed by
(series, at); rows older than the kept window are deleted as new ones are written, so the
table stays bounded (at most one row per series a minute, for 30 days).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, and_, delete, func, insert, select

from teller.store.tables import history_samples as t

HOT_WALLET = "hot_wallet"
POOL_PREFIX = "pool:"


def pool_series(coin_type: str) -> str:
    return f"{POOL_PREFIX}{coin_type}"


@dataclass(frozen=True, slots=True)
class Sample:
    series: str
    at: int
    value: int


def latest(conn: Connection) -> dict[str, Sample]:
    """The newest sample of each series."""
    newest = (
        select(t.c.series, func.max(t.c.at).label("at")).group_by(t.c.series).subquery("newest")
    )
    query = select(t.c.series, t.c.at, t.c.value).join(
        newest, and_(t.c.series == newest.c.series, t.c.at == newest.c.at)
    )
    return {r.series: Sample(r.series, r.at, r.value) for r in conn.execute(query)}


def record(conn: Connection, values: Mapping[str, int], at: int, keep_since: int) -> None:
    """Write one sample of each series in `values` at `at` (a second sample of a series in
    the same second is not written), and delete samples older than `keep_since`."""
    taken = set(
        conn.execute(select(t.c.series).where(and_(t.c.at == at, t.c.series.in_(values)))).scalars()
    )
    rows = [{"series": s, "at": at, "value": v} for s, v in values.items() if s not in taken]
    if rows:
        conn.execute(insert(t), rows)
    conn.execute(delete(t).where(t.c.at < keep_since))


def samples_since(conn: Connection, since: int) -> list[Sample]:
    """Every sample at or after `since`, by series then time."""
    query = select(t.c.series, t.c.at, t.c.value).where(t.c.at >= since)
    return [Sample(*r) for r in conn.execute(query.order_by(t.c.series, t.c.at))]
