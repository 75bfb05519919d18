"""The chain scanners' common shape and their block loop.

A chain client (clients/bitcoind.py, clients/ethereum.py, scanners/sky.py) turns one
block of its chain into a `Block` of `ChainOutput`s (clients/chain.py); the block loop here
(`BlockScanner`: heights, confirmations, reorg check, resume cursor) matches outputs against
the bound deposit addresses and hands confirmed ones to the intake. Clients know their wire
protocol and nothing of deposits.

How the loop never misses, duplicates or pays an orphaned deposit:

- `confirmations_required` N keeps the Go teller's meaning: N blocks on top of the deposit's
  block (its loop waited while `height + N > tip`), which is N + 1 confirmations as Bitcoin
  counts them (a deposit in the tip block has 1); N = 0 takes the tip block. An operator who
  switches with the same config file keeps the same safety. A block is scanned only once it
  has those N + 1 confirmations (`ScanSettings.confirmations`), so every output in it is
  handed on as it is found; an unconfirmed output is simply in a block not scanned yet, and
  an address bound before that block is scanned is watched in it.
- The watched addresses are re-read after a block is fetched and before it is matched: an
  address bound before the block existed (so before anyone could pay it there) is in the set.
- Deposits are handed to the intake before the block is recorded as scanned. A crash in
  between rescans the block on restart, and the intake records each "txid:n" once.
- The hashes of the last `keep_blocks` scanned blocks are stored. Each round checks the
  node's hash at the resume point, and each fetched block's parent against the block before
  it; a difference is a reorg: the fork point is found by walking the stored hashes down,
  the blocks above it are forgotten and scanned again from the node's new chain.
- A deposit already handed on that the new chain does not hold (a reorg at least as deep as
  its confirmations) is "orphaned": if no payout or exchange order covers it yet it is
  stopped (status done, with an error, never paid); else it is already being paid. Either
  way it is logged with notice=WATCH and listed by the admin API (/api/deposits/orphaned).
  If it comes back on the chain later, that is logged with notice=WATCH too: the operator
  decides (a stopped deposit is not restarted automatically).

After each round that caught up, the payments to bound addresses not counted yet (mempool,
blocks without the confirmations) are listed for the buyer's page (scanners/seen.py): shown
only, never handed on from there.

Errors (errors.py): a `NodeError` is retried with backoff; `ScanHalted` stops scanning
until the operator looks (notice=WATCH), checked again every period.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Connection

from teller.clients.chain import Block, ChainClient, ChainOutput, FetchedBlock
from teller.clock import unix_now
from teller.config.schema import bitcoin_confirmations
from teller.deposits.health import ScannerHealth
from teller.deposits.intake import DepositIntake
from teller.deposits.states import DONE, announce, check_transition
from teller.errors import DepositRejected, NodeBadAnswer, NodeError, NodeUnreachable, ScanHalted
from teller.logs import log_event
from teller.scanners.seen import SeenWatcher
from teller.store import scans
from teller.store.db import Database
from teller.store.deposits import get_deposit
from teller.store.models import Deposit, IncomingDeposit
from teller.store.worker_role import Fenced
from teller.worker import Backoff

T = TypeVar("T")

ORPHANED_ERROR = "deposit removed from the chain by a reorg before it was paid; not paid"


@dataclass(frozen=True, slots=True)
class ScanSettings:
    scan_period: float  # seconds between polls once caught up
    initial_scan_height: int  # first block scanned on a fresh database
    confirmations_required: int  # the Go teller's meaning: blocks on top of the deposit's
    keep_blocks: int = 1000  # scanned block hashes kept for reorg detection
    batch_blocks: int = 25  # blocks scanned between two records of the resume point

    @property
    def confirmations(self) -> int:
        """Confirmations a block needs, as Bitcoin counts them (the tip block has 1)."""
        return bitcoin_confirmations(self.confirmations_required)


# How long a binding id below the highest seen is waited for (see `_Watch.in_doubt`): far
# longer than any bind transaction lasts.
BINDING_ID_DOUBT_SECONDS = 600.0
BINDING_IDS_IN_FLIGHT = 1000  # at most this many holes below a new id are held in doubt


@dataclass
class _Watch:
    """The bound deposit addresses of one coin, by watch key; grows as addresses are bound.

    Bindings are read by id, above the highest id seen. On PostgreSQL ids come from a
    sequence when the row is inserted, so a bind that took id 10 can commit after one that
    took id 11 was already read: an id skipped below the highest seen is kept `in_doubt`
    (with the time it was first missed) and asked for again at every refresh, until it shows
    up or BINDING_ID_DOUBT_SECONDS pass (a rolled-back bind leaves such a hole for good).
    """

    by_key: dict[str, str] = field(default_factory=dict)
    last_binding_id: int = 0
    in_doubt: dict[int, float] = field(default_factory=dict)


class BlockScanner:
    """Scans one chain with one node client and hands confirmed deposits to the intake."""

    def __init__(
        self,
        client: ChainClient,
        db: Database,
        intake: DepositIntake,
        settings: ScanSettings,
        health: ScannerHealth,
    ) -> None:
        self.client = client
        self.coin = client.coin_type
        self.db = db
        self.intake = intake
        self.settings = settings
        self.health = health
        self.log = logging.getLogger(f"teller.scanner.{self.coin.lower()}")
        self._watch = _Watch()
        self._open_orphans: set[str] | None = None
        self._last_trouble = ""
        self._chain_checked = False
        self.seen = SeenWatcher(client, db, settings.confirmations)
        self._last_seen_trouble = ""

    # -- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Scan until cancelled; node trouble is logged, shown in /api/health and retried."""
        period = self.settings.scan_period
        backoff = Backoff(initial=min(1.0, period), maximum=max(period, 30.0))
        while True:
            try:
                caught_up = await self.scan_once()
            except asyncio.CancelledError:
                raise
            except NodeError as exc:
                self.health.node_reachable = not isinstance(exc, NodeUnreachable)
                delay = backoff.failure()
                self._trouble(f"{self.coin} node: {exc}", delay)
                await asyncio.sleep(delay)
                continue
            except ScanHalted as exc:
                self._trouble(str(exc), period, watch=True)
                await asyncio.sleep(period)
                continue
            except Fenced:
                raise  # the worker role is lost: the stages stop (deposits/worker_role.py)
            except Exception as exc:
                self.log.exception("%s scan round failed", self.coin)
                delay = backoff.failure()
                self._trouble(f"{self.coin} scanner: {type(exc).__name__}: {exc}", delay)
                await asyncio.sleep(delay)
                continue
            backoff.reset()
            self._recovered()
            if caught_up:
                await self.see_payments()
                await asyncio.sleep(period)

    async def see_payments(self) -> None:
        """The payments to bound addresses seen before they count (scanners/seen.py), for the
        buyer's page; never recorded or paid from here. Any trouble is logged and the rows
        are left as they were: it never stops the block loop."""
        try:
            await self._refresh_watch()
            scanned = self.health.scanned_height
            if scanned is None:  # nothing scanned yet: blocks below the first are never read
                scanned = self.settings.initial_scan_height - 1
            await self.seen.round(self._watch.by_key, scanned)
        except (asyncio.CancelledError, Fenced):
            raise
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            level = logging.WARNING if message != self._last_seen_trouble else logging.DEBUG
            log_event(
                self.log,
                level,
                "payments seen before they count not read",
                coin_type=self.coin,
                error=message,
            )
            self._last_seen_trouble = message
            return
        self._last_seen_trouble = ""

    def _trouble(self, message: str, retry_in: float, *, watch: bool = False) -> None:
        self.health.error = message
        # One WARNING per distinct problem, not one per retry.
        level = logging.WARNING if message != self._last_trouble else logging.DEBUG
        log_event(
            self.log,
            level,
            "scan round failed",
            watch=watch,
            coin_type=self.coin,
            error=message,
            retry_in=f"{retry_in:.1f}s",
        )
        self._last_trouble = message

    def _recovered(self) -> None:
        if self._last_trouble:
            log_event(self.log, logging.INFO, "scanning again", coin_type=self.coin)
        self._last_trouble = ""
        self.health.error = ""
        self.health.node_reachable = True

    async def scan_once(self) -> bool:
        """One round: check the resume point, scan up to a batch of confirmed blocks.

        Returns True when there is nothing more to scan now (wait a scan period).
        """
        client = self.client
        if not self._chain_checked:
            # Once per start: a node on another network (deposits are matched by script, so a
            # testnet node would turn test coins into paid deposits) halts this scanner.
            check_chain = getattr(client, "check_chain", None)
            if check_chain is not None:
                await check_chain()
            self._chain_checked = True
        tip = await client.tip_height()
        self.health.node_reachable = True
        self.health.node_height = tip
        last = await self.db.run_read(scans.last_scanned, self.coin)  # one statement
        # Never below the floor an import of the Go teller's database set (scans.scan_floor):
        # its blocks hold deposits recorded under other ids, which a rescan would pay again.
        floor = await self.db.run_read(scans.scan_floor, self.coin)
        if last is None or last.height < floor - 1:
            next_height = max(self.settings.initial_scan_height, floor)
            prev_hash = None
            if last is not None:
                self.health.scanned_height = last.height
        else:
            self.health.scanned_height = last.height
            if last.height > tip:
                # The node's chain is shorter than what was scanned. If its tip is not the
                # block scanned at that height, a reorg took the blocks above: follow it now.
                # Otherwise it is still syncing (or mid-reorg): wait until it is as long.
                stored = await self._read(scans.scanned_blocks, self.coin)
                at_tip = next((b for b in stored if b.height == tip), None)
                if at_tip is not None and await client.block_hash(tip) != at_tip.block_hash:
                    await self._handle_reorg(tip)
                    return False
                raise NodeBadAnswer(
                    f"its chain is at height {tip}, below the scanned height {last.height}:"
                    " waiting for it to grow (still syncing, or a reorg under way)"
                )
            if await client.block_hash(last.height) != last.block_hash:
                await self._handle_reorg(tip)
                return False
            next_height, prev_hash = last.height + 1, last.block_hash
        target = tip - self.settings.confirmations + 1  # highest block confirmed enough
        if next_height > target:
            return True
        end = min(target, next_height + self.settings.batch_blocks - 1)
        scanned: list[scans.ScannedBlock] = []
        try:
            for height in range(next_height, end + 1):
                block = await self._fetch_watched(height)
                if block.height != height:
                    raise NodeBadAnswer(f"asked for block {height}, got block {block.height}")
                if prev_hash is not None and block.prev_hash != prev_hash:
                    # The block below changed since it was scanned: a reorg. What was scanned
                    # so far is recorded; the next round's hash check finds the fork point.
                    # Unless the node still names the block below as it was: then its
                    # answers do not fit together, and asking again at once would only spin.
                    if await client.block_hash(height - 1) == prev_hash:
                        raise NodeBadAnswer(
                            f"block {height}'s parent {block.prev_hash!r:.80} is not block"
                            f" {height - 1} ({prev_hash})"
                        )
                    return False
                watched = self._watch.by_key
                pays = any(o.watch_key in watched for o in block.outputs)
                if pays and not await self._still_confirmed(block):
                    return False  # the chain moved under this round: start the next afresh
                await self._hand_on(block, tip)
                scanned.append(scans.ScannedBlock(height, block.hash))
                prev_hash = block.hash
        finally:
            # Only blocks whose deposits were all handed on are recorded (hand-on first, so a
            # crash can only make a block be scanned twice, never skipped).
            if scanned:
                await self._write(
                    scans.record_blocks, self.coin, scanned, unix_now(), self.settings.keep_blocks
                )
                self.health.scanned_height = scanned[-1].height
        return end >= target

    async def _still_confirmed(self, block: Block) -> bool:
        """Right before its deposits are handed on: is `block` still on the node's chain with
        the confirmations required? The round's tip was read before the batch; a reorg onto a
        shorter chain since then must not let a deposit through with fewer confirmations.
        (Two calls, only for the rare blocks that pay a deposit address.)"""
        tip = await self.client.tip_height()
        if tip - block.height + 1 < self.settings.confirmations:
            return False
        return await self.client.block_hash(block.height) == block.hash

    # -- matching and handing on ------------------------------------------------------------

    async def _fetch_watched(self, height: int) -> Block:
        """Block `height`, with (at least) its outputs paying bound addresses."""
        fetch = getattr(self.client, "fetch_block", None)
        if fetch is None:
            block = await self.client.block(height)
            # Read after the block was fetched: every address bound before the block
            # existed (so before it could be paid in it) is in the set.
            await self._refresh_watch()
            return block
        fetched: FetchedBlock = await fetch(height)
        await self._refresh_watch()  # after the fetch, as above
        outputs = fetched.outputs_paying(self._watch.by_key)
        return Block(fetched.height, fetched.hash, fetched.prev_hash, outputs)

    async def _hand_on(self, block: Block, tip: int) -> None:
        """Hand every output of `block` that pays a bound address to the intake."""
        watched = self._watch.by_key
        if not watched:
            return
        paying = [o for o in block.outputs if o.watch_key in watched and o.value > 0]
        failed = await self._failed(block, paying)
        for output in paying:
            address = watched[output.watch_key]
            if output.txid in failed:
                log_event(
                    self.log,
                    logging.WARNING,
                    "transaction paying a deposit address failed: no deposit",
                    coin_type=self.coin,
                    tx=output.txid,
                    address=address,
                    height=block.height,
                )
                continue
            incoming = IncomingDeposit(
                coin_type=self.coin,
                address=address,
                value=output.value,
                height=block.height,
                tx=output.txid,
                n=output.n,
                block_hash=block.hash,
            )
            await self._note_if_back(incoming)
            log_event(
                self.log,
                logging.INFO,
                "deposit confirmed on chain",
                deposit_id=incoming.deposit_id,
                coin_type=self.coin,
                address=address,
                value=output.value,
                height=block.height,
                confirmations=tip - block.height + 1,
            )
            try:
                await self.intake.receive_async(incoming)
            except DepositRejected as exc:
                log_event(
                    self.log,
                    logging.WARNING,
                    "deposit not accepted",
                    deposit_id=incoming.deposit_id,
                    reason=str(exc),
                )

    async def _failed(self, block: Block, outputs: list[ChainOutput]) -> Container[str]:
        """The txids among `outputs` whose transaction failed in `block` (ETH: a reverted
        transaction keeps its value field but moved nothing). Clients whose transactions
        cannot fail once in a block have no `failed_txids`."""
        failed_txids = getattr(self.client, "failed_txids", None)
        if failed_txids is None or not outputs:
            return ()
        found: Container[str] = await failed_txids(block.hash, {o.txid for o in outputs})
        return found

    async def _refresh_watch(self) -> None:
        # One indexed statement per block: run_read keeps it off the thread pool on SQLite.
        watch = self._watch
        now = time.monotonic()
        for binding_id, since in list(watch.in_doubt.items()):
            if now - since > BINDING_ID_DOUBT_SECONDS:
                del watch.in_doubt[binding_id]
        new = await self.db.run_read(
            scans.bound_since, watch.last_binding_id, tuple(watch.in_doubt)
        )
        for binding_id, coin_type, address in new:
            if binding_id > watch.last_binding_id:
                # Ids skipped on the way up may belong to binds not committed yet.
                # (Only the closest ones: no more binds than that are ever under way at once.)
                lowest = max(watch.last_binding_id + 1, binding_id - BINDING_IDS_IN_FLIGHT)
                for missing in range(lowest, binding_id):
                    watch.in_doubt.setdefault(missing, now)
                watch.last_binding_id = binding_id
            else:
                watch.in_doubt.pop(binding_id, None)
            if coin_type != self.coin:
                continue
            try:
                watch.by_key[self.client.watch_key(address)] = address
            except ValueError as exc:
                log_event(
                    self.log,
                    logging.ERROR,
                    "bound address cannot be watched",
                    watch=True,
                    coin_type=self.coin,
                    address=address,
                    reason=str(exc),
                )

    async def _note_if_back(self, incoming: IncomingDeposit) -> None:
        if self._open_orphans is None:
            self._open_orphans = await self._read(scans.open_orphan_ids, self.coin)
        if incoming.deposit_id not in self._open_orphans:
            return
        # Its new place is recorded too, so that a later reorg taking it off the chain
        # again is noticed (the intake leaves a recorded deposit as it is).
        orphan = await self._write(
            scans.mark_orphan_back,
            incoming.deposit_id,
            incoming.height,
            incoming.block_hash,
            unix_now(),
        )
        self._open_orphans.discard(incoming.deposit_id)
        action = orphan.action if orphan else "unknown"
        log_event(
            self.log,
            logging.WARNING,
            "orphaned deposit is back on the chain; it was "
            + (
                "stopped and is not paid: decide whether to pay it"
                if action == "stopped"
                else "already being paid: nothing lost"
            ),
            watch=True,
            deposit_id=incoming.deposit_id,
            height=incoming.height,
            action=action,
        )

    # -- reorgs -----------------------------------------------------------------------------

    async def _handle_reorg(self, tip: int) -> None:
        """The node no longer has the last scanned block: find the fork, check the deposits
        handed on above it against the new chain, forget the blocks above it."""
        stored = await self._read(scans.scanned_blocks, self.coin)
        fork: int | None = None
        for block in stored:  # highest first
            if block.height > tip:
                continue
            if await self.client.block_hash(block.height) == block.block_hash:
                fork = block.height
                break
        if fork is None:
            lowest = stored[-1].height if stored else self.settings.initial_scan_height
            if lowest > self.settings.initial_scan_height:
                raise ScanHalted(
                    f"{self.coin} node's chain differs from all {len(stored)} stored blocks "
                    f"(heights {lowest}..{stored[0].height if stored else lowest}): a reorg "
                    "deeper than teller keeps, or a node on another chain. Check the node; to "
                    f"rescan from initial_scan_height delete the scan_blocks rows of {self.coin}"
                )
            fork = lowest - 1  # everything teller scanned was replaced
        depth = (stored[0].height if stored else fork) - fork
        log_event(
            self.log,
            logging.WARNING,
            "chain reorganization",
            coin_type=self.coin,
            fork_height=fork,
            depth=depth,
            node_height=tip,
        )
        candidates = await self._read(scans.chain_deposits_above, self.coin, fork)
        if candidates:
            # Only blocks with the confirmations required count: a deposit the new chain holds
            # only in shallower blocks is treated as gone (and reported back once it is
            # confirmed again), never carried on with fewer confirmations than required.
            confirmed = tip - self.settings.confirmations + 1
            wanted = {d.deposit_id for d in candidates}
            on_chain = await self._output_ids(fork + 1, confirmed, wanted)
            gone = [d for d in candidates if d.deposit_id not in on_chain]
            for d in candidates:
                if d.deposit_id in on_chain:
                    height, block_hash = on_chain[d.deposit_id]
                    # Its new place, so that a later reorg checks it where it is now.
                    await self._write(
                        scans.move_deposit_block, d.deposit_id, height, block_hash, unix_now()
                    )
                    log_event(
                        self.log,
                        logging.INFO,
                        "deposit still on the chain after the reorg",
                        deposit_id=d.deposit_id,
                        height=height,
                    )
            if gone:
                await self._orphan(gone, fork)
        await self._write(scans.forget_blocks_above, self.coin, fork)
        self.health.scanned_height = fork

    async def _output_ids(
        self, first: int, last: int, wanted: set[str]
    ) -> dict[str, tuple[int, str]]:
        """Where (height, block hash) the node's chain holds each of the `wanted` deposit
        ids in blocks first..last; ids it does not hold are left out."""
        found: dict[str, tuple[int, str]] = {}
        for height in range(first, last + 1):
            block = await self.client.block(height)
            here = [o for o in block.outputs if f"{o.txid}:{o.n}" in wanted]
            failed = await self._failed(block, here)
            for output in here:
                if output.txid not in failed:  # a failed one moved nothing: it is gone
                    found[f"{output.txid}:{output.n}"] = (height, block.hash)
            if len(found) == len(wanted):
                break
        return found

    async def _orphan(self, gone: list[Deposit], fork: int) -> None:
        now = unix_now()
        outcomes = await self._write(_orphan_deposits, gone, fork, now)
        if self._open_orphans is not None:
            self._open_orphans.update(d.deposit_id for d in gone)
        for deposit, action in outcomes:
            message = (
                "deposit removed from the chain by a reorg: stopped before it was paid"
                if action == "stopped"
                else "deposit removed from the chain by a reorg after it was handed on: it is "
                "already being paid or paid; check it"
            )
            log_event(
                self.log,
                logging.ERROR,
                message,
                watch=True,
                deposit_id=deposit.deposit_id,
                coin_type=self.coin,
                value=deposit.value,
                height=deposit.height,
                status=deposit.status,
                fork_height=fork,
                action=action,
            )

    # -- store access -----------------------------------------------------------------------

    async def _read(self, query: Callable[..., T], *args: object) -> T:
        return await asyncio.to_thread(self._read_sync, query, *args)

    def _read_sync(self, query: Callable[..., T], *args: object) -> T:
        with self.db.read() as conn:
            return query(conn, *args)

    async def _write(self, change: Callable[..., T], *args: object) -> T:
        return await asyncio.to_thread(self._write_sync, change, *args)

    def _write_sync(self, change: Callable[..., T], *args: object) -> T:
        with self.db.write() as conn:
            return change(conn, *args)


# Statuses in which no payout or exchange order can cover a deposit yet (stop those).
_BEFORE_SENDING = frozenset({"waiting_decide", "waiting_send", "waiting_passthrough"})


def _orphan_deposits(
    conn: Connection, gone: list[Deposit], fork: int, now: int
) -> list[tuple[Deposit, str]]:
    """Stop each orphaned deposit that nothing pays yet, record every one; one transaction."""
    outcomes: list[tuple[Deposit, str]] = []
    for read in gone:
        current = get_deposit(conn, read.deposit_id) or read
        known = scans.get_orphan(conn, current.deposit_id)
        if known is not None and known.back_height is None:
            # Found gone by an earlier reorg and not back since (a later, deeper reorg, or
            # this one again after a crash): recorded and reported then, as it was then.
            continue
        action = "not_stopped"
        if current.status == DONE and current.error == ORPHANED_ERROR:
            action = "stopped"  # stopped by an earlier reorg, back since, gone again
        elif current.status in _BEFORE_SENDING:
            check_transition(current.status, DONE)
            # Compare-and-set on status, payout and order: if the sender assigned a payout
            # (or the processor placed an order) meanwhile, that wins and it goes out.
            if scans.stop_unpaid_deposit(conn, current, ORPHANED_ERROR, now):
                action = "stopped"
                announce(conn, [(current.deposit_id, current.status)], now)  # deposit.errored
        scans.record_orphan(
            conn,
            scans.Orphan(
                deposit_id=current.deposit_id,
                coin_type=current.coin_type,
                deposit_address=current.deposit_address,
                value=current.value,
                height=current.height,
                block_hash=current.block_hash,
                fork_height=fork,
                status_then=current.status,
                action=action,
                detected_at=now,
                back_height=None,
                back_at=None,
            ),
        )
        outcomes.append((current, action))
    return outcomes
