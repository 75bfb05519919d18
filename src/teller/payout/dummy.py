"""The dummy payer of dummy mode: a fake SKY network with a ledger kept on disk.

It behaves like a node for the sender's purposes (balance, build, broadcast, confirm) but
moves no coins. Unlike the original's in-memory dummy sender, its ledger is an append-only
file in the data directory, so restarts (and crash tests) can check that every deposit was
paid exactly once. Transactions are confirmed by the dummy API (/dummy/sender/confirm) or at
once with `dummy.auto_confirm`. Several teller processes on one data directory share the file:
each reads what the others appended before it answers (one fake network, as replicas share
one real one).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from teller.errors import InsufficientBalance, InvalidValue, NotFound, SendTemporary
from teller.payout.base import Balance, PastPayment, PayoutOutput, SignedPayout, TxState
from teller.store.models import Payout

NOT_ENOUGH_COINS = "CreateTransaction not enough coins"


@dataclass
class DummyBroadcast:
    seq: int
    txid: str
    outputs: list[tuple[str, int]]
    confirmed: bool = False

    @property
    def total(self) -> int:
        return sum(droplets for _, droplets in self.outputs)


@dataclass
class _Ledger:
    broadcasts: list[DummyBroadcast] = field(default_factory=list)
    by_txid: dict[str, DummyBroadcast] = field(default_factory=dict)


class DummyPayer:
    name = "dummy"

    def __init__(
        self,
        ledger_path: Path,
        starting_droplets: int,
        *,
        auto_confirm: bool = False,
        max_outputs_per_tx: int = 100,
    ) -> None:
        self.path = ledger_path
        self.starting_droplets = starting_droplets
        self.auto_confirm = auto_confirm
        self.max_outputs_per_tx = max_outputs_per_tx
        self._lock = threading.Lock()
        self._ledger = _Ledger()
        self._offset = 0  # bytes of the file applied so far
        with self._lock:
            self._replay()

    # -- ledger file -------------------------------------------------------------------

    def _replay(self) -> None:
        """Apply the events appended since the last look (by this or another process)."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size <= self._offset:
            return
        with self.path.open("rb") as fh:
            fh.seek(self._offset)
            for line in fh:
                if not line.endswith(b"\n"):
                    break  # a torn last line (a crash mid-write, or being written): not yet
                self._offset += len(line)
                self._apply(json.loads(line))

    def _apply(self, event: dict[str, Any]) -> None:
        if event["event"] == "broadcast" and event["txid"] not in self._ledger.by_txid:
            entry = DummyBroadcast(
                seq=len(self._ledger.broadcasts),
                txid=event["txid"],
                outputs=[(a, int(d)) for a, d in event["outputs"]],
            )
            self._ledger.broadcasts.append(entry)
            self._ledger.by_txid[entry.txid] = entry
        elif event["event"] == "confirm" and event["txid"] in self._ledger.by_txid:
            self._ledger.by_txid[event["txid"]].confirmed = True

    def _append(self, event: dict[str, Any]) -> None:
        # Written and fsynced before the caller learns of success: once teller believes a
        # broadcast happened, the fake network has it for good, as a real one would.
        self._replay()
        data = json.dumps(event, separators=(",", ":")) + "\n"
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        self._replay()

    # -- what the sender calls ---------------------------------------------------------

    def _balance_droplets(self) -> int:
        return self.starting_droplets - sum(b.total for b in self._ledger.broadcasts)

    async def balance(self) -> Balance:
        with self._lock:
            self._replay()
            remaining = self._balance_droplets()
        return Balance(droplets=remaining, hours=remaining // 1_000_000)

    async def spendable(self, pending: Sequence[Payout], locked: Collection[str] = ()) -> int:
        with self._lock:
            self._replay()
            reserved = sum(p.total_droplets for p in pending if p.txid not in self._ledger.by_txid)
            return self._balance_droplets() - reserved

    async def build_payout(
        self,
        outputs: Sequence[PayoutOutput],
        pending: Sequence[Payout],
        locked: Collection[str] = (),  # the dummy spends no outputs: nothing to avoid
    ) -> SignedPayout:
        if not outputs:
            raise InvalidValue("a payout needs at least one output")
        if any(o.droplets <= 0 for o in outputs):
            raise InvalidValue("payout outputs must be positive")
        total = sum(o.droplets for o in outputs)
        if total > await self.spendable(pending):
            raise InsufficientBalance(NOT_ENOUGH_COINS)
        body = {
            "outputs": [[o.address, o.droplets] for o in outputs],
            "nonce": secrets.token_hex(16),  # like a real tx's inputs: two payouts differ
        }
        raw = json.dumps(body, separators=(",", ":")).encode().hex()
        return SignedPayout(txid=_txid(raw), raw_tx=raw, inputs=(), outputs=tuple(outputs))

    async def broadcast(self, raw_tx: str) -> None:
        try:
            body = json.loads(bytes.fromhex(raw_tx))
            outputs = [(str(a), int(d)) for a, d in body["outputs"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise SendTemporary(f"dummy broadcast: malformed transaction: {exc}") from exc
        txid = _txid(raw_tx)
        with self._lock:
            self._replay()
            if txid in self._ledger.by_txid:
                return  # re-broadcast of a known transaction: harmless, as on a real node
            self._append({"event": "broadcast", "txid": txid, "outputs": outputs})
            if self.auto_confirm:
                self._append({"event": "confirm", "txid": txid})

    async def tx_state(self, txid: str) -> TxState:
        with self._lock:
            self._replay()
            entry = self._ledger.by_txid.get(txid)
        if entry is None:
            return TxState.UNKNOWN
        return TxState.CONFIRMED if entry.confirmed else TxState.PENDING

    async def payments_to(self, address: str) -> list[PastPayment]:
        """The dummy ledger's broadcasts paying `address` (all from the dummy wallet)."""
        with self._lock:
            self._replay()
            found = []
            for b in self._ledger.broadcasts:
                paid = sum(droplets for a, droplets in b.outputs if a == address)
                if paid > 0:
                    found.append(PastPayment(b.txid, paid, b.confirmed, True, True))
            return found

    # -- the dummy API -----------------------------------------------------------------

    def broadcasts(self) -> list[DummyBroadcast]:
        with self._lock:
            self._replay()
            return [
                DummyBroadcast(b.seq, b.txid, list(b.outputs), b.confirmed)
                for b in self._ledger.broadcasts
            ]

    def confirm(self, *, txid: str | None = None, seq: int | None = None) -> str:
        """Confirm a broadcast transaction by txid or broadcast sequence number."""
        with self._lock:
            self._replay()
            if txid is not None:
                entry = self._ledger.by_txid.get(txid)
            elif seq is not None and 0 <= seq < len(self._ledger.broadcasts):
                entry = self._ledger.broadcasts[seq]
            else:
                entry = None
            if entry is None:
                raise NotFound("txn not found")
            if not entry.confirmed:
                self._append({"event": "confirm", "txid": entry.txid})
            return entry.txid


def _txid(raw_tx: str) -> str:
    return hashlib.sha256(bytes.fromhex(raw_tx)).hexdigest()
