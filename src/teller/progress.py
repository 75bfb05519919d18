"""A tiny terminal progress bar for long command-line jobs.

Place in the flow: `teller addresses btc SEED N` advances it once per derived address. It
draws only when the stream is a terminal, at most about ten times a second, and writes
nothing at all otherwise, so piped or captured output stays clean.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Protocol

BAR_WIDTH = 30
MIN_REDRAW_SECONDS = 0.1


class TerminalStream(Protocol):
    def write(self, text: str, /) -> object: ...

    def flush(self) -> object: ...

    def isatty(self) -> bool: ...


class Progress:
    """`with Progress(total, label) as bar: ... bar.advance()`; draws on a TTY only."""

    def __init__(
        self,
        total: int,
        label: str,
        stream: TerminalStream | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = max(total, 0)
        self.label = label
        self.done = 0
        self._stream: TerminalStream = sys.stderr if stream is None else stream
        self._clock = clock
        self._enabled = _is_terminal(self._stream)
        self._last_draw: float | None = None

    def __enter__(self) -> Progress:
        self._draw()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._draw(final=True)

    def advance(self, n: int = 1) -> None:
        self.done += n
        if not self._enabled:
            return
        if self._last_draw is None or self._clock() - self._last_draw >= MIN_REDRAW_SECONDS:
            self._draw()

    def render(self) -> str:
        """The bar as text (without the leading carriage return)."""
        shown = min(self.done, self.total)
        fraction = shown / self.total if self.total else 1.0
        filled = int(fraction * BAR_WIDTH)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        return f"{self.label} [{bar}] {shown}/{self.total} {int(fraction * 100):3d}%"

    def _draw(self, final: bool = False) -> None:
        if not self._enabled:
            return
        self._last_draw = self._clock()
        self._stream.write("\r" + self.render() + ("\n" if final else ""))
        self._stream.flush()


def _is_terminal(stream: TerminalStream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or unusual streams count as "not a TTY"
        return False
