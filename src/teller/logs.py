r"""Logging: one line per event, `key=value` fields, `notice=WATCH` on what an operator must act on.

`log_event(logger, level, message, deposit_id=..., watch=True)` is the one way teller logs
something that happened to a deposit; operators grep for `notice=WATCH`. `log_once` is the same
for a condition a loop finds again every round (a stuck payout, a deposit that waits): logged
the first time its key is seen, not once per round. The log file (if
configured) is reopened on SIGHUP, for logrotate.

A record is always one line of printable text, whoever wrote it (teller, uvicorn, a library)
and whatever its values came from (a request's parameters, a peer's answer, an exception):
`KeyValueFormatter` escapes every control or otherwise unprintable character of the message,
of each field's value and of a traceback (which becomes the `traceback=` field) the way
Python writes them in a string (`\n`, `\x00`, `\x1b`, `\u2028`, a backslash as `\\`).
So no value can start a forged line, hide text behind terminal escapes, or make
`grep ERROR teller.log` take the file for binary. Values with a space, `"` or `=` are
quoted, so no value can forge a `key=value` field either, and `notice=` inside a message or
value is written `notice\x3d`: `grep notice=WATCH` finds only teller's own notices.
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
    """`TIME LEVEL LOGGER message key=value … notice=WATCH traceback="…"`, always one line."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s", "%Y-%m-%dT%H:%M:%S%z")

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        record.asctime = self.formatTime(record, self.datefmt)
        head = f"{record.asctime} {escape(record.levelname)} {escape(record.name)}"
        parts = [head, escape(record.message)]
        fields: dict[str, Any] = getattr(record, "fields", {}) or {}
        parts.extend(f"{escape(str(k))}={_quote(v)}" for k, v in fields.items())
        notice = getattr(record, "notice", None)
        if notice:
            parts.append(f"notice={_quote(notice)}")
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)  # cached, as logging does
        if record.exc_text:
            parts.append(f"traceback={_quote(record.exc_text)}")
        if record.stack_info:
            parts.append(f"stack={_quote(self.formatStack(record.stack_info))}")
        return " ".join(parts)


_NOTICE, _NOTICE_ESCAPED = "notice=", "notice\\x3d"
_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape(text: str) -> str:
    """`text` with every unprintable character (controls, line and paragraph separators,
    format characters such as bidi overrides, lone surrogates) and the backslash written as
    Python escapes: one line of printable text, from which the original can be read back."""
    if not (text.isprintable() and "\\" not in text):
        text = "".join(c if c.isprintable() and c != "\\" else _escaped(c) for c in text)
    # Only teller's own notice field may match the operators' `grep notice=WATCH`.
    return text.replace(_NOTICE, _NOTICE_ESCAPED) if _NOTICE in text else text


def _escaped(char: str) -> str:
    known = _ESCAPES.get(char)
    if known is not None:
        return known
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _quote(value: Any) -> str:
    """A field's value: escaped, and in double quotes if empty or with a space, `"` or `=`."""
    text = escape(str(value))
    if not text or any(c in text for c in ' "='):
        return '"' + text.replace('"', '\\"') + '"'
    return text


def log_event(
    logger: logging.Logger,
    level: int,
    message: str,
    *,
    watch: bool = False,
    exc_info: bool = False,
    **fields: Any,
) -> None:
    """Log `message` with `fields`; `watch=True` marks it notice=WATCH for the operator,
    `exc_info=True` adds the exception being handled (as the one-line `traceback=` field)."""
    for name in fields:
        if name.lower() in _SECRET_FIELD_NAMES:
            raise InvalidValue(f"refusing to log a field named {name!r}: it may hold a secret")
    extra: dict[str, Any] = {"fields": fields}
    if watch:
        extra["notice"] = WATCH
    logger.log(level, message, extra=extra, exc_info=exc_info)


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
