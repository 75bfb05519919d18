"""Payments seen before they count: what a chain scanner shows the buyer while it waits.

Place in the flow: the block loop (scanners/base.py) runs a `SeenWatcher` round after each of
its rounds that caught up with the node. The round lists every output paying a bound address
that is in the node's mempool (0 confirmations: the client's optional `mempool_outputs`) or in
a block the block loop has not scanned yet, the blocks from the tip down to the first one with
the confirmations required (k confirmations, the tip block having 1), and makes the coin's
seen_payments rows exactly that list (store/seen.py `sync_seen`; written only when it changed).
/api/status shows them with the buyer's deposits.

Nothing here records or pays anything: a payment becomes a deposit only when the block loop
scans its block, with the confirmations required, exactly as before. A trouble in this round
(the node, the store) is logged and leaves the rows as they were; the block loop goes on.

Block contents are kept by block hash while the blocks stay in the shallow range (each round
asks only each height's hash: a block is read once, unless new addresses were bound since);
what a mempool transaction pays is kept by the client (clients/bitcoind.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from teller.clients.chain import ChainClient, ChainOutput
from teller.clock import unix_now
from teller.deposits import events
from teller.logs import log_event
from teller.store import seen as seen_store
from teller.store.bindings import find_binding
from teller.store.db import Database
from teller.store.seen import SeenOutput


class SeenWatcher:
    """One coin's seen payments: found each round, written when they change."""

    def __init__(self, client: ChainClient, db: Database, confirmations: int) -> None:
        self.client = client
        self.coin = client.coin_type
        self.db = db
        self.confirmations = confirmations  # as Bitcoin counts them: what a deposit needs
        self.log = logging.getLogger(f"teller.scanner.{self.coin.lower()}")
        # Outputs paying watched addresses, by block hash: (watch size when read, outputs).
        self._blocks: dict[str, tuple[int, tuple[ChainOutput, ...]]] = {}
        self._written: dict[str, SeenOutput] | None = None  # None: not written since start

    async def round(self, watched: Mapping[str, str], scanned_height: int | None) -> None:
        """Find the payments to `watched` (watch key -> bound address) seen before they count,
        above `scanned_height` (None: any height), and write them if they changed."""
        found: dict[str, SeenOutput] = {}
        if watched:
            tip = await self.client.tip_height()
            mempool = getattr(self.client, "mempool_outputs", None)
            if mempool is not None:
                outputs: list[ChainOutput] = await mempool(watched)
                for output in outputs:
                    self._add(found, output, watched, 0)
            lowest = tip - self.confirmations + 1  # the first block deep enough to count
            if scanned_height is not None:
                lowest = max(lowest, scanned_height + 1)
            kept: dict[str, tuple[int, tuple[ChainOutput, ...]]] = {}
            for height in range(max(lowest, 0), tip + 1):
                block_hash, outputs_here = await self._block_outputs(height, watched)
                kept[block_hash] = (len(watched), outputs_here)
                for output in outputs_here:
                    # In a block: its confirmations there, whatever the mempool said.
                    self._add(found, output, watched, tip - height + 1)
            self._blocks = kept
        await self._write(found)

    @staticmethod
    def _add(
        found: dict[str, SeenOutput],
        output: ChainOutput,
        watched: Mapping[str, str],
        confirmations: int,
    ) -> None:
        address = watched.get(output.watch_key)
        if address is None or output.value <= 0:
            return
        deposit_id = f"{output.txid}:{output.n}"
        found[deposit_id] = SeenOutput(deposit_id, address, output.value, confirmations)

    async def _block_outputs(
        self, height: int, watched: Mapping[str, str]
    ) -> tuple[str, tuple[ChainOutput, ...]]:
        """(hash, outputs paying `watched`) of the node's block at `height`; read again only
        when it is another block than last round's, or addresses were bound since."""
        block_hash = await self.client.block_hash(height)
        cached = self._blocks.get(block_hash)
        if cached is not None and cached[0] == len(watched):
            return block_hash, cached[1]
        fetch = getattr(self.client, "fetch_block", None)
        if fetch is not None:
            fetched = await fetch(height)
            block_hash, outputs = fetched.hash, tuple(fetched.outputs_paying(watched))
        else:
            block = await self.client.block(height)
            block_hash = block.hash
            outputs = tuple(o for o in block.outputs if o.watch_key in watched)
        failed_txids = getattr(self.client, "failed_txids", None)
        if failed_txids is not None and outputs:
            # A reverted ETH transaction keeps its value field but moved nothing.
            failed = await failed_txids(block_hash, {o.txid for o in outputs})
            outputs = tuple(o for o in outputs if o.txid not in failed)
        return block_hash, outputs

    async def _write(self, found: dict[str, SeenOutput]) -> None:
        if found == self._written:
            return  # nothing changed: no write (the store's writer is shared with deposits)
        new = await asyncio.to_thread(self._sync, list(found.values()), unix_now())
        self._written = found
        for payment in new:
            log_event(
                self.log,
                logging.INFO,
                "payment seen before it counts",
                coin_type=self.coin,
                deposit_id=payment.deposit_id,
                address=payment.deposit_address,
                value=payment.value,
                confirmations=payment.confirmations,
            )

    def _sync(self, found: list[SeenOutput], now: int) -> list[seen_store.SeenPayment]:
        with self.db.write() as conn:
            new = seen_store.sync_seen(conn, self.coin, found, now)
            for payment in new:
                # The webhook's payment.seen, queued in the transaction that inserts the row.
                binding = find_binding(conn, self.coin, payment.deposit_address)
                tx, _, n = payment.deposit_id.rpartition(":")
                events.payment_seen(
                    conn,
                    coin_type=self.coin,
                    deposit_address=payment.deposit_address,
                    sky_address=binding.sky_address if binding is not None else "",
                    tx=tx,
                    n=int(n),
                    value=payment.value,
                    confirmations=payment.confirmations,
                    # the config's meaning (blocks on top), as everywhere else it is shown
                    confirmations_required=self.confirmations - 1,
                    now=now,
                )
            return new
