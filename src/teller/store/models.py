"""Plain records the store returns: what the rest of teller sees instead of rows."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Self


class _FromRow:
    """Building a record from a result row (extra columns are ignored)."""

    __slots__ = ()

    @classmethod
    def from_row(cls, row: Any) -> Self:
        data = dict(row._mapping if hasattr(row, "_mapping") else row)
        names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        return cls(**{name: data[name] for name in names if name in data})


@dataclass(frozen=True, slots=True)
class Binding(_FromRow):
    id: int
    coin_type: str
    deposit_address: str
    sky_address: str
    buy_method: str
    bound_at: int


@dataclass(frozen=True, slots=True)
class IncomingDeposit:
    """What a scanner reports: one chain output paying a watched address."""

    coin_type: str
    address: str
    value: int  # base units: satoshi, wei or droplet
    height: int
    tx: str
    n: int
    block_hash: str = ""

    @property
    def deposit_id(self) -> str:
        return f"{self.tx}:{self.n}"


@dataclass(frozen=True, slots=True)
class Deposit(_FromRow):
    seq: int
    deposit_id: str
    coin_type: str
    deposit_address: str
    sky_address: str
    binding_id: int
    tx: str
    n: int
    value: int
    height: int
    block_hash: str
    status: str
    buy_method: str
    conversion_rate: str
    sky_due: int
    sky_sent: int
    payout_txid: str | None
    error: str
    exchange_name: str
    requested_amount: str
    sky_bought: int
    deposit_value_spent: int
    order_customer_id: str
    order_id: str
    order_completed_amount: str
    order_price: str
    order_status: str
    order_final: bool
    order_original: str
    created_at: int
    updated_at: int
    hold_reason: str | None = None  # not None: held for the operator, never paid until released


@dataclass(frozen=True, slots=True)
class Payout(_FromRow):
    txid: str
    raw_tx: str
    inputs: str
    total_droplets: int
    status: str
    attempts: int
    last_error: str
    created_at: int
    updated_at: int
    first_error_at: int | None = None  # when a broadcast first failed; None: never
    kind: str = "payout"  # "payout", "void" (void_of: the payout it voids) or "manual"
    void_of: str | None = None


@dataclass(frozen=True, slots=True)
class PoolUsage:
    coin_type: str
    total: int
    remaining: int


@dataclass(frozen=True, slots=True)
class ExchangeOrder(_FromRow):
    """An exchange order placed (or about to be) for a passthrough deposit."""

    client_id: str
    deposit_id: str
    number: int
    exchange: str
    kind: str
    order_id: str
    state: str
    price: str
    volume: str
    exchange_status: str
    completed_amount: str
    avg_price: str
    fee: str
    btc_spent: str
    sky_bought: int
    error: str
    original: str
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """A configured webhook as the outbox sees it: where events go and which ones it takes.
    Database.write hands these to every write transaction (store/webhooks.py reads them)."""

    url: str
    events: frozenset[str]


@dataclass(frozen=True, slots=True)
class WebhookDelivery(_FromRow):
    """One row of the webhook outbox: an event for one webhook, and how its delivery went."""

    id: int
    event_id: str
    webhook: str
    event_type: str
    ordering_key: str
    body: str
    status: str
    attempts: int
    last_error: str
    next_try_at: int
    created_at: int
    updated_at: int
    delivered_at: int | None
