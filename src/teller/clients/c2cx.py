"""The C2CX exchange client: the market passthrough deposits buy their SKY on.

Place in the flow: passthrough/orders.py places and follows orders through `C2CXClient`;
passthrough/quote.py reads its order book. Wire facts (teller-go.md §7 and Appendix A):

- base URL `https://api.c2cx.com/v1/` (configurable), endpoint name appended;
- `getorderbook?symbol=BTC_SKY` is an unsigned GET; `getbalance`, `createorder`,
  `getorderinfo`, `cancelorder`, `getorderbystatus` are signed form POSTs: the parameters plus
  `apiKey`, URL-encoded in key order, then `&sign=<SIGN>` (`sign_params`);
- every answer is HTTP 200 with `{"code": 200, "message": "success", "data": …}` (sometimes
  spelled "succcess"); an error is another `code` with a `message`; a 5xx can happen;
- numbers come as JSON numbers or as strings; both are read as exact decimals.

Failures become the MarketError tree (errors.py): rate limited ("Too Many Requests", or a
plain HTTP 429 with or without a body, its Retry-After kept) → MarketRateLimited; no answer,
a 5xx, an answer that is not the envelope, a value that is not a sane number, an unknown API
error → MarketTemporary; "limit value: <min>" →
BelowExchangeMinimum; the key or signature refused → CredentialsRefused; a client id used
before → ClientIdTaken. Neither the key, the secret nor a request body is ever put in an
error message or a log line.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import json
import re
import time
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any, Final
from urllib.parse import urlencode

import httpx

from teller.clients.market import MarketRules, OrderBook, OrderInfo, OrderState, PriceLevel
from teller.errors import (
    BelowExchangeMinimum,
    ClientIdTaken,
    CredentialsRefused,
    InvalidValue,
    MarketRateLimited,
    MarketTemporary,
    TellerError,
)
from teller.money import plain_decimal

DEFAULT_BASE_URL: Final = "https://api.c2cx.com/v1/"
SYMBOL: Final = "BTC_SKY"
EXCHANGE_NAME: Final = "c2cx"
# The BTC_SKY pair (teller-go.md §7.1): prices to 5 decimals, volumes to 2, at least 1 SKY.
RULES: Final = MarketRules(price_decimals=5, volume_decimals=2, min_volume=Decimal(1))

TIMEOUT: Final = httpx.Timeout(10.0, connect=5.0)  # as the exchange-api client's
MAX_ANSWER_BYTES: Final = 4 * 1024 * 1024
MAX_MESSAGE_CHARS: Final = 200
MAX_PAGES: Final = 1000  # getorderbystatus pages read when looking for a client id
PAGE_SIZE: Final = 100
MAX_BOOK_LEVELS: Final = 10_000

RATE_LIMITED: Final = "Too Many Requests"
BELOW_MINIMUM_PREFIX: Final = "limit value:"

# Order status numbers (exchange-api's names) and what each means for teller.
STATUS_NAMES: Final[dict[int, str]] = {
    1: "pending",
    2: "opened",
    3: "partially_completed",
    4: "completed",
    5: "cancelled",
    6: "errored",
    7: "suspended",
    8: "trigger_pending",
    9: "stop_loss_pending",
    11: "expired",
    12: "cancelling",
}
_STATES: Final[dict[int, OrderState]] = {
    4: OrderState.COMPLETED,
    5: OrderState.CANCELLED,
    6: OrderState.FAILED,
    11: OrderState.FAILED,
}

# A decimal as the exchange may write it in a string: digits, a point, an exponent.
_DECIMAL_TEXT = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?")
_MAX_DIGITS = 40


def sign_params(key: str, secret: str, params: Mapping[str, str]) -> str:
    """C2CX's signature: upper-case hex MD5 of "apiKey=K&a=1&b=2&secretKey=S".

    The parameters (without apiKey) are sorted by key and joined as k=v with "&", values NOT
    URL-escaped (vectors: tests/fixtures/vectors/teller/c2cx_sign.json).
    """
    joined = "&".join(f"{k}={params[k]}" for k in sorted(params))
    text = f"apiKey={key}" + (f"&{joined}" if joined else "") + f"&secretKey={secret}"
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest().upper()


def signed_body(key: str, secret: str, params: Mapping[str, str]) -> str:
    """The form body of a signed POST: every parameter and apiKey, URL-encoded in key order
    (as Go's url.Values.Encode), then "&sign=…"."""
    signature = sign_params(key, secret, params)
    fields = dict(params)
    fields["apiKey"] = key
    return urlencode(sorted(fields.items())) + f"&sign={signature}"


class GarbageAnswer(TellerError):
    """An answer that is not what the exchange sends; becomes MarketTemporary."""


def _one_line(text: str) -> str:
    return " ".join(text.split())[:MAX_MESSAGE_CHARS]


def _decimal(value: Any, what: str, *, negative: bool = False) -> Decimal:
    """A number of an answer (JSON number or string) as an exact Decimal, or GarbageAnswer."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise GarbageAnswer(f"{what} is not a number")
    if isinstance(value, str):
        text = value.strip()
        if _DECIMAL_TEXT.fullmatch(text) is None:
            raise GarbageAnswer(f"{what} is not a number")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise GarbageAnswer(f"{what} is not a number") from None
    else:
        number = Decimal(value)
    if not number.is_finite() or len(number.as_tuple().digits) > _MAX_DIGITS:
        raise GarbageAnswer(f"{what} is not a sane number")
    if abs(number.adjusted()) > _MAX_DIGITS:
        raise GarbageAnswer(f"{what} is out of range")
    if number < 0 and not negative:
        raise GarbageAnswer(f"{what} is negative")
    return number


_ASCII_INTEGER = re.compile(r"[0-9]{1,18}")


def _integer(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise GarbageAnswer(f"{what} is not an integer")
    # ASCII digits only: str.isdigit() is also true of "²", which int() refuses.
    if isinstance(value, str) and _ASCII_INTEGER.fullmatch(value.strip()):
        return int(value.strip())
    if isinstance(value, int) and 0 <= value < 2**63:
        return value
    raise GarbageAnswer(f"{what} is not an integer")


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise GarbageAnswer(f"{what} is not an object")
    return value


def _levels(value: Any, what: str) -> list[PriceLevel]:
    if not isinstance(value, list) or len(value) > MAX_BOOK_LEVELS:
        raise GarbageAnswer(f"{what} is not a list of [price, volume]")
    levels = []
    for entry in value:
        if not isinstance(entry, list) or len(entry) < 2:
            raise GarbageAnswer(f"{what} holds an entry that is not [price, volume]")
        price = _decimal(entry[0], f"a price of {what}")
        volume = _decimal(entry[1], f"a volume of {what}")
        if price <= 0 or volume <= 0:
            raise GarbageAnswer(f"{what} holds a price or volume that is not positive")
        levels.append(PriceLevel(price, volume))
    return levels


def _original(order: dict[str, Any]) -> str:
    """The order as stored for the admin API: sorted keys, decimals as strings."""
    return json.dumps(order, sort_keys=True, default=lambda d: plain_decimal(d))


def parse_order(value: Any) -> OrderInfo:
    """An order object of getorderinfo / getorderbystatus."""
    order = _object(value, "the order")
    status = _integer(order.get("status"), "the order's status")
    if status not in STATUS_NAMES or status == 0:
        raise GarbageAnswer(f"the order's status {status} is not one teller knows")
    cid = order.get("cid")
    if cid is not None and not isinstance(cid, str):
        raise GarbageAnswer("the order's cid is not a string")
    # What was filled is never assumed: an order without completedAmount (or, once
    # something filled, without avgPrice) is no answer; 0 fills would free the deposit's
    # BTC for another order while the exchange spent it.
    for name in ("orderId", "status", "completedAmount"):
        if name not in order:
            raise GarbageAnswer(f"the order has no {name}")
    completed = _decimal(order["completedAmount"], "completedAmount")
    if completed > 0 and "avgPrice" not in order:
        raise GarbageAnswer("the order has fills but no avgPrice")
    amount = _decimal(order.get("amount", "0"), "amount")
    fee = _decimal(order.get("fee", "0"), "fee")
    if fee > completed:
        raise GarbageAnswer("the order's fee is more than what it bought")
    return OrderInfo(
        order_id=str(_integer(order.get("orderId"), "orderId")),
        client_id=cid,
        state=_STATES.get(status, OrderState.OPEN),
        status_name=STATUS_NAMES[status],
        price=_decimal(order.get("price", "0"), "price"),
        amount=amount,
        completed_amount=completed,
        avg_price=_decimal(order.get("avgPrice", "0"), "avgPrice"),
        fee=fee,
        original=_original(order),
    )


class C2CXClient:
    """The C2CX REST API for one account. Its httpx client is made on first use in the
    running event loop (teller is built before its loop starts)."""

    name = EXCHANGE_NAME
    rules = RULES

    def __init__(
        self,
        key: str,
        secret: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._key = key
        self._secret = secret
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:  # never the key or the secret
        return f"C2CXClient({self.base_url!r})"

    # -- transport ----------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._http is None or self._loop is not loop:
            self._http = httpx.AsyncClient(
                timeout=TIMEOUT, transport=self._transport, follow_redirects=False
            )
            self._loop = loop
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _request(self, endpoint: str, params: Mapping[str, str], *, signed: bool) -> Any:
        """The `data` of a successful answer, or the MarketError of a failed one."""
        url = self.base_url + endpoint
        try:
            if signed:
                body = signed_body(self._key, self._secret, params)
                response = await self._client().post(
                    url,
                    content=body.encode("ascii"),
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
            else:
                response = await self._client().get(url, params=dict(params))
        except httpx.TimeoutException as exc:
            raise MarketTemporary(f"C2CX {endpoint}: timed out", endpoint) from exc
        except httpx.HTTPError as exc:
            reason = _one_line(str(exc)) or type(exc).__name__
            raise MarketTemporary(f"C2CX {endpoint}: unreachable: {reason}", endpoint) from exc
        if response.status_code == httpx.codes.TOO_MANY_REQUESTS:
            # A plain 429 (the exchange's front or a proxy), whatever its body: a rate limit.
            raise MarketRateLimited(
                f"C2CX request failed: endpoint={endpoint} code=429 message={RATE_LIMITED}",
                endpoint,
                retry_after_seconds(response.headers.get("Retry-After", "")),
            )
        if response.status_code >= 500:
            raise MarketTemporary(
                f"C2CX request failed: endpoint={endpoint} code={response.status_code}"
                " message=Internal Server Error",
                endpoint,
            )
        try:
            return self._data(endpoint, response)
        except GarbageAnswer as exc:
            raise MarketTemporary(f"C2CX {endpoint}: unexpected answer: {exc}", endpoint) from exc

    def _data(self, endpoint: str, response: httpx.Response) -> Any:
        if len(response.content) > MAX_ANSWER_BYTES:
            raise GarbageAnswer("the answer is too large")
        try:
            document = json.loads(response.content, parse_float=Decimal, parse_constant=_no_nan)
        except (ValueError, RecursionError):
            raise GarbageAnswer(f"HTTP {response.status_code}, not JSON") from None
        if not isinstance(document, dict) or "code" not in document:
            raise GarbageAnswer("no code in the answer")
        code = _integer(document.get("code"), "code")
        if code == 200:
            return document.get("data")
        message = document.get("message")
        message = _one_line(message) if isinstance(message, str) else ""
        if self._key:  # an exchange that echoes the key must not put it in teller's health
            message = message.replace(self._key, "<redacted>")
        raise _api_error(endpoint, code, message)

    # -- endpoints ----------------------------------------------------------------------

    async def order_book(self) -> OrderBook:
        data = await self._request("getorderbook", {"symbol": SYMBOL}, signed=False)
        try:
            data = _object(data, "the order book")
            asks = _levels(data.get("asks", []), "the asks")
            bids = _levels(data.get("bids", []), "the bids")
            stamp = data.get("timestamp")
            timestamp = None if stamp in (None, "") else _integer(stamp, "the timestamp")
        except GarbageAnswer as exc:
            raise MarketTemporary(f"C2CX getorderbook: unexpected answer: {exc}") from exc
        # Sorted here: no document says in which order the exchange lists them.
        asks.sort(key=lambda level: level.price)
        bids.sort(key=lambda level: level.price, reverse=True)
        return OrderBook(tuple(asks), tuple(bids), timestamp)

    async def spendable_btc(self) -> Decimal:
        data = await self._request("getbalance", {}, signed=True)
        try:
            balances = _object(data, "the balance")
            balance = _btc_of(balances.get("balance"), "balance")
            # No "frozen" is no answer: read as 0 it would overstate what can be spent.
            frozen = _btc_of(balances.get("frozen"), "frozen")
        except GarbageAnswer as exc:
            raise MarketTemporary(f"C2CX getbalance: unexpected answer: {exc}") from exc
        with localcontext() as context:
            context.prec = 2 * _MAX_DIGITS + 2  # exact for any two sane numbers
            spendable = balance - frozen
        return max(spendable, Decimal(0))

    async def place_limit_buy(self, price: Decimal, volume: Decimal, client_id: str) -> str:
        params = {
            "symbol": SYMBOL,
            "price": plain_decimal(price),
            "quantity": plain_decimal(volume),
            "orderType": "buy",
            "priceTypeId": "limit",
            "cid": client_id,
            "isAdvancedOrder": "0",
        }
        data = await self._request("createorder", params, signed=True)
        try:
            return str(_integer(_object(data, "the answer").get("orderId"), "orderId"))
        except GarbageAnswer as exc:
            raise MarketTemporary(f"C2CX createorder: unexpected answer: {exc}") from exc

    async def order(self, order_id: str) -> OrderInfo:
        data = await self._request(
            "getorderinfo", {"orderId": order_id, "symbol": SYMBOL}, signed=True
        )
        try:
            order = parse_order(data)
        except GarbageAnswer as exc:
            raise MarketTemporary(f"C2CX getorderinfo: unexpected answer: {exc}") from exc
        if order.order_id != order_id:
            raise MarketTemporary(
                f"C2CX getorderinfo: asked for order {order_id}, got order {order.order_id}"
            )
        return order

    async def cancel(self, order_id: str) -> None:
        await self._request("cancelorder", {"orderId": order_id}, signed=True)

    async def find_by_client_id(self, client_id: str) -> OrderInfo | None:
        page, pages = 1, 1
        while page <= min(pages, MAX_PAGES):
            params = {
                "symbol": SYMBOL,
                "status": "0",  # every status
                "pageindex": str(page),
                "pagesize": str(PAGE_SIZE),
            }
            data = await self._request("getorderbystatus", params, signed=True)
            try:
                listing = _object(data, "the answer")
                rows = listing.get("rows")
                if not isinstance(rows, list):  # a missing list is no "not found"
                    raise GarbageAnswer("rows is not a list")
                # No "pagecount" is no answer: read as 1, an order on a later page would be
                # taken for absent.
                pages = _integer(listing.get("pagecount"), "pagecount")
                for row in rows:
                    if isinstance(row, dict) and row.get("cid") == client_id:
                        return parse_order(row)
            except GarbageAnswer as exc:
                raise MarketTemporary(f"C2CX getorderbystatus: unexpected answer: {exc}") from exc
            page += 1
        if pages > MAX_PAGES:
            raise MarketTemporary(
                f"C2CX getorderbystatus: {pages} pages of orders; client id {client_id} not in"
                f" the first {MAX_PAGES}, the rest not read"
            )
        return None

    async def order_history(self) -> list[OrderInfo]:
        """Every order of the account, of every status (getorderbystatus status 0, page by
        page; the audit compares it with teller's exchange_orders). MarketTemporary when an
        order cannot be read or there are more than MAX_PAGES pages: a partial history would
        make teller's own orders look missing."""
        orders: list[OrderInfo] = []
        page, pages = 1, 1
        while page <= pages:
            if page > MAX_PAGES:
                raise MarketTemporary(
                    f"C2CX getorderbystatus: {pages} pages of orders; only {MAX_PAGES} are read"
                )
            params = {
                "symbol": SYMBOL,
                "status": "0",  # every status
                "pageindex": str(page),
                "pagesize": str(PAGE_SIZE),
            }
            data = await self._request("getorderbystatus", params, signed=True)
            try:
                listing = _object(data, "the answer")
                rows = listing.get("rows")
                if not isinstance(rows, list):
                    raise GarbageAnswer("rows is not a list")
                pages = _integer(listing.get("pagecount"), "pagecount")
                orders.extend(parse_order(row) for row in rows)
            except GarbageAnswer as exc:
                raise MarketTemporary(f"C2CX getorderbystatus: unexpected answer: {exc}") from exc
            page += 1
        return orders


def _no_nan(constant: str) -> Any:
    raise InvalidValue(f"{constant} is not a number")


def _btc_of(value: Any, what: str) -> Decimal:
    coins = _object(value, what)
    amount = coins.get("btc", coins.get("BTC", "0"))
    return _decimal(amount, f"{what}.btc")


def _stated_minimum(message: str) -> Decimal | None:
    """The minimum of a "limit value: <min>" message, when it is a sane positive number."""
    try:
        minimum = _decimal(message[len(BELOW_MINIMUM_PREFIX) :].strip(), "limit value")
    except GarbageAnswer:
        return None
    return minimum if minimum > 0 else None


def retry_after_seconds(value: str, now: float | None = None) -> float | None:
    """The seconds of a Retry-After header (RFC 9110 §10.2.3: delay-seconds or an HTTP date);
    None when it is absent or unreadable."""
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return float(int(text))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _api_error(endpoint: str, code: int, message: str) -> Exception:
    """The MarketError of an answer with a code other than 200 (the original's text)."""
    text = f"C2CX request failed: endpoint={endpoint} code={code} message={message}"
    lowered = message.lower()
    if message == RATE_LIMITED:
        return MarketRateLimited(text, endpoint)
    if lowered.startswith(BELOW_MINIMUM_PREFIX):
        return BelowExchangeMinimum(text, endpoint, _stated_minimum(message))
    if code in (401, 403) or _CREDENTIALS.search(lowered):
        return CredentialsRefused(text, endpoint)
    if endpoint == "createorder" and _CID_TAKEN.search(lowered):
        return ClientIdTaken(text, endpoint)
    return MarketTemporary(text, endpoint)


# No document lists C2CX's texts for these: words of the key or signature being refused, and
# of a client id used before (the simulator's: "Invalid apiKey or sign", "cid already exists").
_CREDENTIALS = re.compile(r"\bapi ?key\b|\bsign(ature)?\b|\bsecret ?key\b")
_CID_TAKEN = re.compile(r"\bcid\b.*\b(exist|exists|used|reused|duplicate)\b|\bcannot be reused\b")
