"""The Skycoin node simulator's chain: blocks, unspent outputs, the pool, the ledger.

Place in the flow: teller_sims/skynode.py serves this over the node's REST API; teller's SKY payer
and SKY scanner talk to it exactly as to a real node. Everything that decides whether a
transaction is valid comes from coins/sky_tx.py, applied in the node's order (reference
skycoin.md §4 "Fee rules the node enforces", §9 "Observed on a real v0.27.1 node"):

- inject: the inputs must be in the confirmed unspent set ("unspent output of <uxid> does
  not exist" otherwise, also for a transaction that already confirmed), then the soft rules
  (size, fee against the burn factor, 3 decimals), the hard rules (coin.Transaction.Verify,
  signatures against the inputs' owners, coins conserved), the user rule (no null address).
- injecting the same transaction again while it is pending changes nothing;
- two pending transactions may spend the same output (the node accepts both); a block takes
  the first and the loser stays "unconfirmed" for `conflict_ttl` seconds, then is forgotten;
- a block holds every valid pending transaction (up to the block size), oldest first.

Time is the wall clock in whole seconds (injectable), and coin hours are computed at the head
block's timestamp, as the node does. The whole chain is rebuilt from its transactions, so
persisting it is a list of blocks of raw transactions (see `to_json` / `from_json`).
"""

from __future__ import annotations

import hashlib
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from teller.coins import sky_tx
from teller.coins.sky import DROPLETS_PER_SKY
from teller.coins.sky_tx import Transaction, TransactionInvalid

GENESIS_DROPLETS = 100_000_000 * DROPLETS_PER_SKY  # 100M SKY, as mainnet
GENESIS_HOURS = 100_000_000_000_000  # mainnet's genesis coin hours (100e12)
MAX_BLOCK_SIZE = 32_768  # the node's default MaxBlockTransactionsSize

SPENT_OR_UNKNOWN = "unspent output of {} does not exist"


@dataclass
class UxOut:
    """A confirmed output; `spent_tx` is set once a block spends it."""

    uxid: str
    src_tx: str
    address: str
    droplets: int
    hours: int
    time: int  # the creating block's timestamp
    block_seq: int
    spent_tx: str = ""
    spent_seq: int = 0

    def hours_at(self, head_time: int) -> int:
        return sky_tx.coin_hours(self.droplets, self.hours, self.time, head_time)


@dataclass
class Block:
    seq: int
    time: int
    prev_hash: str
    transactions: list[Transaction]
    fee: int = 0

    @property
    def txids(self) -> list[str]:
        return [t.txid for t in self.transactions]

    @property
    def body_hash(self) -> str:
        return hashlib.sha256(b"".join(t.txid_bytes for t in self.transactions)).hexdigest()

    @property
    def hash(self) -> str:
        header = struct.pack("<QQQ", self.seq, self.time, self.fee)
        return hashlib.sha256(
            header + bytes.fromhex(self.prev_hash) + bytes.fromhex(self.body_hash)
        ).hexdigest()

    @property
    def size(self) -> int:
        return sum(t.length for t in self.transactions)


@dataclass
class Pending:
    transaction: Transaction
    received: int  # unix seconds
    conflicted_at: float | None = None  # monotonic time it lost to a confirmed spend


@dataclass
class Rules:
    """What the simulated node enforces; defaults are a v0.27 node's."""

    burn_factor: int = sky_tx.BURN_FACTOR_V026
    max_transaction_size: int = sky_tx.MAX_TRANSACTION_SIZE
    max_block_size: int = MAX_BLOCK_SIZE
    conflict_ttl: float = 60.0  # seconds a losing double spend still shows as unconfirmed


@dataclass
class Chain:
    """A single-node Skycoin chain. Not thread-safe: the simulator uses it from one loop."""

    rules: Rules = field(default_factory=Rules)
    clock: Callable[[], int] = field(default=lambda: int(time.time()))
    monotonic: Callable[[], float] = field(default=time.monotonic)
    blocks: list[Block] = field(default_factory=list)
    unspent: dict[str, UxOut] = field(default_factory=dict)
    spent: dict[str, UxOut] = field(default_factory=dict)
    pool: dict[str, Pending] = field(default_factory=dict)  # txid → pending, oldest first
    confirmed: dict[str, int] = field(default_factory=dict)  # txid → block seq

    # -- genesis ---------------------------------------------------------------------------

    def create_genesis(
        self,
        address: str,
        droplets: int = GENESIS_DROPLETS,
        hours: int = GENESIS_HOURS,
        timestamp: int | None = None,
    ) -> Block:
        """Block 0: one output to `address`, with a null source txid (as Skycoin's genesis)."""
        if self.blocks:
            raise ValueError("the chain already has a genesis block")
        out = sky_tx.TxOutput(address, droplets, hours)
        genesis = Transaction(0, 0, bytes(32), (), (), (out,))
        block = Block(0, self.clock() if timestamp is None else timestamp, "00" * 32, [genesis])
        ux = sky_tx.uxid(bytes(32), address, droplets, hours).hex()
        self.unspent[ux] = UxOut(ux, "00" * 32, address, droplets, hours, block.time, 0)
        self.confirmed[genesis.txid] = 0
        self.blocks.append(block)
        return block

    # -- reading ---------------------------------------------------------------------------

    @property
    def head(self) -> Block:
        return self.blocks[-1]

    def output(self, uxid: str) -> UxOut | None:
        return self.unspent.get(uxid) or self.spent.get(uxid)

    def outputs_of(self, addresses: Iterable[str]) -> list[UxOut]:
        wanted = set(addresses)
        return [u for u in self.unspent.values() if u.address in wanted]

    def live_pool(self) -> list[Pending]:
        """Pending transactions, after forgetting double-spend losers past their TTL."""
        now = self.monotonic()
        for txid, item in list(self.pool.items()):
            if (
                item.conflicted_at is not None
                and now - item.conflicted_at >= self.rules.conflict_ttl
            ):
                del self.pool[txid]
        return list(self.pool.values())

    def outgoing(self) -> dict[str, str]:
        """uxid → txid of every confirmed output that a pending transaction spends."""
        spends: dict[str, str] = {}
        for item in self.live_pool():
            if item.conflicted_at is None:
                for ux in item.transaction.inputs:
                    spends.setdefault(ux.hex(), item.transaction.txid)
        return spends

    def incoming(self, addresses: Iterable[str]) -> list[tuple[str, Transaction, int]]:
        """(uxid, transaction, output index) of pending outputs to `addresses`."""
        wanted = set(addresses)
        found = []
        for item in self.live_pool():
            if item.conflicted_at is not None:
                continue
            uxids = item.transaction.output_uxids()
            for index, out in enumerate(item.transaction.outputs):
                if out.address in wanted:
                    found.append((uxids[index], item.transaction, index))
        return found

    def find_transaction(self, txid: str) -> tuple[Transaction, int | None, int] | None:
        """(transaction, block seq or None if pending, time) of a known txid."""
        seq = self.confirmed.get(txid)
        if seq is not None:
            block = self.blocks[seq]
            for t in block.transactions:
                if t.txid == txid:
                    return t, seq, block.time
        self.live_pool()
        item = self.pool.get(txid)
        if item is not None:
            return item.transaction, None, item.received
        return None

    def ledger(self) -> dict[str, tuple[int, int]]:
        """address → (count, droplets) of every output ever confirmed to it (spent or not).

        This is what a crash test checks payouts against: what the chain paid, not what
        teller believes it paid.
        """
        totals: dict[str, tuple[int, int]] = {}
        for ux in (*self.unspent.values(), *self.spent.values()):
            count, droplets = totals.get(ux.address, (0, 0))
            totals[ux.address] = (count + 1, droplets + ux.droplets)
        return totals

    # -- verifying and injecting -------------------------------------------------------------

    def verify(
        self, tx: Transaction, spent_in_block: set[str] | frozenset[str] = frozenset()
    ) -> int:
        """Check `tx` against the head as the node does; returns its fee (coin hours).

        Raises TransactionInvalid whose `node_message` is the node's text.
        """
        inputs: list[UxOut] = []
        for ux in tx.inputs:
            found = self.unspent.get(ux.hex())
            if found is None or ux.hex() in spent_in_block:
                raise TransactionInvalid(SPENT_OR_UNKNOWN.format(ux.hex()))
            inputs.append(found)
        head_time = self.head.time
        in_hours = sum(u.hours_at(head_time) for u in inputs)
        in_droplets = sum(u.droplets for u in inputs)
        # soft constraints (the node checks them first: size, fee, precision)
        if tx.length > self.rules.max_transaction_size:
            raise TransactionInvalid(sky_tx.TOO_LARGE, sky_tx.SOFT)
        sky_tx.check_fee(in_hours, tx.output_hours(), self.rules.burn_factor)
        if any(o.droplets % sky_tx.DROPLET_PRECISION for o in tx.outputs):
            raise TransactionInvalid(sky_tx.TOO_MANY_DECIMALS, sky_tx.SOFT)
        # hard constraints: well formed, signed by the owners, coins conserved
        sky_tx.check_transaction(tx)
        sky_tx.verify_signatures(tx, [u.address for u in inputs])
        sky_tx.check_spending(tx, in_droplets, in_hours, self.rules.burn_factor)
        # user constraints
        sky_tx.check_user_rules(tx, self.rules.max_transaction_size)
        return in_hours - tx.output_hours()

    def inject(self, tx: Transaction) -> bool:
        """Verify and add to the pool; False if it was already pending (nothing changes)."""
        txid = tx.txid
        self.live_pool()
        if txid in self.pool:
            return False
        self.verify(tx)
        self.pool[txid] = Pending(tx, self.clock())
        return True

    def drop_pending(self, txid: str) -> None:
        """Forget a pending transaction (the rollback of a failed broadcast)."""
        self.pool.pop(txid, None)

    # -- blocks ------------------------------------------------------------------------------

    def has_work(self) -> bool:
        return any(item.conflicted_at is None for item in self.live_pool())

    def make_block(self, timestamp: int | None = None) -> Block:
        """A block of every pending transaction still valid, oldest first, within the size cap.

        A transaction whose input was spent (by the chain or earlier in this block) is a
        double-spend loser: it stays visible as unconfirmed for `conflict_ttl`, then goes.
        """
        when = max(self.clock() if timestamp is None else timestamp, self.head.time + 1)
        chosen: list[Transaction] = []
        spent_here: set[str] = set()
        size = 0
        fee = 0
        for item in self.live_pool():
            if item.conflicted_at is not None:
                continue
            tx = item.transaction
            try:
                tx_fee = self.verify(tx, spent_here)
            except TransactionInvalid:
                item.conflicted_at = self.monotonic()
                continue
            if size + tx.length > self.rules.max_block_size:
                continue  # waits for the next block
            chosen.append(tx)
            spent_here.update(ux.hex() for ux in tx.inputs)
            size += tx.length
            fee += tx_fee
        block = Block(len(self.blocks), when, self.head.hash, chosen, fee)
        self._apply(block)
        return block

    def _apply(self, block: Block) -> None:
        """Move the block's transactions from the pool into the chain."""
        self.blocks.append(block)
        for tx in block.transactions:
            txid = tx.txid
            for ux in tx.inputs:
                out = self.unspent.pop(ux.hex())
                out.spent_tx, out.spent_seq = txid, block.seq
                self.spent[out.uxid] = out
            for ux_hex, o in zip(tx.output_uxids(), tx.outputs, strict=True):
                self.unspent[ux_hex] = UxOut(
                    ux_hex, txid, o.address, o.droplets, o.hours, block.time, block.seq
                )
            self.confirmed[txid] = block.seq
            self.pool.pop(txid, None)
        # pending transactions that now spend a spent output lose at once
        now = self.monotonic()
        for item in self.pool.values():
            if item.conflicted_at is None and any(
                ux.hex() not in self.unspent for ux in item.transaction.inputs
            ):
                item.conflicted_at = now

    # -- another node's copy of the chain ------------------------------------------------------

    def genesis_only(self) -> Chain:
        """A node with the same genesis and nothing else: swapped in empty, or restored from
        a snapshot taken before any block (it knows none of this chain's later outputs)."""
        document = self.to_json()
        return Chain.from_json(
            {"genesis": document["genesis"], "blocks": [], "pool": []}, self.rules, self.clock
        )

    def follow(self, other: Chain, count: int | None = None) -> int:
        """Download up to `count` (None: all) of `other`'s blocks past this head, as a
        syncing node does from its peers; returns how many were applied."""
        if other.blocks[0].hash != self.blocks[0].hash:
            raise ValueError("the other chain has another genesis block")
        applied = 0
        while len(self.blocks) < len(other.blocks) and (count is None or applied < count):
            theirs = other.blocks[len(self.blocks)]
            block = Block(
                len(self.blocks), theirs.time, self.head.hash, theirs.transactions, theirs.fee
            )
            if block.hash != theirs.hash:
                raise ValueError(f"block {block.seq} does not follow this chain's head")
            self._apply(block)
            applied += 1
        return applied

    # -- persistence --------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        genesis = self.blocks[0].transactions[0].outputs[0]
        return {
            "genesis": {
                "address": genesis.address,
                "droplets": genesis.droplets,
                "hours": genesis.hours,
                "timestamp": self.blocks[0].time,
            },
            "blocks": [
                {"time": b.time, "transactions": [t.raw_hex for t in b.transactions]}
                for b in self.blocks[1:]
            ],
            "pool": [
                {"rawtx": p.transaction.raw_hex, "received": p.received}
                for p in self.pool.values()
                if p.conflicted_at is None
            ],
        }

    @classmethod
    def from_json(
        cls,
        document: dict[str, Any],
        rules: Rules | None = None,
        clock: Callable[[], int] | None = None,
    ) -> Chain:
        """Rebuild a chain from `to_json`: every block is re-applied (not re-verified)."""
        chain = cls(rules=rules or Rules())
        if clock is not None:
            chain.clock = clock
        g = document["genesis"]
        chain.create_genesis(g["address"], g["droplets"], g["hours"], g["timestamp"])
        for raw_block in document["blocks"]:
            txs = [sky_tx.decode_transaction_hex(h) for h in raw_block["transactions"]]
            fee = 0
            for tx in txs:
                ins = [chain.unspent[ux.hex()] for ux in tx.inputs]
                fee += sum(u.hours_at(chain.head.time) for u in ins) - tx.output_hours()
            chain._apply(Block(len(chain.blocks), raw_block["time"], chain.head.hash, txs, fee))
        for item in document.get("pool", []):
            tx = sky_tx.decode_transaction_hex(item["rawtx"])
            chain.pool[tx.txid] = Pending(tx, item["received"])
        return chain


def split_payments(addresses: Sequence[str], droplets: int, outputs: int) -> list[tuple[str, int]]:
    """`outputs` − 1 equal payments (multiples of 0.001 SKY) over `addresses`, round-robin.

    With the change of the transaction that makes them, the coins end in `outputs` outputs.
    """
    if outputs < 2:
        return []
    share = droplets // outputs // sky_tx.DROPLET_PRECISION * sky_tx.DROPLET_PRECISION
    if share == 0:
        raise ValueError("too little to split")
    return [(addresses[i % len(addresses)], share) for i in range(1, outputs)]
