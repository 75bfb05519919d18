"""The SKY chain client of the block loop: Skycoin blocks as `Block`s of `ChainOutput`s.

Place in the flow: the block loop (scanners/base.py) asks it for the tip and for blocks by
height, matches each output's `watch_key` (the address itself) against the SKY deposit
addresses bound to buyers, and hands confirmed deposits to the intake. It reads the node
through clients/skycoin_node.py (the same REST client the payer uses) and knows nothing of deposits.

A Skycoin output is identified by its uxid, but a deposit id is "<txid>:<n>" for every coin,
so an output is reported as its transaction's txid and its index in that transaction's
outputs; the pair is as unique as the uxid (a transaction's outputs are distinct).
Skycoin has one block publisher, so blocks are final once made; the loop's reorg check
(prev_hash) still works, with the genesis block's prev_hash empty.
"""

from __future__ import annotations

from teller.clients.chain import Block, ChainOutput
from teller.clients.skycoin_node import SkyNodeClient, SkyNodeError
from teller.coins.sky import AddressError, validate_address
from teller.errors import InvalidValue


class SkyChainClient:
    """A `ChainClient` over a Skycoin node's REST API (v0.25 to v0.27)."""

    coin_type = "SKY"

    def __init__(self, client: SkyNodeClient) -> None:
        self.client = client

    async def tip_height(self) -> int:
        return (await self.client.head()).seq

    async def block_hash(self, height: int) -> str:
        return (await self.block(height)).hash

    async def block(self, height: int) -> Block:
        if height < 0:
            raise SkyNodeError(f"no block at height {height}")
        found = await self.client.block(height)
        outputs = tuple(
            ChainOutput(txid=tx.txid, n=n, watch_key=out.address, value=out.droplets)
            for tx in found.transactions
            for n, out in enumerate(tx.outputs)
        )
        return Block(height=found.seq, hash=found.hash, prev_hash=found.prev_hash, outputs=outputs)

    def watch_key(self, address: str) -> str:
        """A SKY output carries its address as is; a bad address is a ValueError."""
        try:
            return validate_address(address.strip())
        except AddressError as exc:
            raise InvalidValue(f"invalid SKY address {address!r}: {exc}") from exc
