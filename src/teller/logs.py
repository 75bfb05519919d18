"""Logging: one line per event, `key=value` fields, `notice=WATCH` on what an operator must act on.

`log_event(logger, level, message, deposit_id=..., watch=True)` is the one way teller logs
something that happened to a deposit; operators grep for `notice=WATCH`. The log file (if
configured) is reopened on SIGHUP, for logrotate.
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from typing import Any

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
            raise ValueError(f"refusing to log a field named {name!r}: it may hold a secret")
    extra: dict[str, Any] = {"fields": fields}
    if watch:
        extra["notice"] = WATCH
    logger.log(level, message, extra=extra)


class ReopenableFileHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Appends to a file; `reopen()` (on SIGHUP) starts writing to a fresh file of that name."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._reopen_lock = threading.Lock()
        super().__init__(path.open("a", encoding="utf-8"))

    def reopen(self) -> None:
        with self._reopen_lock:
            self.acquire()
            try:
                old = self.stream
                self.stream = self.path.open("a", encoding="utf-8")
                old.close()
            finally:
                self.release()

    def close(self) -> None:
        self.acquire()
        try:
            self.stream.close()
        finally:
            self.release()
        super().close()


def setup_logging(debug: bool, logfile: str) -> ReopenableFileHandler | None:
    """Log to stderr, and to `logfile` too when set. Returns the file handler (for SIGHUP)."""
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
        file_handler = ReopenableFileHandler(Path(logfile))
        file_handler.setFormatter(formatter)
        root.addHandler(file_handler)
    for noisy in ("uvicorn.access", "httpx", "httpcore", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return file_handler
