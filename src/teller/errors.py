"""The exception tree of teller: what callers catch, and which failures are retried.

Every error a user or operator can see derives from TellerError, whose str() is the exact
message shown (HTTP bodies are plain text, as the original's were).

    TellerError
    ├── RequestError           bad input from an API caller; 4xx, nothing changed
    │   ├── BadRequest         400
    │   ├── Forbidden          403 (binding disabled)
    │   ├── NotFound           404
    │   ├── PayloadTooLarge    413
    │   └── UnsupportedMedia   415
    ├── Unavailable            503: an answer teller cannot give now (no fresh order book)
    ├── BindError              a bind that cannot be served (500 as the original): pool empty,
    │                          too many addresses for one SKY address
    ├── DepositRejected        a scanner reported a deposit teller cannot accept (unbound address,
    │                          zero value); the deposit is not recorded
    ├── InvalidTransition      a state-machine step from the wrong status (a bug or a race lost;
    │                          the step is abandoned and retried from what is stored)
    ├── SendError              paying SKY failed
    │   ├── SendTemporary      retried with backoff: node unreachable, broadcast refused (503),
    │   │   ├── InsufficientBalance   the hot wallet cannot cover a payout: "sold out"
    │   │   └── PayoutDeferred        nothing to spend until the wallet's own pending
    │   │                             transactions confirm (their change): wait, not sold out
    │   └── SendConflict       a stored transaction can never confirm (its inputs were spent
    │                          elsewhere): the deposit stops with notice=WATCH, never re-signed
    └── MarketError            the exchange (passthrough buying, markets/) failed a request
        ├── MarketTemporary    retried after request_failure_wait: network, 5xx, an answer
        │   │                  that is not the exchange's envelope, an unknown API error
        │   └── MarketRateLimited   "Too Many Requests": retried after ratelimit_wait
        ├── ClientIdTaken      the client order id was used before: the order is looked up
        │                      by that id, never placed again under another
        └── MarketRefused      permanent: the same request will never succeed
            ├── BelowExchangeMinimum   "limit value: <min>": the order is below the
            │                          exchange's (variable) minimum
            └── CredentialsRefused     the API key or signature was refused: passthrough
                                       halts with notice=WATCH until the operator fixes it
"""

from __future__ import annotations

from decimal import Decimal


class TellerError(Exception):
    """Base of every error teller raises on purpose."""

    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class RequestError(TellerError):
    http_status = 400


class BadRequest(RequestError):
    http_status = 400


class Forbidden(RequestError):
    http_status = 403


class NotFound(RequestError):
    http_status = 404


class PayloadTooLarge(RequestError):
    http_status = 413


class UnsupportedMedia(RequestError):
    http_status = 415


class Unavailable(TellerError):
    http_status = 503


class BindError(TellerError):
    http_status = 500


class DepositRejected(TellerError):
    http_status = 400


class InvalidTransition(TellerError):
    http_status = 500


class SendError(TellerError):
    pass


class SendTemporary(SendError):
    pass


class InsufficientBalance(SendTemporary):
    pass


class PayoutDeferred(SendTemporary):
    pass


class SendConflict(SendError):
    pass


class MarketError(TellerError):
    """The exchange failed a request; `endpoint` names which (never the key or the body)."""

    def __init__(self, message: str, endpoint: str = "") -> None:
        super().__init__(message)
        self.endpoint = endpoint


class MarketTemporary(MarketError):
    pass


class MarketRateLimited(MarketTemporary):
    pass


class ClientIdTaken(MarketError):
    pass


class MarketRefused(MarketError):
    pass


class BelowExchangeMinimum(MarketRefused):
    """`minimum`: the number after "limit value:" (None when it is not one)."""

    def __init__(self, message: str, endpoint: str = "", minimum: Decimal | None = None) -> None:
        super().__init__(message, endpoint)
        self.minimum = minimum


class CredentialsRefused(MarketRefused):
    pass
