"""The delivery loop: posts the outbox's pending events to their webhooks, at least once.

Place in the flow: runs in the worker role only (app.py `run_workers`), beside the deposit
stages, under worker.py's run_worker. Each round, for each configured webhook, it reads the
due head of each ordering key (store/webhooks.py `due_heads`: one deposit address's events go
out one at a time, in the order they were written) and posts them concurrently, each signed
(signing.py) with a fresh timestamp.

At least once, never lost: an event is marked delivered only after the receiver answered 2xx,
in a transaction of its own. A crash between the answer and that commit posts the event again
after the restart, with the same event id (receivers drop duplicates by it). Anything else (no
connection, a timeout, a non-2xx answer, a redirect) is a failure: the row is tried again after
retry_wait, doubling each time up to retry_wait_max, and is dead after max_attempts (kept, shown
in the admin API, re-sendable). The error stored says what happened, with at most
MAX_ERROR_BODY characters of the receiver's answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from teller.clock import unix_now
from teller.logs import log_event
from teller.store.db import Database
from teller.store.models import WebhookDelivery
from teller.store.webhooks import due_heads, record_delivered, record_failure
from teller.webhooks.signing import request_headers

log = logging.getLogger("teller.webhooks")

MAX_ERROR_BODY = 200  # characters of a receiver's answer kept in last_error
BATCH = 32  # events posted at once per webhook (the heads of that many deposit addresses)


@dataclass(frozen=True)
class Endpoint:
    """A configured webhook, as the delivery loop uses it (config: [[webhooks]])."""

    url: str
    secret: bytes = field(repr=False)
    timeout: float = 10.0
    max_attempts: int = 20
    retry_wait: float = 30.0
    retry_wait_max: float = 7200.0

    def retry_delay(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failed attempt (1, 2, …): retry_wait,
        doubling each time, at most retry_wait_max."""
        delay: float = self.retry_wait * 2 ** max(attempts - 1, 0)
        return min(delay, self.retry_wait_max)


def failure_text(answer: httpx.Response | BaseException) -> str:
    """What an attempt's failure is stored as: the status and the start of the answer, or the
    kind of error (never the request: it holds nothing secret, but nothing is gained)."""
    if isinstance(answer, httpx.Response):
        body = answer.text[:MAX_ERROR_BODY]
        more = "…" if len(answer.text) > MAX_ERROR_BODY else ""
        return f"HTTP {answer.status_code}: {body}{more}".strip()
    if isinstance(answer, TimeoutError | httpx.TimeoutException):
        return "timed out"
    return f"{answer.__class__.__name__}: {answer}"[: MAX_ERROR_BODY + 50]


class WebhookSender:
    """Posts the pending events of every configured webhook; one `step` per round."""

    def __init__(
        self,
        db: Database,
        endpoints: list[Endpoint],
        *,
        clock: Callable[[], int] = unix_now,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.db = db
        self.endpoints = endpoints
        self.clock = clock
        self._clients = {
            e.url: httpx.AsyncClient(
                timeout=e.timeout, follow_redirects=False, trust_env=False, transport=transport
            )
            for e in endpoints
        }

    async def step(self) -> bool:
        """Post every due event once; True if any was tried (run again at once)."""
        tried = False
        for endpoint in self.endpoints:
            heads = await asyncio.to_thread(self._due, endpoint)
            if heads:
                tried = True
                outcomes = await asyncio.gather(*(self._attempt(endpoint, d) for d in heads))
                # One transaction records the round's outcomes (one fsync, not one per event).
                await asyncio.to_thread(self._record, endpoint, outcomes)
        return tried

    def _due(self, endpoint: Endpoint) -> list[WebhookDelivery]:
        with self.db.read() as conn:
            heads = due_heads(conn, endpoint.url, self.clock(), BATCH)
        if heads:
            # An event leaves the machine only once the change it reports is on disk: a group
            # commit (a bind's binding.created) is readable before its flush (store/db.py).
            self.db.flush_wal()
        return heads

    async def _attempt(
        self, endpoint: Endpoint, delivery: WebhookDelivery
    ) -> tuple[WebhookDelivery, str | None, int]:
        """Post one event: (the row, why it failed or None, milliseconds taken)."""
        body = delivery.body.encode("utf-8")
        headers = request_headers(
            endpoint.secret, self.clock(), body, delivery.event_id, delivery.event_type
        )
        client = self._clients[endpoint.url]
        failure: str | None
        started = time.monotonic()
        try:
            # The client's timeout bounds each read; wait_for bounds the whole attempt (a
            # receiver trickling its answer byte by byte).
            answer = await asyncio.wait_for(
                client.post(endpoint.url, content=body, headers=headers), endpoint.timeout
            )
        except (httpx.HTTPError, TimeoutError, OSError) as exc:
            failure = failure_text(exc)
        else:
            failure = None if 200 <= answer.status_code < 300 else failure_text(answer)
        return delivery, failure, int((time.monotonic() - started) * 1000)

    def _record(
        self, endpoint: Endpoint, outcomes: list[tuple[WebhookDelivery, str | None, int]]
    ) -> None:
        """Store how each attempt of a round went, then log each."""
        now = self.clock()
        retries: dict[int, int | None] = {}
        with self.db.write() as conn:
            for delivery, failure, _ms in outcomes:
                if failure is None:
                    record_delivered(conn, delivery, now)
                    continue
                attempts = delivery.attempts + 1
                dead = attempts >= endpoint.max_attempts
                next_try = None if dead else now + max(1, round(endpoint.retry_delay(attempts)))
                retries[delivery.id] = next_try
                record_failure(conn, delivery, failure, now, next_try_at=next_try)
        for delivery, failure, elapsed_ms in outcomes:
            fields: dict[str, Any] = {
                "event_id": delivery.event_id,
                "event_type": delivery.event_type,
                "delivery": delivery.id,
                "attempt": delivery.attempts + 1,
                "ms": elapsed_ms,
            }
            if failure is None:
                log_event(log, logging.INFO, "webhook event delivered", **fields)
            else:
                self._log_failure(failure, retries[delivery.id], fields)

    @staticmethod
    def _log_failure(failure: str, next_try: int | None, fields: dict[str, Any]) -> None:
        if next_try is None:
            # Not notice=WATCH: alert.watch events are about teller's deposits and peers, and
            # one about its own webhook would go to the webhook that is failing.
            log_event(
                log,
                logging.ERROR,
                "webhook event dead: re-send it from the admin API",
                error=failure,
                **fields,
            )
        else:
            log_event(
                log,
                logging.WARNING,
                "webhook event not delivered; will retry",
                error=failure,
                next_try_at=next_try,
                **fields,
            )

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
