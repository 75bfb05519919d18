"""Quotes (passthrough/quote.py): amounts parsed exactly, the order book's age respected, and
a quote equal to what the passthrough processor then buys on the same (unchanged) book."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from teller_sims.c2cx import C2CXSim, FailRule, new_exchange, running_sim

from teller.clients.c2cx import C2CXClient
from teller.deposits import states
from teller.errors import BadRequest, Unavailable
from teller.passthrough.quote import OrderBookWatch, QuoteService, parse_amount
from teller.store.db import Database

from .rig import make_rig, passthrough_config

D = Decimal


def test_amounts_are_read_exactly_in_base_units() -> None:
    assert parse_amount("BTC", "0.12345678") == 12_345_678
    assert parse_amount("BTC", " 1 ") == 100_000_000
    assert parse_amount("BTC", ".5") == 50_000_000
    assert parse_amount("ETH", "0.000000000000000001") == 1
    assert parse_amount("ETH", "1000000000") == 10**27  # far past 64 bits, exact
    assert parse_amount("ETH", "1.000000000000000001") == 10**18 + 1


@pytest.mark.parametrize(
    "text",
    [
        "",
        "x",
        "1,5",
        "0x10",
        "1e3",
        "-0.1",
        "+1",
        "0",
        "0.0",
        "inf",
        "1.2.3",
        "٣",
        "1.0000000000000000000000000001",  # 28 decimals: refused, not rounded to 1 BTC
    ],
)
def test_bad_amounts_are_refused(text: str) -> None:
    with pytest.raises(BadRequest):
        parse_amount("BTC", text)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _check(coin: str) -> str:
    if coin != "BTC":
        raise BadRequest(f"{coin} not enabled")
    return coin


async def test_no_quote_before_the_book_is_read_or_once_it_is_stale() -> None:
    exchange = new_exchange(D(1), asks=[[D("0.002"), D("100")]])
    async with running_sim(C2CXSim(exchange)) as sim:
        market = C2CXClient(sim.key, sim.secret, f"http://127.0.0.1:{sim.port}/v1/")
        clock = Clock()
        watch = OrderBookWatch(market, refresh=10, ratelimit_wait=30, clock=clock)
        service = QuoteService(passthrough_config(), _check, watch)
        with pytest.raises(Unavailable, match="not available yet"):
            service.quote("BTC", "0.01")
        assert await watch.refresh_once() == 10
        assert service.quote("BTC", "0.01")["sky"] == "5.000000"
        # The exchange goes away: the last book is quoted until it is too old.
        await _fail_always(sim)
        assert await watch.refresh_once() == 10 and "Internal Server Error" in watch.error
        clock.now += 59
        assert service.quote("BTC", "0.01")["order_book_age_seconds"] == 59
        clock.now += 2
        with pytest.raises(Unavailable, match="61 s old"):
            service.quote("BTC", "0.01")
        await market.aclose()


async def _fail_always(sim: C2CXSim) -> None:
    sim.failures.append(FailRule(mode="http500", count=1000))


def _random_book(seed: int) -> list[list[Decimal]]:
    rng = random.Random(seed)
    price = D(rng.randint(150, 250)) / 100_000
    book = []
    for _ in range(rng.randint(2, 8)):
        volume = D(rng.randint(50, 9_000)) / 100
        book.append([price, volume])
        price += D(rng.randint(1, 20)) / 100_000
    return book


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_the_quote_is_what_the_purchase_buys_on_an_unchanged_book(
    sqlite_db: Database, seed: int
) -> None:
    book = _random_book(seed)
    # At most what the book holds: a deposit bigger than the book waits for more asks.
    worth = int(sum(p * v for p, v in book) * 100_000_000)
    satoshis = random.Random(seed).randint(500_000, max(500_001, worth * 9 // 10))
    config = passthrough_config()
    async with make_rig(sqlite_db, config, btc="10", book=book) as rig:
        watch = OrderBookWatch(rig.market, refresh=10, ratelimit_wait=30)
        await watch.refresh_once()
        amount = format(D(satoshis).scaleb(-8), "f")
        quoted = QuoteService(config, _check, watch).quote("BTC", amount)
        deposit_id = rig.deposit(satoshis, f"q{seed}")
        await rig.run_until(
            lambda r=rig, d=deposit_id: r.get(d).status in (states.WAITING_SEND, states.DONE)
        )
        deposit = rig.get(deposit_id)
        assert f"{deposit.sky_due / 1_000_000:.6f}" == quoted["sky"], (book, satoshis)
        spent = sum(b for _, b in rig.trades_of(deposit_id))
        assert format(spent.normalize(), "f") == quoted["btc_spent"]
