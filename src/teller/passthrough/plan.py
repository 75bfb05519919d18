"""Passthrough arithmetic: what a BTC deposit buys on the exchange, order by order.

Place in the flow: passthrough/orders.py plans each real order with `next_order` and books
its fills with `budget_charge`, `sky_bought_droplets` and `deposit_value_spent`;
passthrough/quote.py walks the same `next_order` over a copy of the order book (`walk_book`),
so that a quote and the purchase of the same amount on an unchanged book agree.

The rules, each with its rounding direction (vectors:
tests/fixtures/vectors/teller/passthrough_calc):

- the BTC a deposit spends (`requested_amount`): its satoshis as BTC, truncated (toward
  zero) to the pair's price precision (5 decimals), as the original did;
- each order takes the cheapest ask: a limit buy at that ask's price for its volume
  (asks below the minimum volume are taken together with the next ones, at the price of the
  ask that completes the minimum), capped by what the BTC left buys at that price, the
  volume truncated to the pair's volume precision (2 decimals). When what is left cannot buy
  the exchange's minimum volume (1 SKY) the deposit is spent: the rest is dust;
- an order is charged to the deposit's budget at completed × its limit price, which is at
  least what the exchange took (a fill can only be cheaper): a deposit never spends more
  BTC than it brought;
- SKY bought = completedAmount − fee of each order (C2CX's fee is taken as SKY, from what was
  bought), truncated to whole droplets; the buyer is paid the sum, truncated to
  `max_decimals` (a Skycoin transaction carries at most 3 decimals; the original paid the
  untruncated amount, which a node would refuse);
- `deposit_value_spent` (shown, not used) = Σ completedAmount × avgPrice in satoshis,
  truncated.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_UP, Context, Decimal, localcontext

from teller.clients.market import MarketRules, PriceLevel
from teller.money import SKY_DECIMALS, AmountError

BTC_DECIMALS = 8
ERR_NEGATIVE_BOUGHT = "Calculated amount of SKY bought is unexpectedly negative"


def _exact() -> AbstractContextManager[Context]:
    """A context in which sums and products of exchange amounts never round."""
    return localcontext(prec=80)


def _truncate(value: Decimal, decimals: int) -> Decimal:
    with _exact():
        return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_DOWN)


def requested_btc(satoshis: int, rules: MarketRules) -> Decimal:
    """The BTC a deposit of `satoshis` spends: truncated to the pair's price precision."""
    if satoshis < 0:
        raise AmountError("satoshis must be greater than or equal to 0")
    with _exact():
        return _truncate(Decimal(satoshis).scaleb(-BTC_DECIMALS), rules.price_decimals).normalize()


def sky_bought_droplets(completed: Decimal, fee: Decimal = Decimal(0)) -> int:
    """The SKY an order bought, net of its fee, in whole droplets (truncated)."""
    with _exact():
        net = (completed - fee).scaleb(SKY_DECIMALS)
    if net < 0:
        raise AmountError(ERR_NEGATIVE_BOUGHT)
    return int(net)  # int() truncates toward zero


def satoshis_spent(bought: Decimal, price: Decimal) -> int:
    """bought × price in satoshis, truncated toward zero (the original's deposit_value_spent)."""
    with _exact():
        return int((bought * price).scaleb(BTC_DECIMALS))


def budget_charge(completed: Decimal, limit_price: Decimal, avg_price: Decimal) -> Decimal:
    """What an order takes off its deposit's BTC: completed × its limit price (at least what
    the exchange charged), or × its average price should the exchange report one above the
    limit; an order without a limit price (a market buy) at its average."""
    with _exact():
        return completed * (max(limit_price, avg_price) if limit_price > 0 else avg_price)


def payable_droplets(droplets: int, max_decimals: int) -> int:
    """`droplets` truncated to `max_decimals` SKY decimals: what a payout may carry."""
    step = int(10 ** (SKY_DECIMALS - max_decimals))
    return droplets - droplets % step


@dataclass(frozen=True, slots=True)
class PlannedOrder:
    price: Decimal  # BTC per SKY
    volume: Decimal  # SKY

    def cost(self) -> Decimal:
        with _exact():
            return self.price * self.volume


def _minimum_reached(
    asks: Sequence[PriceLevel], rules: MarketRules, min_cost: Decimal
) -> tuple[Decimal, Decimal]:
    """(price, SKY offered up to it): the cheapest price at which the asks (cheapest first)
    add up to the exchange's minimum order (min_volume SKY, and at least `min_cost` BTC at that
    price: the variable minimum an exchange refusal told); (0, 0) when the whole book does not."""
    offered = Decimal(0)
    with _exact():
        for level in asks:
            offered += level.volume
            if offered >= rules.min_volume and offered * level.price >= min_cost:
                return level.price, offered
    return Decimal(0), Decimal(0)


def buying_price(
    asks: Sequence[PriceLevel], rules: MarketRules, min_cost: Decimal = Decimal(0)
) -> Decimal | None:
    """The price the next order would be placed at (None: the book cannot fill the minimum)."""
    price, _ = _minimum_reached(asks, rules, min_cost)
    return price if price > 0 else None


def price_cap(first_price: Decimal, max_rise: Decimal) -> Decimal | None:
    """The dearest price a part-bought deposit may still buy at: its first fill's price raised
    by `max_rise` (0.1 = 10 %); None when max_rise is 0 (no limit)."""
    if max_rise <= 0:
        return None
    with _exact():
        return first_price * (1 + max_rise)


def is_dust(
    budget: Decimal, price: Decimal, rules: MarketRules, min_cost: Decimal = Decimal(0)
) -> bool:
    """`budget` BTC cannot buy the exchange's minimum order at `price`."""
    with _exact():
        return budget < max(rules.min_volume * price, min_cost)


def next_order(
    asks: Sequence[PriceLevel], budget: Decimal, rules: MarketRules, min_cost: Decimal = Decimal(0)
) -> PlannedOrder | None:
    """The next order for a deposit with `budget` BTC left, or None when it is spent.

    `asks` cheapest first. None also when the book cannot fill the exchange's minimum
    (`min_cost`: the least BTC an order must cost, 0 until the exchange has told it).
    """
    ask, offered = _minimum_reached(asks, rules, min_cost)
    with _exact():
        if ask <= 0 or budget <= 0:
            return None
        # An ask finer than the exchange's price precision (which it would refuse to take as
        # a limit) is bought at the next price up: it still fills at the ask's own price, and
        # the volume is sized at the rounded price, so the charge stays within the budget.
        rounded = ask.quantize(Decimal(1).scaleb(-rules.price_decimals), rounding=ROUND_UP)
        price = ask if rounded == ask else rounded  # "0.002" stays written as it was
        affordable = _truncate(budget / price, rules.volume_decimals)
        volume = min(_truncate(offered, rules.volume_decimals), affordable)
        if volume < rules.min_volume or volume * price < min_cost:
            return None
    return PlannedOrder(price, volume)


def fill_on_book(
    asks: Sequence[PriceLevel], order: PlannedOrder
) -> tuple[Decimal, Decimal, list[PriceLevel]]:
    """How a limit buy fills against `asks` (cheapest first, each at its own price):
    (SKY filled, BTC paid, the asks left). The quote's model of the exchange's matching."""
    filled, paid = Decimal(0), Decimal(0)
    left: list[PriceLevel] = []
    with _exact():
        for level in asks:
            wanted = order.volume - filled
            if level.price > order.price or wanted <= 0:
                left.append(level)
                continue
            taken = min(wanted, level.volume)
            filled += taken
            paid += taken * level.price
            if level.volume > taken:
                left.append(PriceLevel(level.price, level.volume - taken))
    return filled, paid, left


@dataclass(frozen=True, slots=True)
class Walk:
    """What a BTC amount buys on a book, order by order, by the purchase's own rules."""

    sky: Decimal  # SKY bought (before fees)
    btc_spent: Decimal  # what the exchange would take
    btc_left: Decimal  # the budget left unspent (dust, or more than the book holds)
    orders: int
    price_limited: bool = False  # stopped at max_price_rise: the purchase would wait there


def walk_book(
    asks: Sequence[PriceLevel], btc: Decimal, rules: MarketRules, max_rise: Decimal = Decimal(0)
) -> Walk:
    """The purchase of `btc` on a book that does not change meanwhile (as the passthrough
    processor buys: no dearer than the first fill's price raised by `max_rise`, unless 0)."""
    book = list(asks)
    budget, sky, spent, orders = btc, Decimal(0), Decimal(0), 0
    cap: Decimal | None = None
    while True:
        price = buying_price(book, rules)
        if (
            cap is not None
            and price is not None
            and price > cap
            and not is_dust(budget, cap, rules)
        ):
            return Walk(
                sky=sky, btc_spent=spent, btc_left=budget, orders=orders, price_limited=True
            )
        order = next_order(book, budget, rules)
        if order is None:
            break
        filled, paid, book = fill_on_book(book, order)
        if cap is None and filled > 0:
            cap = price_cap(order.price, max_rise)
        if filled <= 0:
            break
        orders += 1
        with _exact():
            sky += filled
            spent += paid
            budget -= budget_charge(filled, order.price, Decimal(0))
    return Walk(sky=sky, btc_spent=spent, btc_left=budget, orders=orders)
