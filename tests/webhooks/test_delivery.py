"""webhooks/delivery.py and store/webhooks.py on SQLite and PostgreSQL, against a real receiver
on a loopback port: signing, order per deposit address, backoff, dead letters and re-sends,
and that an event is written only with the change it reports."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from teller.deposits import events, states
from teller.deposits.intake import record_deposit
from teller.errors import NotFound
from teller.services.webhooks import deliveries, resend_delivery
from teller.store.bindings import insert_binding
from teller.store.db import Database
from teller.store.deposits import get_deposit
from teller.store.models import Deposit, IncomingDeposit, WebhookTarget
from teller.store.pool import sync_pool, take_free_address
from teller.store.webhooks import DEAD, DELIVERED, PENDING, add_event, list_deliveries
from teller.webhooks.delivery import Endpoint, WebhookSender
from teller.webhooks.signing import signature

SECRET = b"whsec_example"
ALL_EVENTS = frozenset(
    {"binding.created", "deposit.recorded", "sky.sent", "deposit.done", "deposit.errored"}
)


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    # Known vector (README "Webhooks"): receivers in any language can check theirs against it.
    expected = "v1=63211677245265da5ac4dac3e3ef8c4539f7edf92af666a0af2c602e00c3edb2"
    assert signature(SECRET, 1700000000, b'{"id":"e1"}') == expected
    assert signature(SECRET, 1700000001, b'{"id":"e1"}') != expected
    assert signature(b"other", 1700000000, b'{"id":"e1"}') != expected


def test_retry_delays_double_up_to_the_maximum() -> None:
    endpoint = Endpoint("http://127.0.0.1:1/", SECRET, retry_wait=30.0, retry_wait_max=7200.0)
    delays = [endpoint.retry_delay(n) for n in range(1, 21)]
    assert delays[:4] == [30.0, 60.0, 120.0, 240.0]
    assert max(delays) == 7200.0
    assert delays == sorted(delays)
    # 20 attempts with the defaults: given up after about a day.
    assert 20 * 3600 < sum(delays[:19]) < 30 * 3600
    assert "secret" not in repr(endpoint) and repr(SECRET) not in repr(endpoint)


class Receiver:
    """A receiver on a loopback port answering `status` (changeable), recording each request."""

    def __init__(self) -> None:
        self.status = 200
        self.requests: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                answer = b"x" * 1000 if receiver.status >= 300 else b"ok"
                self.send_response(receiver.status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000

    def __call__(self) -> int:
        return self.now


def _sender(db: Database, url: str, clock: Clock, **kwargs: Any) -> WebhookSender:
    endpoint = Endpoint(url, SECRET, timeout=5.0, retry_wait=10.0, retry_wait_max=40.0, **kwargs)
    return WebhookSender(db, [endpoint], clock=clock)


def _step(sender: WebhookSender) -> bool:
    return asyncio.run(sender.step())


def _queue(db: Database, url: str, key: str, n: int, now: int) -> list[str]:
    db.webhook_targets = (WebhookTarget(url, frozenset({"deposit.done"})),)
    with db.write() as conn:
        ids = [add_event(conn, "deposit.done", key, {"n": i}, now) for i in range(n)]
    return [i for i in ids if i is not None]


def test_events_are_signed_and_delivered_in_order_per_key(db: Database, receiver: Receiver) -> None:
    clock = Clock()
    ids = _queue(db, receiver.url, "BTC:a", 3, clock.now) + _queue(
        db, receiver.url, "BTC:b", 1, clock.now
    )
    sender = _sender(db, receiver.url, clock)
    while _step(sender):
        pass
    asyncio.run(sender.aclose())
    received = receiver.events()
    assert sorted(e["id"] for e in received) == sorted(ids)
    of_a = [e["data"]["n"] for e in received if e["id"] in ids[:3]]
    assert of_a == [0, 1, 2]
    for request in receiver.requests:
        headers, body = request["headers"], request["body"]
        timestamp = headers["Teller-Timestamp"]
        assert timestamp == str(clock.now)
        mac = hmac.new(SECRET, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        assert headers["Teller-Signature"] == f"v1={mac}"
        assert headers["Teller-Event-Id"] == json.loads(body)["id"]
        assert headers["Content-Type"] == "application/json"
    with db.read() as conn:
        assert {d.status for d in list_deliveries(conn)} == {DELIVERED}


def test_a_failing_event_holds_back_its_keys_later_events_backs_off_and_dies(
    db: Database, receiver: Receiver
) -> None:
    clock = Clock()
    ids = _queue(db, receiver.url, "BTC:a", 2, clock.now)
    receiver.status = 500
    sender = _sender(db, receiver.url, clock, max_attempts=3)
    waits = []
    for attempt in range(3):
        assert _step(sender)
        if attempt == 2:
            break  # dead now
        assert not _step(sender)  # not due again before its wait is over
        with db.read() as conn:
            first = next(d for d in list_deliveries(conn) if d.event_id == ids[0])
        waits.append(first.next_try_at - clock.now)
        clock.now = first.next_try_at
    # Only the first event was ever posted: the second waits for it.
    assert [r["headers"]["Teller-Event-Id"] for r in receiver.requests] == [ids[0]] * 3
    assert waits == [10, 20]
    with db.read() as conn:
        rows = {d.event_id: d for d in list_deliveries(conn)}
    assert rows[ids[0]].status == DEAD and rows[ids[0]].attempts == 3
    assert rows[ids[0]].last_error.startswith("HTTP 500: xxx")
    assert len(rows[ids[0]].last_error) < 300  # the answer is cut short
    assert rows[ids[1]].status == PENDING
    # Dead: the next event of the key goes out now.
    receiver.status = 200
    assert _step(sender)
    assert receiver.requests[-1]["headers"]["Teller-Event-Id"] == ids[1]

    # The dead one is listed, and re-sent with the same id and body.
    shown = deliveries(db, "dead", 100)
    assert shown["counts"][DEAD] == 1
    assert [d["event_id"] for d in shown["deliveries"]] == [ids[0]]
    dead_body = receiver.requests[0]["body"]
    view = resend_delivery(db, rows[ids[0]].id, "admin-api")
    assert view["status"] == PENDING and view["attempts"] == 0
    clock.now = max(clock.now, view["next_try_at"])  # due now (the re-send's real time)
    assert _step(sender)
    assert receiver.requests[-1]["headers"]["Teller-Event-Id"] == ids[0]
    assert receiver.requests[-1]["body"] == dead_body
    with db.read() as conn:
        assert {d.status for d in list_deliveries(conn)} == {DELIVERED}
    asyncio.run(sender.aclose())


def test_an_unreachable_receiver_is_a_failure_with_the_reason(db: Database) -> None:
    clock = Clock()
    url = "http://127.0.0.1:9/hook"  # discard port: nothing listens
    _queue(db, url, "k", 1, clock.now)
    sender = _sender(db, url, clock)
    assert _step(sender)
    asyncio.run(sender.aclose())
    with db.read() as conn:
        (row,) = list_deliveries(conn)
    assert row.status == PENDING and row.attempts == 1
    assert row.last_error.startswith("ConnectError")
    assert row.next_try_at == clock.now + 10


def test_events_are_written_with_their_change_or_not_at_all(db: Database) -> None:
    """A bind, a recorded deposit and its moves queue their events in their own transaction:
    one rolled back leaves no event; with no webhook nothing is queued."""
    url = "https://receiver.example/hook"
    with db.write() as conn:
        sync_pool(conn, "BTC", ["addr1", "addr2"])
    # No webhook: nothing queued.
    with db.write() as conn:
        address = take_free_address(conn, "BTC", 1)
        assert address is not None
        binding = insert_binding(
            conn, coin_type="BTC", deposit_address=address, sky_address="sky1",
            buy_method="direct", now=1,
        )  # fmt: skip
        events.binding_created(conn, binding, address, 1)
    with db.read() as conn:
        assert list_deliveries(conn) == []

    db.webhook_targets = (WebhookTarget(url, ALL_EVENTS),)
    incoming = IncomingDeposit("BTC", address, 150_000, 7, "ab" * 32, 0)
    with pytest.raises(RuntimeError), db.write() as conn:
        record_deposit(conn, incoming, 2)
        raise RuntimeError("rolled back")
    with db.read() as conn:
        assert list_deliveries(conn) == []
    with db.write() as conn:
        deposit, inserted = record_deposit(conn, incoming, 2)
        assert inserted
    with db.write() as conn:
        _again, inserted = record_deposit(conn, incoming, 3)  # reported again: no new event
        assert not inserted
        states.move(conn, deposit, states.WAITING_SEND, 3, sky_due=1_500_000)
    with db.write() as conn:
        current = get_deposit(conn, deposit.deposit_id)
        assert current is not None
        states.move(conn, current, states.DONE, 4, sky_sent=1_500_000)
    with db.read() as conn:
        rows = list(reversed(list_deliveries(conn)))
    assert [r.event_type for r in rows] == ["deposit.recorded", "sky.sent", "deposit.done"]
    assert {r.ordering_key for r in rows} == {f"BTC:{address}"}
    done = json.loads(rows[-1].body)
    assert done["type"] == "deposit.done" and done["id"] == rows[-1].event_id
    assert done["data"]["deposit"]["deposit_value"] == "0.00150000"
    assert done["data"]["deposit"]["sky_sent"] == "1.500000"
    assert done["data"]["deposit"]["status"] == "done"


def test_payment_seen_is_queued_once_per_output(db: Database) -> None:
    db.webhook_targets = (WebhookTarget("https://r.example/", frozenset({"payment.seen"})),)
    for confirmations in (0, 1, 2):
        with db.write() as conn:
            events.payment_seen(
                conn, coin_type="ETH", deposit_address="0xabc", sky_address="sky1",
                tx="cd" * 32, n=0, value=123_456_789_012_345_678, confirmations=confirmations,
                confirmations_required=3, now=10 + confirmations,
            )  # fmt: skip
    with db.read() as conn:
        (row,) = list_deliveries(conn)
    data = json.loads(row.body)["data"]
    assert data["value"] == "0.123456789012345678"
    assert data["confirmations"] == 0


@pytest.mark.parametrize(
    ("old", "new", "error", "sent", "expected"),
    [
        ("waiting_send", "waiting_confirm", "", 5, ["sky.sent"]),
        ("waiting_confirm", "done", "", 5, ["deposit.done"]),
        ("waiting_send", "done", "", 5, ["sky.sent", "deposit.done"]),  # paid, confirmed at once
        ("waiting_decide", "done", "Skycoin send amount is 0", 0, ["deposit.errored"]),
        ("waiting_send", "done", "refund asked", 0, ["deposit.errored"]),  # stopped
        ("waiting_decide", "waiting_send", "", 0, []),
    ],
)
def test_each_move_reports_its_events(
    old: str, new: str, error: str, sent: int, expected: list[str]
) -> None:
    deposit = Deposit(
        *[None] * len(Deposit.__dataclass_fields__)  # type: ignore[arg-type]
    )
    moved = replace(deposit, status=new, error=error, sky_sent=sent)
    assert events.events_of_move(old, moved) == expected


@pytest.mark.parametrize("delivery_id", [0, -1, 2**63, 18019994197960765440])
def test_resending_an_id_no_delivery_can_have_is_not_found(db: Database, delivery_id: int) -> None:
    """A 64-bit column holds no such id: 404 with the id, never a driver's overflow (500)."""
    with pytest.raises(NotFound, match=f"no webhook delivery {delivery_id}"):
        resend_delivery(db, delivery_id, "admin-api")


def test_an_event_leaves_only_after_the_store_is_flushed(
    db: Database, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group commit (a bind and its binding.created) is readable before its WAL flush: the
    delivery loop flushes before it posts, so no receiver hears of a change a power cut could
    still undo."""
    clock = Clock()
    _queue(db, receiver.url, "k", 1, clock.now)
    order: list[str] = []
    real_flush = db.flush_wal

    def flush() -> None:
        order.append(f"flush with {len(receiver.requests)} posted")
        real_flush()

    monkeypatch.setattr(db, "flush_wal", flush)
    sender = _sender(db, receiver.url, clock)
    assert _step(sender)
    asyncio.run(sender.aclose())
    assert order == ["flush with 0 posted"]
    assert len(receiver.requests) == 1
