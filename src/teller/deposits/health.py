"""What the exchange stages last saw go wrong, for /api/health and the web page.

Stages write their latest temporary error here (an empty string once a step succeeds);
nothing here is needed to resume after a restart, everything lasting is in the store.
The worker publishes its board to the store (`board_values`, store/worker_status.py) and every
other process shows that one (`with_values`): the worker's board is the only one written.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field

from teller.config.schema import bitcoin_confirmations


@dataclass
class ScannerHealth:
    """What one chain scanner (scanners/base.py) last saw: written by it, read by the APIs."""

    coin_type: str
    source: str  # "node" (a real scanner), "dummy" (the dummy API) or "off"
    node_reachable: bool | None = None  # None: not asked yet
    node_height: int | None = None
    scanned_height: int | None = None  # highest block scanned (the resume point)
    confirmations_required: int = 1  # the config key: blocks on top (the Go teller's meaning)
    error: str = ""  # the latest trouble; "" once a round succeeds

    def view(self, *, public: bool = False) -> dict[str, object]:
        error = self.error
        if public and error:
            error = f"the {self.coin_type} node cannot be scanned now (details: admin API)"
        return {
            "enabled": self.source != "off",
            "source": self.source,
            "node_reachable": self.node_reachable,
            "node_height": self.node_height,
            "scanned_height": self.scanned_height,
            "confirmations_required": self.confirmations_required,
            # The same as Bitcoin counts it (the tip block has 1): what a deposit waits for.
            "confirmations": bitcoin_confirmations(self.confirmations_required),
            "error": error,
        }


@dataclass
class StatusBoard:
    processor_error: str = ""
    sender_error: str = ""
    started_at: float = field(default_factory=time.monotonic)
    scanners: dict[str, ScannerHealth] = field(default_factory=dict)  # by coin type

    def uptime_seconds(self) -> float:
        return time.monotonic() - self.started_at


# The fields of a scanner the worker finds out (the others come from this process's config).
SCANNER_SEEN = ("node_reachable", "node_height", "scanned_height", "error")


def board_values(board: StatusBoard) -> dict[str, str]:
    """The board's shared values, key → JSON text (what store/worker_status.py keeps)."""
    values = {
        "processor_error": json.dumps(board.processor_error),
        "sender_error": json.dumps(board.sender_error),
    }
    for coin, scanner in board.scanners.items():
        seen = {name: getattr(scanner, name) for name in SCANNER_SEEN}
        values[f"scanner.{coin}"] = json.dumps(seen, sort_keys=True)
    return values


def with_values(board: StatusBoard, values: dict[str, str]) -> StatusBoard:
    """A copy of `board` showing the worker's stored `values` (uptime stays this process's);
    a value that cannot be read is left as this board has it."""
    shown = dataclasses.replace(board, scanners=dict(board.scanners))
    for name in ("processor_error", "sender_error"):
        stored = _loads(values.get(name))
        if isinstance(stored, str):
            setattr(shown, name, stored)
    for coin, scanner in board.scanners.items():
        stored = _loads(values.get(f"scanner.{coin}"))
        if isinstance(stored, dict):
            seen = {k: v for k, v in stored.items() if k in SCANNER_SEEN}
            shown.scanners[coin] = dataclasses.replace(scanner, **seen)
    return shown


def _loads(text: str | None) -> object:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def go_duration(seconds: float) -> str:
    """Render a duration the way the original's uptime looked ("5m32s", "1h2m3s", "7.08s")."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{seconds:.2f}s"
