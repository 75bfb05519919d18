"""The one exception tree of teller: what callers catch, and which failures are retried.

Every exception teller raises derives from TellerError, whose str() is the exact message shown
(HTTP bodies are plain text, as the original's were). Where a class is also a ValueError,
TypeError or RuntimeError, that is for callers that catch the built-in kind (a bad value read
from a file is both). Each class is defined where its job is (the module in brackets) and
drawn here; this module is the bottom of the import order, imported by every room.

    TellerError
    ├── RequestError           bad input from an API caller; 4xx, nothing changed
    │   ├── BadRequest         400
    │   ├── Forbidden          403 (binding disabled)
    │   ├── NotFound           404
    │   ├── ActionRefused      409: an operator action that could pay twice, or on the
    │   │                      wrong state (services/operator.py); nothing changed
    │   ├── PayloadTooLarge    413
    │   └── UnsupportedMedia   415
    ├── Unavailable            503: an answer teller cannot give now (no fresh order book)
    ├── BindError              a bind that cannot be served (500 as the original): pool empty,
    │                          too many addresses for one SKY address
    ├── DepositRejected        a scanner reported a deposit teller cannot accept (unbound address,
    │                          zero value); the deposit is not recorded
    ├── InvalidTransition      a state-machine step from the wrong status (a bug or a race lost;
    │                          the step is abandoned and retried from what is stored)
    ├── InvalidValue (+ValueError)   a value that is not what it must be: pure-code checks
    │   ├── AmountError                  [money] an amount that cannot be exact or is too large
    │   ├── Base58Error                  [coins.base58check]
    │   ├── AddressError                 [coins.btc, coins.eth, coins.sky] an invalid address
    │   ├── HdKeyError                   [coins.xpub] not a usable extended public key
    │   ├── WalletError                  [coins.sky_wallet]
    │   │   └── EncryptedWalletError     no password, a refused cipher (sha256-xor)
    │   │       └── WalletPasswordError  the password does not decrypt the secrets
    │   ├── WalletCryptoError            [coins.sky_wallet_crypto] secrets that cannot be
    │   │   └── WrongPasswordError       read; sky_wallet re-raises them as the above
    │   ├── TransactionDecodeError       [coins.sky_tx] bytes that are no transaction
    │   ├── TransactionInvalid           [coins.sky_tx] breaks a consensus constraint
    │   ├── TransactionBuildError        [coins.sky_tx]
    │   │   └── InsufficientCoins
    │   └── DurationError                [config.durations] not a Go duration
    ├── InvalidType (+TypeError)     a value of the wrong type handed to the store
    ├── InternalError (+RuntimeError) a state that the code rules out: a bug, logged as one
    ├── ConfigError            [config] the config file or environment cannot run teller
    ├── CredentialError        [config.admin_auth] an admin token, token file or hash unusable
    ├── StartupError           [app] teller cannot start (one line per problem)
    ├── ListenError            [http.servers] a listen address cannot be bound
    ├── AcmeError              [clients.acme] the ACME server issued no certificate now
    │                          (unreachable, validation failed): retried with backoff, WATCH
    ├── CertificateFileError   [tls.files] the certificate cannot be stored in the data directory
    ├── AddressFileError       [deposits.address_files] an address pool file is unusable
    ├── NodeError              a chain node could not answer usefully now: retried with backoff
    │   ├── NodeUnreachable    no answer at all (connection refused, timeout)
    │   └── NodeBadAnswer      an answer teller cannot use (garbage, missing block)
    │       ├── RpcError       [clients.jsonrpc] the node answered with a JSON-RPC error
    │       └── SkyNodeError   [clients.skycoin_node]
    ├── ScanHalted             the node's chain differs from every stored block, or is another
    │                          network: nothing is scanned until the operator looks (WATCH)
    ├── TransactionRejected    [clients.skycoin_node] the node refused a transaction for good
    ├── SendError              paying SKY failed
    │   ├── SendTemporary      retried with backoff: node unreachable, broadcast refused (503),
    │   │   ├── InsufficientBalance   the hot wallet cannot cover a payout: "sold out"
    │   │   ├── PayoutDeferred        nothing to spend until the wallet's own pending
    │   │   │                         transactions confirm (their change): wait, not sold out
    │   │   └── ConflictNotProven     [payout.skycoin_node] the node refuses a payout it does
    │   │                             not know as spending gone outputs, but cannot show who
    │   │                             spent them (not synced, no peers, inputs unknown): wait
    │   └── SendConflict       a stored transaction can never confirm (its inputs were spent
    │                          elsewhere): the deposit stops with notice=WATCH, never re-signed
    ├── MarketError            the exchange (passthrough buying, clients/c2cx.py) failed a request
    │   ├── MarketTemporary    retried after request_failure_wait: network, 5xx, an answer
    │   │   │                  that is not the exchange's envelope, an unknown API error
    │   │   └── MarketRateLimited   "Too Many Requests" or HTTP 429: retried after
    │   │                               ratelimit_wait (or a longer Retry-After)
    │   ├── ClientIdTaken      the client order id was used before: the order is looked up
    │   │                      by that id, never placed again under another
    │   └── MarketRefused      permanent: the same request will never succeed
    │       ├── BelowExchangeMinimum   "limit value: <min>": the order is below the
    │       │                          exchange's (variable) minimum
    │       └── CredentialsRefused     the API key or signature was refused: passthrough
    │                                  halts with notice=WATCH until the operator fixes it
    ├── GarbageAnswer          [clients.c2cx] an answer the exchange does not send: turned into
    │                          MarketTemporary at the client's edge (clients.skycoin_node has a
    │                          private twin that becomes SkyNodeError)
    ├── StoreError             the store refused a step
    │   ├── StaleStatus        [store.deposits] a compare-and-set lost: the row moved on;
    │   │                      the caller's transaction rolls back and the step is re-read
    │   ├── InputsTaken        [store.payouts] another stored payout spends one of its
    │   │                      inputs: nothing of the payout is stored, signed again
    │   ├── PayoutsHeld        [store.holds] the audit-driven hold is on: no payout is stored
    │   │                      until the operator runs `teller payout resume`
    │   ├── StoreShuttingDown  [store.group_commit] a queued write got no answer at shutdown
    │   ├── DatabaseInUse      [store.worker_lock] an import holds this SQLite file (or a
    │   │                      teller, for the import)
    │   ├── Fenced             [store.worker_role] this process no longer holds the worker
    │   │                      role's epoch: the write rolls back whole, the stages stop (WATCH)
    │   └── BackupUnsupported  [store.backup] no online backup for this database
    └── GoTellerError          switching from the Go teller (goteller/)
        ├── BoltError          [goteller.boltfile] not a readable Bolt file
        │   └── BoltLocked     the Go teller still has it open
        ├── GoDatabaseError    [goteller.records] a record the Go teller could not have written
        └── ImportConflict     [goteller.importer] the import would contradict the store
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


class ActionRefused(RequestError):
    """An operator action refused: it could pay twice, or the target is in the wrong state."""

    http_status = 409


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


class InvalidValue(TellerError, ValueError):
    """A value that is not what it must be (also a ValueError, for callers that catch that)."""


class InvalidType(TellerError, TypeError):
    """A value of the wrong type (also a TypeError)."""


class InternalError(TellerError, RuntimeError):
    """A state the code rules out: a bug (also a RuntimeError)."""


class StoreError(TellerError):
    """The store refused a step."""


class GoTellerError(TellerError):
    """Reading or importing a Go teller's database failed."""


class SendError(TellerError):
    pass


class SendTemporary(SendError):
    pass


class InsufficientBalance(SendTemporary):
    pass


class PayoutDeferred(SendTemporary):
    pass


class ConflictNotProven(SendTemporary):
    """A payout looks conflicted, but the node cannot prove it: the payout stays as it is."""


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
    """`retry_after`: the seconds the exchange asked for (an HTTP 429's Retry-After), or None."""

    # An exchange (or a proxy before it) cannot put buying off for longer than this.
    MAX_RETRY_AFTER = 3600.0

    def __init__(self, message: str, endpoint: str = "", retry_after: float | None = None) -> None:
        super().__init__(message, endpoint)
        self.retry_after = retry_after

    def wait_seconds(self, ratelimit_wait: float) -> float:
        """How long to wait before asking again: the configured `ratelimit_wait`, or longer if
        the exchange's Retry-After asks for more (at most an hour). Never shorter: a
        "Retry-After: 0" must not turn the retries into a tight loop."""
        if self.retry_after is None:
            return ratelimit_wait
        return max(ratelimit_wait, min(self.retry_after, self.MAX_RETRY_AFTER))


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


class NodeError(TellerError):
    """The node could not answer usefully now (unreachable, slow, error, garbage): retry."""


class NodeUnreachable(NodeError):
    """No answer from the node at all (connection refused, reset, timed out)."""


class NodeBadAnswer(NodeError):
    """The node answered, but not with something teller can use (RPC error, garbage)."""


class ScanHalted(TellerError):
    """Scanning stops until the operator acts: the node's chain shares no stored block with
    what was scanned, or the node is on another network than the config says."""
