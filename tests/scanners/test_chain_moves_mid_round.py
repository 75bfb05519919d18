"""A reorg onto a shorter chain while a round is scanning: the round read the tip before its
batch, so a block paying a deposit is checked against the node again right before its
deposits are handed on (never with fewer confirmations than required)."""

from __future__ import annotations

from teller.clients.bitcoind import BitcoinClient, VerboseBlock
from teller.clients.chain import Block
from tests.scanners.conftest import RPC_PASS, RPC_USER, LitecoinNode, Rig, new_key, scan_all


class ShrinksAfterFetch(BitcoinClient):
    """A client whose node loses its top block right after block `at` is fetched."""

    def __init__(self, ltc: LitecoinNode, at: int) -> None:
        super().__init__(f"127.0.0.1:{ltc.port}", RPC_USER, RPC_PASS, tls=False, network="regtest")
        self.ltc = ltc
        self.at = at

    async def fetch_block(self, height: int) -> VerboseBlock:
        fetched = await super().fetch_block(height)
        if height == self.at:
            self.ltc.rpc("invalidateblock", self.ltc.rpc("getblockhash", self.ltc.height()))
            self.at = -1  # once
        return fetched

    async def block(self, height: int) -> Block:
        return (await self.fetch_block(height)).block()


async def test_a_deposit_is_not_handed_on_when_the_chain_shrank_under_the_round(
    ltc: LitecoinNode, rig: Rig
) -> None:
    key = new_key()
    rig.bind("BTC", key.btc_address)
    start = ltc.height() + 1
    txid = ltc.pay((key.script, 6_000_000))
    ltc.mine(1)  # the deposit's block
    paid_in = ltc.height()
    ltc.mine(1)  # 2 confirmations: enough when the round starts
    client = ShrinksAfterFetch(ltc, at=paid_in)
    try:
        scanner = rig.scanner(client, confirmations_required=1, start=start)
        assert await scanner.scan_once() is False  # the round notices and stops
        assert rig.deposits() == {}  # 1 confirmation left: not handed on
        ltc.mine_empty(1)  # 2 confirmations again
        await scan_all(scanner)
    finally:
        await client.aclose()
    assert set(rig.deposits()) == {f"{txid}:0"}
