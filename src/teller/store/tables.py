"""The tables of teller's store (DESIGN.md §5). The store is also the work queue.

- deposit_addresses: the pool, one row per address of an address file; bound_at NULL = free.
- bindings: a deposit address handed to a SKY address.
- deposits: one row per chain output paying a bound address, keyed "txid:n"; its status is
  the deposit state machine, and every stage picks its work by status.
- payouts: signed SKY transactions, stored before they are broadcast (DESIGN.md §4).
- scan_blocks: the recent blocks each chain scanner scanned (height, hash): its resume point
  and what a reorg is detected against.
- orphaned_deposits: deposits already handed on that a reorg removed from the chain.
- exchange_orders: orders placed on the exchange for passthrough deposits, each stored under
  its client id before it is placed (DESIGN.md §4).
- operator_actions: the audit trail of operator actions (teller payout void, teller deposit …).
- payout_inputs: the outputs each stored payout spends, one row per output: the lock that keeps
  two payouts from spending one output.
- payout_holds: transactions spending from the hot wallet that teller did not make, found by
  the audit; an unreleased one keeps the sender from signing new payouts.
- seen_payments: payments to bound addresses a chain scanner sees before they have the
  confirmations required (in the mempool, or in a block not deep enough yet): shown to the
  buyer by /api/status, never recorded or paid from here.
- history_samples: the hot wallet's balance and each pool's free addresses over time, sampled
  by the worker (audit/history.py) for the dashboard's charts; pruned after 30 days.
- webhook_deliveries: the webhook outbox, one row per event and configured webhook, written in
  the transaction of the change it reports; the delivery loop works through it.
- worker_role: one row: which process runs the stages (scanners, processor, sender, audit),
  under which epoch, until when its lease lasts (database clock, ms). Every money-moving commit
  checks its epoch in the same transaction (fencing, DESIGN.md §6).
- worker_status: what the worker last saw go wrong (processor and sender errors, each
  scanner's heights and error), key → JSON, so that every process answers /api/health alike.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

from teller.store.types import Amount

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

deposit_addresses = Table(
    "deposit_addresses",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("coin_type", String(8), nullable=False),
    Column("address", String(128), nullable=False),
    Column("position", Integer, nullable=False),
    Column("bound_at", BigInteger, nullable=True),
    # Derived from an HD chain (hd_chains.key_id; position = derivation index); NULL = file.
    Column("hd_key", String(64), nullable=True, index=True),
    UniqueConstraint("coin_type", "address"),
    Index(None, "coin_type", "bound_at", "position"),
    # The free addresses in position order: a bind's first free one in one step on
    # PostgreSQL too, whatever the pool's size (migration 0013).
    Index(
        "ix_deposit_addresses_free",
        "coin_type",
        "position",
        sqlite_where=text("bound_at IS NULL"),
        postgresql_where=text("bound_at IS NULL"),
    ),
)

bindings = Table(
    "bindings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("coin_type", String(8), nullable=False),
    Column("deposit_address", String(128), nullable=False),
    Column("sky_address", String(64), nullable=False, index=True),
    Column("buy_method", String(16), nullable=False),
    Column("bound_at", BigInteger, nullable=False),
    UniqueConstraint("coin_type", "deposit_address"),
)

payouts = Table(
    "payouts",
    metadata,
    Column("txid", String(64), primary_key=True),
    Column("raw_tx", Text, nullable=False),
    Column("inputs", Text, nullable=False, server_default=""),  # JSON list of spent output ids
    Column("total_droplets", BigInteger, nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    # When a broadcast of this payout first failed (NULL: never); with attempts, how long it
    # has been stuck (payout/sender.py raises notice=WATCH past a threshold).
    Column("first_error_at", BigInteger, nullable=True),
    # Operator tools (payout/void.py, services/operator.py): "payout" (teller's own), "void"
    # (spends a stuck payout's inputs back to the hot wallet; void_of = that payout's txid)
    # or "manual" (a payment made by hand, recorded by the operator: no raw bytes).
    Column("kind", String(16), nullable=False, server_default="payout"),
    Column("void_of", String(64), nullable=True, index=True),
    # The dashboard's SKY sent per day (store/stats.py): a range of days, not the whole table.
    Index(None, "created_at"),
)

deposits = Table(
    "deposits",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("deposit_id", String(160), nullable=False, unique=True),
    Column("coin_type", String(8), nullable=False),
    Column("deposit_address", String(128), nullable=False),
    Column("sky_address", String(64), nullable=False, index=True),
    Column("binding_id", Integer, ForeignKey("bindings.id"), nullable=False, index=True),
    Column("tx", String(128), nullable=False),
    Column("n", BigInteger, nullable=False),
    Column("value", Amount, nullable=False),
    Column("height", BigInteger, nullable=False),
    Column("block_hash", String(128), nullable=False, server_default=""),
    Column("status", String(48), nullable=False, index=True),
    Column("buy_method", String(16), nullable=False),
    Column("conversion_rate", String(64), nullable=False, server_default=""),
    Column("sky_due", BigInteger, nullable=False, server_default="0"),
    Column("sky_sent", BigInteger, nullable=False, server_default="0"),
    Column("payout_txid", String(64), ForeignKey("payouts.txid"), nullable=True, index=True),
    Column("error", Text, nullable=False, server_default=""),
    # Passthrough (buying the SKY on an exchange first); filled by the passthrough processor.
    Column("exchange_name", String(32), nullable=False, server_default=""),
    Column("requested_amount", String(64), nullable=False, server_default=""),
    Column("sky_bought", BigInteger, nullable=False, server_default="0"),
    Column("deposit_value_spent", Amount, nullable=False, server_default="0"),
    Column("order_customer_id", String(160), nullable=False, server_default=""),
    Column("order_id", String(64), nullable=False, server_default=""),
    Column("order_completed_amount", String(64), nullable=False, server_default=""),
    Column("order_price", String(64), nullable=False, server_default=""),
    Column("order_status", String(32), nullable=False, server_default=""),
    Column("order_final", Boolean, nullable=False, server_default=false()),
    Column("order_original", Text, nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    # Deposits to one address (the HD gap report asks this for every address handed out).
    Index(None, "coin_type", "deposit_address"),
    # The dashboard's deposits per day (store/stats.py): a range of days, not the whole table;
    # its pages of one coin (store/deposits.py deposits_page), newest first, at a flat cost.
    Index(None, "created_at"),
    Index(None, "coin_type", "seq"),
    # A status's deposits in seq order: keyset pages of the admin list (migration 0010).
    Index(None, "status", "seq"),
    # The errored deposits only (/api/health's count, /api/deposits/errored): their cost does
    # not grow with the store (migration 0010).
    Index(
        "ix_deposits_errored",
        "seq",
        sqlite_where=text("error != ''"),
        postgresql_where=text("error != ''"),
    ),
    # Not NULL: the sender must not pay it until an operator releases it (why, in words).
    Column("hold_reason", Text, nullable=True),
)

# Chain scanners (scanners/base.py). The highest scanned block of a coin is its resume point.
scan_blocks = Table(
    "scan_blocks",
    metadata,
    Column("coin_type", String(8), primary_key=True),
    Column("height", BigInteger, primary_key=True),
    Column("block_hash", String(128), nullable=False),
    Column("scanned_at", BigInteger, nullable=False),
)

# The lowest block a coin's scanner may scan (set by `teller db import-bolt`: blocks the Go
# teller already scanned hold deposits it recorded under other ids; scanning them again
# would record those deposits a second time, to be paid again).
scan_floors = Table(
    "scan_floors",
    metadata,
    Column("coin_type", String(8), primary_key=True),
    Column("height", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("set_at", BigInteger, nullable=False),
)

# Deposits handed to the exchange that a reorg then took off the chain.
orphaned_deposits = Table(
    "orphaned_deposits",
    metadata,
    Column("deposit_id", String(160), primary_key=True),
    Column("coin_type", String(8), nullable=False, index=True),
    Column("deposit_address", String(128), nullable=False),
    Column("value", Amount, nullable=False),
    Column("height", BigInteger, nullable=False),
    Column("block_hash", String(128), nullable=False),
    Column("fork_height", BigInteger, nullable=False),
    Column("status_then", String(48), nullable=False),
    Column("action", String(32), nullable=False),
    Column("detected_at", BigInteger, nullable=False),
    Column("back_height", BigInteger, nullable=True),
    Column("back_at", BigInteger, nullable=True),
)

# HD deposit addresses (deposits/hd.py): one row per extended public key teller derives from. The
# next index is taken (and the row updated) in the transaction that writes the binding.
hd_chains = Table(
    "hd_chains",
    metadata,
    Column("key_id", String(64), primary_key=True),  # hash of the key: never the key itself
    Column("coin_type", String(8), nullable=False),
    Column("key_type", String(8), nullable=False),  # xpub, ypub, zpub (BTC) or xpub (ETH)
    Column("next_index", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# Imports of a Go teller's BoltDB (store/bolt_import.py): one row per import that wrote.
bolt_imports = Table(
    "bolt_imports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", Text, nullable=False),
    Column("source_txid", BigInteger, nullable=False),
    Column("imported_at", BigInteger, nullable=False),
    Column("summary", Text, nullable=False),
)

# Passthrough (passthrough/orders.py): one row per exchange order for a deposit. The row
# (with its client id) is committed before the order is placed, so after a crash the order
# is looked up by that id before anything new is placed; an order's fills are recorded once,
# when it reaches a final state, in the transaction that adds them to its deposit.
exchange_orders = Table(
    "exchange_orders",
    metadata,
    Column("client_id", String(200), primary_key=True),
    Column("deposit_id", String(160), ForeignKey("deposits.deposit_id"), nullable=False),
    Column("number", Integer, nullable=False),  # 1, 2, … within its deposit
    Column("exchange", String(32), nullable=False),
    Column("kind", String(16), nullable=False),  # limit_buy; imported (a Go teller's order)
    Column("order_id", String(64), nullable=False, server_default=""),
    Column("state", String(16), nullable=False, index=True),
    Column("price", String(64), nullable=False, server_default=""),  # BTC per SKY
    Column("volume", String(64), nullable=False, server_default=""),  # SKY asked
    Column("exchange_status", String(32), nullable=False, server_default=""),
    Column("completed_amount", String(64), nullable=False, server_default=""),  # SKY
    Column("avg_price", String(64), nullable=False, server_default=""),
    Column("fee", String(64), nullable=False, server_default=""),  # SKY
    Column("btc_spent", String(64), nullable=False, server_default=""),  # BTC, exact
    Column("sky_bought", BigInteger, nullable=False, server_default="0"),  # droplets, net of fee
    Column("error", Text, nullable=False, server_default=""),
    Column("original", Text, nullable=False, server_default=""),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("deposit_id", "number"),
)

# Payout inputs (issue 13): one row per output a payout spends, written in the transaction that
# stores the payout. The primary key is the lock: a second payout choosing an output already
# taken fails its transaction, so two senders can never both store a spend of one output.
# Rows are kept whatever becomes of the payout (store/payouts.py says why).
payout_inputs = Table(
    "payout_inputs",
    metadata,
    Column("uxid", String(64), primary_key=True),
    Column("txid", String(64), ForeignKey("payouts.txid"), nullable=False, index=True),
    Column("created_at", BigInteger, nullable=False),
)

# Operator tools (issue 13, store/operator_actions.py): the audit trail, one row per action an
# operator took or was refused (who, when, what, on which payout or deposit, how it ended).
operator_actions = Table(
    "operator_actions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(128), nullable=False),  # the OS user (CLI) or "admin-api"
    Column("action", String(48), nullable=False),  # payout.void, deposit.stop, …
    Column("target", String(200), nullable=False, index=True),  # a txid or a deposit id
    Column("detail", Text, nullable=False, server_default=""),
    Column("outcome", Text, nullable=False, server_default=""),
)

# The audit-driven hold (issue 13, store/holds.py): one row per transaction spending from the hot
# wallet that is no payout of teller's (a leaked key, a second teller). While a row has no
# released_at, the sender signs no new payout. A released row stays: that spend has been
# looked at by the operator and never holds the sender again.
payout_holds = Table(
    "payout_holds",
    metadata,
    Column("spend_txid", String(64), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("found_at", BigInteger, nullable=False),
    Column("released_at", BigInteger, nullable=True),
    Column("released_by", String(128), nullable=False, server_default=""),
)

# Payments seen before they count (issue 16, store/seen.py): one row per output paying a bound
# address that the coin's scanner sees in the node's mempool (confirmations 0) or in a block
# without the confirmations required yet (1, 2, …, as Bitcoin counts them). Rewritten by the
# scanner each round; a row goes when its payment is recorded as a deposit, leaves the mempool
# or is reorganized away. Only /api/status reads it: nothing is recorded or paid from here.
seen_payments = Table(
    "seen_payments",
    metadata,
    Column("coin_type", String(8), primary_key=True),
    Column("deposit_id", String(160), primary_key=True),  # "txid:n", as the deposit will be
    Column("deposit_address", String(128), nullable=False),
    Column("value", Amount, nullable=False),
    Column("confirmations", Integer, nullable=False),
    Column("seen_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index(None, "coin_type", "deposit_address"),
)

# The dashboard's history (issue 16, store/history.py): one row per sample of one series
# ("hot_wallet": droplets the hot wallet holds; "pool:BTC": free addresses of BTC's pool),
# written by the worker when a value changes and at least every 10 minutes, pruned after 30 days.
history_samples = Table(
    "history_samples",
    metadata,
    Column("series", String(16), primary_key=True),
    Column("at", BigInteger, primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# Webhooks (issue 16, store/webhooks.py): the outbox. One row per event and webhook (its url),
# written in the transaction of the state change it reports, so no committed change goes
# unreported; webhooks/delivery.py posts the pending rows, the oldest of an ordering_key (a
# deposit address) first, and records how each attempt ended. `body` is the exact JSON sent,
# fixed when the event is written: a retry or a re-send posts the same bytes.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(200), nullable=False),
    Column("webhook", String(500), nullable=False),  # the webhook's url
    Column("event_type", String(32), nullable=False),
    Column("ordering_key", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending, delivered, dead
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=False, server_default=""),
    Column("next_try_at", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("delivered_at", BigInteger, nullable=True),
    UniqueConstraint("event_id", "webhook"),
    Index(None, "webhook", "status", "ordering_key"),
)

worker_role = Table(
    "worker_role",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # always 1
    Column("epoch", BigInteger, nullable=False, server_default="0"),
    Column("holder", String(200), nullable=False, server_default=""),  # "" = nobody
    Column("since", BigInteger, nullable=True),  # ms, database clock
    Column("lease_until", BigInteger, nullable=False, server_default="0"),  # ms, database clock
)

worker_status = Table(
    "worker_status",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),  # JSON
    Column("updated_at", BigInteger, nullable=False),  # ms, database clock
)
