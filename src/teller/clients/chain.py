"""What a chain node reports, in the one shape every chain client returns and the block loop
(scanners/base.py) reads: blocks of outputs keyed by what deposit addresses are matched on.

Place in the flow: clients/bitcoind.py, clients/ethereum.py and scanners/sky.py build these;
the block loop matches them against bound addresses and hands deposits to the intake.
"""

from __future__ import annotations

from collections.abc import Container
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


class FetchedBlock(Protocol):
    """What a client's optional `fetch_block(height)` returns (clients/bitcoind.py has one): a
    decoded block whose outputs are built only for the watch keys asked for, so a block of
    thousands of transactions costs little more than its decoding. Clients without it are
    read with `block()`."""

    height: int
    hash: str
    prev_hash: str

    def outputs_paying(self, watch_keys: Container[str]) -> tuple[ChainOutput, ...]: ...
