"""The ETH node client: Ethereum JSON-RPC (geth, anvil, any node) over HTTP.

Calls: eth_blockNumber, eth_getBlockByNumber(<n>, true), and the block's trace for internal
transfers (below); for payments seen before they count, eth_getBlockByNumber("pending",
true). Every value transfer with a recipient becomes one `ChainOutput`: watch key the
recipient lower-cased (deposit addresses are stored lower-cased, so the match ignores
EIP-55 case), value the wei of the quantity, exactly (hex quantities are integers; no float).

Deposit ids are "<tx hash>:<n>". n = 0 is the transaction's own value (`to`, `value` of the
transaction). n = 1, 2, ... are its internal transfers: value moved by the calls the
transaction made (a contract wallet or an exchange's batched withdrawal paying a deposit
address), numbered in depth-first call order among the value-carrying inner frames, reverted
ones included (clients/eth_traces.py says which frames move value). The original used the
transaction's index in its block as n, but that index changes when a reorg puts the same
transaction in another block, which would make one payment two deposits; a transaction hash
and a place in its own call tree name one value transfer for good. A transfer in a frame that
failed, or under one, moved nothing and is no output; a failed transaction (receipt status 0)
moves nothing at all (the block loop asks `failed_txids` about every output it would pay).

Internal transfers come from the node's block trace: `debug_traceBlockByHash` with geth's
callTracer (geth, erigon, reth, nethermind, anvil), else parity's `trace_block` (erigon,
nethermind, anvil); the first the node knows is remembered (and looked for again if it stops
answering). A node with neither (the method is not found: a public endpoint without the debug
and trace namespaces) is read as before, the transactions' own values only, with one
`notice=WATCH` line saying internal transfers are not visible. A trace answer that does not fit
the block is a `NodeBadAnswer` (retried), never a guessed deposit. Every block with a
transaction is traced: one more call per block (the note in tests/scanners/
test_eth_internal.py gives its cost on anvil). Token transfers are not seen.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from teller.clients.chain import Block, ChainOutput
from teller.clients.eth_traces import Transfer, call_tracer_block, parity_transfers
from teller.clients.jsonrpc import JsonRpcClient, RpcError
from teller.coins.eth import validate_address
from teller.errors import NodeBadAnswer, ScanHalted
from teller.logs import log_event

_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
_QUANTITY = re.compile(r"0x[0-9a-fA-F]{1,64}")  # at most 256 bits

CALL_TRACER = "debug_traceBlockByHash"  # geth's callTracer: a tree of frames per transaction
PARITY_TRACE = "trace_block"  # parity's flat list of traces
TRACE_METHODS = (CALL_TRACER, PARITY_TRACE)  # tried in this order
NO_TRACES = ""  # `trace_method` once the node has answered that it has none of them

# What a node answers for a method it does not have (or does not open to this client): the
# JSON-RPC code for "method not found", or words to that effect. "block not found" is not it.
_METHOD_MISSING = re.compile(
    r"\b(method|namespace|tracer)\b.*\b(not found|does not exist|not available|not supported"
    r"|unsupported|not allowed|not enabled|disabled|not defined)",
    re.IGNORECASE | re.DOTALL,
)

log = logging.getLogger(__name__)


class EthereumClient:
    coin_type = "ETH"

    def __init__(self, server: str, port: str, *, chain_id: int = 0, timeout: float = 30.0) -> None:
        url = server if "://" in server else f"http://{server}"
        if port:
            url = f"{url}:{port}"
        self.rpc = JsonRpcClient(url, version="2.0", timeout=timeout)
        self.chain_id = chain_id  # 0: not checked
        # Which of TRACE_METHODS the node answers: None until the first traced block, NO_TRACES
        # when it has none (internal transfers are then not seen: told once, notice=WATCH).
        self.trace_method: str | None = None
        self._no_pending = False  # the node has no pending block (mempool_outputs)

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
        document = await self._block(height, full=True)
        block_hash, txids = _hash_and_txids(document, height)
        transfers = await self.internal_transfers(block_hash, height, txids) if txids else {}
        return parse_block(document, height, transfers)

    async def internal_transfers(
        self, block_hash: str, height: int, txids: Sequence[str]
    ) -> dict[str, list[Transfer]] | None:
        """The internal transfers of each transaction (`txids`, in block order) of block
        `block_hash`; None when the node can trace no block."""
        if self.trace_method == NO_TRACES:
            return None
        # The remembered method first; the others only if it is gone (a node swapped for one
        # of another kind behind the same address).
        methods = sorted(TRACE_METHODS, key=lambda m: m != self.trace_method)
        for method in methods:
            try:
                if method == CALL_TRACER:
                    answer = await self.rpc.call(method, block_hash, {"tracer": "callTracer"})
                else:
                    answer = await self.rpc.call(method, hex(height))
            except RpcError as exc:
                if not method_missing(exc):
                    raise  # a NodeBadAnswer: retried by the block loop, never skipped
                log_event(log, logging.DEBUG, "the ETH node cannot trace", method=method)
                continue
            if method != self.trace_method:
                self.trace_method = method
                log_event(log, logging.INFO, "ETH internal transfers read", method=method)
            if method == CALL_TRACER:
                return call_tracer_block(answer, block_hash, txids)
            return parity_transfers(answer, block_hash, txids)
        self.trace_method = NO_TRACES
        log_event(
            log,
            logging.WARNING,
            "the ETH node traces no block: internal transfers (ETH a contract sends to a deposit"
            " address, such as an exchange's batched withdrawal) are not seen and not paid;"
            " use a node with the debug or trace namespace open",
            watch=True,
            methods=",".join(TRACE_METHODS),
        )
        return None

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

    async def mempool_outputs(self, watch_keys: Collection[str]) -> list[ChainOutput]:
        """The value transfers of the node's pending transactions to `watch_keys` (payments
        seen before they count, scanners/seen.py; never deposits from here): the
        transactions of eth_getBlockByNumber("pending", true), their own value only (n = 0;
        internal transfers show once mined). A node that keeps no pending block (answers
        null, or has no such tag) shows none; one that does not know the method is not asked
        again."""
        if self._no_pending:
            return []
        try:
            document = await self.rpc.call("eth_getBlockByNumber", "pending", True)
        except RpcError as exc:
            if not method_missing(exc):
                raise
            self._no_pending = True
            log_event(log, logging.INFO, "the ETH node shows no pending transactions")
            return []
        if document is None:
            return []
        try:
            outputs = []
            for tx in document["transactions"]:
                recipient = tx.get("to")
                if recipient and recipient.lower() in watch_keys:
                    value = quantity(tx["value"], "value")
                    if value > 0:
                        outputs.append(ChainOutput(_hash(tx["hash"]), 0, recipient.lower(), value))
            return outputs
        except NodeBadAnswer:
            raise
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise NodeBadAnswer(f"the pending block is not a full block: {exc!r}") from exc

    def watch_key(self, address: str) -> str:
        return validate_address(address)

    async def balance_at(self, address: str, height: int) -> int:
        """The wei `address` held after block `height` (eth_getBalance; the audit)."""
        return quantity(await self.rpc.call("eth_getBalance", address, hex(height)), "balance")

    async def sent_count_at(self, address: str, height: int) -> int:
        """How many transactions `address` had sent by block `height` (its nonce): 0 means
        nothing ever left it, so its balance is all it ever received (the audit)."""
        found = await self.rpc.call("eth_getTransactionCount", address, hex(height))
        return quantity(found, "eth_getTransactionCount")

    async def aclose(self) -> None:
        await self.rpc.aclose()


def parse_block(
    document: Any, height: int, transfers: Mapping[str, Sequence[Transfer]] | None = None
) -> Block:
    """Block `height` from its eth_getBlockByNumber(n, true) `document`: every transaction's
    own value (n = 0), each followed by its internal transfers that happened (`transfers`, by
    transaction hash; none when the node cannot trace)."""
    try:
        outputs = []
        for tx in document["transactions"]:
            txid = _hash(tx["hash"])
            recipient = tx.get("to")
            if recipient:  # else a contract creation: its value goes to the new contract
                outputs.append(
                    ChainOutput(txid, 0, recipient.lower(), quantity(tx["value"], "value"))
                )
            for moved in (transfers or {}).get(txid, ()):
                if moved.happened:
                    outputs.append(ChainOutput(txid, moved.n, moved.to, moved.value))
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


def _hash_and_txids(document: Any, height: int) -> tuple[str, list[str]]:
    """The block's hash and its transactions' hashes, in block order."""
    try:
        return _hash(document["hash"]), [_hash(tx["hash"]) for tx in document["transactions"]]
    except (KeyError, TypeError) as exc:
        raise NodeBadAnswer(f"block {height}: not a full Ethereum block: {exc!r}") from exc


def method_missing(exc: RpcError) -> bool:
    """Whether the node answered that it does not have (or does not offer) the method."""
    return exc.code == -32601 or _METHOD_MISSING.search(exc.node_message) is not None


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
