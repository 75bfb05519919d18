"""The one clock teller stamps records with: whole seconds since the Unix epoch, UTC."""

from __future__ import annotations

import time


def unix_now() -> int:
    return int(time.time())
