"""Queries on deposits: recording what scanners report and moving deposits between statuses.

The deposits table is the work queue (DESIGN.md §1): each stage selects the deposits in its
input status and commits the next status with a compare-and-set on the current one, so two
workers (or a worker and a restarted copy of itself) can never both advance one deposit.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from teller.store.models import Binding, Deposit, IncomingDeposit
from teller.store.tables import bindings
from teller.store.tables import deposits as t

FIRST_STATUS = "waiting_decide"


class StaleStatus(Exception):
    """The deposit was not in the expected status: another step got there first."""


def insert_deposit_if_new(
    conn: Connection, incoming: IncomingDeposit, binding: Binding, now: int
) -> tuple[Deposit, bool]:
    """Record a deposit in waiting_decide, unless its id is known. Returns (row, inserted).

    Inserting the same "txid:n" twice is a no-op: a deposit reported again (rescan,
    restart, a repeated dummy request) can never be paid twice.
    """
    values = {
        "deposit_id": incoming.deposit_id,
        "coin_type": incoming.coin_type,
        "deposit_address": incoming.address,
        "sky_address": binding.sky_address,
        "binding_id": binding.id,
        "tx": incoming.tx,
        "n": incoming.n,
        "value": incoming.value,
        "height": incoming.height,
        "block_hash": incoming.block_hash,
        "status": FIRST_STATUS,
        "buy_method": binding.buy_method,
        "created_at": now,
        "updated_at": now,
    }
    dialect_insert: Any = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = (
        dialect_insert(t)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["deposit_id"])
        .returning(t.c.seq)
    )
    # RETURNING, not rowcount: psycopg reports no rowcount for INSERT … ON CONFLICT.
    inserted = conn.execute(stmt).first() is not None
    found = get_deposit(conn, incoming.deposit_id)
    assert found is not None
    return found, inserted


def get_deposit(conn: Connection, deposit_id: str) -> Deposit | None:
    row = conn.execute(select(t).where(t.c.deposit_id == deposit_id)).first()
    return None if row is None else Deposit.from_row(row)


def deposits_by_status(
    conn: Connection, status: str | None = None, limit: int | None = None
) -> list[Deposit]:
    query = select(t).order_by(t.c.seq)
    if status is not None:
        query = query.where(t.c.status == status)
    if limit is not None:
        query = query.limit(limit)
    return [Deposit.from_row(r) for r in conn.execute(query)]


def unpaid_waiting_send(conn: Connection, limit: int) -> list[Deposit]:
    """Deposits to pay that no stored payout covers yet, oldest first."""
    query = (
        select(t)
        .where(and_(t.c.status == "waiting_send", t.c.payout_txid.is_(None)))
        .order_by(t.c.seq)
        .limit(limit)
    )
    return [Deposit.from_row(r) for r in conn.execute(query)]


def deposits_of_payout(conn: Connection, txid: str) -> list[Deposit]:
    query = select(t).where(t.c.payout_txid == txid).order_by(t.c.seq)
    return [Deposit.from_row(r) for r in conn.execute(query)]


_OF_SKY = select(t).where(t.c.sky_address == bindparam("sky")).order_by(t.c.seq)


def deposits_of_sky_address(conn: Connection, sky_address: str) -> list[Deposit]:
    return [Deposit.from_row(r) for r in conn.execute(_OF_SKY, {"sky": sky_address})]


def errored_deposits(conn: Connection) -> list[Deposit]:
    return [
        Deposit.from_row(r)
        for r in conn.execute(select(t).where(t.c.error != "").order_by(t.c.seq))
    ]


def count_errored(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).where(t.c.error != "")).scalar_one())


def count_by_status(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(t.c.status, func.count()).group_by(t.c.status)).all()
    return {r[0]: int(r[1]) for r in rows}


def update_deposit(
    conn: Connection, deposit_id: str, expected_status: str, now: int, **values: Any
) -> None:
    """Set `values` on a deposit that is still in `expected_status` (compare-and-set).

    Raises StaleStatus when the deposit is not in that status any more, so a step decided
    on an old read is dropped instead of overwriting newer progress.
    """
    result = conn.execute(
        update(t)
        .where(and_(t.c.deposit_id == deposit_id, t.c.status == expected_status))
        .values(updated_at=now, **values)
    )
    if result.rowcount != 1:
        raise StaleStatus(f"deposit {deposit_id} is no longer {expected_status}")


def assign_payout(conn: Connection, deposit_ids: list[str], txid: str, now: int) -> None:
    """Point waiting_send deposits at the stored payout that pays them (all or nothing)."""
    result = conn.execute(
        update(t)
        .where(
            and_(
                t.c.deposit_id.in_(deposit_ids),
                t.c.status == "waiting_send",
                t.c.payout_txid.is_(None),
            )
        )
        .values(payout_txid=txid, updated_at=now)
    )
    if result.rowcount != len(deposit_ids):
        raise StaleStatus(f"some deposits of payout {txid} were already assigned")


def move_payout_deposits(
    conn: Connection, txid: str, expected_status: str, now: int, **values: Any
) -> int:
    result = conn.execute(
        update(t)
        .where(and_(t.c.payout_txid == txid, t.c.status == expected_status))
        .values(updated_at=now, **values)
    )
    return int(result.rowcount)


def received_totals(conn: Connection) -> dict[str, int]:
    """Sum of deposit values per coin, exact (summed in Python: SQLite stores them as text)."""
    totals: dict[str, int] = defaultdict(int)
    for coin, value in conn.execute(select(t.c.coin_type, t.c.value)):
        totals[coin] += value
    return dict(totals)


def sent_total(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.sum(t.c.sky_sent), 0))).scalar_one())


@dataclass(frozen=True, slots=True)
class StatusRow:
    """One line of a SKY address's status: a binding, with one of its deposits or none."""

    coin_type: str
    bound_at: int
    seq: int | None
    status: str | None
    value: int | None
    sky_sent: int
    payout_txid: str | None
    error: str
    updated_at: int | None


_STATUS_ROWS = (
    select(
        bindings.c.coin_type,
        bindings.c.bound_at,
        t.c.seq,
        t.c.status,
        t.c.value,
        t.c.sky_sent,
        t.c.payout_txid,
        t.c.error,
        t.c.updated_at,
    )
    .select_from(bindings.outerjoin(t, t.c.binding_id == bindings.c.id))
    .where(bindings.c.sky_address == bindparam("sky"))
    .order_by(bindings.c.id, t.c.seq)
)


def status_rows(conn: Connection, sky_address: str) -> list[StatusRow]:
    """Every binding of `sky_address` with its deposits, in one statement (one snapshot)."""
    return [
        StatusRow(
            coin_type=r.coin_type,
            bound_at=r.bound_at,
            seq=r.seq,
            status=r.status,
            value=r.value,
            sky_sent=r.sky_sent or 0,
            payout_txid=r.payout_txid,
            error=r.error or "",
            updated_at=r.updated_at,
        )
        for r in conn.execute(_STATUS_ROWS, {"sky": sky_address})
    ]
