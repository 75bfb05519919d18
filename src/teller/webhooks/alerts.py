"""alert.watch events: every `notice=WATCH` line teller logs, queued in the webhook outbox.

Place in the flow: app.py installs `WatchAlerts` as a logging handler when a webhook takes
alert.watch. Every notice=WATCH line (logs.py `log_event(..., watch=True)`: sold out, a
conflicted payout, an orphaned deposit, an audit difference, …) becomes an event with the
line's message and fields, ordered with the other alerts (ordering key "alert").

The handler only queues the record: a writer thread of its own stores it, each alert in a
transaction of its own, right after the line is logged. So the logging call never waits for
the database (a line may be logged inside a write transaction, holding SQLite's writer lock).
The cost: an alert logged in the instant before a crash may be lost with its log line's
process; the state behind it (a stuck payout, an orphan) is raised again when the loop that
found it runs after the restart. Lines of teller.webhooks itself are left out, so a failing
webhook never feeds itself alerts.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from teller.clock import unix_now
from teller.logs import WATCH
from teller.store.db import Database
from teller.store.webhooks import add_event

ALERT_WATCH = "alert.watch"
ORDERING_KEY = "alert"
_STOP = None


class WatchAlerts(logging.Handler):
    """Queues each notice=WATCH record as an alert.watch event (see the module's doc)."""

    def __init__(self, db: Database) -> None:
        super().__init__(level=logging.DEBUG)
        self.db = db
        self._queue: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_all, name="watch alerts", daemon=True)
        self._writer.start()

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "notice", None) != WATCH or record.name.startswith("teller.webhooks"):
            return
        fields = getattr(record, "fields", {}) or {}
        self._queue.put(
            {
                "message": record.getMessage(),
                "level": record.levelname,
                "logger": record.name,
                "fields": {str(k): _plain(v) for k, v in fields.items()},
                "logged_at": int(record.created),
            }
        )

    def _write_all(self) -> None:
        while True:
            alert = self._queue.get()
            if alert is _STOP:
                return
            try:
                with self.db.write() as conn:
                    add_event(conn, ALERT_WATCH, ORDERING_KEY, alert, unix_now())
            except Exception:  # a store error must not end the writer
                logging.getLogger("teller.webhooks").exception("could not queue a WATCH alert")

    def close(self) -> None:
        """Store what is queued, then stop the writer."""
        self._queue.put(_STOP)
        self._writer.join(timeout=10)
        super().close()


def _plain(value: Any) -> Any:
    """A log field's value as JSON can hold it (text for anything but numbers and flags)."""
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)
