"""A BTC node on another network than btc_scanner.network halts the scanner: deposits are
matched by script, so a testnet node would otherwise turn test coins into paid deposits."""

from __future__ import annotations

import pytest

from teller.clients.bitcoind import BitcoinClient
from teller.errors import ScanHalted
from tests.scanners.conftest import RPC_PASS, RPC_USER, LitecoinNode, Rig, new_key, scan_all


async def test_a_node_on_another_network_halts_the_scanner(ltc: LitecoinNode, rig: Rig) -> None:
    key = new_key()
    rig.bind("BTC", key.btc_address)
    start = ltc.height() + 1
    txid = ltc.pay((key.script, 5_000_000))
    ltc.mine(1)
    # The same scripts, but the config says mainnet while the node runs regtest.
    wrong = BitcoinClient(f"127.0.0.1:{ltc.port}", RPC_USER, RPC_PASS, tls=False)
    try:
        scanner = rig.scanner(wrong, confirmations_required=0, start=start)
        for _ in range(2):  # checked again after the halt, not passed by once failing
            with pytest.raises(ScanHalted, match=r"on chain 'regtest' but btc_scanner\.network"):
                await scanner.scan_once()
        assert rig.deposits() == {}
    finally:
        await wrong.aclose()
    right = BitcoinClient(f"127.0.0.1:{ltc.port}", RPC_USER, RPC_PASS, tls=False, network="regtest")
    try:
        await scan_all(rig.scanner(right, confirmations_required=0, start=start))
    finally:
        await right.aclose()
    assert set(rig.deposits()) == {f"{txid}:0"}
