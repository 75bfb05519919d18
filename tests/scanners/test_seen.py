"""Payments seen before they count (scanners/seen.py) on real nodes: Litecoin Core in regtest
(Bitcoin Core 0.21's RPC: getrawmempool, getrawtransaction) and anvil (the pending block).

A payment shows in seen_payments with 0 confirmations while in the mempool, then 1, 2, … as
blocks are mined on it, is never a deposit before its confirmations, and its row goes once the
block loop records it; a reorg taking its block puts it back in the mempool (0)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from teller.clients.bitcoind import BitcoinClient
from teller.clients.ethereum import EthereumClient
from teller.scanners.base import BlockScanner
from teller.store.models import WebhookTarget
from teller.store.seen import seen_payments
from teller.store.webhooks import list_deliveries
from tests.scanners.conftest import (
    RPC_PASS,
    RPC_USER,
    SKY_A,
    AnvilNode,
    LitecoinNode,
    Rig,
    new_key,
    scan_all,
)


def seen(rig: Rig) -> dict[str, tuple[str, int, int]]:
    with rig.db.read() as conn:
        return {
            p.deposit_id: (p.deposit_address, p.value, p.confirmations) for p in seen_payments(conn)
        }


async def round_(scanner: BlockScanner) -> None:
    """One round as the loop runs it: scan what is confirmed, then list what is seen."""
    await scan_all(scanner)
    await scanner.see_payments()


@pytest.fixture
async def btc(ltc: LitecoinNode) -> AsyncIterator[BitcoinClient]:
    node = BitcoinClient(f"127.0.0.1:{ltc.port}", RPC_USER, RPC_PASS, tls=False, network="regtest")
    yield node
    await node.aclose()


async def test_a_btc_payment_is_seen_in_the_mempool_then_counts_up_then_is_a_deposit(
    ltc: LitecoinNode, rig: Rig, btc: BitcoinClient
) -> None:
    key, other = new_key(segwit=True), new_key()
    rig.bind("BTC", key.btc_address)
    rig.db.webhook_targets = (WebhookTarget("https://r.example/", frozenset({"payment.seen"})),)
    # Two blocks on top of the deposit's: 3 confirmations as Bitcoin counts them.
    scanner = rig.scanner(btc, confirmations_required=2, start=ltc.height() + 1)
    await round_(scanner)
    assert seen(rig) == {}
    txid = ltc.pay((other.script, 60_000), (key.script, 12_345_678))
    ltc.pay((other.script, 70_000))  # pays no bound address: not seen
    await round_(scanner)
    paid = f"{txid}:1"
    assert seen(rig) == {paid: (key.btc_address, 12_345_678, 0)}  # in the mempool
    # The webhook's payment.seen is queued with the row, once per output.
    with rig.db.read() as conn:
        (event,) = [json.loads(row.body) for row in list_deliveries(conn)]
    assert event["type"] == "payment.seen"
    assert event["data"]["deposit_id"] == paid
    assert event["data"]["sky_address"] == SKY_A
    assert event["data"]["value"] == "0.12345678"
    assert (event["data"]["confirmations"], event["data"]["confirmations_required"]) == (0, 2)
    for confirmations in (1, 2):
        ltc.mine(1)
        await round_(scanner)
        assert seen(rig) == {paid: (key.btc_address, 12_345_678, confirmations)}
        assert rig.deposits() == {}  # never a deposit before its confirmations
    # A reorg takes the block holding it: the transaction is back in the mempool.
    ltc.rpc("invalidateblock", ltc.rpc("getbestblockhash"))
    ltc.rpc("invalidateblock", ltc.rpc("getbestblockhash"))
    await round_(scanner)
    assert seen(rig) == {paid: (key.btc_address, 12_345_678, 0)}
    ltc.mine(3)
    await round_(scanner)
    assert set(rig.deposits()) == {paid}  # three confirmations: recorded by the block loop
    with rig.db.read() as conn:
        types = [json.loads(row.body)["type"] for row in list_deliveries(conn)]
    assert types == ["payment.seen"]  # seen again after the reorg: still the one event id
    assert seen(rig) == {}  # and no longer merely seen


# -- ETH: anvil ------------------------------------------------------------------------------


@pytest.fixture
async def eth(anvil: AnvilNode) -> AsyncIterator[EthereumClient]:
    node = EthereumClient("127.0.0.1", str(anvil.port))
    anvil.rpc("evm_setAutomine", False)  # transactions wait in the pool until mined
    try:
        yield node
    finally:
        anvil.rpc("evm_setAutomine", True)
        await node.aclose()


async def test_an_eth_payment_is_seen_pending_then_counts_up_then_is_a_deposit(
    anvil: AnvilNode, rig: Rig, eth: EthereumClient
) -> None:
    watched = f"0x{anvil.height():08x}" + "5eed" * 8
    rig.bind("ETH", watched)
    scanner = rig.scanner(eth, confirmations_required=1, start=anvil.height() + 1)
    await round_(scanner)
    sent = {"from": anvil.accounts[0], "to": watched, "value": hex(123_456_789_012_345_678)}
    txid = str(anvil.rpc("eth_sendTransaction", sent))
    await round_(scanner)
    paid = f"{txid}:0"
    assert seen(rig) == {paid: (watched, 123_456_789_012_345_678, 0)}  # pending
    anvil.mine(1)
    await round_(scanner)
    assert seen(rig) == {paid: (watched, 123_456_789_012_345_678, 1)}
    assert rig.deposits() == {}
    anvil.mine(1)
    await round_(scanner)
    assert set(rig.deposits()) == {paid}
    assert seen(rig) == {}


async def test_a_double_spent_btc_payment_goes(
    ltc: LitecoinNode, rig: Rig, btc: BitcoinClient
) -> None:
    """A payment that leaves the mempool unmined (its input spent by another transaction, mined
    instead: a double spend) leaves the seen payments, and is never a deposit."""
    key = new_key()
    rig.bind("BTC", key.btc_address)
    scanner = rig.scanner(btc, confirmations_required=1, start=ltc.height() + 1)
    txid = ltc.pay((key.script, 25_000_000))
    await round_(scanner)
    assert seen(rig) == {f"{txid}:0": (key.btc_address, 25_000_000, 0)}
    # Another transaction spending the same coin, mined without the payment.
    spent = ltc.rpc("getrawtransaction", txid, 1)["vin"][0]
    coin = ltc.rpc("gettxout", spent["txid"], spent["vout"], False)
    back = ltc.rpc(
        "createrawtransaction",
        [{"txid": spent["txid"], "vout": spent["vout"]}],
        {ltc.rpc("getnewaddress"): str(coin["value"] - Decimal("0.001"))},
    )
    signed = ltc.rpc("signrawtransactionwithwallet", back)["hex"]
    ltc.rpc("generateblock", ltc.rpc("getnewaddress"), [signed])
    assert txid not in ltc.rpc("getrawmempool")
    await round_(scanner)
    assert seen(rig) == {}
    ltc.mine(2)
    await round_(scanner)
    assert rig.deposits() == {}
