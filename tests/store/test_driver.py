"""DriverStatement: a Core statement run on the driver's cursor, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, select

from teller.errors import InternalError
from teller.store.db import Database
from teller.store.driver import DriverStatement
from teller.store.pool import free_count_up_to, sync_pool, take_free_address
from teller.store.tables import deposit_addresses as t

ADDRESSES = ["a1", "a2", "a3"]

_FREE = DriverStatement(
    select(t.c.address)
    .where(t.c.coin_type == bindparam("coin"), t.c.bound_at.is_(None))
    .order_by(t.c.position)
    .limit(2)  # a value bound in the statement itself
)


def test_rows_take_the_callers_values_and_the_statements_own(db: Database) -> None:
    with db.write() as conn:
        sync_pool(conn, "BTC", ADDRESSES)
        assert _FREE.rows(conn, coin="BTC") == [("a1",), ("a2",)]
        assert take_free_address(conn, "BTC", 7) == "a1"  # an UPDATE's rowcount, then RETURNING
        assert _FREE.rows(conn, coin="BTC") == [("a2",), ("a3",)]  # in the same transaction
        assert free_count_up_to(conn, "BTC", 10) == 2
    with db.read() as conn:
        assert _FREE.rows(conn, coin="BTC") == [("a2",), ("a3",)]  # committed with it


def test_a_missing_value_is_an_error_not_a_null(db: Database) -> None:
    with db.read() as conn, pytest.raises(InternalError, match="no value for coin"):
        _FREE.rows(conn, coins="BTC")


def test_an_in_list_is_refused(db: Database) -> None:
    statement = DriverStatement(
        select(t.c.address).where(t.c.address.in_(bindparam("many", expanding=True)))
    )
    with db.read() as conn, pytest.raises(InternalError, match="IN list"):
        statement.rows(conn, many=["a1"])


def test_the_first_free_address_is_read_in_order_not_sorted(db: Database) -> None:
    """A bind's first free address comes from the partial index of free addresses, in
    position order, at any pool size: no sort of the whole free pool (PostgreSQL sorted every
    free address per bind before migration 0013)."""
    from teller.store import pool

    with db.write() as conn:
        sync_pool(conn, "BTC", [f"b{i}" for i in range(3000)])
        for now in range(500):
            take_free_address(conn, "BTC", now)
    with db.write() as conn:
        query = pool._FIRST_FREE.statement.params(coin="BTC")
        sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        if db.backend == "postgresql":
            conn.exec_driver_sql("ANALYZE deposit_addresses")
            plan = "\n".join(str(r[0]) for r in conn.exec_driver_sql("EXPLAIN " + sql).all())
            assert "ix_deposit_addresses_free" in plan and "Sort" not in plan, plan
        else:
            plan = "\n".join(
                str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql).all()
            )
            assert "TEMP B-TREE" not in plan, plan
        assert take_free_address(conn, "BTC", 1) == "b500"
