"""The store on SQLite and PostgreSQL: schema, exact amounts, the pool, the deposit queue."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select

from teller.store.bindings import bindings_of, count_bindings, insert_binding
from teller.store.db import Database
from teller.store.deposits import (
    StaleStatus,
    deposits_by_status,
    get_deposit,
    insert_deposit_if_new,
    move_payout_deposits,
    received_totals,
    status_tuples,
    update_deposit,
    update_deposits,
)
from teller.store.migrate import current_revision, head_revision, upgrade
from teller.store.models import Binding, Deposit, IncomingDeposit
from teller.store.payouts import (
    BROADCAST,
    SIGNED,
    insert_payout,
    payouts_by_status,
    set_payout_status,
)
from teller.store.pool import pool_usage, sync_pool, take_free_address
from teller.store.tables import deposits as deposits_table
from teller.store.tables import metadata

BIG_WEI = 2**200 + 12345  # far beyond 64 bits


def _bind(db: Database, coin: str = "BTC", sky: str = "sky1") -> Binding:
    with db.write() as conn:
        address = take_free_address(conn, coin, 100)
        assert address is not None
        return insert_binding(
            conn,
            coin_type=coin,
            deposit_address=address,
            sky_address=sky,
            buy_method="direct",
            now=100,
        )


def test_migrations_build_exactly_the_declared_schema(db: Database) -> None:
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    assert current_revision(db.engine) == head_revision()
    upgrade(db.engine)  # running again at the next start changes nothing
    assert current_revision(db.engine) == head_revision()


def test_pool_hands_out_addresses_in_file_order_once(db: Database) -> None:
    with db.write() as conn:
        assert sync_pool(conn, "BTC", ["a1", "a2", "a3"]) == 3
    with db.write() as conn:
        assert take_free_address(conn, "BTC", 1) == "a1"
        assert take_free_address(conn, "BTC", 1) == "a2"
    with db.read() as conn:
        assert pool_usage(conn)["BTC"].remaining == 1


def test_pool_resync_keeps_handed_out_addresses_and_drops_free_ones_gone_from_file(
    db: Database,
) -> None:
    with db.write() as conn:
        sync_pool(conn, "BTC", ["a1", "a2", "a3"])
        take_free_address(conn, "BTC", 1)
    with db.write() as conn:
        assert sync_pool(conn, "BTC", ["a3", "a4", "a1"]) == 1
    with db.write() as conn:
        # a1 was handed out: never again, though the file lists it; a2 left the file.
        assert take_free_address(conn, "BTC", 2) == "a3"
        assert take_free_address(conn, "BTC", 2) == "a4"
        assert take_free_address(conn, "BTC", 2) is None


def test_a_rolled_back_bind_returns_the_address_to_the_pool(db: Database) -> None:
    with db.write() as conn:
        sync_pool(conn, "ETH", ["0xaa", "0xbb"])
    with pytest.raises(RuntimeError), db.write() as conn:
        assert take_free_address(conn, "ETH", 1) == "0xaa"
        raise RuntimeError("bind failed after taking the address")
    with db.write() as conn:
        assert take_free_address(conn, "ETH", 1) == "0xaa"


def test_concurrent_binds_never_share_an_address(db: Database) -> None:
    with db.write() as conn:
        sync_pool(conn, "BTC", [f"addr{i}" for i in range(60)])

    def bind(i: int) -> str:
        return _bind(db, "BTC", f"sky{i}").deposit_address

    with ThreadPoolExecutor(max_workers=8) as pool:
        handed = list(pool.map(bind, range(60)))
    assert sorted(handed) == sorted(f"addr{i}" for i in range(60))
    with db.read() as conn:
        assert pool_usage(conn)["BTC"].remaining == 0


def test_bindings_are_counted_across_coins(db: Database) -> None:
    with db.write() as conn:
        sync_pool(conn, "BTC", ["b1"])
        sync_pool(conn, "ETH", ["e1"])
    _bind(db, "BTC", "skyA")
    _bind(db, "ETH", "skyA")
    with db.read() as conn:
        assert count_bindings(conn, "skyA") == 2
        assert [b.coin_type for b in bindings_of(conn, "skyA")] == ["BTC", "ETH"]


def test_a_deposit_is_recorded_once_whatever_the_number_of_reports(db: Database) -> None:
    with db.write() as conn:
        sync_pool(conn, "ETH", ["0xaa"])
    binding = _bind(db, "ETH", "skyA")
    incoming = IncomingDeposit("ETH", "0xaa", BIG_WEI, 7, "0xtx", 3)
    with db.write() as conn:
        first, inserted = insert_deposit_if_new(conn, incoming, binding, 200)
    with db.write() as conn:
        again, inserted_again = insert_deposit_if_new(conn, incoming, binding, 300)
    assert inserted and not inserted_again
    assert first == again
    assert first.deposit_id == "0xtx:3" and first.status == "waiting_decide"
    assert first.value == BIG_WEI  # exact, though it needs 201 bits
    with db.read() as conn:
        assert received_totals(conn) == {"ETH": BIG_WEI}
        assert len(deposits_by_status(conn, "waiting_decide")) == 1


def test_status_updates_are_compare_and_set(db: Database) -> None:
    with db.write() as conn:
        sync_pool(conn, "BTC", ["b1"])
    binding = _bind(db)
    with db.write() as conn:
        insert_deposit_if_new(conn, IncomingDeposit("BTC", "b1", 5, 1, "t", 0), binding, 1)
    with db.write() as conn:
        update_deposit(conn, "t:0", "waiting_decide", 2, status="waiting_send", sky_due=9)
    with pytest.raises(StaleStatus), db.write() as conn:
        update_deposit(conn, "t:0", "waiting_decide", 3, status="done")
    with db.read() as conn:
        deposit = get_deposit(conn, "t:0")
    assert deposit is not None
    assert (deposit.status, deposit.sky_due, deposit.updated_at) == ("waiting_send", 9, 2)


def test_a_deposit_reported_again_keeps_what_was_first_recorded(db: Database) -> None:
    with db.write() as conn:
        sync_pool(conn, "BTC", ["b1"])
    binding = _bind(db)
    with db.write() as conn:
        first, inserted = insert_deposit_if_new(
            conn, IncomingDeposit("BTC", "b1", 5, 1, "t", 0), binding, 1
        )
    assert inserted and first.value == 5 and first.seq > 0
    with db.write() as conn:  # the same txid:n, reported with other figures
        again, inserted_again = insert_deposit_if_new(
            conn, IncomingDeposit("BTC", "b1", 999, 42, "t", 0), binding, 2
        )
    assert not inserted_again and again == first
    with db.read() as conn:
        assert get_deposit(conn, "t:0") == first  # what the insert returned is what is stored
        assert deposits_by_status(conn) == [first]
        by_name = Deposit.from_row(conn.execute(select(deposits_table)).one())
    assert by_name == first  # records built by position hold what from_row finds by name
    assert (type(first.value), type(first.order_final)) == (int, bool)


def _three_deposits(db: Database) -> None:
    with db.write() as conn:
        sync_pool(conn, "BTC", ["b1"])
    binding = _bind(db)
    with db.write() as conn:
        for i in range(3):
            insert_deposit_if_new(conn, IncomingDeposit("BTC", "b1", 5, 1, f"t{i}", 0), binding, 1)


def test_status_updates_refuse_names_that_are_no_settable_column(db: Database) -> None:
    _three_deposits(db)
    bad_names: list[dict[str, object]] = [{"sky_sen": 1}, {"seq": 9}, {"updated_at": 9}]
    for bad in bad_names:
        with pytest.raises(ValueError, match="not settable"), db.write() as conn:
            update_deposit(conn, "t0:0", "waiting_decide", 2, **bad)
    for bad in [*bad_names, {"deposit_id": "x:0"}]:
        with pytest.raises(ValueError, match="not settable"), db.write() as conn:
            update_deposits(conn, [("t0:0", "waiting_decide", bad)], 2)
    with db.read() as conn:
        assert get_deposit(conn, "t0:0") is not None


def test_batched_updates_are_compare_and_set_row_by_row_and_all_or_nothing(
    db: Database,
) -> None:
    _three_deposits(db)
    with db.write() as conn:
        update_deposit(conn, "t1:0", "waiting_decide", 2, status="done")
    changes = [
        (f"t{i}:0", "waiting_decide", {"status": "waiting_send", "sky_due": i + 1})
        for i in range(3)
    ]
    with pytest.raises(StaleStatus, match="1 of 3"), db.write() as conn:
        update_deposits(conn, changes, 3)
    with db.read() as conn:
        before = [get_deposit(conn, f"t{i}:0") for i in range(3)]
    assert [(d.status, d.sky_due) for d in before if d] == [
        ("waiting_decide", 0),
        ("done", 0),
        ("waiting_decide", 0),
    ]
    with db.write() as conn:
        update_deposits(conn, [changes[0], changes[2]], 4)
    with db.read() as conn:
        after = [get_deposit(conn, f"t{i}:0") for i in (0, 2)]
    assert [(d.status, d.sky_due, d.updated_at) for d in after if d] == [
        ("waiting_send", 1, 4),
        ("waiting_send", 3, 4),
    ]


def test_moving_a_payouts_deposits_sets_sky_sent_to_each_ones_due(db: Database) -> None:
    _three_deposits(db)
    with db.write() as conn:
        insert_payout(conn, txid="ab" * 32, raw_tx="00", inputs=[], total_droplets=5, now=1)
        for i in range(3):
            update_deposit(
                conn,
                f"t{i}:0",
                "waiting_decide",
                2,
                status="waiting_send",
                sky_due=10 * (i + 1),
                payout_txid="ab" * 32 if i < 2 else None,
            )
    with db.write() as conn:
        assert move_payout_deposits(conn, "ab" * 32, "waiting_decide", "done", 3) == 0
        moved = move_payout_deposits(
            conn, "ab" * 32, "waiting_send", "waiting_confirm", 3, send_due=True
        )
    assert moved == 2
    with db.read() as conn:
        rows = [get_deposit(conn, f"t{i}:0") for i in range(3)]
    assert [(d.status, d.sky_sent, d.updated_at) for d in rows if d] == [
        ("waiting_confirm", 10, 3),
        ("waiting_confirm", 20, 3),
        ("waiting_send", 0, 2),  # not the payout's: untouched
    ]
    with pytest.raises(ValueError, match="given as new_status"), db.write() as conn:
        move_payout_deposits(conn, "ab" * 32, "waiting_confirm", "done", 4, status="waiting_send")
    with pytest.raises(ValueError, match="sets sky_sent itself"), db.write() as conn:
        move_payout_deposits(
            conn, "ab" * 32, "waiting_confirm", "done", 4, send_due=True, sky_sent=1
        )


def test_payout_status_moves_only_from_the_expected_status(db: Database) -> None:
    with db.write() as conn:
        insert_payout(conn, txid="ab" * 32, raw_tx="00", inputs=["u1"], total_droplets=5, now=1)
    with db.write() as conn:
        assert set_payout_status(conn, "ab" * 32, SIGNED, BROADCAST, 2)
        assert not set_payout_status(conn, "ab" * 32, SIGNED, BROADCAST, 3)
    with db.read() as conn:
        [payout] = payouts_by_status(conn, BROADCAST)
    assert payout.inputs == '["u1"]' and payout.total_droplets == 5


def test_status_tuples_give_bindings_with_their_deposits_in_order(db: Database) -> None:
    """The hot /api/status read (one compiled query on the driver's own cursor, every backend):
    every binding of the SKY address, each with its deposits, amounts exact."""
    with db.write() as conn:
        sync_pool(conn, "BTC", ["b1", "b2"])
        sync_pool(conn, "ETH", ["e1"])
    first = _bind(db, "BTC", "skyA")
    _bind(db, "BTC", "skyA")
    eth = _bind(db, "ETH", "skyA")
    with db.write() as conn:
        insert_deposit_if_new(
            conn, IncomingDeposit("BTC", first.deposit_address, 7, 1, "t1", 0), first, 5
        )
        insert_deposit_if_new(
            conn, IncomingDeposit("ETH", eth.deposit_address, BIG_WEI, 1, "t2", 1), eth, 6
        )
        insert_deposit_if_new(
            conn, IncomingDeposit("BTC", first.deposit_address, 9, 1, "t3", 2), first, 7
        )
    with db.read_once() as conn:
        rows = status_tuples(conn, "skyA")
    # coin_type, status and value (text on SQLite, Decimal on PostgreSQL: exact either way)
    assert [(r[0], r[3], None if r[4] is None else int(r[4])) for r in rows] == [
        ("BTC", "waiting_decide", 7),
        ("BTC", "waiting_decide", 9),
        ("BTC", None, None),  # bound, nothing received yet
        ("ETH", "waiting_decide", BIG_WEI),
    ]
    with db.read_once() as conn:
        assert status_tuples(conn, "nobody") == []
