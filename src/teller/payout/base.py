"""The interface between the sender (payout/sender.py) and whatever moves SKY.

A payer signs transactions locally and broadcasts given bytes; it never decides what to pay.
The sender stores every signed transaction before asking the payer to broadcast it, and only
ever re-broadcasts those stored bytes (DESIGN.md §4), so a payer must treat a repeated
broadcast of the same transaction as harmless.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from teller.store.models import Payout


@dataclass(frozen=True, slots=True)
class PayoutOutput:
    """One output of a payout: `droplets` to `address`, paying deposit `deposit_id`."""

    address: str
    droplets: int
    deposit_id: str


@dataclass(frozen=True, slots=True)
class SignedPayout:
    txid: str
    raw_tx: str  # hex (or the payer's own text encoding): broadcast exactly these bytes
    inputs: tuple[str, ...]  # wallet outputs it spends, never to be chosen again
    outputs: tuple[PayoutOutput, ...]

    @property
    def total_droplets(self) -> int:
        return sum(o.droplets for o in self.outputs)


@dataclass(frozen=True, slots=True)
class Balance:
    droplets: int
    hours: int


@dataclass(frozen=True, slots=True)
class PastPayment:
    """A transaction (confirmed, or pending in the node's pool) that pays some coins to one
    address: what `Payer.payments_to` finds when teller asks whether a deposit was paid."""

    txid: str
    droplets: int  # what it pays to the address (all its outputs to it)
    confirmed: bool
    all_from_wallet: bool  # every input was the hot wallet's: a payment teller's wallet made
    any_from_wallet: bool  # at least one input was the hot wallet's


class TxState(enum.Enum):
    UNKNOWN = "unknown"  # the node has never heard of it (or dropped it): broadcast again
    PENDING = "pending"  # known, not yet in a block
    CONFIRMED = "confirmed"


class Payer(Protocol):
    name: str
    max_outputs_per_tx: int

    async def balance(self) -> Balance:
        """The hot wallet's confirmed balance."""
        ...

    async def spendable(self, pending: Sequence[Payout], locked: Collection[str] = ()) -> int:
        """Droplets that a new payout may spend, given stored payouts not yet confirmed and
        the outputs every stored payout spends (`locked`: store/payouts.py, never chosen)."""
        ...

    async def build_payout(
        self,
        outputs: Sequence[PayoutOutput],
        pending: Sequence[Payout],
        locked: Collection[str] = (),
    ) -> SignedPayout:
        """Sign one transaction paying `outputs` spending none of `locked`; raises
        InsufficientBalance, SendTemporary."""
        ...

    async def broadcast(self, raw_tx: str) -> None:
        """Send the stored bytes to the network; raises SendTemporary or SendConflict."""
        ...

    async def tx_state(self, txid: str) -> TxState: ...

    async def payments_to(self, address: str) -> list[PastPayment]:
        """Every transaction the node knows that pays `address` (raises SendTemporary)."""
        ...
