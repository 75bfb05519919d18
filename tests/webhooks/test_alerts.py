"""webhooks/alerts.py: every notice=WATCH line becomes an alert.watch event in the outbox."""

from __future__ import annotations

import json
import logging

from teller.logs import log_event
from teller.store.db import Database
from teller.store.models import WebhookTarget
from teller.store.webhooks import list_deliveries
from teller.webhooks.alerts import WatchAlerts


def test_watch_lines_are_queued_as_alert_events(sqlite_db: Database) -> None:
    db = sqlite_db
    db.webhook_targets = (WebhookTarget("https://r.example/", frozenset({"alert.watch"})),)
    alerts = WatchAlerts(db)
    logger = logging.getLogger("teller.sender")
    logger.addHandler(alerts)
    try:
        log_event(logger, logging.ERROR, "sold out", watch=True, droplets=5, txid="ab")
        log_event(logger, logging.INFO, "an ordinary line", deposit_id="x:0")
        log_event(logging.getLogger("teller.webhooks"), logging.ERROR, "own", watch=True)
        # Logged inside a write transaction: the handler never waits for the store.
        with db.write():
            log_event(logger, logging.WARNING, "conflicted payout", watch=True)
    finally:
        logger.removeHandler(alerts)
        alerts.close()  # stores what is queued
    with db.read() as conn:
        rows = list(reversed(list_deliveries(conn)))
    bodies = [json.loads(r.body) for r in rows]
    assert [b["data"]["message"] for b in bodies] == ["sold out", "conflicted payout"]
    assert {b["type"] for b in bodies} == {"alert.watch"}
    assert bodies[0]["data"]["fields"] == {"droplets": 5, "txid": "ab"}
    assert bodies[0]["data"]["level"] == "ERROR"
    assert {r.ordering_key for r in rows} == {"alert"}
