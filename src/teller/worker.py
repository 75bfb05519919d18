"""Background loops: a stage's step run again and again, woken early by new work.

One bad step (a node down, a bug on one record) is logged and retried with exponential
backoff; it never ends the loop. Wake-ups only shorten waits: the work itself is always
re-read from the store, so a lost wake-up delays a deposit by at most one idle period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


class Waker:
    """An asyncio event that any thread may set; waking it also wakes its followers."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._followers: list[Waker] = []

    def add_follower(self, other: Waker) -> None:
        """Wake `other` too whenever this one is woken (two stages fed by one event)."""
        self._followers.append(other)

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def wake(self) -> None:
        for follower in self._followers:
            follower.wake()
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._event.set()
        else:
            loop.call_soon_threadsafe(self._event.set)

    async def wait(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)
        self._event.clear()


class Backoff:
    """Delays that double after each failure, from `initial` up to `maximum` seconds."""

    def __init__(self, initial: float = 1.0, maximum: float = 60.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self._next = initial

    def failure(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self.maximum)
        return delay

    def reset(self) -> None:
        self._next = self.initial


async def run_every(
    log: logging.Logger,
    what: str,
    once: Callable[[], Awaitable[object]],
    seconds: float,
    fatal: tuple[type[BaseException], ...] = (),
) -> None:
    """Run `once` now, then `seconds` after each run ends, until cancelled. A failure is
    logged ("`what` failed") and tried again at the next turn; an error of `fatal` ends the
    loop (raised), as in run_worker."""
    while True:
        try:
            await once()
        except asyncio.CancelledError:
            raise
        except fatal:
            raise
        except Exception:
            log.exception("%s failed; trying again in %gs", what, seconds)
        await asyncio.sleep(seconds)


async def run_worker(
    name: str,
    step: Callable[[], Awaitable[bool]],
    waker: Waker,
    idle_seconds: float,
    backoff: Backoff | None = None,
    fatal: tuple[type[BaseException], ...] = (),
) -> None:
    """Run `step` until cancelled. A step returns True when it did work (run again at once).
    An error of `fatal` ends the loop (raised): a fenced write, when the worker role is lost,
    must stop the stages at once, not be retried."""
    log = logging.getLogger(f"teller.{name}")
    backoff = backoff or Backoff(maximum=max(idle_seconds, 30.0))
    while True:
        try:
            busy = await step()
        except asyncio.CancelledError:
            raise
        except fatal:
            raise
        except Exception:
            delay = backoff.failure()
            log.exception("%s step failed; retrying in %.1fs", name, delay)
            await waker.wait(delay)
            continue
        backoff.reset()
        if not busy:
            await waker.wait(idle_seconds)
