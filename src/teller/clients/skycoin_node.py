"""The Skycoin node's REST API (node versions v0.25 to v0.27), as teller uses it.

Place in the flow: the SKY payer (payout/skycoin_node.py) asks the node for the hot wallet's
unspent outputs, the burn factor and size limit, injects the transactions that coins/sky.py
signed and asks for their status; the SKY scanner (scanners/sky.py) reads blocks through it.
This module knows the node's wire protocol and nothing of deposits. The node never signs:
teller builds every transaction itself (DESIGN.md §4).

The node's quirks handled here (reference skycoin.md §5, §9):

- CSRF: every POST carries `X-CSRF-Token`, fetched from `GET /api/v1/csrf` (tokens are valid
  for 30 s, so one is reused for at most `CSRF_REUSE_SECONDS`); a 403 "invalid CSRF token"
  fetches a fresh one and the request is sent once more (a 403 means nothing was done).
  `/api/v1/csrf` answering 404 means the node runs with CSRF disabled.
- Host: a node bound to localhost refuses every Host header but `127.0.0.1:<port>` or
  `localhost:<port>`, so the Host is sent exactly as `sky_rpc.address` is written, port
  included (httpx alone would drop a `:80`). No Origin or Referer is ever sent.
- TLS: `sky_rpc.address` written `https://host:port` speaks HTTPS (a node started with
  -web-interface-https, or a TLS proxy in front of one); the certificate is checked against
  `cert` (a CA file, or the node's own self-signed certificate: then only it is trusted, as
  btc_rpc.cert pins btcd's), else against the system's CAs, and the name must match. No
  scheme, or `http://`, is plain HTTP (config/preflight.py allows it to loopback only, unless
  sky_rpc.allow_plaintext_remote says otherwise).
- POST bodies are JSON with `Content-Type: application/json` (anything else is a 415).
- Amounts: `/outputs` gives coins as decimal SKY strings ("2.000000"), `/balance` as integer
  droplets. JSON numbers are parsed as Decimal or int and converted exactly; never float.
- Inject: 200 = the txid; 503 = the broadcast failed and the node rolled the transaction back
  (retrying is safe); 400 (v0.27) or 500 "Transaction violates ..." (v0.25) = refused for
  good. A refusal alone never tells "already confirmed" from "spent elsewhere": callers ask
  `transaction_status` first.

Errors (everything else a node can answer, garbage included, is one of these; never a crash):

    NodeError (scanners/base.py)   temporary: the scanner's block loop and the payer retry
    └── SkyNodeError              unreachable, timeout, 5xx, 503 on inject, wrong Host,
                                  an answer that is not what the API documents
    TransactionRejected           the node refused a transaction (a constraint violation);
                                  `spends_missing_inputs` when its inputs are spent or unknown
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from teller.coins.sky import DROPLETS_PER_SKY
from teller.errors import InvalidValue, NodeError, TellerError

SKY_DECIMALS = 6
U64_MAX = 2**64 - 1  # coins (droplets) and hours are uint64 on the node
MAX_SKY = Decimal(U64_MAX) / DROPLETS_PER_SKY
CSRF_REUSE_SECONDS = 20.0  # the node's tokens expire after 30 s
DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
ADDRESSES_PER_REQUEST = 100  # addresses per /outputs or /balance query (URL length)
MAX_ERROR_TEXT = 300
# The user-transaction rules of v0.26+ nodes; older nodes burn half the hours (v0.25: 2).
DEFAULT_MAX_TRANSACTION_SIZE = 32768
DEFAULT_MAX_DECIMALS = 3
BURN_FACTOR_FROM_V0_26 = 10
BURN_FACTOR_BEFORE_V0_26 = 2

_HEX64 = re.compile(r"[0-9a-f]{64}")
ZERO_HASH = "0" * 64  # what the node writes for "no transaction" (cipher.SHA256{})
# What a node (v0.25 to v0.27) says when a transaction spends outputs that are gone or never
# existed. Only this exact wording counts: a "conflicted" verdict stops a deposit for good, so
# it must never follow a guess at some other message.
_SPENT_INPUT_WORDS = re.compile(r"unspent output of [0-9a-f]{64} does not exist")


class SkyNodeError(NodeError):
    """The Skycoin node could not answer usefully now; retry later."""


class TransactionRejected(TellerError):
    """The node refused a transaction for good: the same bytes will be refused again."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code

    @property
    def spends_missing_inputs(self) -> bool:
        """True when the refusal says an input is already spent or does not exist."""
        return bool(_SPENT_INPUT_WORDS.search(self.message))

    def __str__(self) -> str:
        return self.message


# -- what the node answers, typed -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """From /api/v1/health: the node's version and the rules it applies to injected txs."""

    version: str
    burn_factor: int  # fee >= ceil(input hours / burn_factor)
    max_transaction_size: int  # bytes
    max_decimals: int  # output coins must be multiples of 10**(6 - max_decimals) droplets
    csrf_enabled: bool | None


@dataclass(frozen=True, slots=True)
class UnspentOutput:
    """A confirmed unspent output (UxOut) of one of the queried addresses."""

    uxid: str
    address: str
    droplets: int
    hours: int  # its coin hours at the head block's time (calculated_hours)
    src_tx: str
    block_seq: int
    time: int


@dataclass(frozen=True, slots=True)
class WalletOutputs:
    """The outputs of some addresses as the node saw them at one head block."""

    head_seq: int
    head_time: int
    confirmed: tuple[UnspentOutput, ...]  # head_outputs: in the chain, unspent
    outgoing: frozenset[str]  # uxids that unconfirmed transactions in the pool spend
    incoming: tuple[UnspentOutput, ...]  # created by unconfirmed transactions: not spendable

    @property
    def spendable(self) -> tuple[UnspentOutput, ...]:
        """Confirmed outputs that no pending transaction spends (the node's own rule)."""
        return tuple(o for o in self.confirmed if o.uxid not in self.outgoing)


@dataclass(frozen=True, slots=True)
class AddressBalance:
    confirmed_droplets: int
    confirmed_hours: int
    predicted_droplets: int  # after the pool's unconfirmed transactions
    predicted_hours: int


@dataclass(frozen=True, slots=True)
class TransactionStatus:
    """What the node knows of a txid. `known` False: never heard of it, or dropped it."""

    known: bool
    confirmed: bool = False
    depth: int = 0  # 1 = in the head block (the API calls it "height")
    block_seq: int = 0


@dataclass(frozen=True, slots=True)
class PeerHeight:
    """A connected peer and the chain height it announced (/api/v1/blockchain/progress)."""

    address: str
    height: int


@dataclass(frozen=True, slots=True)
class SyncProgress:
    """How far the node's chain is: its head `current`, the `highest` it or a peer knows."""

    current: int
    highest: int
    peers: tuple[PeerHeight, ...]


@dataclass(frozen=True, slots=True)
class PeerConnection:
    """One entry of /api/v1/network/connections (connected or introduced, by default)."""

    address: str
    outgoing: bool
    height: int
    state: str  # "connected" or "introduced" (v0.27); "" where the node does not say


@dataclass(frozen=True, slots=True)
class OutputHistory:
    """An output the node's chain created (/api/v1/uxout), spent or not.

    `spent_tx` is the transaction of a block that spent it, None while unspent (the node
    writes the zero hash); an output spent only by a pending transaction is still unspent.
    """

    uxid: str
    src_tx: str
    src_block_seq: int
    address: str
    droplets: int
    spent_tx: str | None
    spent_block_seq: int


@dataclass(frozen=True, slots=True)
class SkyTxOutput:
    uxid: str
    address: str
    droplets: int
    hours: int


@dataclass(frozen=True, slots=True)
class SkyTransaction:
    txid: str
    inputs: tuple[str, ...]  # uxids
    outputs: tuple[SkyTxOutput, ...]


@dataclass(frozen=True, slots=True)
class AddressTransaction:
    """One transaction of /api/v1/transactions?addrs=: spending from or paying to them."""

    tx: SkyTransaction
    confirmed: bool
    block_seq: int  # 0 while pending


@dataclass(frozen=True, slots=True)
class OwnedTransaction:
    """A transaction of /api/v1/transactions?addrs=…&verbose=1, with who owned its inputs."""

    txid: str
    confirmed: bool
    input_owners: tuple[str, ...]  # the address that owned each input, in order
    outputs: tuple[SkyTxOutput, ...]


@dataclass(frozen=True, slots=True)
class SkyBlock:
    seq: int
    hash: str
    prev_hash: str
    time: int
    transactions: tuple[SkyTransaction, ...]


@dataclass(frozen=True, slots=True)
class ChainHead:
    seq: int
    hash: str
    time: int


# -- parsing helpers: every surprise becomes a SkyNodeError naming what was wrong -----------


class _Garbage(TellerError):
    """An answer that is not what the API documents; becomes a SkyNodeError."""


def _field(doc: object, key: str) -> object:
    if not isinstance(doc, Mapping) or key not in doc:
        raise _Garbage(f"missing {key!r}")
    return doc[key]


def _obj(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _Garbage(f"{what} is not an object")
    return value


def _list(value: object, what: str) -> list[Any]:
    if value is None:
        return []  # Go encodes an empty slice as null
    if not isinstance(value, list):
        raise _Garbage(f"{what} is not a list")
    return value


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise _Garbage(f"{what} is not an integer")
    if isinstance(value, Decimal):
        if not value.is_finite() or value != value.to_integral_value():
            raise _Garbage(f"{what} is not an integer")
        # Compared as a Decimal first: int() of "1e999999999" would build that number
        # (minutes of CPU and gigabytes on the event loop) before the range check.
        if not 0 <= value <= U64_MAX:
            raise _Garbage(f"{what} is out of range")
        value = int(value)
    if not 0 <= value <= U64_MAX:
        raise _Garbage(f"{what} is out of range")
    return value


def _bool(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise _Garbage(f"{what} is not a boolean")
    return value


def _str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise _Garbage(f"{what} is not a string")
    return value


def _hash(value: object, what: str) -> str:
    text = _str(value, what).lower()
    if not _HEX64.fullmatch(text):
        raise _Garbage(f"{what} is not a 32-byte hex hash")
    return text


def droplets_from_sky(value: object, what: str = "coins") -> int:
    """Exact droplets of a SKY amount the node wrote as a decimal string ("2.000000")."""
    if isinstance(value, bool):
        raise _Garbage(f"{what} is not a SKY amount")
    if isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            raise _Garbage(f"{what} is not a SKY amount") from None
    elif isinstance(value, int | Decimal):
        amount = Decimal(value)
    else:
        raise _Garbage(f"{what} is not a SKY amount")
    if not amount.is_finite() or amount < 0 or amount > MAX_SKY:
        raise _Garbage(f"{what} is not a SKY amount")
    # Integer arithmetic on the digits: Decimal multiplication would round at 28 digits.
    # Trailing zeros are dropped first, so that neither "0e999999999" nor "1.000…000" with
    # a million zeros turns into a huge integer (minutes of CPU on the event loop, or a
    # ValueError past Python's 4300-digit limit) before the checks below.
    _sign, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int)  # finite
    text = "".join(map(str, digits)).rstrip("0")
    if not text:
        return 0
    exponent += len(digits) - len(text)
    shift = exponent + SKY_DECIMALS
    # The last digit is not 0: a negative shift leaves a fraction of a droplet. And as the
    # amount is at most MAX_SKY, an exact one has at most 20 digits and shift <= 19.
    if shift < 0 or len(text) > len(str(U64_MAX)):
        raise _Garbage(f"{what} has more than {SKY_DECIMALS} decimals")
    return int(text) * int(10**shift)


def _error_text(response: httpx.Response) -> str:
    """The node's error message: v2 endpoints answer {"error":{"message"}}, v1 plain text
    such as "400 Bad Request - Transaction violates hard constraint: ..."."""
    text = response.text.strip()
    try:
        doc = json.loads(text)
        message = doc["error"]["message"]
        if isinstance(message, str):
            text = message
    except (ValueError, KeyError, TypeError, RecursionError):  # "[[[[…" nests too deep
        pass
    text = re.sub(r"^\d{3} [A-Za-z ]+ - ", "", text)
    text = " ".join(text.split())  # one line in the log
    return text[:MAX_ERROR_TEXT] or f"HTTP {response.status_code}"


def _version_tuple(version: str) -> tuple[int, ...]:
    # At most 9 digits a number: int() refuses strings of more than 4300 digits (ValueError).
    numbers = re.findall(r"\d+", version)
    return tuple(int(n[:9]) for n in numbers[:3])


# -- the client ---------------------------------------------------------------------------


class SkyNodeClient:
    """A client of one node's REST API at `address` ("host:port", "http://host:port" or
    "https://host:port", as sky_rpc.address); `cert` is the PEM file trusted for HTTPS (a
    CA, or the node's self-signed certificate), "" for the system's CAs.

    The underlying httpx.AsyncClient is made on first use in the running event loop (teller
    is built before its loop starts); `aclose()` closes it.
    """

    def __init__(
        self,
        address: str,
        *,
        cert: str = "",
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        address = address.strip()
        scheme = "http"
        for prefix in ("http://", "https://"):
            if address.lower().startswith(prefix):
                scheme, address = prefix[:-3].lower(), address[len(prefix) :]
        self.address = address.rstrip("/")
        self.base_url = f"{scheme}://{self.address}"
        self._verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=cert) if cert and scheme == "https" else True
        )
        self._timeout = timeout
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self._http_loop: asyncio.AbstractEventLoop | None = None
        self._csrf_token: str | None = None
        self._csrf_fetched = 0.0
        self._csrf_disabled = False
        self._csrf_lock: asyncio.Lock | None = None

    # -- transport ------------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._http is None or self._http_loop is not loop:
            # A client is bound to the loop it first ran in; a new loop gets a new client.
            self._http = httpx.AsyncClient(
                base_url=self.base_url,
                timeout=self._timeout,
                transport=self._transport,
                verify=self._verify,
                headers={"Host": self.address, "Accept": "application/json"},
                follow_redirects=False,
            )
            self._http_loop = loop
            self._csrf_lock = asyncio.Lock()
            self._csrf_token = None
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: object = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        client = self._client()
        try:
            return await client.request(
                method, path, params=params, json=json_body, headers=headers
            )
        except httpx.TimeoutException as exc:
            raise SkyNodeError(f"skycoin node {self.address}: {path} timed out") from exc
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            raise SkyNodeError(f"skycoin node {self.address} unreachable: {reason}") from exc

    def _unavailable(self, path: str, response: httpx.Response) -> SkyNodeError:
        text = _error_text(response)
        if response.status_code == 403 and "host" in text.lower():
            text += f" (the node refuses Host {self.address}: check sky_rpc.address)"
        return SkyNodeError(
            f"skycoin node {self.address}: {path} answered {response.status_code}: {text}"
        )

    def _json(self, path: str, response: httpx.Response) -> Any:
        try:
            return json.loads(response.content, parse_float=Decimal)
        except (ValueError, RecursionError) as exc:
            raise SkyNodeError(
                f"skycoin node {self.address}: {path} answered something that is not JSON"
            ) from exc

    async def _get_json(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        response = await self._send("GET", path, params=params)
        if response.status_code != 200:
            raise self._unavailable(path, response)
        return self._json(path, response)

    def _garbage(self, path: str, exc: _Garbage) -> SkyNodeError:
        return SkyNodeError(f"skycoin node {self.address}: unexpected answer from {path}: {exc}")

    # -- CSRF -----------------------------------------------------------------------------

    async def _csrf_headers(self, *, fresh: bool) -> dict[str, str]:
        self._client()
        assert self._csrf_lock is not None
        async with self._csrf_lock:
            age = time.monotonic() - self._csrf_fetched
            if fresh or (
                not self._csrf_disabled and (self._csrf_token is None or age > CSRF_REUSE_SECONDS)
            ):
                await self._fetch_csrf()
            if self._csrf_disabled or self._csrf_token is None:
                return {}
            return {"X-CSRF-Token": self._csrf_token}

    async def _fetch_csrf(self) -> None:
        path = "/api/v1/csrf"
        response = await self._send("GET", path)
        self._csrf_fetched = time.monotonic()
        if response.status_code == 404:
            self._csrf_disabled, self._csrf_token = True, None  # the node runs -disable-csrf
            return
        if response.status_code != 200:
            raise self._unavailable(path, response)
        try:
            token = _str(_field(self._json(path, response), "csrf_token"), "csrf_token")
        except _Garbage as exc:
            raise self._garbage(path, exc) from exc
        self._csrf_disabled, self._csrf_token = False, token

    async def _post_json(self, path: str, body: object) -> httpx.Response:
        """POST a JSON body with a CSRF token; once more with a fresh token on a 403."""
        headers = await self._csrf_headers(fresh=False)
        response = await self._send("POST", path, json_body=body, headers=headers)
        if response.status_code == 403 and "csrf" in response.text.lower():
            # The token expired (or the node restarted with a new key): the node did
            # nothing with the request, so sending it again is safe.
            headers = await self._csrf_headers(fresh=True)
            response = await self._send("POST", path, json_body=body, headers=headers)
        return response

    # -- node information -----------------------------------------------------------------

    async def node_info(self) -> NodeInfo:
        """Version, burn factor and size limit from /api/v1/health."""
        path = "/api/v1/health"
        doc = await self._get_json(path)
        try:
            version_doc = _obj(_field(doc, "version"), "version")
            version = _str(version_doc.get("version", ""), "version.version")
            rules = doc.get("user_verify_transaction") if isinstance(doc, Mapping) else None
            if isinstance(rules, Mapping):
                burn = _int(_field(rules, "burn_factor"), "burn_factor")
                size = _int(rules.get("max_transaction_size", DEFAULT_MAX_TRANSACTION_SIZE), "size")
                decimals = _int(rules.get("max_decimals", DEFAULT_MAX_DECIMALS), "max_decimals")
            else:
                # Nodes before user_verify_transaction was reported: the burn factor
                # changed from 2 to 10 in v0.26.0.
                old = _version_tuple(version) < (0, 26)
                burn = BURN_FACTOR_BEFORE_V0_26 if old else BURN_FACTOR_FROM_V0_26
                size, decimals = DEFAULT_MAX_TRANSACTION_SIZE, DEFAULT_MAX_DECIMALS
            csrf = doc.get("csrf_enabled") if isinstance(doc, Mapping) else None
        except _Garbage as exc:
            raise self._garbage(path, exc) from exc
        if burn < 1 or size < 1 or decimals > 6:
            raise SkyNodeError(
                f"skycoin node {self.address}: implausible transaction rules from {path}:"
                f" burn_factor={burn} max_transaction_size={size} max_decimals={decimals}"
            )
        return NodeInfo(
            version=version,
            burn_factor=burn,
            max_transaction_size=size,
            max_decimals=decimals,
            csrf_enabled=csrf if isinstance(csrf, bool) else None,
        )

    async def head(self) -> ChainHead:
        """The head block, from /api/v1/blockchain/metadata."""
        path = "/api/v1/blockchain/metadata"
        doc = await self._get_json(path)
        try:
            head = _obj(_field(doc, "head"), "head")
            return ChainHead(
                seq=_int(_field(head, "seq"), "head.seq"),
                hash=_hash(_field(head, "block_hash"), "head.block_hash"),
                time=_int(_field(head, "timestamp"), "head.timestamp"),
            )
        except _Garbage as exc:
            raise self._garbage(path, exc) from exc

    # -- wallet addresses -----------------------------------------------------------------

    async def outputs(self, addresses: Sequence[str]) -> WalletOutputs:
        """The unspent outputs of `addresses`, and which of them pending transactions spend.

        Many addresses are asked in chunks; all chunks must come from the same head block
        (asked again otherwise), so the result is one consistent view.
        """
        if not addresses:
            raise InvalidValue("outputs of no addresses")
        chunks = [
            list(addresses[i : i + ADDRESSES_PER_REQUEST])
            for i in range(0, len(addresses), ADDRESSES_PER_REQUEST)
        ]
        for _attempt in range(3):
            parts = [await self._outputs_chunk(chunk) for chunk in chunks]
            if len({p.head_seq for p in parts}) == 1:
                return WalletOutputs(
                    head_seq=parts[0].head_seq,
                    head_time=parts[0].head_time,
                    confirmed=tuple(o for p in parts for o in p.confirmed),
                    outgoing=frozenset(u for p in parts for u in p.outgoing),
                    incoming=tuple(o for p in parts for o in p.incoming),
                )
        raise SkyNodeError(f"skycoin node {self.address}: new blocks kept arriving; try again")

    async def _outputs_chunk(self, addresses: Sequence[str]) -> WalletOutputs:
        path = "/api/v1/outputs"
        doc = await self._get_json(path, {"addrs": ",".join(addresses)})
        try:
            head = _obj(_field(doc, "head"), "head")  # since v0.25
            head_outputs = _list(_field(doc, "head_outputs"), "head_outputs")
            outgoing = _list(_field(doc, "outgoing_outputs"), "outgoing_outputs")
            incoming = _list(_field(doc, "incoming_outputs"), "incoming_outputs")
            return WalletOutputs(
                head_seq=_int(_field(head, "seq"), "head.seq"),
                head_time=_int(_field(head, "timestamp"), "head.timestamp"),
                confirmed=tuple(_unspent(o) for o in head_outputs),
                outgoing=frozenset(_hash(_field(o, "hash"), "hash") for o in outgoing),
                incoming=tuple(_unspent(o) for o in incoming),
            )
        except _Garbage as exc:
            raise self._garbage(path, exc) from exc

    async def balance(self, addresses: Sequence[str]) -> AddressBalance:
        """The summed balance of `addresses` (/api/v1/balance: droplets as integers)."""
        if not addresses:
            raise InvalidValue("balance of no addresses")
        path = "/api/v1/balance"
        total = [0, 0, 0, 0]
        for i in range(0, len(addresses), ADDRESSES_PER_REQUEST):
            chunk = addresses[i : i + ADDRESSES_PER_REQUEST]
            doc = await self._get_json(path, {"addrs": ",".join(chunk)})
            try:
                confirmed = _obj(_field(doc, "confirmed"), "confirmed")
                predicted = _obj(_field(doc, "predicted"), "predicted")
                values = (
                    _int(_field(confirmed, "coins"), "confirmed.coins"),
                    _int(_field(confirmed, "hours"), "confirmed.hours"),
                    _int(_field(predicted, "coins"), "predicted.coins"),
                    _int(_field(predicted, "hours"), "predicted.hours"),
                )
            except _Garbage as exc:
                raise self._garbage(path, exc) from exc
            total = [a + b for a, b in zip(total, values, strict=True)]
        return AddressBalance(*total)

    # -- transactions ---------------------------------------------------------------------

    async def inject(self, raw_tx: str) -> str:
        """Inject (and broadcast) a signed transaction given as hex; returns the node's txid.

        Raises SkyNodeError when it may be tried again (503: the broadcast failed and the
        node dropped it; node down; anything unclear) and TransactionRejected when the node
        refused the transaction itself.
        """
        path = "/api/v1/injectTransaction"
        response = await self._post_json(path, {"rawtx": raw_tx})
        status = response.status_code
        if status == 200:
            try:
                return _hash(self._json(path, response), "txid")
            except _Garbage as exc:
                raise self._garbage(path, exc) from exc
        text = _error_text(response)
        if status in (400, 422) or (status == 500 and "violates" in text.lower()):
            # v0.27 answers 400 for a constraint violation, v0.25.1 answered 500.
            raise TransactionRejected(text, status)
        raise self._unavailable(path, response)

    async def transaction_status(self, txid: str) -> TransactionStatus:
        """Is `txid` unknown, pending in the pool, or confirmed (and how deep)?"""
        path = "/api/v1/transaction"
        response = await self._send("GET", path, params={"txid": txid})
        if response.status_code == 404:
            return TransactionStatus(known=False)
        if response.status_code != 200:
            raise self._unavailable(path, response)
        doc = self._json(path, response)
        try:
            status = _obj(_field(doc, "status"), "status")
            confirmed = _field(status, "confirmed")
            if not isinstance(confirmed, bool):
                raise _Garbage("status.confirmed is not a boolean")
            return TransactionStatus(
                known=True,
                confirmed=confirmed,
                depth=_int(status.get("height", 0), "status.height"),
                block_seq=_int(status.get("block_seq", 0), "status.block_seq"),
            )
        except _Garbage as exc:
            raise self._garbage(path, exc) from exc

    # -- is the node synced, and what does its chain say of an output ---------------------
    # (skycoin.md §11: a node that was swapped, restored or is still syncing answers 404 for
    # a payout and "does not exist" for its inputs; these three tell such a node apart.)

    async def blockchain_progress(self) -> SyncProgress:
        """The node's head and the highest block it or a peer knows (/blockchain/progress)."""
        path = "/api/v1/blockchain/progress"
        doc = await self._get_json(path)
        try:
            current = _int(_field(doc, "current"), "current")
            highest = _int(_field(doc, "highest"), "highest")
            peers = tuple(
                PeerHeight(
                    address=_str(_field(p, "address"), "peers.address"),
                    height=_int(_field(p, "height"), "peers.height"),
                )
                for p in _list(_field(doc, "peers"), "peers")
            )
            # The node takes `highest` as the most of its own head and its peers' heights.
            if highest < current or any(p.height > highest for p in peers):
                raise _Garbage(f"highest {highest} is below a height it reports")
        except _Garbage as exc:
            raise self._garbage(path, exc) from exc
        return SyncProgress(current=current, highest=highest, peers=peers)

    async def connections(self) -> tuple[PeerConnection, ...]:
        """The node's peer connections that are connected or introduced (the defaults)."""
        path = "/api/v1/network/connections"
        doc = await self._get_json(path)
        found: list[PeerConnection] = []
        try:
            for item in _list(_field(doc, "connections"), "connections"):
                entry = _obj(item, "a connection")
                found.append(
                    PeerConnection(
                        address=_str(_field(entry, "address"), "connections.address"),
                        outgoing=_bool(_field(entry, "outgoing"), "connections.outgoing"),
                        height=_int(entry.get("height", 0), "connections.height"),
                        state=_str(entry.get("state", ""), "connections.state"),
                    )
                )
        except _Garbage as exc:
            raise self._garbage(path, exc) from exc
        return tuple(found)

    async def uxout(self, uxid: str) -> OutputHistory | None:
        """What the node's chain says of output `uxid`; None if it never saw it (404)."""
        if not _HEX64.fullmatch(uxid):
            raise InvalidValue(f"not an output id: {uxid[:80]!r}")
        path = "/api/v1/uxout"
        response = await self._send("GET", path, params={"uxid": uxid})
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._unavailable(path, response)
        doc = self._json(path, response)
        try:
            found = _hash(_field(doc, "uxid"), "uxid")
            if found != uxid:
                raise _Garbage(f"asked for output {uxid}, got {found}")
            spent_tx = _hash(_field(doc, "spent_tx"), "spent_tx")
            spent_seq = _int(_field(doc, "spent_block_seq"), "spent_block_seq")
            src_seq = _int(_field(doc, "src_block_seq"), "src_block_seq")
            unspent = spent_tx == ZERO_HASH
            # A spend is in a block no earlier than the output's (the genesis block spends
            # nothing, so never block 0); an unspent output names no block.
            if (unspent and spent_seq != 0) or (not unspent and (spent_seq < max(src_seq, 1))):
                raise _Garbage(f"spent_block_seq {spent_seq} does not fit spent_tx {spent_tx}")
            return OutputHistory(
                uxid=found,
                src_tx=_hash(_field(doc, "src_tx"), "src_tx"),
                src_block_seq=src_seq,
                address=_str(_field(doc, "owner_address"), "owner_address"),
                droplets=_int(_field(doc, "coins"), "coins"),
                spent_tx=None if unspent else spent_tx,
                spent_block_seq=spent_seq,
            )
        except _Garbage as exc:
            raise self._garbage(path, exc) from exc

    # -- blocks ---------------------------------------------------------------------------

    async def block(self, seq: int) -> SkyBlock:
        """The block at height `seq` (/api/v1/block?seq=); SkyNodeError if there is none."""
        path = "/api/v1/block"
        doc = await self._get_json(path, {"seq": str(seq)})
        try:
            header = _obj(_field(doc, "header"), "header")
            body = _obj(_field(doc, "body"), "body")
            found = _int(_field(header, "seq"), "header.seq")
            if found != seq:
                raise _Garbage(f"asked for block {seq}, got block {found}")
            prev = header.get("previous_block_hash", "")
            return SkyBlock(
                seq=found,
                hash=_hash(_field(header, "block_hash"), "header.block_hash"),
                prev_hash=_hash(prev, "header.previous_block_hash") if seq > 0 else "",
                time=_int(_field(header, "timestamp"), "header.timestamp"),
                transactions=tuple(_transaction(t) for t in _list(body.get("txns"), "txns")),
            )
        except _Garbage as exc:
            raise self._garbage(path, exc) from exc

    async def address_history(self, addresses: Sequence[str]) -> list[AddressTransaction]:
        """Every transaction that spends from or pays to `addresses`, confirmed or pending
        (/api/v1/transactions?addrs=, the READ set; the audit reads the hot wallet's with it).

        Many addresses are asked in chunks, and a transaction of several chunks is listed
        once. The whole history is read each time: its size grows with the wallet's use.
        """
        if not addresses:
            raise InvalidValue("transactions of no addresses")
        path = "/api/v1/transactions"
        found: dict[str, AddressTransaction] = {}
        for i in range(0, len(addresses), ADDRESSES_PER_REQUEST):
            chunk = addresses[i : i + ADDRESSES_PER_REQUEST]
            doc = await self._get_json(path, {"addrs": ",".join(chunk)})
            try:
                for item in _list(doc, "transactions"):
                    status = _obj(_field(item, "status"), "status")
                    confirmed = _field(status, "confirmed")
                    if not isinstance(confirmed, bool):
                        raise _Garbage("status.confirmed is not a boolean")
                    tx = _transaction(_field(item, "txn"))
                    found[tx.txid] = AddressTransaction(
                        tx=tx,
                        confirmed=confirmed,
                        block_seq=_int(status.get("block_seq", 0), "status.block_seq"),
                    )
            except _Garbage as exc:
                raise self._garbage(path, exc) from exc
        return list(found.values())

    async def transactions_of(self, addresses: Sequence[str]) -> list[OwnedTransaction]:
        """Every transaction paying to or spending from `addresses`, confirmed or pending,
        with the owner of each input (/api/v1/transactions?addrs=…&verbose=1, v0.25+).

        A node that answers without the owners (inputs as bare uxids: it ignored verbose=1)
        gives a SkyNodeError: who paid cannot be told from that answer.
        """
        if not addresses:
            raise InvalidValue("transactions of no addresses")
        path = "/api/v1/transactions"
        found: dict[str, OwnedTransaction] = {}
        for i in range(0, len(addresses), ADDRESSES_PER_REQUEST):
            chunk = addresses[i : i + ADDRESSES_PER_REQUEST]
            doc = await self._get_json(path, {"addrs": ",".join(chunk), "verbose": "1"})
            try:
                for item in _list(doc, "transactions"):
                    tx = _owned_transaction(item)
                    found[tx.txid] = tx
            except _Garbage as exc:
                raise self._garbage(path, exc) from exc
        return list(found.values())


def _owned_transaction(item: object) -> OwnedTransaction:
    status = _obj(_field(item, "status"), "status")
    confirmed = _field(status, "confirmed")
    if not isinstance(confirmed, bool):
        raise _Garbage("status.confirmed is not a boolean")
    txn = _obj(_field(item, "txn"), "txn")
    owners = []
    for entry in _list(_field(txn, "inputs"), "inputs"):
        if not isinstance(entry, Mapping):
            raise _Garbage("inputs carry no owner (not a verbose answer)")
        _hash(_field(entry, "uxid"), "input uxid")
        owners.append(_str(_field(entry, "owner"), "input owner"))
    outputs = tuple(
        SkyTxOutput(
            uxid=_hash(_field(o, "uxid"), "uxid"),
            address=_str(_field(o, "dst"), "dst"),
            droplets=droplets_from_sky(_field(o, "coins")),
            hours=_int(_field(o, "hours"), "hours"),
        )
        for o in _list(_field(txn, "outputs"), "outputs")
    )
    return OwnedTransaction(
        txid=_hash(_field(txn, "txid"), "txid"),
        confirmed=confirmed,
        input_owners=tuple(owners),
        outputs=outputs,
    )


def _unspent(doc: object) -> UnspentOutput:
    hours = _int(_field(doc, "hours"), "hours")
    calculated = doc.get("calculated_hours", hours) if isinstance(doc, Mapping) else hours
    return UnspentOutput(
        uxid=_hash(_field(doc, "hash"), "hash"),
        address=_str(_field(doc, "address"), "address"),
        droplets=droplets_from_sky(_field(doc, "coins")),
        hours=_int(calculated, "calculated_hours"),
        src_tx=_hash(_field(doc, "src_tx"), "src_tx"),
        block_seq=_int(_field(doc, "block_seq"), "block_seq"),
        time=_int(_field(doc, "time"), "time"),
    )


def _transaction(doc: object) -> SkyTransaction:
    inputs = []
    for item in _list(_field(doc, "inputs"), "inputs"):
        # Plain uxids; a verbose block (v0.26+ ?verbose=1) has objects with "uxid".
        inputs.append(_hash(item.get("uxid") if isinstance(item, Mapping) else item, "input"))
    outputs = tuple(
        SkyTxOutput(
            uxid=_hash(_field(o, "uxid"), "uxid"),
            address=_str(_field(o, "dst"), "dst"),
            droplets=droplets_from_sky(_field(o, "coins")),
            hours=_int(_field(o, "hours"), "hours"),
        )
        for o in _list(_field(doc, "outputs"), "outputs")
    )
    return SkyTransaction(
        txid=_hash(_field(doc, "txid"), "txid"), inputs=tuple(inputs), outputs=outputs
    )
