"""Price quotes: how much SKY teller would pay now for an amount of BTC (or ETH).

Place in the flow: GET /api/quote (http/public.py) calls `QuoteService.quote`. In direct mode
the answer is the fixed rate's, computed as the processor will (money.py, truncated to
max_decimals). In passthrough mode it is the purchase itself, walked over the exchange's
order book as `OrderBookWatch` last read it (passthrough/plan.walk_book: the same orders,
the same rounding, the same minimum as the passthrough processor), so that on an unchanged
book the quote is exactly what a deposit of that amount is paid. Exchange fees are not in
the quote (the book does not tell them).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, localcontext
from typing import Any

from teller.clients.market import Market, OrderBook
from teller.config.schema import Config
from teller.deposits import states
from teller.errors import BadRequest, MarketError, MarketRateLimited, Unavailable
from teller.logs import log_event
from teller.money import (
    format_droplets,
    plain_decimal,
    sky_droplets_for_satoshis,
    sky_droplets_for_wei,
)
from teller.passthrough.plan import (
    payable_droplets,
    requested_btc,
    sky_bought_droplets,
    walk_book,
)

log = logging.getLogger("teller.quote")

# Decimals of each coin's amount, and the largest amount that is not absurd (more than will
# ever exist: 21 million BTC; for ETH and SKY, ten times their supply).
COIN_UNITS = {"BTC": (8, 21_000_000), "ETH": (18, 1_200_000_000), "SKY": (6, 1_000_000_000)}
_AMOUNT = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
MAX_AMOUNT_CHARS = 40


def parse_amount(coin: str, text: str) -> int:
    """`text` (a decimal amount of `coin`, e.g. "0.01") in the coin's base units, or
    BadRequest saying what is wrong with it. Exact: a fraction of a base unit is refused."""
    decimals, most = COIN_UNITS[coin]
    text = text.strip()
    if not text:
        raise BadRequest("Missing amount")
    if len(text) > MAX_AMOUNT_CHARS or _AMOUNT.fullmatch(text) is None:
        raise BadRequest(f"Invalid amount: must be a plain decimal number of {coin}, e.g. 0.01")
    value = Decimal(text)  # exact: construction from a string never rounds
    if value <= 0:
        raise BadRequest("Invalid amount: must be greater than 0")
    if value > most:
        raise BadRequest(f"Invalid amount: more than {most:,} {coin}".replace(",", " "))
    with localcontext(prec=MAX_AMOUNT_CHARS + 20):  # scaleb must not round at 28 digits
        units = value.scaleb(decimals)
    if units != units.to_integral_value():
        raise BadRequest(f"Invalid amount: {coin} has at most {decimals} decimals")
    return int(units)


class OrderBookWatch:
    """The exchange's order book, read again every `refresh` seconds (for quotes)."""

    def __init__(
        self,
        market: Market,
        refresh: float,
        ratelimit_wait: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.market = market
        self.refresh = refresh
        self.ratelimit_wait = ratelimit_wait
        self.clock = clock
        self.book: OrderBook | None = None
        self.read_at: float | None = None  # clock() when the book was read
        self.read_at_unix: int | None = None
        self.error = ""

    @property
    def stale_after(self) -> float:
        """A book older than this is not quoted from (a few refreshes missed)."""
        return max(5 * self.refresh, 60.0)

    def age(self) -> float | None:
        return None if self.read_at is None else self.clock() - self.read_at

    async def refresh_once(self) -> float:
        """Read the book; returns the seconds until the next read."""
        try:
            book = await self.market.order_book()
        except Exception as exc:  # a client bug must not end teller (this runs in its group)
            if not isinstance(exc, MarketError):
                log.exception("order book not read")
                exc = MarketError(f"order book not read: {type(exc).__name__}")
            if exc.message != self.error:
                log_event(log, logging.WARNING, "order book not read; quotes age", error=exc)
            self.error = exc.message
            if isinstance(exc, MarketRateLimited):
                return exc.wait_seconds(self.ratelimit_wait)
            return self.refresh
        self.book, self.read_at, self.read_at_unix = book, self.clock(), int(time.time())
        self.error = ""
        return self.refresh

    async def run(self) -> None:
        while True:
            await asyncio.sleep(await self.refresh_once())


@dataclass
class QuoteService:
    config: Config
    check_coin_type: Callable[[str], str]  # BindService.check_coin_type: the bind's rules
    watch: OrderBookWatch | None

    def quote(self, coin_type: str, amount_text: str) -> dict[str, Any]:
        coin = self.check_coin_type(coin_type)
        units = parse_amount(coin, amount_text)
        exchanger = self.config.sky_exchanger
        if exchanger.buy_method == states.BUY_PASSTHROUGH:
            return self._passthrough(coin, units)
        rate = exchanger.rate_for(coin)
        if coin == "BTC":
            droplets = sky_droplets_for_satoshis(units, rate, exchanger.max_decimals)
        elif coin == "ETH":
            droplets = sky_droplets_for_wei(units, rate, exchanger.max_decimals)
        else:  # SKY: droplets × 100 are 1e-8 units, as the processor computes it
            droplets = sky_droplets_for_satoshis(units * 100, rate, exchanger.max_decimals)
        return {
            "coin_type": coin,
            "amount": plain_decimal(Decimal(units).scaleb(-COIN_UNITS[coin][0])),
            "buy_method": states.BUY_DIRECT,
            "sky": format_droplets(droplets),
            "rate": rate,
            "max_decimals": exchanger.max_decimals,
        }

    def _passthrough(self, coin: str, satoshis: int) -> dict[str, Any]:
        watch = self.watch
        if coin != "BTC" or watch is None:
            raise BadRequest(f"{coin} not enabled")
        age = watch.age()
        if watch.book is None or age is None:
            raise Unavailable("The exchange's order book is not available yet; try again soon")
        if age > watch.stale_after:
            raise Unavailable(
                f"The exchange's order book is {int(age)} s old (the exchange cannot be read"
                " now); no quote"
            )
        exchanger = self.config.sky_exchanger
        minimum = exchanger.exchange_client.btc_minimum_volume
        rules = watch.market.rules
        btc = Decimal(satoshis).scaleb(-8)
        requested = requested_btc(satoshis, rules)
        below = btc < minimum or requested <= 0
        max_rise = exchanger.exchange_client.max_price_rise
        walk = walk_book(watch.book.asks, Decimal(0) if below else requested, rules, max_rise)
        due = payable_droplets(sky_bought_droplets(walk.sky), exchanger.max_decimals)
        return {
            "coin_type": coin,
            "amount": plain_decimal(btc),
            "buy_method": states.BUY_PASSTHROUGH,
            "sky": format_droplets(due),
            "below_minimum": below,
            "minimum_volume": plain_decimal(minimum),
            "btc_spent": plain_decimal(walk.btc_spent),
            "btc_unspent": plain_decimal(btc - walk.btc_spent),
            "average_price": _average(walk.btc_spent, walk.sky),
            "orders": walk.orders,
            "price_limited": walk.price_limited,
            "max_decimals": exchanger.max_decimals,
            "order_book_age_seconds": int(age),
            "order_book_read_at": watch.read_at_unix,
            "fees_included": False,
        }


def _average(btc: Decimal, sky: Decimal) -> str:
    """BTC per SKY paid, truncated to 8 decimals ("0" when nothing would be bought)."""
    if not sky:
        return "0"
    with localcontext(prec=80):
        return plain_decimal((btc / sky).quantize(Decimal("1e-8"), rounding=ROUND_DOWN))
