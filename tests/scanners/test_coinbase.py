"""A coinbase output paying a deposit address is never a deposit (it can be spent only after
100 blocks and vanishes for good if its block is reorganized away); the operator is told."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from teller.clients.bitcoind import BitcoinClient
from tests.scanners.conftest import RPC_PASS, RPC_USER, LitecoinNode, Rig, new_key, scan_all


@pytest.fixture
async def client(ltc: LitecoinNode) -> AsyncIterator[BitcoinClient]:
    node = BitcoinClient(f"127.0.0.1:{ltc.port}", RPC_USER, RPC_PASS, tls=False, network="regtest")
    yield node
    await node.aclose()


async def test_a_block_reward_to_a_deposit_address_is_not_a_deposit(
    ltc: LitecoinNode, rig: Rig, client: BitcoinClient, caplog: pytest.LogCaptureFixture
) -> None:
    key = new_key()
    rig.bind("BTC", key.btc_address)
    start = ltc.height() + 1
    [mined] = ltc.rpc("generatetoaddress", 1, key.ltc_address)  # the reward pays the address
    paid = ltc.pay((key.script, 4_000_000))  # and an ordinary payment does too
    ltc.mine(1)
    await scan_all(rig.scanner(client, confirmations_required=0, start=start))
    assert set(rig.deposits()) == {f"{paid}:0"}
    coinbase = ltc.rpc("getblock", mined)["tx"][0]
    [told] = [r for r in caplog.records if "coinbase output pays" in r.getMessage()]
    assert getattr(told, "notice", "") == "WATCH" and told.fields["txid"] == coinbase
