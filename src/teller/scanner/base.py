"""The chain scanners' common shape: what a node client hands the block loop.

A scanner (scanner/btc.py, scanner/eth.py, scanner/sky.py, each a node client) turns one
block of its chain into a `Block` of `ChainOutput`s; the block loop in this module (heights,
confirmations, reorg check, resume cursor) matches outputs against the bound deposit
addresses and hands confirmed ones to the intake. Clients know their wire protocol and
nothing of deposits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ChainOutput:
    """One output (BTC, SKY) or value transfer (ETH) of a block.

    `watch_key` is what deposit addresses are matched on: the scriptPubKey hex for BTC (so a
    node with other address prefixes, like Litecoin Core in regtest, still matches), the
    lowercase 0x address for ETH, the address itself for SKY. `value` is in the coin's
    smallest unit (satoshi, wei, droplet), exact.
    """

    txid: str
    n: int
    watch_key: str
    value: int


@dataclass(frozen=True, slots=True)
class Block:
    height: int
    hash: str
    prev_hash: str
    outputs: tuple[ChainOutput, ...]


class ChainClient(Protocol):
    """A node client as the block loop uses it. Errors: raise `NodeError` (temporary)."""

    coin_type: str  # "BTC", "ETH", "SKY"

    async def tip_height(self) -> int: ...

    async def block_hash(self, height: int) -> str: ...

    async def block(self, height: int) -> Block: ...

    def watch_key(self, address: str) -> str:
        """The `ChainOutput.watch_key` that an output paying `address` carries."""
        ...


class NodeError(Exception):
    """The node could not answer usefully now (unreachable, slow, error, garbage): retry."""
