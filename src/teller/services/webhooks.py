"""The webhook deliveries as the operator sees them: the admin API, the dashboard and the CLI.

Place in the flow: http/admin.py (GET /api/webhooks/deliveries, POST
/api/webhooks/deliveries/{id}/resend) and cli.py (`teller webhooks list|resend`) call these;
the rows are the outbox of store/webhooks.py, delivered by webhooks/delivery.py. A re-send
puts the row back in the queue (same event id, same body, attempts from 0) and writes an audit
row (store/operator_actions.py) in the same transaction. A webhook's url is shown with any
password in it redacted; its secret is never shown.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from teller.clock import unix_now
from teller.config.schema import redact_url_password
from teller.errors import BadRequest, NotFound
from teller.services import params
from teller.store.db import Database
from teller.store.models import WebhookDelivery
from teller.store.operator_actions import record_action
from teller.store.webhooks import STATUSES, count_deliveries, list_deliveries, resend

if TYPE_CHECKING:
    from teller.services.parts import Services

MAX_DELIVERIES = 1000


def delivery_view(d: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "event_id": d.event_id,
        "event_type": d.event_type,
        "webhook": redact_url_password(d.webhook),
        "status": d.status,
        "attempts": d.attempts,
        "last_error": d.last_error,
        "next_try_at": d.next_try_at if d.status == "pending" else None,
        "created_at": d.created_at,
        "delivered_at": d.delivered_at,
    }


def deliveries(db: Database, status: str | None, limit: int) -> dict[str, Any]:
    """The most recent deliveries (of `status`), newest first, and the counts by status."""
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}")
    if not 1 <= limit <= MAX_DELIVERIES:
        raise BadRequest(f"limit must be between 1 and {MAX_DELIVERIES}")
    with db.read() as conn:
        rows = list_deliveries(conn, status=status, limit=limit)
        counts = count_deliveries(conn)
    return {"counts": counts, "deliveries": [delivery_view(d) for d in rows]}


def resend_delivery(db: Database, delivery_id: int, actor: str) -> dict[str, Any]:
    """Queue delivery `delivery_id` again; NotFound if there is none."""
    if not 1 <= delivery_id <= params.MAX_SEQ:  # ids are positive 64-bit integers
        raise NotFound(f"no webhook delivery {delivery_id}")
    with db.write() as conn:
        now = unix_now()
        found = resend(conn, delivery_id, now)
        if found is None:
            raise NotFound(f"no webhook delivery {delivery_id}")
        record_action(
            conn,
            at=now,
            actor=actor,
            action="webhook.resend",
            target=found.event_id,
            detail=f"delivery {delivery_id} ({found.event_type})",
            outcome="queued",
        )
    return delivery_view(found)


async def deliveries_async(parts: Services, status: str | None, limit: int) -> dict[str, Any]:
    return await asyncio.to_thread(deliveries, parts.db, status, limit)


async def resend_async(parts: Services, delivery_id: int, actor: str) -> dict[str, Any]:
    return await asyncio.to_thread(resend_delivery, parts.db, delivery_id, actor)
