"""HD deposit addresses in use: binds take the next index in their own transaction, never
hand an address out twice (many binds at once, two teller processes on one store), skip
addresses the store already knows, and the admin API shows the index and the gap warning."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from teller.coins.xpub import HdChain, parse_key
from teller.deposits.binding import BindService
from teller.errors import BindError
from teller.store import tables
from teller.store.db import Database, create_store_engine
from teller.store.hd_chains import ensure_chain, next_index
from teller.store.pool import mark_address_used, sync_pool

from ..http.running_teller import StartTeller
from .test_derivation import ACCOUNTS, ZPUB

ETH_XPUB = (
    "xpub6DCoCpSuQZB2jawqnGMEPS63ePKWkwWPH4TU45Q7LPXWuNd8TMtVxRrgjtEshuqpK3mdhaWHPFsBngh5GFZaM6s"
    "i3yZdUsT8ddYM3PwnATt"
)
BUYERS = [
    "2Wbi4wvxC4fkTYMsS2f6HaFfW4pafDjXcQW",
    "hs1pyuNgxDLyLaZsnqzQG9U3DKdJsbzNpn",
    "6bCydnmFtHpZSL88McsynH3kNPDdaNxQpY",
]
NOW = 1_800_000_000
GAP = 20  # wallets stop scanning after this many unused addresses


@pytest.fixture
def chain() -> HdChain:
    return parse_key(ZPUB, "BTC")


def service(db: Database, chain: HdChain, max_bound: int = 0) -> BindService:
    with db.write() as conn:
        ensure_chain(conn, chain.key_id, "BTC", chain.key_type, NOW)
    return BindService(
        db,
        enabled_coins=frozenset({"BTC"}),
        bind_enabled=True,
        max_bound_addrs=max_bound,
        buy_method="direct",
        hd_chains={"BTC": chain},
    )


@pytest.fixture
def second_db(db_url: str) -> Iterator[Database]:
    """Another connection pool on the same store: a second teller process."""
    database = Database(create_store_engine(db_url))
    yield database
    database.dispose()


def test_many_binds_at_once_never_share_an_address(
    db: Database, second_db: Database, chain: HdChain
) -> None:
    replicas = [service(db, chain), service(second_db, chain)]
    total = 48
    start = threading.Barrier(12)

    def bind(i: int) -> str:
        if i < 12:
            start.wait()  # the first dozen all at once
        return replicas[i % 2].bind(BUYERS[i % 3], "BTC").deposit_address

    with ThreadPoolExecutor(max_workers=12) as pool:
        handed = list(pool.map(bind, range(total)))
    assert len(set(handed)) == total  # never twice
    assert set(handed) == set(chain.addresses(0, total))  # indices 0..47, none skipped
    with db.read() as conn:
        assert next_index(conn, chain.key_id) == total
        bound = conn.execute(select(tables.bindings.c.deposit_address)).scalars().all()
        hd_rows = conn.execute(
            select(func.count()).where(tables.deposit_addresses.c.hd_key == chain.key_id)
        ).scalar_one()
    assert sorted(bound) == sorted(handed) and hd_rows == total


def test_addresses_the_store_already_handed_out_are_skipped(db: Database, chain: HdChain) -> None:
    with db.write() as conn:
        # Index 0 was bound by the Go teller (imported), index 1 is listed free in an old file.
        mark_address_used(conn, "BTC", chain.address(0), NOW)
        sync_pool(conn, "BTC", [chain.address(1)])
    bind = service(db, chain)
    assert bind.bind(BUYERS[0], "BTC").deposit_address == chain.address(1)  # free: taken
    assert bind.bind(BUYERS[0], "BTC").deposit_address == chain.address(2)
    with db.read() as conn:
        assert next_index(conn, chain.key_id) == 3


def test_the_next_index_survives_a_restart(db_url: str, db: Database, chain: HdChain) -> None:
    assert service(db, chain).bind(BUYERS[0], "BTC").deposit_address == chain.address(0)
    db.dispose()
    restarted = Database(create_store_engine(db_url))
    try:
        assert service(restarted, chain).bind(BUYERS[1], "BTC").deposit_address == chain.address(1)
    finally:
        restarted.dispose()


def test_a_refused_bind_takes_no_index(db: Database, chain: HdChain) -> None:
    bind = service(db, chain, max_bound=1)
    assert bind.bind(BUYERS[0], "BTC").deposit_address == chain.address(0)
    with pytest.raises(BindError):
        bind.bind(BUYERS[0], "BTC")
    assert bind.bind(BUYERS[1], "BTC").deposit_address == chain.address(1)


def test_teller_with_xpubs_binds_derived_addresses_and_warns_of_the_gap(
    start_teller: StartTeller,
) -> None:
    tel = start_teller(
        max_bound_addrs=0,
        overrides={
            "btc_xpub": ZPUB,
            "eth_xpub": ETH_XPUB,
            "btc_addresses": "",
            "eth_addresses": "",
        },
    )
    btc = [tel.bind_ok(BUYERS[i % 3]) for i in range(GAP + 1)]
    assert btc == parse_key(ZPUB, "BTC").addresses(0, GAP + 1)
    assert btc[0] == ACCOUNTS[0]["receive"][0]
    assert tel.bind_ok(BUYERS[0], "ETH") == "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"

    view = tel.admin_get("/api/deposit-addresses")
    assert view["BTC"]["remaining_addresses"] == 2**31 - (GAP + 1)
    assert view["BTC"]["hd"]["key_type"] == "zpub"
    assert view["BTC"]["hd"]["next_index"] == GAP + 1
    assert view["BTC"]["hd"]["longest_unfunded_run"] == GAP + 1
    assert "gap limit of 20" in view["BTC"]["hd"]["gap_limit_warning"]
    assert view["ETH"]["hd"]["next_index"] == 1 and view["ETH"]["hd"]["gap_limit_warning"] == ""
    assert set(view["BTC"]["scanning_addresses"]) == set(btc)

    # A deposit to the last address: the run since it is gone, but the 20 before it remain
    # a gap a wallet will not scan past, so the warning stays.
    tel.deposit_ok(addr=btc[-1], value=100_000, height=1, tx="ab" * 32, n=0)
    tel.wait_for(
        lambda: tel.admin_get("/api/deposit-addresses")["BTC"]["hd"]["funded_addresses"] == 1,
        what="the deposit recorded",
    )
    hd = tel.admin_get("/api/deposit-addresses")["BTC"]["hd"]
    assert (hd["unfunded_since_last_deposit"], hd["longest_unfunded_run"]) == (0, GAP)
    assert hd["gap_limit_warning"].startswith("20 consecutive deposit addresses received nothing")
