"""The node client against the simulator: CSRF on and off, outputs in flight, inject refusals."""

from __future__ import annotations

from typing import Any

import pytest

from teller.clients.skycoin_node import SkyNodeClient, TransactionRejected, UnspentOutput
from teller.coins import sky_tx

from .conftest import SKY_A, SKY_B, SimNode


def _spend(outputs: list[UnspentOutput], sim: SimNode, to: str) -> sky_tx.BuiltTransaction:
    wallet = sim.wallet
    unspent = [sky_tx.Unspent(o.uxid, o.address, o.droplets, o.hours) for o in outputs]
    return sky_tx.build_transaction(
        unspent, [(to, 1_000_000)], wallet.addresses[0], wallet.seckeys, burn_factor=10
    )


async def test_outputs_spent_by_a_pending_transaction_are_not_spendable(sim: SimNode) -> None:
    client = SkyNodeClient(sim.address)
    before = await client.outputs(sim.wallet.addresses)
    assert len(before.spendable) == 10 and before.outgoing == frozenset()
    assert sum(o.droplets for o in before.confirmed) == 100_000_000 * 1_000_000
    built = _spend(list(before.spendable[:1]), sim, SKY_A)
    assert await client.inject(built.raw_hex) == built.txid
    assert await client.inject(built.raw_hex) == built.txid  # again while pending: harmless
    during = await client.outputs(sim.wallet.addresses)
    assert during.outgoing == {before.spendable[0].uxid}
    assert before.spendable[0].uxid not in {o.uxid for o in during.spendable}
    assert [o.droplets for o in during.incoming] == [before.spendable[0].droplets - 1_000_000]
    status = await client.transaction_status(built.txid)
    assert (status.known, status.confirmed) == (True, False)
    sim.make_block()
    status = await client.transaction_status(built.txid)
    assert (status.confirmed, status.depth) == (True, 1)
    # The same bytes once confirmed: refused as spending outputs that no longer exist.
    with pytest.raises(TransactionRejected) as refused:
        await client.inject(built.raw_hex)
    assert refused.value.spends_missing_inputs
    balance = await client.balance(sim.wallet.addresses)
    assert balance.confirmed_droplets == 100_000_000 * 1_000_000 - 1_000_000
    await client.aclose()


async def test_a_fee_below_the_node_minimum_is_refused_not_retried(make_sim: Any) -> None:
    sim: SimNode = make_sim(version="0.25.1")  # burns half: a 10% fee is too little
    client = SkyNodeClient(sim.address)
    info = await client.node_info()
    assert (info.version, info.burn_factor) == ("0.25.1", 2)
    outputs = (await client.outputs(sim.wallet.addresses)).spendable
    built = _spend(list(outputs[:1]), sim, SKY_B)  # built for burn factor 10
    with pytest.raises(TransactionRejected, match="fee minimum not met") as refused:
        await client.inject(built.raw_hex)
    assert not refused.value.spends_missing_inputs
    await client.aclose()


async def test_a_node_without_csrf_is_used_without_tokens(tmp_path: Any) -> None:
    sim = SimNode(tmp_path / "nocsrf")
    sim.options.csrf = False
    sim.start()
    try:
        client = SkyNodeClient(f"localhost:{sim.port}")  # the other Host a node accepts
        outputs = (await client.outputs(sim.wallet.addresses)).spendable
        built = _spend(list(outputs[:1]), sim, SKY_A)
        assert await client.inject(built.raw_hex) == built.txid
        await client.aclose()
    finally:
        sim.stop()
