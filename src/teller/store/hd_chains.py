"""Queries on HD chains: the next derivation index, taken with the binding that uses it.

An HD-derived address is also a row of the pool table (deposit_addresses, hd_key = the
chain, position = its index), bound from the moment it is made: so the admin API, the Go
import and the uniqueness of (coin_type, address) treat it like any handed-out address.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, and_, bindparam, select, update

from teller.errors import InternalError
from teller.store.db import dialect_insert
from teller.store.tables import deposit_addresses as pool_t
from teller.store.tables import deposits as deposits_t
from teller.store.tables import hd_chains as t

MAX_INDEX = 2**31 - 1

_NEXT = (
    update(t)
    .where(t.c.key_id == bindparam("key"))
    .values(next_index=t.c.next_index + 1)
    .returning(t.c.next_index)
)
_CLAIM_LISTED = (
    update(pool_t)
    .where(
        and_(
            pool_t.c.coin_type == bindparam("coin"),
            pool_t.c.address == bindparam("addr"),
            pool_t.c.bound_at.is_(None),
        )
    )
    .values(bound_at=bindparam("now"))
)


def ensure_chain(conn: Connection, key_id: str, coin_type: str, key_type: str, now: int) -> int:
    """Create the chain's row at index 0 if it is new; returns its next index."""
    found = conn.execute(select(t.c.next_index).where(t.c.key_id == key_id)).scalar()
    if found is not None:
        return int(found)
    conn.execute(
        dialect_insert(conn, t)
        .values(key_id=key_id, coin_type=coin_type, key_type=key_type, next_index=0, created_at=now)
        .on_conflict_do_nothing(index_elements=[t.c.key_id])
    )
    return int(conn.execute(select(t.c.next_index).where(t.c.key_id == key_id)).scalar_one())


def take_hd_address(
    conn: Connection, key_id: str, coin_type: str, derive: Callable[[int], str], now: int
) -> str | None:
    """Derive the address at the chain's next index, record it bound, advance the index.

    Must run in the transaction that writes the binding: if that rolls back, so does the
    index. On PostgreSQL the UPDATE locks the chain's row until commit, so concurrent binds
    take indices one after the other. An address the store already knows (listed in an old
    address file, or imported from the Go teller) is used only if it is still free;
    otherwise its index is skipped. None: the chain is exhausted.
    """
    insert_new = dialect_insert(conn, pool_t)
    if next_index(conn, key_id) > MAX_INDEX:
        return None  # refused before writing anything (GroupCommit's rule for refusals)
    while True:
        taken = conn.execute(_NEXT, {"key": key_id}).scalar_one() - 1
        if taken > MAX_INDEX:
            raise InternalError(f"HD chain {key_id} ran out of indices while skipping")
        address = derive(taken)
        row = conn.execute(
            insert_new.values(
                coin_type=coin_type, address=address, position=taken, bound_at=now, hd_key=key_id
            )
            .on_conflict_do_nothing(index_elements=[pool_t.c.coin_type, pool_t.c.address])
            .returning(pool_t.c.id)
        ).first()
        if row is not None:
            return address
        if conn.execute(_CLAIM_LISTED, {"coin": coin_type, "addr": address, "now": now}).rowcount:
            return address


def next_index(conn: Connection, key_id: str) -> int:
    found = conn.execute(select(t.c.next_index).where(t.c.key_id == key_id)).scalar()
    return int(found or 0)


def funded_indices(conn: Connection, key_id: str) -> list[int]:
    """Indices of the chain's addresses that received at least one deposit."""
    funded = (
        select(pool_t.c.position)
        .where(pool_t.c.hd_key == key_id)
        .where(
            select(deposits_t.c.seq)
            .where(
                deposits_t.c.coin_type == pool_t.c.coin_type,
                deposits_t.c.deposit_address == pool_t.c.address,
            )
            .exists()
        )
    )
    return [int(i) for i in conn.execute(funded).scalars()]


def lock_chains(conn: Connection, key_ids: list[str]) -> None:
    """Lock the chains' rows (PostgreSQL; SQLite writers hold the database lock anyway).

    A bind must take these before any other lock (its SKY address's advisory lock): a
    group of binds holds the chain's row from its first HD address to its commit, so a
    transaction that took an advisory lock first and then waited for the row could close a
    deadlock cycle with it. Taken first, in key order, by every bind, the row lock orders
    all the others.
    """
    if conn.dialect.name != "postgresql" or not key_ids:
        return
    conn.execute(
        select(t.c.key_id)
        .where(t.c.key_id.in_(sorted(key_ids)))
        .order_by(t.c.key_id)
        .with_for_update()
    ).all()
