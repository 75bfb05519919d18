"""Group commit: small writes from many threads share one transaction, so one fsync.

Used where many independent writes arrive at once: binds (POST /api/bind) and deposits
reported by scanners. An item may be *refused* (pool empty, unbound address): the writer
raises one of its declared refusal errors, and promises to do so before it writes anything,
so the refusal touches nothing and the other items go on in the same transaction. Any other
error fails the shared transaction (rolled back whole, so no half-written item survives) and
every item of the group is then retried in a transaction of its own, so only the faulty one
fails. A COMMIT that raises is not retried (it may have landed): every caller of that group
gets the error. A caller gets its answer only after the transaction holding its item has
committed, so the answer is as durable as a commit of its own. (Savepoints would do the same
and cost more than the item's own statements on SQLite.)

At shutdown a caller never gets a bare None: an item no writer took raises StoreShuttingDown
("not written"); one whose writer thread was still running when the event loop cancelled the
drainer raises it too, saying the write may or may not have been committed.

No timer: a lone item is written at once; under load each transaction carries every item
that arrived while the previous one was being written, or while it waited for the writer
lock: the items are taken only once the lock is held (on SQLite the other processes' writes
come first, and what arrives meanwhile joins).

The flush to disk comes after the writer lock is given up (`Database.write(flush_after=True)`,
store/db.py says why that is safe): a transaction's commit writes the WAL, the lock goes to
the next writer (of this process or another), and the flush of this one runs meanwhile; its
callers are answered once it has returned. A failed flush fails every caller of its group.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Generic, TypeVar

from sqlalchemy import Connection

from teller.clock import unix_now
from teller.errors import StoreError
from teller.logs import log_event
from teller.store.db import Database

log = logging.getLogger("teller.store")

T = TypeVar("T")
R = TypeVar("R")


@dataclass(eq=False, slots=True)
class _Slot(Generic[T, R]):
    item: T
    done: bool = False
    value: R | None = None
    error: BaseException | None = None


class StoreShuttingDown(StoreError):
    """A group-committed write got no answer because the store is shutting down."""


# A slot never taken by a writer (the worker thread could not be started, or the drainer was
# cancelled before taking it): nothing of it was written.
NOT_WRITTEN = "store is shutting down: not written"
# A slot whose writer thread was running when the drainer was cancelled: the thread cannot be
# stopped and may still commit it, so the caller must not take it as written nor as not.
OUTCOME_UNKNOWN = "store is shutting down: this write may or may not have been committed"
# A slot committed whose flush to disk failed: visible now, but a power cut could undo it.
NOT_FLUSHED = "written, but the disk did not confirm it (flush failed)"
# A slot committed whose flush was still running when shutdown cancelled it.
NOT_CONFIRMED = "store is shutting down: written, but not yet confirmed on disk"


def _outcome(slot: _Slot[T, R]) -> R:
    if slot.error is not None:
        raise slot.error
    if not slot.done:
        # Never a bare None: a caller would take it for its result (a bind without an address).
        raise StoreShuttingDown(NOT_WRITTEN)
    return slot.value  # type: ignore[return-value]


class GroupCommit(Generic[T, R]):
    """`submit(item)` runs `write_one(conn, item, now)` in a shared transaction."""

    def __init__(
        self,
        db: Database,
        write_one: Callable[[Connection, T, int], R],
        refusals: tuple[type[Exception], ...] = (),
    ) -> None:
        self.db = db
        self.write_one = write_one
        self.refusals = refusals
        self._queue: list[_Slot[T, R]] = []
        self._queue_lock = threading.Lock()
        self._turn = threading.Lock()  # the right to write what is queued
        self._waiting: list[tuple[_Slot[T, R], asyncio.Future[None]]] = []  # submit_async
        self._drainer: asyncio.Task[None] | None = None
        self._flushes: set[asyncio.Task[None]] = set()  # referenced until done
        self._flusher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store flush")

    def submit(self, item: T) -> R:
        """Write `item` (with whatever else is queued); return or raise what write_one did."""
        slot: _Slot[T, R] = _Slot(item)
        with self._queue_lock:
            self._queue.append(slot)
        with self._turn:
            if not slot.done:
                # No writer has taken this slot (a writer settles every slot it takes before
                # giving up the turn), so it is still queued: take the whole queue.
                with self._queue_lock:
                    group, self._queue = self._queue, []
                self._write_settled(group)
        # Committed (by this thread or the one that took it along), maybe not flushed yet:
        # this flush covers it either way, being after its commit.
        self._flush([slot])
        return _outcome(slot)

    async def submit_async(self, item: T) -> R:
        """`submit` for the event loop: items queued meanwhile go to the same worker thread
        in one batch, sparing each its own thread hand-off."""
        slot: _Slot[T, R] = _Slot(item)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        with self._queue_lock:  # the writer thread takes them (_write_waiting)
            self._waiting.append((slot, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain(), name="group commit")
        await future
        return _outcome(slot)

    async def _drain(self) -> None:
        try:
            while self._waiting:  # only this task's thread takes from it
                batch = _Batch[T, R]()
                try:
                    await asyncio.to_thread(self._write_waiting, batch)
                except asyncio.CancelledError:
                    # Shutdown cancelled this task while the worker thread writes the batch:
                    # the thread goes on and may commit it, so its callers are told exactly
                    # that, never handed a result that does not exist. Stopped under the
                    # queue's lock, the thread takes nothing more after this.
                    with self._queue_lock:
                        batch.stopped = True
                    _fail_waiting(batch.taken, OUTCOME_UNKNOWN)
                    raise
                except BaseException:
                    # The thread could not be started (nothing taken: those still waiting are
                    # told below it was not written), or failed after taking its items.
                    _fail_waiting(batch.taken, OUTCOME_UNKNOWN)
                    raise
                # The next batch is written while this one's flush runs.
                flush = asyncio.create_task(self._answer_after_flush(batch.taken), name="flush")
                self._flushes.add(flush)
                flush.add_done_callback(partial(self._flush_ended, batch.taken))
        finally:
            # Cancelled (or the thread could not start): what was queued meanwhile is never
            # taken by anyone, so it was not written; its callers must not wait for ever.
            with self._queue_lock:
                left, self._waiting = self._waiting, []
            for _, future in left:
                if not future.done():
                    future.set_exception(StoreShuttingDown(NOT_WRITTEN))

    def _write_waiting(self, batch: _Batch[T, R]) -> None:
        """In the worker thread: once this process may write, take every item waiting (those
        that arrived while the turn was awaited too) and write them in one transaction."""
        with self._turn, self.db.writer_turn():
            with self._queue_lock:
                if batch.stopped:
                    return
                batch.taken, self._waiting = self._waiting, []
            self._write_settled([slot for slot, _ in batch.taken], turn_held=True)

    def _flush_ended(
        self, batch: list[tuple[_Slot[T, R], asyncio.Future[None]]], task: asyncio.Task[None]
    ) -> None:
        self._flushes.discard(task)
        # Cancelled before it ever ran (shutdown): its callers must not wait for ever.
        _fail_waiting(batch, NOT_CONFIRMED)

    async def _answer_after_flush(
        self, batch: list[tuple[_Slot[T, R], asyncio.Future[None]]]
    ) -> None:
        try:
            # One flushing thread per group commit: on a slow disk the flushes queue there
            # (each covering every commit before it), not in the loop's shared executor,
            # where the next batch's write and other reads wait for a thread.
            await asyncio.get_running_loop().run_in_executor(
                self._flusher, self._flush, [slot for slot, _ in batch]
            )
        except BaseException:
            _fail_waiting(batch, NOT_CONFIRMED)  # shutdown cancelled it mid-flush
            raise
        for _, future in batch:
            if not future.done():  # a caller that went away: its write stands
                future.set_result(None)  # _outcome reads the settled slot

    def _flush(self, group: list[_Slot[T, R]]) -> None:
        """Make the group's commit durable before any of its callers is answered."""
        try:
            self.db.flush_wal()
        except OSError as exc:
            log_event(
                log,
                logging.CRITICAL,
                "store flush failed: committed writes may not survive a power cut",
                watch=True,
                error=str(exc),
                writes=len(group),
            )
            for slot in group:
                if slot.error is None:
                    slot.error = StoreError(NOT_FLUSHED)

    def _write_settled(self, group: list[_Slot[T, R]], turn_held: bool = False) -> None:
        """Write `group`; whatever happens, every slot of it ends settled."""
        try:
            self._write(group, turn_held)
        finally:
            for taken in group:
                if not taken.done:
                    taken.error = StoreError("not written: its group commit failed")
                    taken.done = True

    def _write(self, group: list[_Slot[T, R]], turn_held: bool) -> None:
        try:
            results = self._write_together(group, turn_held)
        except _CommitFailed as failed:
            # The COMMIT itself failed: it may still have landed (a connection lost while
            # committing), so nothing is written again; every caller gets the error (a bind
            # retried here could hand out a second address, a deposit is reported again).
            for slot in group:
                slot.error, slot.done = failed.__cause__, True
            return
        except Exception as exc:
            if len(group) == 1:
                group[0].error, group[0].done = exc, True
                return
            # An item failed before the commit and the transaction rolled back whole, so no
            # item of it was written: write each alone, and only the faulty one fails.
            for slot in group:
                self._write([slot], turn_held)
            return
        for slot, (value, error) in zip(group, results, strict=True):
            slot.value, slot.error, slot.done = value, error, True

    def _write_together(
        self, group: list[_Slot[T, R]], turn_held: bool
    ) -> list[tuple[R | None, BaseException | None]]:
        """One transaction for the group; results count only once it has committed."""
        results: list[tuple[R | None, BaseException | None]] = []
        committing = False
        try:
            # Flushed by _flush, after the turn.
            with self.db.write(flush_after=True, turn_held=turn_held) as conn:
                now = unix_now()
                for slot in group:
                    try:
                        results.append((self.write_one(conn, slot.item, now), None))
                    except self.refusals as refused:  # raised before writing: nothing to undo
                        results.append((None, refused))
                committing = True  # leaving the block commits
        except Exception as exc:
            if committing:
                raise _CommitFailed("the shared COMMIT raised") from exc
            raise
        return results


def _fail_waiting(batch: list[tuple[_Slot[T, R], asyncio.Future[None]]], why: str) -> None:
    """Every caller of `batch` still waiting gets StoreShuttingDown(`why`), never a result
    whose write is not known to be durable."""
    for _, future in batch:
        if not future.done():
            future.set_exception(StoreShuttingDown(why))


@dataclass(eq=False, slots=True)
class _Batch(Generic[T, R]):
    """What one writer thread took from the waiting callers (under the queue's lock), or
    `stopped`: the drainer was cancelled, the thread takes nothing."""

    taken: list[tuple[_Slot[T, R], asyncio.Future[None]]] = field(default_factory=list)
    stopped: bool = False


class _CommitFailed(StoreError):
    """The shared transaction's COMMIT raised (its outcome is unknown)."""
