"""What the exchange stages last saw go wrong, for /api/health and the web page.

Stages write their latest temporary error here (an empty string once a step succeeds);
nothing here is needed to resume after a restart, everything lasting is in the store.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class StatusBoard:
    processor_error: str = ""
    sender_error: str = ""
    started_at: float = field(default_factory=time.monotonic)

    def uptime_seconds(self) -> float:
        return time.monotonic() - self.started_at


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
