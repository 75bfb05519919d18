"""The ETH node client: Ethereum JSON-RPC (geth, anvil, any node) over HTTP.

Calls: eth_blockNumber, eth_getBlockByNumber(<n>, true). Every transaction with a recipient
becomes one `ChainOutput`: watch key the recipient lower-cased (deposit addresses are
stored lower-cased, so the match ignores EIP-55 case), value the wei of the quantity,
exactly (hex quantities are integers; no float anywhere).

Deposit ids are "<tx hash>:0". The original used the transaction's index in its block as
n, but that index changes when a reorg puts the same transaction in another block, which
would make one payment two deposits; a transaction hash names one value transfer for good.
Only plain value transfers are seen (no token transfers, no internal transactions): deposit
addresses are plain accounts, to which a value transfer cannot fail once mined.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from teller.clients.chain import Block, ChainOutput
from teller.clients.jsonrpc import JsonRpcClient
from teller.coins.eth import validate_address
from teller.errors import NodeBadAnswer, ScanHalted

_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
_QUANTITY = re.compile(r"0x[0-9a-fA-F]{1,64}")  # at most 256 bits


class EthereumClient:
    coin_type = "ETH"

    def __init__(self, server: str, port: str, *, chain_id: int = 0, timeout: float = 30.0) -> None:
        url = server if "://" in server else f"http://{server}"
        if port:
            url = f"{url}:{port}"
        self.rpc = JsonRpcClient(url, version="2.0", timeout=timeout)
        self.chain_id = chain_id  # 0: not checked

    async def check_chain(self) -> None:
        """ScanHalted unless the node's eth_chainId is `eth_scanner.chain_id`: a node of a
        test network would otherwise turn test ether sent to deposit addresses into paid
        deposits (addresses are the same on every chain)."""
        if not self.chain_id:
            return
        found = quantity(await self.rpc.call("eth_chainId"), "eth_chainId")
        if found != self.chain_id:
            raise ScanHalted(
                f"the ETH node is on chain id {found} but eth_scanner.chain_id is"
                f" {self.chain_id}: ether of another chain would be paid for. Point"
                " eth_rpc.server at a node of the right chain or fix eth_scanner.chain_id"
            )

    async def tip_height(self) -> int:
        return quantity(await self.rpc.call("eth_blockNumber"), "eth_blockNumber")

    async def block_hash(self, height: int) -> str:
        document = await self._block(height, full=False)
        return _hash(document.get("hash"))

    async def block(self, height: int) -> Block:
        return parse_block(await self._block(height, full=True), height)

    async def _block(self, height: int, *, full: bool) -> Any:
        document = await self.rpc.call("eth_getBlockByNumber", hex(height), full)
        if document is None:
            raise NodeBadAnswer(f"eth_getBlockByNumber: the node has no block {height}")
        if not isinstance(document, dict):
            raise NodeBadAnswer(f"eth_getBlockByNumber: not a block: {document!r:.80}")
        return document

    async def failed_txids(self, block_hash: str, txids: Collection[str]) -> set[str]:
        """Those of `txids` (transactions of block `block_hash`) that failed: a reverted
        transaction is in the block with its value, but moved none (status 0x0)."""
        failed: set[str] = set()
        for txid in txids:
            receipt = await self.rpc.call("eth_getTransactionReceipt", txid)
            if not isinstance(receipt, dict):
                raise NodeBadAnswer(f"eth_getTransactionReceipt: no receipt of {txid}")
            if _hash(receipt.get("blockHash")) != block_hash:
                # The chain moved between the calls: read the block again.
                raise NodeBadAnswer(f"eth_getTransactionReceipt: {txid} is not in {block_hash}")
            status = receipt.get("status")
            if status is None:
                continue  # before Byzantium receipts carry no status: no failure told
            if quantity(status, "status") == 0:
                failed.add(txid)
        return failed

    def watch_key(self, address: str) -> str:
        return validate_address(address)

    async def aclose(self) -> None:
        await self.rpc.aclose()


def parse_block(document: Any, height: int) -> Block:
    try:
        outputs = []
        for tx in document["transactions"]:
            recipient = tx.get("to")
            if not recipient:
                continue  # a contract creation
            outputs.append(
                ChainOutput(_hash(tx["hash"]), 0, recipient.lower(), quantity(tx["value"], "value"))
            )
        return Block(
            height=quantity(document["number"], "number"),
            hash=_hash(document["hash"]),
            prev_hash=_hash(document["parentHash"]),
            outputs=tuple(outputs),
        )
    except NodeBadAnswer:
        raise
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise NodeBadAnswer(f"block {height}: not a full Ethereum block: {exc!r}") from exc


def quantity(value: object, what: str) -> int:
    """An Ethereum hex quantity ("0x1a") as an int."""
    if not isinstance(value, str) or _QUANTITY.fullmatch(value) is None:
        raise NodeBadAnswer(f"{what}: expected a hex quantity, got {value!r:.80}")
    try:
        return int(value, 16)
    except ValueError as exc:
        raise NodeBadAnswer(f"{what}: expected a hex quantity, got {value!r:.80}") from exc


def _hash(value: object) -> str:
    """A block or transaction hash, "0x" and 64 hex digits, in lower case: the same hash
    always compares and names a deposit the same way, whatever case the node prints."""
    if not isinstance(value, str) or _HASH.fullmatch(value) is None:
        raise NodeBadAnswer(f"expected a 32-byte hash, got {value!r:.80}")
    return value.lower()
