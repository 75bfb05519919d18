"""Logging: one line per event, `key=value` fields, `notice=WATCH` on what an operator must act on.

`log_event(logger, level, message, deposit_id=..., watch=True)` is the one way teller logs
something that happened to a deposit; operators grep for `notice=WATCH`. `log_once` is the same
for a condition a loop finds again every round (a stuck payout, a deposit that waits): logged
the first time its key is seen, not once per round. The log file (if
configured) is reopened on SIGHUP, for logrotate.
"""

from __future__ import annotations

import logging
import sys
from logging.handlers import WatchedFileHandler
from typing import Any

from teller.errors import InvalidValue

WATCH = "WATCH"
_SECRET_FIELD_NAMES = ("pass", "secret", "key", "password")


class KeyValueFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s", "%Y-%m-%dT%H:%M:%S%z")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields: dict[str, Any] = getattr(record, "fields", {}) or {}
        parts = [f"{k}={_quote(v)}" for k, v in fields.items()]
        notice = getattr(record, "notice", None)
        if notice:
            parts.append(f"notice={notice}")
        return f"{line} {' '.join(parts)}" if parts else line


def _quote(value: Any) -> str:
    text = str(value)
    if not text or any(c in text for c in ' "='):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def log_event(
    logger: logging.Logger, level: int, message: str, *, watch: bool = False, **fields: Any
) -> None:
    """Log `message` with `fields`; `watch=True` marks it notice=WATCH for the operator."""
    for name in fields:
        if name.lower() in _SECRET_FIELD_NAMES:
            raise InvalidValue(f"refusing to log a field named {name!r}: it may hold a secret")
    extra: dict[str, Any] = {"fields": fields}
    if watch:
        extra["notice"] = WATCH
    logger.log(level, message, extra=extra)


def log_once(
    seen: set[str],
    key: str,
    logger: logging.Logger,
    level: int,
    message: str,
    *,
    watch: bool = False,
    **fields: Any,
) -> bool:
    """`log_event` the first time `key` is in no `seen` (the caller's set, kept for the life of
    its loop): True if it logged now."""
    if key in seen:
        return False
    seen.add(key)
    log_event(logger, level, message, watch=watch, **fields)
    return True


def setup_logging(debug: bool, logfile: str) -> WatchedFileHandler | None:
    """Log to stderr, and to `logfile` too when set. The file handler reopens the file when
    logrotate has moved it (checked at each line, and at SIGHUP); it is returned for that."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    formatter = KeyValueFormatter()
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(formatter)
    root.addHandler(console)
    file_handler = None
    if logfile:
        file_handler = WatchedFileHandler(logfile, encoding="utf-8")
        file_handler.setFormatter(formatter)
        root.addHandler(file_handler)
    for noisy in ("uvicorn.access", "httpx", "httpcore", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return file_handler
