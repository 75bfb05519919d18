"""Who runs the stages: every teller process is a candidate for the worker role; one holds it.

Place in the flow (DESIGN.md §6): app.py runs `WorkerRole.run(stages)` in every process that is
not api_only. A candidate tries to take the role (store/worker_role.py, a compare-and-set on
the lease row) every `renew`; the holder runs the stages (scanners, processor, sender,
passthrough, audit) and renews its lease every `renew`. The stages write through
`Database.fenced(role.check)`: each write transaction first checks this process's epoch, so a
holder that lost the role commits nothing more. The holder stops its stages at once when
  - a fenced write or a renewal finds another epoch (it was paused or cut off past its
    lease and another process took over): WATCH, back to being a candidate;
  - its lease runs out without a renewal getting through (the database is unreachable): it
    stops before anyone else may take over, WATCH, and tries again as a candidate.
A clean stop releases the role, so another process takes it at its next try.
While it holds the role, the process also publishes its status board to the store
(store/worker_status.py) whenever a value changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from sqlalchemy import Connection

from teller.deposits.health import StatusBoard, board_values
from teller.logs import log_event
from teller.store.db import Database
from teller.store.worker_role import (
    Fenced,
    check_epoch,
    read_role,
    release,
    renew,
    try_acquire,
)
from teller.store.worker_status import write_status

log = logging.getLogger("teller.worker_role")

T = TypeVar("T")
Stages = Callable[[], Coroutine[Any, Any, None]]

PUBLISH_EVERY = 0.2  # seconds between looks at the status board for changes


async def _in_thread_within(seconds: float, func: Callable[..., T], *args: Any) -> T:
    """`func(*args)` in a thread, TimeoutError after `seconds` (the thread runs on). Not
    asyncio.wait_for: on Python 3.11 it can swallow a cancellation that arrives as the call
    ends, and a holder that ignores its stop keeps the role."""
    future = asyncio.ensure_future(asyncio.to_thread(func, *args))
    done, _ = await asyncio.wait({future}, timeout=seconds)
    if not done:
        future.cancel()
        raise TimeoutError(f"no answer from the database in {seconds:.1f}s")
    return future.result()


def _fenced_out(task: asyncio.Task[None]) -> bool:
    """Whether the stages ended because a write was fenced (a stage that let it through)."""
    if not task.done() or task.cancelled():
        return False
    error = task.exception()
    return error is not None and _is_fenced(error)


def _is_fenced(error: BaseException) -> bool:
    """`error` is Fenced, or a group (of the stages' TaskGroup) holding one."""
    pending = [error]
    while pending:
        error = pending.pop()
        if isinstance(error, Fenced):
            return True
        if isinstance(error, BaseExceptionGroup):
            pending.extend(error.exceptions)
    return False


def describe_process() -> str:
    """This process, as worker_role.holder shows it: host, pid and a random id (a pid may be
    reused, on another machine or after a restart)."""
    return f"{socket.gethostname()} pid {os.getpid()} {secrets.token_hex(4)}"


def gone_from_this_host(holder: str) -> bool:
    """Whether `holder` (describe_process's text) names a process of this host that no longer
    exists: a teller restarted after a crash need not wait out its predecessor's lease.

    Only a speed-up: if the pid is another process namespace's (a container sharing the host
    name), the take-over only fences that worker off early, and its next write fails."""
    host, _, rest = holder.partition(" pid ")
    pid_text = rest.split(" ", 1)[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # exists, another user's
    return False


class WorkerRole:
    """This process's candidacy for the worker role, and the role while it holds it."""

    def __init__(
        self,
        db: Database,
        board: StatusBoard,
        *,
        lease_seconds: float,
        renew_seconds: float,
        holder: str | None = None,
    ) -> None:
        self.db = db
        self.board = board
        self.holder = holder or describe_process()
        self.lease_ms = int(lease_seconds * 1000)
        self.renew_seconds = renew_seconds
        self.epoch: int | None = None  # the epoch this process holds, None when a candidate
        self.fenced_db = db.fenced(self.check)
        self._fenced: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def lease_seconds(self) -> float:
        return self.lease_ms / 1000

    def check(self, conn: Connection) -> None:
        """The fence: run first in every write of the stages (store/db.py)."""
        try:
            check_epoch(conn, self.epoch, self.lease_ms)
        except Fenced:
            self._notify_fenced()
            raise

    def _notify_fenced(self) -> None:
        loop, event = self._loop, self._fenced
        if loop is None or event is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(event.set)

    async def run(self, stages: Stages) -> None:
        """Be a candidate until cancelled; run `stages` while holding the role."""
        self._loop = asyncio.get_running_loop()
        while True:
            started = time.monotonic()
            try:
                epoch = await asyncio.to_thread(self._try_acquire)
            except Exception as exc:  # the database is unreachable: try again later
                log_event(log, logging.INFO, "cannot ask for the worker role", error=str(exc))
                epoch = None
            if epoch is None:
                await asyncio.sleep(self.renew_seconds)
                continue
            self.epoch = epoch
            self._fenced = asyncio.Event()
            log_event(
                log,
                logging.INFO,
                "took the worker role: processing deposits",
                epoch=epoch,
                holder=self.holder,
            )
            try:
                await self._hold(stages, started + self.lease_seconds)
            except asyncio.CancelledError:
                # teller is stopping: hand the role on at once (bounded: the database may be
                # what is gone; then the lease runs out by itself)
                with contextlib.suppress(Exception):
                    await _in_thread_within(self.lease_seconds, self.release)
                raise
            finally:
                self.epoch = None

    def _try_acquire(self) -> int | None:
        with self.db.write() as conn:
            current = read_role(conn)
            dead = current.holder if current.held and gone_from_this_host(current.holder) else ""
            return try_acquire(conn, self.holder, self.lease_ms, dead_holder=dead)

    def _renew(self, epoch: int) -> bool:
        with self.db.write() as conn:
            return renew(conn, epoch, self.lease_ms)

    async def _hold(self, stages: Stages, deadline: float) -> None:
        """Run the stages until the role is lost; `deadline`: when the lease runs out by this
        process's clock, counted from before the call that set it (so never later than the
        database's lease_until)."""
        assert self._fenced is not None and self.epoch is not None
        epoch, fenced = self.epoch, self._fenced
        task = asyncio.create_task(self._stages(stages), name="stages")
        fence_wait = asyncio.create_task(fenced.wait(), name="fence")
        try:
            while True:
                await asyncio.wait(
                    {task, fence_wait},
                    timeout=self.renew_seconds,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if fenced.is_set() or _fenced_out(task):
                    break
                if task.done():
                    task.result()  # the stages ended: their error ends teller, as before
                    return
                started = time.monotonic()
                try:
                    # Asked even after the deadline (a process resumed after a pause): the
                    # answer tells a lost role (fenced) from a database still unreachable.
                    left = max(deadline - started, self.renew_seconds)
                    kept = await _in_thread_within(left, self._renew, epoch)
                except Exception as exc:
                    if time.monotonic() < deadline:
                        log_event(log, logging.INFO, "worker role not renewed", error=str(exc))
                        continue
                    task.cancel()  # the lease ran out: stop first, then find out why
                    if await self._taken_by_another(epoch):
                        break
                    log_event(
                        log,
                        logging.ERROR,
                        "lost the worker role: its lease ran out while the database could not"
                        " be reached; stages stopped",
                        watch=True,
                        epoch=epoch,
                        error=str(exc) or type(exc).__name__,
                    )
                    return
                if not kept:
                    break
                deadline = started + self.lease_seconds
            log_event(
                log,
                logging.ERROR,
                "fenced: another process took the worker role; this one stopped its stages",
                watch=True,
                epoch=epoch,
            )
        finally:
            fence_wait.cancel()
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception as error:
                if not _is_fenced(error):
                    raise

    async def _taken_by_another(self, epoch: int) -> bool:
        """Whether the role now has another epoch (False also when the database cannot say)."""

        def read() -> int:
            with self.db.read() as conn:
                return read_role(conn).epoch

        try:
            current = await _in_thread_within(self.lease_seconds, read)
        except Exception:
            return False
        return current != epoch

    async def _stages(self, stages: Stages) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(stages(), name="worker stages")
            group.create_task(self._publish(), name="status publisher")

    async def _publish(self) -> None:
        """Write the status board's changed values to the store (fenced), until cancelled."""
        published: dict[str, str] = {}
        while True:
            values = board_values(self.board)
            changed = {k: v for k, v in values.items() if published.get(k) != v}
            if changed:
                try:
                    await asyncio.to_thread(self._write_status, changed)
                    published.update(changed)
                except Fenced:
                    return  # the role is lost: _hold stops everything
                except Exception as exc:
                    log_event(log, logging.INFO, "worker status not stored", error=str(exc))
            await asyncio.sleep(PUBLISH_EVERY)

    def _write_status(self, values: dict[str, str]) -> None:
        with self.fenced_db.write() as conn:
            write_status(conn, values)

    def release(self) -> None:
        """Give the role up (a clean stop), so another process takes it at once."""
        epoch, self.epoch = self.epoch, None
        if epoch is None:
            return
        try:
            with self.db.write() as conn:
                release(conn, epoch)
        except Exception as exc:
            log_event(log, logging.INFO, "worker role not released", error=str(exc))
        log_event(log, logging.INFO, "released the worker role", epoch=epoch)
