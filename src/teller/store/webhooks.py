"""The webhook outbox's SQL: events written with the change they report, and their deliveries.

Place in the flow: the code of a state change (deposits/events.py, called by deposits/binding.py,
deposits/intake.py, deposits/states.py; webhooks/alerts.py for notice=WATCH lines) calls
`add_event` in the transaction that makes the change: the row commits with the change or not
at all, so a crash can lose neither one without the other. The webhooks a transaction writes
for come with its connection (Database.write's "teller_webhooks" option): with none
configured, `add_event` writes nothing and costs one dictionary lookup.

webhooks/delivery.py then reads `due_heads` (per webhook, the oldest pending row of each
ordering key, if its time has come: events of one deposit address go out in order, the next
only once the one before is delivered or dead) and records each attempt with
`record_delivered` / `record_failure`. The admin API lists rows (`list_deliveries`) and puts one
back in the queue (`resend`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any, Final

from sqlalchemy import Connection, and_, func, select, update

from teller.store.db import dialect_insert
from teller.store.models import WebhookDelivery, WebhookTarget
from teller.store.tables import webhook_deliveries as w

PENDING: Final = "pending"
DELIVERED: Final = "delivered"
DEAD: Final = "dead"
STATUSES: Final = (PENDING, DELIVERED, DEAD)


def targets_of(conn: Connection) -> tuple[WebhookTarget, ...]:
    """The webhooks the transaction of `conn` writes events for (none outside Database.write)."""
    targets: tuple[WebhookTarget, ...] = conn.get_execution_options().get("teller_webhooks", ())
    return targets


def wants(conn: Connection, event_type: str) -> bool:
    """Whether any webhook of this transaction takes `event_type` (to skip building its data)."""
    return any(event_type in target.events for target in targets_of(conn))


def event_body(event_id: str, event_type: str, created_at: int, data: Mapping[str, Any]) -> str:
    """The JSON posted for an event: compact, keys sorted, so its bytes are fixed once written."""
    document = {"id": event_id, "type": event_type, "created_at": created_at, "data": data}
    return json.dumps(document, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def add_event(
    conn: Connection,
    event_type: str,
    ordering_key: str,
    data: Mapping[str, Any],
    now: int,
    *,
    event_id: str | None = None,
) -> str | None:
    """Queue `event_type` with `data` for every webhook of this transaction that takes it.

    One row per webhook, all with the same event id (a new UUID, or `event_id` when the
    caller has a deterministic one: a second event with that id is then dropped, so an
    event raised again every round is queued once). Returns the id, None if no webhook takes
    the event. Must be called in the transaction of the change the event reports.
    """
    ids = add_events(conn, [(event_type, ordering_key, data, event_id)], now)
    return ids[0]


def add_events(
    conn: Connection,
    events: list[tuple[str, str, Mapping[str, Any], str | None]],
    now: int,
) -> list[str | None]:
    """`add_event` for many events (type, ordering key, data, event id or None), in their
    order, in one statement: the ids, None for an event no webhook takes."""
    targets = targets_of(conn)
    rows: list[dict[str, Any]] = []
    ids: list[str | None] = []
    for event_type, ordering_key, data, event_id in events:
        takers = [t for t in targets if event_type in t.events]
        if not takers:
            ids.append(None)
            continue
        event_id = event_id or str(uuid.uuid4())
        ids.append(event_id)
        rows.extend(_rows(event_id, event_type, ordering_key, data, now, takers))
    if rows:
        statement = dialect_insert(conn, w).on_conflict_do_nothing(
            index_elements=[w.c.event_id, w.c.webhook]
        )
        conn.execute(statement, rows)
    return ids


def _rows(
    event_id: str,
    event_type: str,
    ordering_key: str,
    data: Mapping[str, Any],
    now: int,
    targets: list[WebhookTarget],
) -> list[dict[str, Any]]:
    body = event_body(event_id, event_type, now, data)
    return [
        {
            "event_id": event_id,
            "webhook": target.url,
            "event_type": event_type,
            "ordering_key": ordering_key,
            "body": body,
            "status": PENDING,
            "attempts": 0,
            "last_error": "",
            "next_try_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for target in targets
    ]


def due_heads(conn: Connection, webhook: str, now: int, limit: int) -> list[WebhookDelivery]:
    """For `webhook`, the oldest pending row of each ordering key, if it is due (up to
    `limit`, oldest first). A key's later rows wait until that one is delivered or dead."""
    heads = (
        select(func.min(w.c.id))
        .where(and_(w.c.webhook == webhook, w.c.status == PENDING))
        .group_by(w.c.ordering_key)
        .scalar_subquery()
    )
    query = (
        select(w)
        .where(and_(w.c.id.in_(heads), w.c.next_try_at <= now))
        .order_by(w.c.id)
        .limit(limit)
    )
    return [WebhookDelivery.from_row(r) for r in conn.execute(query)]


def _if_attempt(delivery: WebhookDelivery) -> Any:
    """WHERE: the row is still pending at the attempt count it was read with (a re-send or a
    second deliverer in between makes the outcome of this attempt moot)."""
    return and_(w.c.id == delivery.id, w.c.status == PENDING, w.c.attempts == delivery.attempts)


def record_delivered(conn: Connection, delivery: WebhookDelivery, now: int) -> bool:
    """The receiver took the event (2xx). False if the row had moved meanwhile."""
    result = conn.execute(
        update(w)
        .where(_if_attempt(delivery))
        .values(
            status=DELIVERED,
            attempts=w.c.attempts + 1,
            last_error="",
            delivered_at=now,
            updated_at=now,
        )
    )
    return bool(result.rowcount == 1)


def record_failure(
    conn: Connection,
    delivery: WebhookDelivery,
    error: str,
    now: int,
    *,
    next_try_at: int | None,
) -> bool:
    """An attempt failed with `error`: tried again at `next_try_at`, or dead (None)."""
    values: dict[str, Any] = {
        "attempts": w.c.attempts + 1,
        "last_error": error,
        "updated_at": now,
    }
    if next_try_at is None:
        values["status"] = DEAD
    else:
        values["next_try_at"] = next_try_at
    result = conn.execute(update(w).where(_if_attempt(delivery)).values(**values))
    return bool(result.rowcount == 1)


def get_delivery(conn: Connection, delivery_id: int) -> WebhookDelivery | None:
    row = conn.execute(select(w).where(w.c.id == delivery_id)).first()
    return None if row is None else WebhookDelivery.from_row(row)


def list_deliveries(
    conn: Connection, *, status: str | None = None, limit: int = 100
) -> list[WebhookDelivery]:
    """The `limit` most recent rows (of `status` if given), newest first."""
    query = select(w).order_by(w.c.id.desc()).limit(limit)
    if status is not None:
        query = query.where(w.c.status == status)
    return [WebhookDelivery.from_row(r) for r in conn.execute(query)]


def resend(conn: Connection, delivery_id: int, now: int) -> WebhookDelivery | None:
    """Queue a row again (dead or delivered: the same event id and body, from attempt 0, due
    now). A pending row is left as it is. None if there is no such row."""
    conn.execute(
        update(w)
        .where(and_(w.c.id == delivery_id, w.c.status != PENDING))
        .values(status=PENDING, attempts=0, next_try_at=now, updated_at=now, delivered_at=None)
    )
    return get_delivery(conn, delivery_id)


def count_deliveries(conn: Connection) -> dict[str, int]:
    """Rows by status, and "failing": pending rows that failed at least once."""
    counts = {status: 0 for status in STATUSES}
    for status, count in conn.execute(select(w.c.status, func.count()).group_by(w.c.status)):
        counts[status] = int(count)
    failing = conn.execute(
        select(func.count()).where(and_(w.c.status == PENDING, w.c.attempts > 0))
    ).scalar_one()
    counts["failing"] = int(failing)
    return counts
