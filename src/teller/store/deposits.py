"""Queries on deposits: recording what scanners report and moving deposits between statuses.

The deposits table is the work queue (DESIGN.md §1): each stage selects the deposits in its
input status and commits the next status with a compare-and-set on the current one, so two
workers (or a worker and a restarted copy of itself) can never both advance one deposit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    Row,
    Select,
    String,
    Text,
    and_,
    bindparam,
    cast,
    exists,
    func,
    literal_column,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from teller.errors import InternalError, InvalidValue, StoreError
from teller.store.driver import DriverStatement
from teller.store.models import Binding, Deposit, IncomingDeposit
from teller.store.tables import bindings
from teller.store.tables import deposits as t
from teller.store.tables import seen_payments as seen

FIRST_STATUS = "waiting_decide"

# deposits.hold_reason of a deposit imported from the Go teller in waiting_send without a txid:
# the Go teller broadcast inside its Bolt transaction, so a crash after the broadcast left
# exactly this. The sender asks the node for an earlier payment before it pays such a deposit
# (payout/sender.py); until then it is held, like any deposit with a hold_reason.
HOLD_CHECK_EARLIER_PAYMENT = (
    "imported from the Go teller in waiting_send without a txid: the Go teller may have paid it"
    " before a crash; teller looks for that payment on the chain before paying"
)


class StaleStatus(StoreError):
    """The deposit was not in the expected status: another step got there first."""


# Deposit's fields are the deposits table's columns, in the same order (checked here, once):
# a whole row (select(t), RETURNING *t.c) becomes a record positionally, several times
# faster than by name with Deposit.from_row. Every query here reads whole rows.
if tuple(f.name for f in fields(Deposit)) != tuple(t.c.keys()):
    raise InternalError("Deposit's fields must be the deposits table's columns, in order")


def _deposit(row: Row[Any]) -> Deposit:
    return Deposit(*row)  # type: ignore[call-arg]  # the row holds every field, checked above


# Statements of the deposit path, built once: building a statement costs more than running
# it on SQLite. Values go in as parameters named after their columns (an INSERT's columns
# and an UPDATE's SET clause are taken from the parameters' names); the parameters of WHERE
# clauses are named so that they can never be taken for a column.
_INSERT_NEW: Final[dict[str, Any]] = {
    # RETURNING, not rowcount: psycopg reports no rowcount for INSERT … ON CONFLICT. It returns
    # the whole row, so a new deposit is not read again; no row means the id was known.
    name: dialect.insert(t).on_conflict_do_nothing(index_elements=[t.c.deposit_id]).returning(*t.c)
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}
_BY_ID = select(t).where(t.c.deposit_id == bindparam("where_deposit_id"))
# Compare-and-set: the row changes only if it is still in the status the caller read.
_SET_IF_STATUS = update(t).where(
    and_(
        t.c.deposit_id == bindparam("where_deposit_id"),
        t.c.status == bindparam("where_status"),
    )
)
_OF_PAYOUT_IN_STATUS = and_(
    t.c.payout_txid == bindparam("where_txid"), t.c.status == bindparam("where_status")
)
_SET_IF_PAYOUT_STATUS = update(t).where(_OF_PAYOUT_IN_STATUS)
_SEND_DUE_IF_PAYOUT_STATUS = _SET_IF_PAYOUT_STATUS.values(sky_sent=t.c.sky_due)
# A parameter that names no column would be ignored silently: refused instead.
_SETTABLE: Final = frozenset(t.c.keys()) - {"seq", "deposit_id", "updated_at"}


def _set_params(values: Mapping[str, Any], now: int, **where: Any) -> dict[str, Any]:
    """The parameters of an UPDATE setting `values` and updated_at, plus the WHERE's."""
    unknown = values.keys() - _SETTABLE
    if unknown:
        raise InvalidValue(f"not settable deposit columns: {', '.join(sorted(unknown))}")
    params = dict(values)
    params["updated_at"] = now
    params.update(where)
    return params


def insert_deposit_if_new(
    conn: Connection, incoming: IncomingDeposit, binding: Binding, now: int
) -> tuple[Deposit, bool]:
    """Record a deposit in waiting_decide, unless its id is known. Returns (row, inserted).

    Inserting the same "txid:n" twice is a no-op (ON CONFLICT DO NOTHING on the unique
    deposit_id): a deposit reported again (rescan, restart, a repeated dummy request) can never
    be paid twice. The stored row is returned either way: the new one, or the one recorded
    earlier (unchanged).
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
    row = conn.execute(_INSERT_NEW[conn.dialect.name], values).first()
    if row is not None:
        return _deposit(row), True
    found = get_deposit(conn, incoming.deposit_id)
    assert found is not None
    return found, False


def get_deposit(conn: Connection, deposit_id: str) -> Deposit | None:
    row = conn.execute(_BY_ID, {"where_deposit_id": deposit_id}).first()
    return None if row is None else _deposit(row)


def deposits_by_ids(conn: Connection, deposit_ids: Sequence[str]) -> list[Deposit]:
    """The deposits of `deposit_ids` that exist, in seq order (one statement)."""
    if not deposit_ids:
        return []
    query = select(t).where(t.c.deposit_id.in_(list(deposit_ids))).order_by(t.c.seq)
    return [_deposit(r) for r in conn.execute(query)]


def deposits_by_status(
    conn: Connection,
    status: str | None = None,
    limit: int | None = None,
    buy_method: str | None = None,
) -> list[Deposit]:
    query = select(t).order_by(t.c.seq)
    if status is not None:
        query = query.where(t.c.status == status)
    if buy_method is not None:
        query = query.where(t.c.buy_method == buy_method)
    if limit is not None:
        query = query.limit(limit)
    return [_deposit(r) for r in conn.execute(query)]


def find_deposits(
    conn: Connection,
    *,
    status: str | None = None,
    sky_address: str | None = None,
    deposit_id: str | None = None,
    last: int | None = None,
) -> list[Deposit]:
    """Deposits matching every filter given (admin search), in seq order; with `last`, only
    the `last` most recent of them."""
    query = select(t).order_by(t.c.seq.desc())
    query = _matching(query, status=status, sky_address=sky_address, deposit_id=deposit_id)
    if last is not None:
        query = query.limit(last)
    return [_deposit(r) for r in conn.execute(query)][::-1]


def unpaid_waiting_send(conn: Connection, limit: int) -> list[Deposit]:
    """Deposits to pay that no stored payout covers yet and nothing holds, oldest first."""
    query = (
        select(t)
        .where(
            and_(
                t.c.status == "waiting_send",
                t.c.payout_txid.is_(None),
                t.c.hold_reason.is_(None),
            )
        )
        .order_by(t.c.seq)
        .limit(limit)
    )
    return [_deposit(r) for r in conn.execute(query)]


# -- holds: deposits the sender must not pay (see HOLD_CHECK_EARLIER_PAYMENT) -----------------


def held_deposits(conn: Connection) -> list[Deposit]:
    """Deposits held from payment (hold_reason set) that are not done, oldest first."""
    query = (
        select(t).where(and_(t.c.hold_reason.is_not(None), t.c.status != "done")).order_by(t.c.seq)
    )
    return [_deposit(r) for r in conn.execute(query)]


def deposits_to_check(conn: Connection, limit: int) -> list[Deposit]:
    """Unpaid waiting_send deposits held until the chain is searched for an earlier payment."""
    query = (
        select(t)
        .where(
            and_(
                t.c.status == "waiting_send",
                t.c.payout_txid.is_(None),
                t.c.hold_reason == HOLD_CHECK_EARLIER_PAYMENT,
            )
        )
        .order_by(t.c.seq)
        .limit(limit)
    )
    return [_deposit(r) for r in conn.execute(query)]


def _held_as_read(deposit: Deposit) -> Any:
    """WHERE: the deposit is still unpaid waiting_send under the hold it was read with."""
    return and_(
        t.c.deposit_id == deposit.deposit_id,
        t.c.status == "waiting_send",
        t.c.payout_txid.is_(None),
        t.c.hold_reason == deposit.hold_reason,
    )


def change_hold(conn: Connection, deposit: Deposit, new_reason: str | None, now: int) -> None:
    """Replace the hold `deposit` was read with (None: it may be paid). Compare-and-set on
    that hold, its status and no payout: StaleStatus if any of them moved (an operator
    released it, another sender settled it)."""
    if deposit.hold_reason is None:
        raise InvalidValue(f"deposit {deposit.deposit_id} is not held")
    result = conn.execute(
        update(t).where(_held_as_read(deposit)).values(hold_reason=new_reason, updated_at=now)
    )
    if result.rowcount != 1:
        raise StaleStatus(f"deposit {deposit.deposit_id} is no longer held as it was read")


def settle_held(conn: Connection, deposit: Deposit, txid: str, new_status: str, now: int) -> None:
    """A held deposit found paid by `txid` (a stored payout row): it points at it, its hold
    is lifted, sky_sent = sky_due, and it moves to `new_status` (waiting_confirm or done; the
    caller checked the transition). Compare-and-set as `change_hold`."""
    if deposit.hold_reason is None:
        raise InvalidValue(f"deposit {deposit.deposit_id} is not held")
    result = conn.execute(
        update(t)
        .where(_held_as_read(deposit))
        .values(
            status=new_status,
            payout_txid=txid,
            sky_sent=t.c.sky_due,
            hold_reason=None,
            updated_at=now,
        )
    )
    if result.rowcount != 1:
        raise StaleStatus(f"deposit {deposit.deposit_id} is no longer held as it was read")


def deposits_of_payout(conn: Connection, txid: str) -> list[Deposit]:
    query = select(t).where(t.c.payout_txid == txid).order_by(t.c.seq)
    return [_deposit(r) for r in conn.execute(query)]


# Written as the partial index ix_deposits_errored's own condition, with the literal (a bound
# parameter would not let SQLite nor a generic PostgreSQL plan use that index).
_ERRORED = t.c.error != literal_column("''")


def errored_deposits(conn: Connection) -> list[Deposit]:
    return [_deposit(r) for r in conn.execute(select(t).where(_ERRORED).order_by(t.c.seq))]


def count_errored(conn: Connection) -> int:
    """Deposits with an error: read from the partial index, whatever the store's size."""
    return int(conn.execute(select(func.count()).select_from(t).where(_ERRORED)).scalar_one())


def has_deposits(conn: Connection, status: str, buy_method: str) -> bool:
    query = select(t.c.seq).where(t.c.status == status, t.c.buy_method == buy_method).limit(1)
    return conn.execute(query).first() is not None


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
    params = _set_params(values, now, where_deposit_id=deposit_id, where_status=expected_status)
    result = conn.execute(_SET_IF_STATUS, params)
    if result.rowcount != 1:
        raise StaleStatus(f"deposit {deposit_id} is no longer {expected_status}")


def update_deposits(
    conn: Connection, changes: Sequence[tuple[str, str, Mapping[str, Any]]], now: int
) -> None:
    """`update_deposit` for many deposits in one statement: all of them, or StaleStatus.

    `changes` holds (deposit_id, expected_status, values); each deposit is set only if it is
    still in its expected status (the same compare-and-set, row by row). If any one was not,
    StaleStatus is raised and the caller's transaction must be rolled back: none of the
    changes may stand, since which row missed cannot be told from a batch's row count.
    Changes whose `values` have different keys go in separate statements.
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for deposit_id, expected_status, values in changes:
        params = _set_params(values, now, where_deposit_id=deposit_id, where_status=expected_status)
        groups.setdefault(tuple(sorted(params)), []).append(params)
    for rows in groups.values():
        result = conn.execute(_SET_IF_STATUS, rows)
        if result.rowcount != len(rows):
            raise StaleStatus(
                f"{len(rows) - result.rowcount} of {len(rows)} deposits were no longer in the"
                " status they were read in"
            )


def assign_payout(conn: Connection, deposit_ids: list[str], txid: str, now: int) -> None:
    """Point waiting_send deposits at the stored payout that pays them (all or nothing)."""
    result = conn.execute(
        update(t)
        .where(
            and_(
                t.c.deposit_id.in_(deposit_ids),
                t.c.status == "waiting_send",
                t.c.payout_txid.is_(None),
                t.c.hold_reason.is_(None),  # a held deposit is never paid
            )
        )
        .values(payout_txid=txid, updated_at=now)
    )
    if result.rowcount != len(deposit_ids):
        raise StaleStatus(f"some deposits of payout {txid} were already assigned")


def move_payout_deposits(
    conn: Connection,
    txid: str,
    expected_status: str,
    new_status: str,
    now: int,
    *,
    send_due: bool = False,
    **values: Any,
) -> int:
    """Move the deposits of payout `txid` that are in `expected_status` to `new_status`.

    One statement for the whole payout, with the compare-and-set on each row's status:
    deposits of the payout in any other status are left alone. `send_due` also records
    sky_sent = sky_due (the payout pays each deposit exactly its sky_due). Returns how many
    deposits moved.
    """
    if "status" in values:
        raise InvalidValue("the new status is given as new_status")
    if send_due and "sky_sent" in values:
        raise InvalidValue("send_due sets sky_sent itself")
    statement = _SEND_DUE_IF_PAYOUT_STATUS if send_due else _SET_IF_PAYOUT_STATUS
    params = _set_params(
        {**values, "status": new_status}, now, where_txid=txid, where_status=expected_status
    )
    return int(conn.execute(statement, params).rowcount)


def received_totals(conn: Connection) -> dict[str, int]:
    """Sum of deposit values per coin, exact (summed in Python: SQLite stores them as text)."""
    totals: dict[str, int] = defaultdict(int)
    for coin, value in conn.execute(select(t.c.coin_type, t.c.value)):
        totals[coin] += value
    return dict(totals)


def sent_total(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.sum(t.c.sky_sent), 0))).scalar_one())


_STATUS_DEPOSITS = (
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
        bindings.c.id.label("binding_id"),
        literal_column("0").label("kind"),
        cast(null(), Integer).label("confirmations"),
        cast(null(), BigInteger).label("seen_at"),
        cast(null(), String).label("seen_id"),
    )
    .select_from(bindings.outerjoin(t, t.c.binding_id == bindings.c.id))
    .where(bindings.c.sky_address == bindparam("sky"))
)
# Payments to the address's deposit addresses seen before they count, less those recorded as
# deposits meanwhile (the scanner deletes their rows in its next round).
_STATUS_SEEN = (
    select(
        bindings.c.coin_type,
        bindings.c.bound_at,
        cast(null(), Integer),
        cast(null(), String),
        seen.c.value,
        cast(null(), BigInteger),
        cast(null(), String),
        cast(null(), Text),
        seen.c.updated_at,
        bindings.c.id,
        literal_column("1"),
        seen.c.confirmations,
        seen.c.seen_at,
        seen.c.deposit_id,
    )
    .select_from(
        bindings.join(
            seen,
            and_(
                seen.c.coin_type == bindings.c.coin_type,
                seen.c.deposit_address == bindings.c.deposit_address,
            ),
        )
    )
    .where(
        bindings.c.sky_address == bindparam("sky"),
        ~exists().where(t.c.deposit_id == seen.c.deposit_id),
    )
)
# One statement, so one snapshot on every backend (/api/status runs each statement on its own).
_STATUS_ROWS = union_all(_STATUS_DEPOSITS, _STATUS_SEEN).order_by(
    literal_column("binding_id"),
    literal_column("kind"),
    literal_column("seq"),
    literal_column("seen_at"),
    literal_column("seen_id"),
)


def status_tuples(conn: Connection, sky_address: str) -> list[tuple[Any, ...]]:
    """Every binding of `sky_address` with its deposits, then the payments to it seen before
    they count (seen_payments), in one statement (one snapshot), as the driver gives the rows:
    coin_type, bound_at, seq, status, value, sky_sent, payout_txid, error, updated_at,
    binding_id, the union's `kind` (0 deposit, 1 seen), confirmations (a seen payment's; 0:
    in the mempool), seen_at and the seen payment's id (amounts as text on SQLite, Decimal on
    PostgreSQL; None for a binding without deposits).

    The hottest read of teller (buyers' pages poll it): services/status.py shapes these
    straight into the answer. On every backend the statement, compiled once per dialect
    from the Core query above, runs on the driver's own cursor: SQLAlchemy's execution
    machinery costs ten times the query itself on SQLite (store/driver.py).
    """
    return _STATUS_STATEMENT.rows(conn, sky=sky_address)


_STATUS_STATEMENT = DriverStatement(_STATUS_ROWS)


def deposits_page(
    conn: Connection,
    *,
    limit: int,
    after: int | None = None,
    before: int | None = None,
    status: str | None = None,
    coin_type: str | None = None,
    sky_address: str | None = None,
    deposit_id: str | None = None,
) -> list[Deposit]:
    """One page of a keyset-paginated deposit list, matching every filter given: with `after`,
    the `limit` deposits with seq above it, oldest first (GET /api/deposits?after=); else the
    `limit` deposits with seq below `before` (None: the newest), newest first (the dashboard).

    The next page starts past the last seq of this one. Each page is an index range read (seq
    is the primary key; status, sky_address and coin_type have indexes ending in seq), so a
    page deep in a store of millions costs what the first does, unlike OFFSET, and deposits
    recorded meanwhile (higher seqs) neither shift nor repeat what follows."""
    query = select(t)
    if after is not None:
        query = query.where(t.c.seq > after).order_by(t.c.seq)
    else:
        query = query.order_by(t.c.seq.desc())
        if before is not None:
            query = query.where(t.c.seq < before)
    query = _matching(
        query, status=status, coin_type=coin_type, sky_address=sky_address, deposit_id=deposit_id
    )
    return [_deposit(r) for r in conn.execute(query.limit(limit))]


def _matching(query: Select[Any], **equal: str | None) -> Select[Any]:
    """`query` narrowed to the deposits whose columns equal each value given (None: any)."""
    for column, value in equal.items():
        if value is not None:
            query = query.where(t.c[column] == value)
    return query
