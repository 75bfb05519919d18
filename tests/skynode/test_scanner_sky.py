"""scanners/sky.py: Skycoin blocks as the block loop sees them, read from the node simulator."""

from __future__ import annotations

import pytest

from teller.clients.skycoin_node import SkyNodeClient
from teller.coins import sky_tx
from teller.errors import NodeError
from teller.scanners.sky import SkyChainClient

from .conftest import SKY_A, SKY_B, SimNode


async def test_a_payment_to_a_sky_address_is_an_output_of_its_block(sim: SimNode) -> None:
    client = SkyNodeClient(sim.address)
    chain = SkyChainClient(client)
    tip = await chain.tip_height()
    assert tip == 1  # genesis, then the block that split the demo coins
    wallet = sim.wallet
    spendable = (await client.outputs(wallet.addresses)).spendable
    unspent = [sky_tx.Unspent(o.uxid, o.address, o.droplets, o.hours) for o in spendable]
    built = sky_tx.build_transaction(
        unspent[:1], [(SKY_A, 2_500_000), (SKY_B, 1_000)], wallet.addresses[0], wallet.seckeys,
        burn_factor=10,
    )  # fmt: skip
    await client.inject(built.raw_hex)
    assert await chain.tip_height() == tip  # pending: not in a block yet
    sim.make_block()
    assert await chain.tip_height() == tip + 1
    block = await chain.block(tip + 1)
    previous = await chain.block(tip)
    assert block.height == tip + 1 and block.prev_hash == previous.hash
    assert await chain.block_hash(tip + 1) == block.hash
    paid = {(o.watch_key, o.value): (o.txid, o.n) for o in block.outputs}
    assert paid[(SKY_A, 2_500_000)] == (built.txid, 0)
    assert paid[(SKY_B, 1_000)] == (built.txid, 1)
    assert chain.watch_key(SKY_A) == SKY_A
    await client.aclose()


async def test_no_block_above_the_tip_and_no_bad_watch_address(sim: SimNode) -> None:
    chain = SkyChainClient(SkyNodeClient(sim.address))
    with pytest.raises(NodeError):
        await chain.block(await chain.tip_height() + 1)
    with pytest.raises(NodeError):
        await chain.block(-1)
    with pytest.raises(ValueError, match="invalid SKY address"):
        chain.watch_key("1111111111111111111111111")
    genesis = await chain.block(0)
    assert genesis.prev_hash == "" and genesis.outputs[0].watch_key == sim.wallet.addresses[0]


async def test_a_node_that_is_down_is_a_node_error(sim: SimNode) -> None:
    chain = SkyChainClient(SkyNodeClient(sim.address))
    sim.stop()
    with pytest.raises(NodeError, match="unreachable"):
        await chain.tip_height()
    sim.start()
    assert await chain.tip_height() == 1
