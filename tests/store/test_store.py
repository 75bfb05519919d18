"""The store on SQLite and PostgreSQL: schema, exact amounts, the pool, the deposit queue."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from teller.store.bindings import bindings_of, count_bindings, insert_binding
from teller.store.db import Database
from teller.store.deposits import (
    StaleStatus,
    deposits_by_status,
    get_deposit,
    insert_deposit_if_new,
    received_totals,
    update_deposit,
)
from teller.store.migrate import current_revision, head_revision, upgrade
from teller.store.models import Binding, IncomingDeposit
from teller.store.payouts import (
    BROADCAST,
    SIGNED,
    insert_payout,
    payouts_by_status,
    set_payout_status,
)
from teller.store.pool import pool_usage, sync_pool, take_free_address
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


def test_payout_status_moves_only_from_the_expected_status(db: Database) -> None:
    with db.write() as conn:
        insert_payout(conn, txid="ab" * 32, raw_tx="00", inputs=["u1"], total_droplets=5, now=1)
    with db.write() as conn:
        assert set_payout_status(conn, "ab" * 32, SIGNED, BROADCAST, 2)
        assert not set_payout_status(conn, "ab" * 32, SIGNED, BROADCAST, 3)
    with db.read() as conn:
        [payout] = payouts_by_status(conn, BROADCAST)
    assert payout.inputs == '["u1"]' and payout.total_droplets == 5
