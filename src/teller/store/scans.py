"""Queries of the chain scanners (scanners/base.py): scanned blocks, watched addresses, orphans.

`scan_blocks` holds the last blocks a scanner scanned, per coin: the highest is the resume
point, the others are what a reorg is detected against. `orphaned_deposits` records every
deposit that had been handed to the exchange when a reorg took it off the chain, and what
teller did about it (the admin API lists them).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, or_, select, update

from teller.store.models import Deposit
from teller.store.tables import bindings, orphaned_deposits, scan_blocks, scan_floors
from teller.store.tables import deposits as dt


@dataclass(frozen=True, slots=True)
class ScannedBlock:
    height: int
    block_hash: str


@dataclass(frozen=True, slots=True)
class Orphan:
    deposit_id: str
    coin_type: str
    deposit_address: str
    value: int
    height: int
    block_hash: str
    fork_height: int
    status_then: str
    action: str
    detected_at: int
    back_height: int | None
    back_at: int | None


_LAST = (
    select(scan_blocks.c.height, scan_blocks.c.block_hash)
    .where(scan_blocks.c.coin_type == bindparam("coin"))
    .order_by(scan_blocks.c.height.desc())
    .limit(1)
)
_INSERT_BLOCK = insert(scan_blocks)
_PRUNE = delete(scan_blocks).where(
    and_(scan_blocks.c.coin_type == bindparam("coin"), scan_blocks.c.height < bindparam("below"))
)
_BOUND_SINCE = (
    select(bindings.c.id, bindings.c.coin_type, bindings.c.deposit_address)
    .where(bindings.c.id > bindparam("after"))
    .order_by(bindings.c.id)
)
_BOUND_SINCE_OR_IN = (
    select(bindings.c.id, bindings.c.coin_type, bindings.c.deposit_address)
    .where(
        or_(
            bindings.c.id > bindparam("after"),
            bindings.c.id.in_(bindparam("ids", expanding=True)),
        )
    )
    .order_by(bindings.c.id)
)


def last_scanned(conn: Connection, coin_type: str) -> ScannedBlock | None:
    """The highest block scanned for `coin_type` (the resume point), or None at first start."""
    row = conn.execute(_LAST, {"coin": coin_type}).first()
    return None if row is None else ScannedBlock(int(row[0]), row[1])


def scanned_blocks(conn: Connection, coin_type: str) -> list[ScannedBlock]:
    """Every stored block of `coin_type`, highest first."""
    rows = conn.execute(
        select(scan_blocks.c.height, scan_blocks.c.block_hash)
        .where(scan_blocks.c.coin_type == coin_type)
        .order_by(scan_blocks.c.height.desc())
    )
    return [ScannedBlock(int(h), b) for h, b in rows]


def record_blocks(
    conn: Connection, coin_type: str, blocks: list[ScannedBlock], now: int, keep: int
) -> None:
    """Store scanned blocks and forget those more than `keep` blocks below the newest."""
    if not blocks:
        return
    conn.execute(
        _INSERT_BLOCK,
        [
            {
                "coin_type": coin_type,
                "height": b.height,
                "block_hash": b.block_hash,
                "scanned_at": now,
            }
            for b in blocks
        ],
    )
    top = max(b.height for b in blocks)
    conn.execute(_PRUNE, {"coin": coin_type, "below": top - keep + 1})


def forget_blocks_above(conn: Connection, coin_type: str, height: int) -> int:
    """Drop the stored blocks above `height` (a reorg's fork point); returns how many."""
    result = conn.execute(
        delete(scan_blocks).where(
            and_(scan_blocks.c.coin_type == coin_type, scan_blocks.c.height > height)
        )
    )
    return int(result.rowcount)


def bound_since(
    conn: Connection, after_id: int, also_ids: Collection[int] = ()
) -> list[tuple[int, str, str]]:
    """(binding id, coin type, deposit address) of the bindings, of every coin, with an id
    above `after_id` or in `also_ids`, by id.

    Every coin's, so that a scanner learns which ids exist: on PostgreSQL ids are taken from
    a sequence when a binding is inserted, and two binds can commit in the other order, so an
    id below the highest seen may still appear (scanners/base.py keeps such ids in doubt).
    """
    if also_ids:
        rows = conn.execute(_BOUND_SINCE_OR_IN, {"after": after_id, "ids": sorted(also_ids)})
    else:
        rows = conn.execute(_BOUND_SINCE, {"after": after_id})
    return [(int(i), c, a) for i, c, a in rows]


def chain_deposits_above(conn: Connection, coin_type: str, height: int) -> list[Deposit]:
    """Deposits of `coin_type` a chain scanner recorded from blocks above `height` (reorg
    candidates); those from the dummy API (no block hash) are not."""
    rows = conn.execute(
        select(dt)
        .where(and_(dt.c.coin_type == coin_type, dt.c.height > height, dt.c.block_hash != ""))
        .order_by(dt.c.seq)
    )
    return [Deposit(*r) for r in rows]  # the columns are Deposit's fields, in order


def move_deposit_block(
    conn: Connection, deposit_id: str, height: int, block_hash: str, now: int
) -> None:
    """Record the block a reorg moved a deposit's transaction to (its status is untouched)."""
    conn.execute(
        update(dt)
        .where(dt.c.deposit_id == deposit_id)
        .values(height=height, block_hash=block_hash, updated_at=now)
    )


def stop_unpaid_deposit(conn: Connection, deposit: Deposit, error: str, now: int) -> bool:
    """Move a deposit no payout covers yet to done with `error`, if it is still as read.

    The compare-and-set covers status and payout: a sender that assigned a payout to it in
    the meantime wins (and its payout goes out), so this never half-stops a payout.
    """
    result = conn.execute(
        update(dt)
        .where(
            and_(
                dt.c.deposit_id == deposit.deposit_id,
                dt.c.status == deposit.status,
                dt.c.payout_txid.is_(None),
                dt.c.order_customer_id == "",
                dt.c.order_id == "",
            )
        )
        .values(status="done", error=error, updated_at=now)
    )
    return int(result.rowcount) == 1


def record_orphan(conn: Connection, orphan: Orphan) -> None:
    """Record (or re-record, after another reorg) a deposit a reorg took off the chain."""
    values: dict[str, Any] = {
        "deposit_id": orphan.deposit_id,
        "coin_type": orphan.coin_type,
        "deposit_address": orphan.deposit_address,
        "value": orphan.value,
        "height": orphan.height,
        "block_hash": orphan.block_hash,
        "fork_height": orphan.fork_height,
        "status_then": orphan.status_then,
        "action": orphan.action,
        "detected_at": orphan.detected_at,
        "back_height": None,
        "back_at": None,
    }
    conn.execute(
        delete(orphaned_deposits).where(orphaned_deposits.c.deposit_id == orphan.deposit_id)
    )
    conn.execute(insert(orphaned_deposits), values)


def open_orphan_ids(conn: Connection, coin_type: str) -> set[str]:
    """Ids of the orphaned deposits of `coin_type` not seen back on the chain since."""
    rows = conn.execute(
        select(orphaned_deposits.c.deposit_id).where(
            and_(
                orphaned_deposits.c.coin_type == coin_type,
                orphaned_deposits.c.back_height.is_(None),
            )
        )
    )
    return {r[0] for r in rows}


def get_orphan(conn: Connection, deposit_id: str) -> Orphan | None:
    row = conn.execute(
        select(orphaned_deposits).where(orphaned_deposits.c.deposit_id == deposit_id)
    ).first()
    return None if row is None else Orphan(*row)


def mark_orphan_back(
    conn: Connection, deposit_id: str, height: int, block_hash: str, now: int
) -> Orphan | None:
    """Record that an orphaned deposit is on the chain again, in block `height`, and move
    the deposit there (as `move_deposit_block`)."""
    conn.execute(
        update(orphaned_deposits)
        .where(orphaned_deposits.c.deposit_id == deposit_id)
        .values(back_height=height, back_at=now)
    )
    move_deposit_block(conn, deposit_id, height, block_hash, now)
    return get_orphan(conn, deposit_id)


def orphans(conn: Connection, coin_type: str | None = None) -> list[Orphan]:
    query = select(orphaned_deposits).order_by(orphaned_deposits.c.detected_at)
    if coin_type is not None:
        query = query.where(orphaned_deposits.c.coin_type == coin_type)
    return [Orphan(*r) for r in conn.execute(query)]


def count_orphans(conn: Connection) -> dict[str, int]:
    rows = conn.execute(
        select(orphaned_deposits.c.coin_type, func.count()).group_by(orphaned_deposits.c.coin_type)
    )
    return {coin: int(n) for coin, n in rows}


def scan_floor(conn: Connection, coin_type: str) -> int:
    """The lowest block `coin_type`'s scanner may scan (0: no floor)."""
    found = conn.execute(
        select(scan_floors.c.height).where(scan_floors.c.coin_type == coin_type)
    ).scalar_one_or_none()
    return int(found or 0)


def raise_scan_floor(conn: Connection, coin_type: str, height: int, reason: str, now: int) -> bool:
    """Make `height` the lowest block `coin_type`'s scanner may scan, unless the floor is
    already that high. True if the floor moved."""
    current = conn.execute(
        select(scan_floors.c.height).where(scan_floors.c.coin_type == coin_type)
    ).scalar_one_or_none()
    if current is not None and current >= height:
        return False
    values = {"height": height, "reason": reason, "set_at": now}
    if current is None:
        conn.execute(insert(scan_floors).values(coin_type=coin_type, **values))
    else:
        conn.execute(
            update(scan_floors).where(scan_floors.c.coin_type == coin_type).values(**values)
        )
    return True


def lowest_scanned(conn: Connection, coin_type: str) -> int | None:
    """The lowest block `coin_type`'s scanner has recorded (None: it never scanned). Deposits
    it found keep their height even after old scan_blocks rows are trimmed, so both count."""
    block = conn.execute(
        select(func.min(scan_blocks.c.height)).where(scan_blocks.c.coin_type == coin_type)
    ).scalar_one()
    deposit = conn.execute(
        select(func.min(dt.c.height)).where(dt.c.coin_type == coin_type, dt.c.block_hash != "")
    ).scalar_one()
    found = [int(h) for h in (block, deposit) if h is not None]
    return min(found) if found else None
