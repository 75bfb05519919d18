"""A receiver of teller's webhooks (README "Webhooks"), with the Python standard library only.

    TELLER_WEBHOOK_SECRET=... python3 webhook_receiver.py --port 8000 --events events.jsonl

It checks each request's signature (HMAC-SHA256 of "<Teller-Timestamp>.<body>" with the
webhook's secret, compared in constant time), refuses requests older than MAX_AGE seconds (a
replayed request), and handles each event once: teller delivers at least once, so an event
may come again (after a timeout, a crash, a re-send) with the same id. Handled events are
appended to the events file, whose ids are read back at start, so duplicates are known
across restarts too. Answer 2xx only once the event is safely handled: anything else makes
teller try again later.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MAX_AGE = 300  # seconds: an older Teller-Timestamp is refused
MAX_BODY = 1_000_000  # bytes


def valid_signature(secret: bytes, timestamp: str, body: bytes, header: str) -> bool:
    """Whether `header` (Teller-Signature: "v1=<hex>") signs `timestamp` and `body`."""
    expected = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    for part in header.split(","):
        scheme, _, value = part.strip().partition("=")
        if scheme == "v1" and hmac.compare_digest(value, expected):
            return True
    return False


class EventLog:
    """The events handled so far: one JSON line each, and the set of their ids."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.seen: set[str] = set()
        if path.exists():
            for line in path.read_text("utf-8").splitlines():
                if line.strip():
                    self.seen.add(json.loads(line)["id"])

    def handle_once(self, event: dict) -> bool:
        """Handle `event` unless its id was handled before; True if it was new."""
        with self.lock:
            if event["id"] in self.seen:
                return False
            # Handle the event here (mark an order paid, send an e-mail, …). This example
            # writes it down, durably, before answering 2xx.
            with self.path.open("a", encoding="utf-8") as file:
                file.write(json.dumps(event, sort_keys=True) + "\n")
                file.flush()
                os.fsync(file.fileno())
            self.seen.add(event["id"])
            return True


class WebhookHandler(BaseHTTPRequestHandler):
    secret: bytes = b""
    events: EventLog

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.answer(413, "too large")
            return
        body = self.rfile.read(length)
        timestamp = self.headers.get("Teller-Timestamp", "")
        signature = self.headers.get("Teller-Signature", "")
        if not timestamp.isdigit() or not valid_signature(self.secret, timestamp, body, signature):
            self.answer(401, "bad signature")
            return
        if abs(time.time() - int(timestamp)) > MAX_AGE:
            self.answer(400, "too old")  # a replay of an old request
            return
        event = json.loads(body)
        new = self.events.handle_once(event)
        self.answer(200, "ok" if new else "duplicate")

    def answer(self, status: int, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet; log what you need in do_POST


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--events", type=Path, default=Path("events.jsonl"))
    args = parser.parse_args()
    WebhookHandler.secret = os.environ["TELLER_WEBHOOK_SECRET"].encode()
    WebhookHandler.events = EventLog(args.events)
    server = ThreadingHTTPServer((args.host, args.port), WebhookHandler)
    print(f"listening on {args.host}:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
