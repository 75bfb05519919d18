"""The BTC node client: Bitcoin Core's JSON-RPC (and btcd's, over TLS with a pinned cert).

Calls: getblockcount, getblockhash <height>, getblock <hash> 2 (btcd before 0.22 only knows
the older getblock <hash> true true; teller falls back to it once and remembers); for payments
seen before they count, getrawmempool and getrawtransaction <txid> 1. Each
output becomes a `ChainOutput` keyed by its scriptPubKey hex, so deposits are matched by
script, not by address text: a Litecoin Core regtest node (other address prefixes, the same
scripts) serves as a Bitcoin Core peer in the tests.

Outputs that are no deposit: an output whose scriptPubKey names no address or several
(bare multisig, OP_RETURN, non-standard). Both JSON shapes of the address are read: Bitcoin
Core 22+ `"address": "..."`, older Core, Litecoin Core and btcd `"addresses": [...]`.
Amounts are JSON numbers parsed as Decimal and converted to satoshis exactly; an amount
with more than 8 decimals is garbage (NodeBadAnswer), never rounded.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Container
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from teller.clients.chain import Block, ChainOutput
from teller.clients.jsonrpc import JsonRpcClient, RpcError, pinned_tls_context
from teller.coins.btc import Network, script_pubkey_for_address
from teller.errors import NodeBadAnswer, ScanHalted
from teller.logs import log_event

_SATOSHI_EXPONENT = 8
_MAX_BTC = 21_000_000  # no output can hold more (Bitcoin's MAX_MONEY)
_HEX = re.compile(r"[0-9a-fA-F]+")
log = logging.getLogger("teller.scanner.btc")

RPC_TYPE_ERROR = -3  # Bitcoin Core / btcd: "Expected type bool, got number"
RPC_METHOD_NOT_FOUND = -32601
RPC_INVALID_ADDRESS_OR_KEY = -5  # getrawtransaction: "No such mempool transaction"
MEMPOOL_TXS_PER_ROUND = 1000  # mempool transactions read per round at most (one call each)

# The names getblockchaininfo's "chain" has on each network: Bitcoin Core and Litecoin Core
# say main/test/regtest; btcd says mainnet/testnet3/regtest (simnet is btcd's regtest-like).
CHAIN_NAMES: dict[str, frozenset[str]] = {
    "mainnet": frozenset({"main", "mainnet"}),
    "testnet": frozenset({"test", "testnet", "testnet3", "testnet4", "signet"}),
    "regtest": frozenset({"regtest", "simnet"}),
}


class BitcoinClient:
    coin_type = "BTC"

    def __init__(
        self,
        server: str,
        user: str,
        password: str,
        *,
        cert: str = "",
        tls: bool = True,
        network: Network = "mainnet",
        timeout: float = 30.0,
    ) -> None:
        scheme = "https" if tls else "http"
        url = server if "://" in server else f"{scheme}://{server}"
        self.rpc = JsonRpcClient(
            url,
            user=user,
            password=password,
            tls=pinned_tls_context(cert) if tls and cert else None,
            version="1.0",
            timeout=timeout,
        )
        self.network = network
        self._legacy_getblock = False
        # The mempool as last read (mempool_outputs): the outputs of each transaction looked
        # at that pay a watched script, and every txid listed.
        self._mempool: dict[str, tuple[ChainOutput, ...]] = {}
        self._mempool_listed: set[str] = set()
        self._no_mempool = False

    async def check_chain(self) -> None:
        """ScanHalted unless the node is on `btc_scanner.network`. A node without
        getblockchaininfo (old btcd) cannot be checked: it is taken at its word."""
        try:
            info = await self.rpc.call("getblockchaininfo")
        except RpcError as exc:
            if exc.code == RPC_METHOD_NOT_FOUND:
                return
            raise
        chain = info.get("chain") if isinstance(info, dict) else None
        if not isinstance(chain, str):
            raise NodeBadAnswer(f"getblockchaininfo: no chain name in {info!r:.80}")
        if chain not in CHAIN_NAMES[self.network]:
            raise ScanHalted(
                f"the BTC node is on chain {chain[:32]!r} but btc_scanner.network is"
                f" {self.network}: deposits are matched by script, so coins of the wrong"
                " network would be paid for. Point btc_rpc.server at a node of the right"
                " network or fix btc_scanner.network"
            )

    async def tip_height(self) -> int:
        return _height(await self.rpc.call("getblockcount"), "getblockcount")

    async def block_hash(self, height: int) -> str:
        return _hash(await self.rpc.call("getblockhash", height), "getblockhash")

    async def block(self, height: int) -> Block:
        return (await self.fetch_block(height)).block()

    async def fetch_block(self, height: int) -> VerboseBlock:
        """The block, decoded but not yet turned into outputs (see `VerboseBlock`)."""
        block_hash = await self.block_hash(height)
        document = None
        if not self._legacy_getblock:
            try:
                document = await self.rpc.call("getblock", block_hash, 2)
            except RpcError as exc:
                if exc.code != RPC_TYPE_ERROR:
                    raise
                self._legacy_getblock = True  # btcd < 0.22: verbose, verbosetx booleans
        if document is None:
            document = await self.rpc.call("getblock", block_hash, True, True)
        block = read_block(document, height)
        if block.hash != block_hash:
            raise NodeBadAnswer(f"asked for block {block_hash}, got block {block.hash}")
        return block

    async def mempool_outputs(self, scripts: Container[str]) -> list[ChainOutput]:
        """The outputs of mempool transactions paying `scripts` (payments seen before they
        count, scanners/seen.py; never deposits from here).

        getrawmempool lists the txids; each one not looked at before is read with
        getrawtransaction <txid> 1 (verbose as a number: Bitcoin Core, Litecoin Core and
        btcd all take it; mempool transactions need no txindex), newest arrivals first, at
        most MEMPOOL_TXS_PER_ROUND a round. What a transaction pays is remembered while it
        stays in the mempool, so each is read once. A node without getrawmempool (the btcd
        simulator) has no mempool to show: told once, then not asked again."""
        if self._no_mempool:
            return []
        try:
            listed = await self.rpc.call("getrawmempool")
        except RpcError as exc:
            if exc.code != RPC_METHOD_NOT_FOUND:
                raise
            self._no_mempool = True
            log_event(log, logging.INFO, "the BTC node has no mempool to read: none shown")
            return []
        if not isinstance(listed, list):
            raise NodeBadAnswer(f"getrawmempool: not a list of txids: {listed!r:.80}")
        txids = [_hash(txid, "getrawmempool") for txid in listed]
        known = self._mempool
        present = set(txids)
        for txid in [t for t in known if t not in present]:
            del known[txid]  # mined or dropped: no longer in the mempool
        arrived = [t for t in txids if t not in self._mempool_listed and t not in known]
        backlog = [t for t in txids if t in self._mempool_listed and t not in known]
        self._mempool_listed = present
        for txid in (arrived + backlog)[:MEMPOOL_TXS_PER_ROUND]:
            try:
                tx = await self.rpc.call("getrawtransaction", txid, 1)
            except RpcError as exc:
                if exc.code == RPC_INVALID_ADDRESS_OR_KEY:
                    continue  # left the mempool since it was listed
                raise
            known[txid] = deposit_outputs([tx], scripts, None, None)
        return [o for outputs in known.values() for o in outputs if o.watch_key in scripts]

    def watch_key(self, address: str) -> str:
        return script_pubkey_for_address(address, self.network).hex()

    async def aclose(self) -> None:
        await self.rpc.aclose()


@dataclass(frozen=True, slots=True)
class VerboseBlock:
    """A decoded verbose block whose outputs are read only when asked for.

    Turning every output of a block of thousands of transactions into a `ChainOutput`
    (amount conversion included) costs about half as much as decoding its JSON; the block
    loop asks only for the outputs paying watched scripts (`outputs_paying`).
    """

    height: int
    hash: str
    prev_hash: str
    transactions: list[Any]

    def block(self) -> Block:
        return Block(self.height, self.hash, self.prev_hash, self.outputs_paying(None))

    def outputs_paying(self, scripts: Container[str] | None) -> tuple[ChainOutput, ...]:
        """The deposit outputs whose scriptPubKey hex is in `scripts` (None: all of them)."""
        coinbase = _coinbase(self.transactions[0])  # a block's first transaction
        return deposit_outputs(self.transactions, scripts, coinbase, self.height)


def deposit_outputs(
    transactions: list[Any], scripts: Container[str] | None, coinbase: Any, height: int | None
) -> tuple[ChainOutput, ...]:
    """The deposit outputs of verbose `transactions` (of block `height`, or of the mempool:
    None) whose scriptPubKey hex is in `scripts` (None: all of them). `coinbase` is the
    block's coinbase transaction (None: none), whose outputs are never deposits."""
    where = "the mempool" if height is None else f"block {height}"
    outputs: list[ChainOutput] = []
    append = outputs.append
    try:
        for tx in transactions:
            for vout in tx["vout"]:
                script = vout["scriptPubKey"]
                key = script["hex"]
                if scripts is not None and key not in scripts:
                    continue
                if "address" not in script:
                    addresses = script.get("addresses")
                    if addresses is None or len(addresses) != 1:
                        continue  # no address, or several (multisig): not a deposit
                if tx is coinbase:
                    # Spendable only after 100 blocks, and gone for good if its block is
                    # reorganized away: never a deposit; the operator is told when it
                    # pays a watched script (None: every output, no deposit address).
                    if scripts is None:
                        continue
                    log_event(
                        log,
                        logging.WARNING,
                        "a coinbase output pays a deposit address: not a deposit",
                        watch=True,
                        txid=tx.get("txid", ""),
                        n=vout.get("n", ""),
                        height=height,
                    )
                    continue
                append(
                    ChainOutput(
                        _hash(tx["txid"], "txid"),
                        _output_index(vout["n"]),
                        key,
                        satoshis(vout["value"]),
                    )
                )
    except NodeBadAnswer:
        raise
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise NodeBadAnswer(f"{where}: not a verbose block: {exc!r}") from exc
    return tuple(outputs)


def _coinbase(first: Any) -> Any:
    """`first` if it is a coinbase transaction (its input says "coinbase"), else None."""
    inputs = first.get("vin") if isinstance(first, dict) else None
    if isinstance(inputs, list) and inputs and isinstance(inputs[0], dict):
        return first if "coinbase" in inputs[0] else None
    return None


def read_block(document: Any, height: int) -> VerboseBlock:
    """A verbose block's header and transactions; NodeBadAnswer if it is not one."""
    try:
        transactions = document.get("tx") or document.get("rawtx")
        if not transactions or not isinstance(transactions[0], dict):
            # Every block holds at least its coinbase transaction.
            raise NodeBadAnswer(
                f"block {height} came without its transactions in full (btcd needs txindex=1)"
            )
        block_height = _height(document["height"], "getblock")
        prev_hash = document.get("previousblockhash")
        if prev_hash is not None or block_height > 0:  # only the genesis block has no parent
            prev_hash = _hash(prev_hash, "getblock previousblockhash")
        return VerboseBlock(
            height=block_height,
            hash=_hash(document["hash"], "getblock"),
            prev_hash=prev_hash or "",
            transactions=transactions,
        )
    except NodeBadAnswer:
        raise
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise NodeBadAnswer(f"block {height}: not a verbose block: {exc!r}") from exc


def parse_block(document: Any, height: int) -> Block:
    """A verbose block as a `Block` with all its deposit outputs."""
    return read_block(document, height).block()


def satoshis(value: object) -> int:
    """An output value (BTC, as parsed from JSON: Decimal or int) in satoshis, exactly."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise NodeBadAnswer(f"output value {value!r} is not a number")
    if not 0 <= value <= _MAX_BTC:  # also keeps int() below from building a huge number
        raise NodeBadAnswer(f"output value {value!r:.80} BTC is not a possible amount")
    scaled = Decimal(value).scaleb(_SATOSHI_EXPONENT)
    whole = int(scaled)
    if whole != scaled:
        raise NodeBadAnswer(f"output value {value} BTC is not a whole number of satoshis")
    return whole


def _output_index(value: object) -> int:
    """An output's `n`: its index in the transaction (an id part: exactly an int)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        raise NodeBadAnswer(f"output index {value!r:.80} is not an output index")
    return value


def _height(value: object, method: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise NodeBadAnswer(f"{method}: expected a block height, got {value!r}")
    return value


def _hash(value: object, method: str) -> str:
    """A block or transaction hash: 64 hex digits, in lower case (as nodes print them), so
    that the same hash always compares and names a deposit the same way."""
    if not isinstance(value, str) or len(value) != 64 or _HEX.fullmatch(value) is None:
        raise NodeBadAnswer(f"{method}: expected a 32-byte hash, got {value!r:.80}")
    return value.lower()
