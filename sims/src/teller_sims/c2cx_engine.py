"""The C2CX simulator's exchange: one account, the BTC_SKY book, matching, orders, trades.

Place in the flow: teller_sims/c2cx.py serves this over C2CX's HTTP API; nothing here does I/O.
It is written from the wire facts (teller-go.md §7, Appendix A), not from teller's own
buying code, so that teller's tests check teller against an independent account of the
exchange:

- a limit buy of `quantity` SKY at `price` BTC/SKY freezes price × quantity BTC, then takes
  the resting asks priced at or below it, cheapest first, each at the ask's own price; what
  is left rests on the book (status opened / partially_completed) until it fills by asks
  that arrive later, or is cancelled; a limit order costing more than the spendable BTC
  starts "suspended" and never trades;
- a market buy spends `quantity` BTC on the cheapest asks; one costing more than the
  spendable BTC is cancelled at once;
- the fee (`fee_rate` of the SKY bought, default 0) is taken from the SKY bought: an order's
  `fee` is in SKY and the account is credited completedAmount − fee;
- prices have at most 5 decimals, quantities at most 2, an order buys at least 1 SKY and
  costs at least `min_btc` BTC (C2CX's variable minimum): otherwise "limit value: <min>";
- a client id (`cid`) can never be used twice;
- test switches: `steal_next` (another trader takes that much SKY off the cheapest asks
  just before the next buy matches: a partial fill), `expire_next` / `error_next` (the next
  orders end expired / errored without trading), `match_delay` and `cancel_delay` (seconds
  before a new order matches, before a cancel completes).

Amounts are Decimal, in an exact context; the trade log records every fill with its cid.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import ROUND_DOWN, Decimal, localcontext
from typing import Any

PRICE_DECIMALS = 5
VOLUME_DECIMALS = 2
MIN_VOLUME = Decimal(1)
FEE_DECIMALS = 8

PENDING, OPENED, PARTIAL, COMPLETED, CANCELLED, ERRORED, SUSPENDED = 1, 2, 3, 4, 5, 6, 7
EXPIRED, CANCELLING = 11, 12
OPEN_STATUSES = frozenset({PENDING, OPENED, PARTIAL, SUSPENDED, CANCELLING})


class Refusal(Exception):
    """A request the exchange answers with an error code and message."""

    def __init__(self, message: str, code: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _exact() -> Any:
    """An arithmetic context in which the exchange's sums and products never round."""
    return localcontext(prec=60)


def decimals_of(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


@dataclass
class SimOrder:
    order_id: int
    cid: str | None
    price_type: str  # "limit" or "market"
    price: Decimal  # limit price (BTC per SKY); 0 for a market buy
    amount: Decimal  # limit: SKY wanted; market: BTC to spend
    created_ms: int
    status: int = PENDING
    completed: Decimal = Decimal(0)  # SKY bought
    cost: Decimal = Decimal(0)  # BTC paid for it
    fee: Decimal = Decimal(0)  # SKY kept by the exchange
    frozen: Decimal = Decimal(0)  # BTC held for the rest of the order
    updated_ms: int = 0
    match_at: float = 0.0  # the order does not trade before (match_delay)
    cancel_at: float | None = None  # a requested cancel completes then (cancel_delay)
    ends_as: int | None = None  # expire_next / error_next: the status it ends in

    def remaining(self) -> Decimal:
        return self.amount - self.completed

    def avg_price(self) -> Decimal:
        if not self.completed:
            return Decimal(0)
        with _exact():
            return (self.cost / self.completed).quantize(Decimal("1e-8"), rounding=ROUND_DOWN)


@dataclass(frozen=True)
class Trade:
    """One fill of one of the account's orders."""

    order_id: int
    cid: str | None
    price: Decimal
    volume: Decimal  # SKY
    btc: Decimal  # price × volume
    fee: Decimal  # SKY
    at_ms: int


@dataclass
class Switches:
    fee_rate: Decimal = Decimal(0)
    min_btc: Decimal = Decimal("0.0001")
    match_delay: float = 0.0
    cancel_delay: float = 0.0
    steal_next: Decimal = Decimal(0)
    expire_next: int = 0
    error_next: int = 0


@dataclass
class Exchange:
    """The account and the BTC_SKY book. Times are passed in (seconds), never read."""

    asks: list[list[Decimal]] = field(default_factory=list)  # [price, volume], any order
    bids: list[list[Decimal]] = field(default_factory=list)
    balance: dict[str, Decimal] = field(
        default_factory=lambda: {"btc": Decimal(0), "sky": Decimal(0)}
    )
    orders: dict[int, SimOrder] = field(default_factory=dict)
    trades: list[Trade] = field(default_factory=list)
    switches: Switches = field(default_factory=Switches)
    next_order_id: int = 3_266_000

    # -- the account ----------------------------------------------------------------------

    def frozen(self) -> dict[str, Decimal]:
        with _exact():
            btc = sum((o.frozen for o in self.orders.values()), Decimal(0))
        return {"btc": btc, "sky": Decimal(0)}

    def spendable_btc(self) -> Decimal:
        with _exact():
            return self.balance["btc"] - self.frozen()["btc"]

    def set_balance(self, currency: str, amount: Decimal, *, add: bool = False) -> None:
        with _exact():
            self.balance[currency] = (self.balance.get(currency, Decimal(0)) if add else 0) + amount

    # -- the book -------------------------------------------------------------------------

    def sorted_asks(self) -> list[list[Decimal]]:
        return sorted((a for a in self.asks if a[1] > 0), key=lambda a: a[0])

    def add_asks(self, levels: list[tuple[Decimal, Decimal]], now: float) -> None:
        """Other traders offer SKY: resting buy orders priced at or above take it first."""
        for price, volume in levels:
            self.asks.append([price, volume])
        self.advance(now)

    def take_from_asks(self, volume: Decimal) -> None:
        """Another trader buys `volume` SKY off the cheapest asks."""
        with _exact():
            for ask in self.sorted_asks():
                taken = min(ask[1], volume)
                ask[1] -= taken
                volume -= taken
                if volume <= 0:
                    break
        self.asks = [a for a in self.asks if a[1] > 0]

    # -- orders ---------------------------------------------------------------------------

    def place(
        self,
        *,
        price_type: str,
        price: Decimal,
        quantity: Decimal,
        cid: str | None,
        now: float,
    ) -> SimOrder:
        if cid is not None and any(o.cid == cid for o in self.orders.values()):
            raise Refusal("cid already exists: a cid cannot be reused")
        if price_type == "limit":
            order = self._new_limit(price, quantity, cid, now)
        elif price_type == "market":
            order = self._new_market(quantity, cid, now)
        else:
            raise Refusal("priceTypeId must be limit or market")
        self.orders[order.order_id] = order
        self.advance(now)
        return order

    def _check_minimum(self, quantity: Decimal, cost: Decimal) -> None:
        if quantity < MIN_VOLUME:
            raise Refusal(f"limit value: {MIN_VOLUME}")
        if cost < self.switches.min_btc:
            raise Refusal(f"limit value: {self.switches.min_btc}")

    def _new_limit(
        self, price: Decimal, quantity: Decimal, cid: str | None, now: float
    ) -> SimOrder:
        if price <= 0 or quantity <= 0:
            raise Refusal("price and quantity must be greater than 0")
        if decimals_of(price) > PRICE_DECIMALS:
            raise Refusal(f"price precision error: at most {PRICE_DECIMALS} decimals")
        if decimals_of(quantity) > VOLUME_DECIMALS:
            raise Refusal(f"quantity precision error: at most {VOLUME_DECIMALS} decimals")
        with _exact():
            cost = price * quantity
        self._check_minimum(quantity, cost)
        order = self._order("limit", price, quantity, cid, now)
        if cost > self.spendable_btc():
            order.status = SUSPENDED  # costs more than the balance: it never trades
            return order
        order.frozen = cost
        order.status = OPENED
        return order

    def _new_market(self, btc: Decimal, cid: str | None, now: float) -> SimOrder:
        if btc <= 0:
            raise Refusal("quantity must be greater than 0")
        if btc < self.switches.min_btc:
            raise Refusal(f"limit value: {self.switches.min_btc}")
        order = self._order("market", Decimal(0), btc, cid, now)
        if btc > self.spendable_btc():
            order.status = CANCELLED  # a market order bigger than the balance
            return order
        order.frozen = btc
        order.status = OPENED
        return order

    def _order(
        self, price_type: str, price: Decimal, amount: Decimal, cid: str | None, now: float
    ) -> SimOrder:
        self.next_order_id += 1
        order = SimOrder(
            order_id=self.next_order_id,
            cid=cid,
            price_type=price_type,
            price=price,
            amount=amount,
            created_ms=int(now * 1000),
            updated_ms=int(now * 1000),
            match_at=now + self.switches.match_delay,
        )
        if self.switches.expire_next > 0:
            self.switches.expire_next -= 1
            order.ends_as = EXPIRED
        elif self.switches.error_next > 0:
            self.switches.error_next -= 1
            order.ends_as = ERRORED
        return order

    def cancel(self, order_id: int, now: float) -> None:
        order = self.get(order_id)
        if order.status not in OPEN_STATUSES or order.cancel_at is not None:
            raise Refusal("the order cannot be cancelled in its status")
        order.status = CANCELLING
        order.cancel_at = now + self.switches.cancel_delay
        order.updated_ms = int(now * 1000)
        self.advance(now)

    def get(self, order_id: int) -> SimOrder:
        order = self.orders.get(order_id)
        if order is None:
            raise Refusal("order does not exist")
        return order

    # -- time -----------------------------------------------------------------------------

    def advance(self, now: float) -> None:
        """Match what may match now, end what is due to end."""
        for order in sorted(self.orders.values(), key=lambda o: o.order_id):
            if order.status not in (OPENED, PARTIAL, CANCELLING):
                continue
            if order.cancel_at is not None and now >= order.cancel_at:
                self._finish(order, CANCELLED, now)
                continue
            if order.cancel_at is not None or now < order.match_at:
                continue
            if order.ends_as is not None:
                self._finish(order, order.ends_as, now)  # it never trades
                continue
            if self.switches.steal_next > 0:
                self.take_from_asks(self.switches.steal_next)
                self.switches.steal_next = Decimal(0)
            self._match(order, now)
            if order.price_type == "market":
                # A market order never rests: what the book could not fill is cancelled.
                self._finish(order, COMPLETED if order.completed else CANCELLED, now)
            elif order.remaining() <= 0:
                self._finish(order, COMPLETED, now)
            elif order.completed:
                order.status = PARTIAL

    def _match(self, order: SimOrder, now: float) -> None:
        with _exact():
            for ask in self.sorted_asks():
                price, offered = ask
                if order.price_type == "limit":
                    if price > order.price or order.remaining() <= 0:
                        break
                    volume = min(offered, order.remaining())
                else:
                    budget = order.amount - order.cost
                    affordable = (budget / price).quantize(
                        Decimal(1).scaleb(-VOLUME_DECIMALS), rounding=ROUND_DOWN
                    )
                    volume = min(offered, affordable)
                if volume <= 0:
                    break
                self._fill(order, ask, price, volume, now)

    def _fill(
        self, order: SimOrder, ask: list[Decimal], price: Decimal, volume: Decimal, now: float
    ) -> None:
        btc = price * volume
        fee = (volume * self.switches.fee_rate).quantize(
            Decimal(1).scaleb(-FEE_DECIMALS), rounding=ROUND_DOWN
        )
        ask[1] -= volume
        order.completed += volume
        order.cost += btc
        order.fee += fee
        # The BTC paid comes out of what the order froze (a cheaper ask leaves some frozen
        # that the end of the order releases); the SKY less the fee is credited.
        order.frozen = max(order.frozen - btc, Decimal(0))
        self.balance["btc"] -= btc
        self.balance["sky"] = self.balance.get("sky", Decimal(0)) + volume - fee
        order.updated_ms = int(now * 1000)
        self.trades.append(
            Trade(order.order_id, order.cid, price, volume, btc, fee, int(now * 1000))
        )
        self.asks = [a for a in self.asks if a[1] > 0]

    def _finish(self, order: SimOrder, status: int, now: float) -> None:
        order.status = status
        order.frozen = Decimal(0)
        order.updated_ms = int(now * 1000)

    # -- persistence ----------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "asks": [[str(p), str(v)] for p, v in self.asks],
            "bids": [[str(p), str(v)] for p, v in self.bids],
            "balance": {k: str(v) for k, v in self.balance.items()},
            "orders": [_strings(asdict(o)) for o in self.orders.values()],
            "trades": [_strings(asdict(t)) for t in self.trades],
            "switches": _strings(asdict(self.switches)),
            "next_order_id": self.next_order_id,
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Exchange:
        orders = {}
        for raw in document["orders"]:
            order = SimOrder(**{k: _decimal_field(SimOrder, k, v) for k, v in raw.items()})
            orders[order.order_id] = order
        return cls(
            asks=[[Decimal(p), Decimal(v)] for p, v in document["asks"]],
            bids=[[Decimal(p), Decimal(v)] for p, v in document["bids"]],
            balance={k: Decimal(v) for k, v in document["balance"].items()},
            orders=orders,
            trades=[
                Trade(**{k: _decimal_field(Trade, k, v) for k, v in t.items()})
                for t in document["trades"]
            ],
            switches=Switches(
                **{k: _decimal_field(Switches, k, v) for k, v in document["switches"].items()}
            ),
            next_order_id=int(document["next_order_id"]),
        )


def _strings(values: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Decimal) else v for k, v in values.items()}


_DECIMAL_FIELDS = {
    SimOrder: {"price", "amount", "completed", "cost", "fee", "frozen"},
    Trade: {"price", "volume", "btc", "fee"},
    Switches: {"fee_rate", "min_btc", "steal_next"},
}


def _decimal_field(kind: type, name: str, value: Any) -> Any:
    return Decimal(value) if name in _DECIMAL_FIELDS[kind] else value
