"""The history sampler (audit/history.py): the hot wallet's balance and the pools' free
addresses, written on change and at least every SAMPLE_SECONDS, kept KEEP_DAYS."""

from __future__ import annotations

import asyncio

from teller.audit.history import KEEP_DAYS, SAMPLE_SECONDS, HistorySampler
from teller.errors import Unavailable
from teller.store.db import Database
from teller.store.history import HOT_WALLET, pool_series, samples_since
from teller.store.pool import sync_pool, take_free_address

DAY = 86_400


class Wallet:
    def __init__(self) -> None:
        self.droplets = 1_000_000
        self.down = False

    async def balance(self) -> int:
        if self.down:
            raise Unavailable("node down")
        return self.droplets


def series(db: Database) -> list[tuple[str, int, int]]:
    with db.read() as conn:
        return [(s.series, s.at, s.value) for s in samples_since(conn, 0)]


def test_samples_on_change_and_when_due_and_prunes_old_ones(db: Database) -> None:
    with db.write() as conn:
        sync_pool(conn, "BTC", ["b1", "b2", "b3"])
    wallet = Wallet()
    now = [1_000_000]
    sampler = HistorySampler(db, wallet.balance, clock=lambda: now[0])

    def sample() -> bool:
        return asyncio.run(sampler.sample_once())

    assert sample()  # the first one
    start = now[0]
    now[0] += 60
    assert not sample()  # nothing changed, not due
    wallet.droplets = 900_000
    now[0] += 60
    assert sample()  # the balance changed
    with db.write() as conn:
        take_free_address(conn, "BTC", now[0])
    now[0] += 60
    assert sample()  # a pool changed
    now[0] += SAMPLE_SECONDS
    assert sample()  # due
    wallet.down = True
    now[0] += 60
    assert not sample()  # the balance unknown: the pools alone, unchanged
    wallet.droplets = 800_000
    wallet.down = False
    assert series(db) == [
        (HOT_WALLET, start, 1_000_000),
        (HOT_WALLET, start + 120, 900_000),
        (HOT_WALLET, start + 180, 900_000),
        (HOT_WALLET, start + 180 + SAMPLE_SECONDS, 900_000),
        (pool_series("BTC"), start, 3),
        (pool_series("BTC"), start + 120, 3),
        (pool_series("BTC"), start + 180, 2),
        (pool_series("BTC"), start + 180 + SAMPLE_SECONDS, 2),
    ]
    now[0] = start + KEEP_DAYS * DAY + 121  # the first two are now older than KEEP_DAYS
    assert sample()
    kept = series(db)
    assert (HOT_WALLET, start, 1_000_000) not in kept
    assert (HOT_WALLET, start + 120, 900_000) not in kept
    assert (HOT_WALLET, now[0], 800_000) in kept


def test_the_pools_of_hd_coins_are_not_sampled(db: Database) -> None:
    with db.write() as conn:
        sync_pool(conn, "BTC", ["b1"])
        sync_pool(conn, "ETH", ["0xe1"])
    wallet = Wallet()
    sampler = HistorySampler(db, wallet.balance, skip_pools={"BTC"}, clock=lambda: 1000)
    assert asyncio.run(sampler.sample_once())
    assert series(db) == [(HOT_WALLET, 1000, 1_000_000), (pool_series("ETH"), 1000, 1)]
