"""A C2CX exchange simulator: C2CX's HTTP API over an in-memory account and order book.

A peer of teller, never part of it: run it as its own process with `teller-sim c2cx` (or
`python -m teller_sims.c2cx --help`); `make run PASSTHROUGH=1` starts one beside teller.
Teller's C2CX client talks to it as to https://api.c2cx.com/v1/ (base URL
`http://HOST:PORT/v1/`, with the simulator's key and secret).

The exchange's side (wire facts: teller-go.md §7 and Appendix A):
- GET  /v1/getorderbook?symbol=BTC_SKY   {"timestamp": "<unix s>", "bids": [[price, volume]…],
                                          "asks": […]}, both listed dearest first
- POST /v1/getbalance                    {"balance": {"btc", "sky"}, "frozen": {"btc", "sky"}}
- POST /v1/createorder                   symbol, price, quantity, orderType=buy,
                                          priceTypeId=limit|market, cid, isAdvancedOrder=0
                                          → {"orderId": N}
- POST /v1/getorderinfo                  orderId (-1: every order), symbol → the order
- POST /v1/cancelorder                   orderId → {}
- POST /v1/getorderbystatus              symbol, status (0 = all), pageindex, pagesize →
                                          {"rows", "pageindex": null, "pagesize": null,
                                           "recordcount", "pagecount"}
Every answer is HTTP 200 `{"code": 200, "message": "success", "data": …}` (getorderinfo says
"succcess", as C2CX does) or `{"code": 400, "message": …, "data": {}}`. POSTs are signed
(apiKey + MD5 sign): a wrong key or signature is code 401 "Invalid apiKey or sign". Numbers
are JSON numbers, except completedAmount, a string. The error texts of the simulator's
exchange: "Too Many Requests" (more than --rate-limit requests a second on one endpoint),
"limit value: <min>", "cid already exists: a cid cannot be reused", "order does not exist",
"the order cannot be cancelled in its status", "price precision error: …".

Test controls (plain JSON, no signature) under /sim/:
- GET  /sim/state      balance, frozen, the book, switches, counts
- GET  /sim/trades     every fill: order_id, cid, price, volume, btc, fee, at_ms
- GET  /sim/orders     every order, as getorderinfo shows it
- POST /sim/book       {"asks": [[price, volume]…], "bids": […], "replace": true}
- POST /sim/balance    {"btc": "1.5", "sky": "0", "add": false}
- POST /sim/switches   {"fee_rate", "min_btc", "match_delay", "cancel_delay", "steal_next",
                        "expire_next", "error_next", "rate_limit"}
- POST /sim/fail       {"mode": "http500"|"garbage"|"ratelimit"|"bad_shape"|"http429", "count": 1,
                        "endpoint": "createorder" or "*", "after": false}: the next requests
                        fail that way; with "after": true the request is carried out first
                        and only its answer is lost (an order placed, its id never seen);
                        {"mode": "slow", "seconds": 0.3, "after": …} answers them late,
                        waiting before (or after) carrying them out;
                        "http429" is a plain HTTP 429 (a proxy's rate limit, not the envelope)
                        with the text "body" ("" = none) and a "retry_after" header if given
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from teller.clients.c2cx import sign_params
from teller_sims.c2cx_engine import Exchange, Refusal, SimOrder, Switches
from teller_sims.serving import bind, quiet_server, run_command, serving_in_background

log = logging.getLogger("teller_sims.c2cx")

SYMBOL = "BTC_SKY"
DEMO_KEY = "c2cx-sim-demo-key"
DEMO_SECRET = "c2cx-sim-demo-secret"
SIGNED_ENDPOINTS = ("getbalance", "createorder", "getorderinfo", "cancelorder", "getorderbystatus")
FAIL_MODES = ("http500", "garbage", "ratelimit", "bad_shape", "slow", "http429")
MAX_BODY = 64 * 1024


def demo_book(levels: int = 200, start: Decimal = Decimal("0.00200")) -> list[list[Decimal]]:
    """A deep book of asks: `levels` prices one tick apart from `start`, 50–545 SKY each."""
    tick = Decimal("0.00001")
    return [[start + tick * i, Decimal(50 + (i * 37) % 500)] for i in range(levels)]


# -- exact JSON: Decimals written as JSON numbers, digit for digit (no float on the way) -----

_MARK = "@@exact-number@@"
_MARKED = re.compile('"' + re.escape(_MARK) + r'([-0-9.Ee+]+)"')


def _mark(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _MARK + format(value.normalize(), "f")
    if isinstance(value, dict):
        return {k: _mark(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mark(v) for v in value]
    return value


def exact_json(document: Any) -> bytes:
    text = json.dumps(_mark(document), separators=(",", ":"))
    return _MARKED.sub(lambda m: m.group(1), text).encode("utf-8")


def envelope(data: Any, message: str = "success") -> Response:
    return Response(
        exact_json({"code": 200, "message": message, "data": data}),
        media_type="application/json",
    )


def refusal(message: str, code: int = 400) -> Response:
    return Response(
        exact_json({"code": code, "message": message, "data": {}}), media_type="application/json"
    )


# -- the server ----------------------------------------------------------------------------


@dataclass
class FailRule:
    mode: str
    count: int
    endpoint: str = "*"
    after: bool = False
    seconds: float = 0.0  # "slow": the wait before (or, with after, after) the request is done
    body: str = ""  # "http429": the answer's text
    retry_after: str = ""  # "http429": the Retry-After header ("" = none)


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class C2CXSim:
    exchange: Exchange
    key: str = DEMO_KEY
    secret: str = DEMO_SECRET
    rate_limit: float = 0.0  # requests a second per endpoint; 0 = no limit
    state_file: Path | None = None
    clock: Callable[[], float] = time.time
    failures: list[FailRule] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)  # per endpoint, for tests
    port: int = 0
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _server: uvicorn.Server | None = None

    def __post_init__(self) -> None:
        routes = [
            Route("/v1/getorderbook", self.getorderbook, methods=["GET"]),
            Route("/v1/ticker", self.ticker, methods=["GET"]),
            *[Route(f"/v1/{name}", self.signed, methods=["POST"]) for name in SIGNED_ENDPOINTS],
            Route("/sim/state", self.sim_state, methods=["GET"]),
            Route("/sim/trades", self.sim_trades, methods=["GET"]),
            Route("/sim/orders", self.sim_orders, methods=["GET"]),
            Route("/sim/book", self.sim_book, methods=["POST"]),
            Route("/sim/balance", self.sim_balance, methods=["POST"]),
            Route("/sim/switches", self.sim_switches, methods=["POST"]),
            Route("/sim/fail", self.sim_fail, methods=["POST"]),
        ]
        self.app = Starlette(routes=routes)

    # -- persistence ------------------------------------------------------------------------

    def save(self) -> None:
        if self.state_file is None:
            return
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.exchange.to_json()), encoding="utf-8")
        os.replace(temporary, self.state_file)

    # -- request gates ----------------------------------------------------------------------

    def _rate_limited(self, endpoint: str, now: float) -> bool:
        if self.rate_limit <= 0:
            return False
        bucket = self._buckets.get(endpoint)
        if bucket is None:
            bucket = self._buckets[endpoint] = _Bucket(self.rate_limit, now)
        bucket.tokens = min(self.rate_limit, bucket.tokens + (now - bucket.stamp) * self.rate_limit)
        bucket.stamp = now
        if bucket.tokens < 1:
            return True
        bucket.tokens -= 1
        return False

    def _failure(self, endpoint: str) -> FailRule | None:
        for rule in self.failures:
            if rule.count > 0 and rule.endpoint in ("*", endpoint):
                rule.count -= 1
                self.failures = [r for r in self.failures if r.count > 0]
                return rule
        return None

    @staticmethod
    def _failed_answer(rule: FailRule) -> Response:
        mode = rule.mode
        if mode == "http429":
            headers = {"Retry-After": rule.retry_after} if rule.retry_after else None
            return Response(rule.body.encode(), status_code=429, headers=headers)
        if mode == "http500":
            return PlainTextResponse("Internal Server Error", status_code=500)
        if mode == "garbage":
            return Response(b"<html><body>502 Bad Gateway</body></html>", media_type="text/html")
        if mode == "bad_shape":
            return envelope("nonsense")
        return refusal("Too Many Requests")

    async def _answer(
        self, endpoint: str, work: Callable[[], Response], *, mutates: bool = False
    ) -> Response:
        self.requests[endpoint] = self.requests.get(endpoint, 0) + 1
        now = self.clock()
        if self._rate_limited(endpoint, now):
            return refusal("Too Many Requests")
        rule = self._failure(endpoint)
        if rule is not None and rule.mode == "slow":
            if not rule.after:
                await asyncio.sleep(rule.seconds)
            self.exchange.advance(self.clock())
            answer = work()
            self.save()
            if rule.after:
                await asyncio.sleep(rule.seconds)  # done, its answer late
            return answer
        if rule is not None and not rule.after:
            return self._failed_answer(rule)
        self.exchange.advance(now)
        answer = work()
        if mutates or rule is not None:
            self.save()
        if rule is not None:
            return self._failed_answer(rule)
        return answer

    # -- unsigned ---------------------------------------------------------------------------

    async def getorderbook(self, request: Request) -> Response:
        def work() -> Response:
            if request.query_params.get("symbol") != SYMBOL:
                return refusal("symbol is not supported")
            asks = sorted(self.exchange.asks, key=lambda a: a[0], reverse=True)
            bids = sorted(self.exchange.bids, key=lambda b: b[0], reverse=True)
            return envelope({"timestamp": str(int(self.clock())), "bids": bids, "asks": asks})

        return await self._answer("getorderbook", work)

    async def ticker(self, request: Request) -> Response:
        def work() -> Response:
            asks = self.exchange.sorted_asks()
            trades = self.exchange.trades
            return envelope(
                {
                    "timestamp": str(int(self.clock())),
                    "buy": max((b[0] for b in self.exchange.bids), default=Decimal(0)),
                    "sell": asks[0][0] if asks else Decimal(0),
                    "last": trades[-1].price if trades else Decimal(0),
                }
            )

        return await self._answer("ticker", work)

    # -- signed -----------------------------------------------------------------------------

    async def signed(self, request: Request) -> Response:
        endpoint = request.url.path.rsplit("/", 1)[-1]
        body = await request.body()
        if len(body) > MAX_BODY:
            return refusal("request too large")
        try:
            fields = dict(
                parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=True)
            )
        except (UnicodeDecodeError, ValueError):
            fields = {}
        sign = fields.pop("sign", "")
        key = fields.pop("apiKey", "")
        if key != self.key or sign != sign_params(self.key, self.secret, fields):
            self.requests[endpoint] = self.requests.get(endpoint, 0) + 1
            return refusal("Invalid apiKey or sign", code=401)
        handlers = {
            "getbalance": (self._getbalance, False),
            "createorder": (self._createorder, True),
            "getorderinfo": (self._getorderinfo, False),
            "cancelorder": (self._cancelorder, True),
            "getorderbystatus": (self._getorderbystatus, False),
        }
        handler, mutates = handlers[endpoint]

        def work() -> Response:
            try:
                return handler(fields)
            except Refusal as exc:
                return refusal(exc.message, exc.code)

        return await self._answer(endpoint, work, mutates=mutates)

    def _getbalance(self, _: dict[str, str]) -> Response:
        frozen = self.exchange.frozen()
        return envelope({"balance": dict(self.exchange.balance), "frozen": frozen})

    def _createorder(self, fields: dict[str, str]) -> Response:
        if fields.get("symbol") != SYMBOL:
            raise Refusal("symbol is not supported")
        if fields.get("orderType") != "buy":
            raise Refusal("only buy orders are simulated")
        if fields.get("isAdvancedOrder", "0") != "0":
            raise Refusal("advanced orders are not simulated")
        price_type = fields.get("priceTypeId", "")
        price = _number(fields.get("price", "0"), "price")
        quantity = _number(fields.get("quantity", "0"), "quantity")
        if price_type == "market" and quantity == 0:
            quantity = price  # the Go client's MarketBuy put the BTC amount in price
        cid = fields.get("cid") or None
        order = self.exchange.place(
            price_type=price_type, price=price, quantity=quantity, cid=cid, now=self.clock()
        )
        return envelope({"orderId": order.order_id})

    def _getorderinfo(self, fields: dict[str, str]) -> Response:
        if fields.get("symbol") != SYMBOL:
            raise Refusal("symbol is not supported")
        order_id = _order_id(fields.get("orderId", ""), allow_all=True)
        if order_id == -1:
            orders = [order_json(o) for o in self.exchange.orders.values()]
            if not orders:
                raise Refusal("no orders")
            return envelope(orders, "succcess")
        return envelope(order_json(self.exchange.get(order_id)), "succcess")

    def _cancelorder(self, fields: dict[str, str]) -> Response:
        self.exchange.cancel(_order_id(fields.get("orderId", "")), self.clock())
        return envelope({})

    def _getorderbystatus(self, fields: dict[str, str]) -> Response:
        if fields.get("symbol") != SYMBOL:
            raise Refusal("symbol is not supported")
        status = _small_int(fields.get("status", "0"), "status")
        page = max(_small_int(fields.get("pageindex", "1"), "pageindex"), 1)  # 0 and 1 alike
        size = _small_int(fields.get("pagesize", "100"), "pagesize")
        if not 1 <= size <= 100:
            raise Refusal("pagesize must be between 1 and 100")
        orders = sorted(self.exchange.orders.values(), key=lambda o: o.order_id, reverse=True)
        if status:
            orders = [o for o in orders if o.status == status]
        pages = max(1, -(-len(orders) // size))
        rows = [order_json(o) for o in orders[(page - 1) * size : page * size]]
        return envelope(
            {
                "rows": rows,
                "pageindex": None,
                "pagesize": None,
                "recordcount": len(orders),
                "pagecount": pages,
            }
        )

    # -- controls ---------------------------------------------------------------------------

    async def sim_state(self, _: Request) -> Response:
        self.exchange.advance(self.clock())
        return JSONResponse(
            {
                "balance": {k: str(v) for k, v in self.exchange.balance.items()},
                "frozen": {k: str(v) for k, v in self.exchange.frozen().items()},
                "asks": [[str(p), str(v)] for p, v in self.exchange.sorted_asks()],
                "orders": len(self.exchange.orders),
                "trades": len(self.exchange.trades),
                "requests": self.requests,
                "rate_limit": self.rate_limit,
            }
        )

    async def sim_trades(self, _: Request) -> Response:
        return JSONResponse(
            [
                {
                    "order_id": t.order_id,
                    "cid": t.cid,
                    "price": str(t.price),
                    "volume": str(t.volume),
                    "btc": str(t.btc),
                    "fee": str(t.fee),
                    "at_ms": t.at_ms,
                }
                for t in self.exchange.trades
            ]
        )

    async def sim_orders(self, _: Request) -> Response:
        self.exchange.advance(self.clock())
        orders = [order_json(o) for o in self.exchange.orders.values()]
        return Response(exact_json(orders), media_type="application/json")

    async def _control(self, request: Request) -> dict[str, Any]:
        try:
            document = json.loads(await request.body() or b"{}", parse_float=Decimal)
        except ValueError as exc:
            raise Refusal(f"not JSON: {exc}") from None
        if not isinstance(document, dict):
            raise Refusal("expected a JSON object")
        return document

    async def _controlled(
        self, request: Request, change: Callable[[dict[str, Any]], None]
    ) -> Response:
        try:
            change(await self._control(request))
        except (Refusal, ValueError, TypeError, InvalidOperation) as exc:
            return PlainTextResponse(str(exc), status_code=400)
        self.exchange.advance(self.clock())
        self.save()
        return await self.sim_state(request)

    async def sim_book(self, request: Request) -> Response:
        def change(document: dict[str, Any]) -> None:
            asks = [
                (_number(str(p), "price"), _number(str(v), "volume"))
                for p, v in document.get("asks", [])
            ]
            bids = [
                [_number(str(p), "price"), _number(str(v), "volume")]
                for p, v in document.get("bids", [])
            ]
            if document.get("replace", True):
                self.exchange.asks = []
                self.exchange.bids = []
            self.exchange.bids.extend(bids)
            self.exchange.add_asks(asks, self.clock())

        return await self._controlled(request, change)

    async def sim_balance(self, request: Request) -> Response:
        def change(document: dict[str, Any]) -> None:
            add = bool(document.get("add", False))
            for currency in ("btc", "sky"):
                if currency in document:
                    amount = _number(str(document[currency]), currency, negative=add)
                    self.exchange.set_balance(currency, amount, add=add)

        return await self._controlled(request, change)

    async def sim_switches(self, request: Request) -> Response:
        def change(document: dict[str, Any]) -> None:
            switches = self.exchange.switches
            for name in ("fee_rate", "min_btc", "steal_next"):
                if name in document:
                    setattr(switches, name, _number(str(document[name]), name))
            for name in ("match_delay", "cancel_delay"):
                if name in document:
                    setattr(switches, name, _seconds(document[name], name))
            for name in ("expire_next", "error_next"):
                if name in document:
                    setattr(switches, name, int(document[name]))
            if "rate_limit" in document:
                self.rate_limit = _seconds(document["rate_limit"], "rate_limit")
                self._buckets.clear()

        return await self._controlled(request, change)

    async def sim_fail(self, request: Request) -> Response:
        def change(document: dict[str, Any]) -> None:
            mode = document.get("mode")
            if mode not in FAIL_MODES:
                raise Refusal(f"mode must be one of {', '.join(FAIL_MODES)}")
            self.failures.append(
                FailRule(
                    mode=mode,
                    count=int(document.get("count", 1)),
                    endpoint=str(document.get("endpoint", "*")),
                    after=bool(document.get("after", False)),
                    seconds=float(document.get("seconds", 0.0)),
                    body=str(document.get("body", "")),
                    retry_after=str(document.get("retry_after", "")),
                )
            )

        return await self._controlled(request, change)

    # -- serving ----------------------------------------------------------------------------

    async def serve(self, sock: socket.socket) -> None:
        """Serve on a bound, listening socket until cancelled or stopped."""
        self.port = sock.getsockname()[1]
        server = self._server = quiet_server(self.app)
        await server.serve(sockets=[sock])

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True


def order_json(order: SimOrder) -> dict[str, Any]:
    """An order as getorderinfo and getorderbystatus show it."""
    return {
        "amount": order.amount,
        "avgPrice": order.avg_price(),
        "completedAmount": format(order.completed.normalize(), "f"),
        "createDate": order.created_ms,
        "updateDate": order.updated_ms,
        "orderId": order.order_id,
        "price": order.price,
        "status": order.status,
        "fee": order.fee,
        "type": "buy",
        "trigger": 0,
        "cid": order.cid,
        "source": "api",
    }


def _number(text: str, what: str, *, negative: bool = False) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise Refusal(f"{what} is not a number") from None
    if not value.is_finite() or (value < 0 and not negative) or abs(value.adjusted()) > 30:
        raise Refusal(f"{what} is not a valid amount")
    return value


def _seconds(value: Any, what: str) -> float:
    """A number of seconds (or of requests a second) for a switch: finite, 0 to 10^6."""
    number = _number(str(value), what)
    if number > 1_000_000:
        raise Refusal(f"{what} must be at most 1000000")
    return float(number)  # a time, never an amount


def _small_int(text: str, what: str) -> int:
    if not text.strip().lstrip("-").isdigit() or len(text) > 12:
        raise Refusal(f"{what} is not an integer")
    return int(text)


def _order_id(text: str, *, allow_all: bool = False) -> int:
    value = _small_int(text, "orderId")
    if value == -1 and allow_all:
        return -1
    if value <= 0:
        raise Refusal("order does not exist")
    return value


# -- running ---------------------------------------------------------------------------------


def new_exchange(btc: Decimal, asks: list[list[Decimal]] | None = None) -> Exchange:
    exchange = Exchange(asks=asks if asks is not None else demo_book())
    exchange.set_balance("btc", btc)
    return exchange


def load_or_create(state_file: Path | None, btc: Decimal) -> Exchange:
    if state_file is not None and state_file.exists():
        return Exchange.from_json(json.loads(state_file.read_text(encoding="utf-8")))
    return new_exchange(btc)


@contextlib.asynccontextmanager
async def running_sim(sim: C2CXSim, host: str = "127.0.0.1") -> AsyncIterator[C2CXSim]:
    """Serve `sim` in this event loop on a free port while the block runs (for tests)."""
    sock = bind(host, 0)
    sim.port = sock.getsockname()[1]
    async with serving_in_background(sim.serve, sim.stop, sock, "c2cx sim"):
        yield sim


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The simulator's options (shared by `teller-sim c2cx`)."""
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8090, help="port, 0 = any free (default 8090)")
    parser.add_argument("--port-file", type=Path, help="write the port listened on to this file")
    parser.add_argument(
        "--key", default=DEMO_KEY, help=f"the API key accepted (default {DEMO_KEY})"
    )
    parser.add_argument("--secret", default=DEMO_SECRET, help="the API secret accepted")
    parser.add_argument("--btc", default="10", help="the account's starting BTC (default 10)")
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=0.0,
        help="requests a second per endpoint before 'Too Many Requests' (default: no limit)",
    )
    parser.add_argument("--fee-rate", default="0", help="fee, a fraction of the SKY bought")
    parser.add_argument("--state", type=Path, help="keep the account in this JSON file")
    parser.add_argument(
        "--empty-book", action="store_true", help="start with no asks (POST /sim/book adds some)"
    )


async def run(args: argparse.Namespace) -> None:
    btc = _number(args.btc, "--btc")
    exchange = load_or_create(args.state, btc)
    if args.empty_book and not (args.state and args.state.exists()):
        exchange.asks = []
    exchange.switches = Switches(fee_rate=_number(args.fee_rate, "--fee-rate"))
    sim = C2CXSim(
        exchange,
        key=args.key,
        secret=args.secret,
        rate_limit=args.rate_limit,
        state_file=args.state,
    )
    sock = bind(args.host, args.port)
    sim.port = sock.getsockname()[1]
    sim.save()
    if args.port_file is not None:
        args.port_file.write_text(f"{sim.port}\n")
    print(
        f"C2CX simulator listening on http://{args.host}:{sim.port}/v1/ "
        f"({len(exchange.asks)} asks, {exchange.balance['btc']} BTC)",
        flush=True,
    )
    await sim.serve(sock)


def run_args(args: argparse.Namespace) -> int:
    return run_command(run(args), "C2CX simulator", (Refusal, OSError, ValueError))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m teller_sims.c2cx",
        description="A C2CX exchange simulator (BTC_SKY) for teller demos and tests. "
        "Test controls are under /sim/.",
    )
    add_arguments(parser)
    return run_args(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
