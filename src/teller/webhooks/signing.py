"""How a webhook request is signed, so that a receiver can tell it came from teller.

Place in the flow: webhooks/delivery.py signs every attempt; README "Webhooks" and
docs/webhook_receiver.py show a receiver checking it. The signature is HMAC-SHA256, keyed with
the webhook's secret, over "<timestamp>.<body>": the timestamp (unix seconds, the
Teller-Timestamp header) is that of the attempt, so a receiver can refuse an old request
replayed at it, and the body is the exact bytes posted.
"""

from __future__ import annotations

import hashlib
import hmac

SCHEME = "v1"


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """The Teller-Signature header's value: "v1=" and the hex HMAC-SHA256."""
    digest = hmac.new(secret, f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return f"{SCHEME}={digest.hexdigest()}"


def request_headers(
    secret: bytes, timestamp: int, body: bytes, event_id: str, event_type: str
) -> dict[str, str]:
    """The headers of one attempt to post an event."""
    return {
        "Content-Type": "application/json",
        "Teller-Event-Id": event_id,
        "Teller-Event-Type": event_type,
        "Teller-Timestamp": str(timestamp),
        "Teller-Signature": signature(secret, timestamp, body),
    }
