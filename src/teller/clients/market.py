"""What the passthrough processor needs of an exchange: the small interface every market has.

Place in the flow: passthrough/orders.py buys the SKY for a BTC deposit through a `Market`
(clients/c2cx.py is the C2CX one); passthrough/quote.py reads its order book. A client knows its
wire protocol and nothing of deposits; it turns every answer into the records below, exact
decimals only, and every failure into the MarketError tree of errors.py.

Amounts: prices are BTC per SKY, volumes SKY, balances BTC; all `decimal.Decimal`, never float.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Protocol


@dataclass(frozen=True, slots=True)
class PriceLevel:
    """One resting order of the book: `volume` SKY offered (ask) or wanted (bid) at `price`."""

    price: Decimal
    volume: Decimal


@dataclass(frozen=True, slots=True)
class OrderBook:
    """The book of the BTC_SKY pair; asks cheapest first, bids dearest first (clients sort)."""

    asks: tuple[PriceLevel, ...]
    bids: tuple[PriceLevel, ...]
    timestamp: int | None = None  # the exchange's own time of the book (unix seconds), if given


@dataclass(frozen=True, slots=True)
class MarketRules:
    """The trade pair's rules: an order's price and volume precision and its minimum volume."""

    price_decimals: int
    volume_decimals: int
    min_volume: Decimal


class OrderState(Enum):
    """What an order's exchange status means for the processor."""

    OPEN = "open"  # still on the book or about to be (pending, opened, partial, suspended…)
    COMPLETED = "completed"  # filled in full
    CANCELLED = "cancelled"  # cancelled; completed_amount is what filled before
    FAILED = "failed"  # expired or errored on the exchange: a deposit ends with an error


@dataclass(frozen=True, slots=True)
class OrderInfo:
    """An order as the exchange reports it."""

    order_id: str
    client_id: str | None
    state: OrderState
    status_name: str  # the exchange's own word for it ("partially_completed", "expired"…)
    price: Decimal  # the limit price asked
    amount: Decimal  # the volume asked (SKY)
    completed_amount: Decimal  # SKY filled so far
    avg_price: Decimal  # BTC per SKY over the fills (0 when nothing filled)
    fee: Decimal  # the exchange's fee on the fills, in SKY (see passthrough/plan.py)
    original: str  # the order as received, JSON with sorted keys (the admin API shows it)


class Market(Protocol):
    """An exchange teller buys SKY on. Every method raises only errors.MarketError."""

    name: str  # stored with each deposit as its exchange_name ("c2cx")
    rules: MarketRules

    async def spendable_btc(self) -> Decimal:
        """BTC the account can spend now (its balance less what open orders hold frozen)."""
        ...

    async def order_book(self) -> OrderBook: ...

    async def place_limit_buy(self, price: Decimal, volume: Decimal, client_id: str) -> str:
        """Place a limit buy of `volume` SKY at `price`; returns the exchange's order id.

        `client_id` is never reusable on the exchange: a second order under it raises
        ClientIdTaken, which is what makes a retried placement safe.
        """
        ...

    async def order(self, order_id: str) -> OrderInfo: ...

    async def cancel(self, order_id: str) -> None: ...

    async def find_by_client_id(self, client_id: str) -> OrderInfo | None:
        """The order placed under `client_id`, or None if the exchange has none."""
        ...

    async def aclose(self) -> None: ...
