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

from typing import Any

from teller.coins.eth import validate_address
from teller.scanner.base import Block, ChainOutput, NodeBadAnswer
from teller.scanner.jsonrpc import JsonRpcClient


class EthereumClient:
    coin_type = "ETH"

    def __init__(self, server: str, port: str, *, timeout: float = 30.0) -> None:
        url = server if "://" in server else f"http://{server}"
        if port:
            url = f"{url}:{port}"
        self.rpc = JsonRpcClient(url, version="2.0", timeout=timeout)

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
                ChainOutput(tx["hash"], 0, recipient.lower(), quantity(tx["value"], "value"))
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
    if not isinstance(value, str) or not value.startswith("0x") or len(value) > 66:
        raise NodeBadAnswer(f"{what}: expected a hex quantity, got {value!r:.80}")
    try:
        return int(value, 16)
    except ValueError as exc:
        raise NodeBadAnswer(f"{what}: expected a hex quantity, got {value!r:.80}") from exc


def _hash(value: object) -> str:
    if not isinstance(value, str) or len(value) != 66 or not value.startswith("0x"):
        raise NodeBadAnswer(f"expected a 32-byte hash, got {value!r:.80}")
    return value
