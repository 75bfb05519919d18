"""The audit-driven hold's SQL: spends of the hot wallet teller did not make, and whether they
still keep the sender from signing.

Place in the flow: audit/loop.py records a hold for each unknown spend it finds
(`hold_for_spend`); payout/sender.py asks `payouts_held` before it signs and again in the
transaction that stores a payout; services/operator.py (`teller payout resume`) releases them
in the transaction that writes its audit row. Keyed by the spend's txid, so recording the same
spend again (the next round, or after a crash lost the first round's log) changes nothing, and
a released spend never holds the sender again.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select, update

from teller.errors import StoreError
from teller.store.db import dialect_insert
from teller.store.models import _FromRow
from teller.store.tables import payout_holds as h


class PayoutsHeld(StoreError):
    """A payout was not stored: the audit-driven hold is on (its transaction rolls back)."""


@dataclass(frozen=True, slots=True)
class PayoutHold(_FromRow):
    spend_txid: str
    reason: str
    found_at: int
    released_at: int | None
    released_by: str

    @property
    def active(self) -> bool:
        return self.released_at is None


def hold_for_spend(conn: Connection, spend_txid: str, reason: str, now: int) -> bool:
    """Hold the sender for spend `spend_txid`; True if this spend was not recorded before
    (held or released: a spend the operator already released is not held again)."""
    inserted = conn.execute(
        dialect_insert(conn, h)
        .values(spend_txid=spend_txid, reason=reason, found_at=now)
        .on_conflict_do_nothing(index_elements=[h.c.spend_txid])
        .returning(h.c.spend_txid)
    ).first()
    return inserted is not None


def payouts_held(conn: Connection) -> list[PayoutHold]:
    """The holds not released, oldest first: while there is one, no new payout is signed."""
    query = select(h).where(h.c.released_at.is_(None)).order_by(h.c.found_at, h.c.spend_txid)
    return [PayoutHold.from_row(r) for r in conn.execute(query)]


def refuse_if_held(conn: Connection) -> None:
    """PayoutsHeld if the sender is held: called in the transaction that stores a payout, so a
    hold committed before that transaction began is never signed past."""
    held = payouts_held(conn)
    if held:
        raise PayoutsHeld(f"payouts held: {held[0].reason}")


def all_holds(conn: Connection, limit: int = 100) -> list[PayoutHold]:
    """The `limit` most recent holds, released or not, newest first."""
    query = select(h).order_by(h.c.found_at.desc(), h.c.spend_txid).limit(limit)
    return [PayoutHold.from_row(r) for r in conn.execute(query)]


def release_holds(conn: Connection, spend_txids: list[str], actor: str, now: int) -> int:
    """Release the holds of `spend_txids` that are still held (compare-and-set: only those
    the caller read as held). How many were released."""
    if not spend_txids:
        return 0
    result = conn.execute(
        update(h)
        .where(h.c.spend_txid.in_(spend_txids), h.c.released_at.is_(None))
        .values(released_at=now, released_by=actor)
    )
    return int(result.rowcount)
