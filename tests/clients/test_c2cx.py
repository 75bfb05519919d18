"""The C2CX client (clients/c2cx.py): signing per the vectors, every endpoint against the
simulator over loopback HTTP, and every kind of failure classified as the processor needs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from teller_sims.c2cx import C2CXSim

from teller.clients.c2cx import (
    C2CXClient,
    GarbageAnswer,
    parse_order,
    retry_after_seconds,
    sign_params,
    signed_body,
)
from teller.clients.market import OrderState
from teller.errors import (
    BelowExchangeMinimum,
    ClientIdTaken,
    CredentialsRefused,
    MarketRateLimited,
    MarketTemporary,
)
from tests.skynode.scripted import ScriptedNode
from tests.vectors import load_json

SIGN = load_json("teller/c2cx_sign.json")


@pytest.mark.parametrize("case", SIGN["cases"], ids=lambda c: ",".join(c["params"]) or "none")
def test_signature_matches_the_vectors(case: dict[str, Any]) -> None:
    assert sign_params(SIGN["key"], SIGN["secret"], case["params"]) == case["sign"]


def test_signed_body_is_url_encoded_in_key_order_with_the_sign_last() -> None:
    body = signed_body("K", "S", {"foo": "a:b", "bar": "x y"})
    assert body.startswith("apiKey=K&bar=x+y&foo=a%3Ab&sign=")
    fields = dict(parse_qsl(body))
    # The signature is over the unescaped values, not over the encoded body.
    assert fields["sign"] == sign_params("K", "S", {"foo": "a:b", "bar": "x y"})


def test_repr_never_shows_the_credentials() -> None:
    client = C2CXClient("my-key", "my-secret", "https://api.c2cx.com/v1/")
    assert "my-key" not in repr(client) and "my-secret" not in repr(client)


async def test_balance_is_balance_less_frozen(sim: C2CXSim, client: C2CXClient) -> None:
    assert await client.spendable_btc() == Decimal("1")
    # A resting order freezes price × volume.
    await client.place_limit_buy(Decimal("0.002"), Decimal("10"), "rest/1")
    assert await client.spendable_btc() == Decimal("0.98")


async def test_order_book_is_sorted_cheapest_ask_first(sim: C2CXSim, client: C2CXClient) -> None:
    sim.exchange.add_asks(
        [(Decimal("0.0025"), Decimal("5")), (Decimal("0.0019"), Decimal("7.5"))], 0
    )
    book = await client.order_book()
    assert [(a.price, a.volume) for a in book.asks] == [
        (Decimal("0.0019"), Decimal("7.5")),
        (Decimal("0.00201"), Decimal("40")),
        (Decimal("0.0025"), Decimal("5")),
    ]
    assert book.timestamp is not None


async def test_place_follow_cancel_and_find_by_client_id(client: C2CXClient) -> None:
    # 40 SKY on the book at 0.00201: a buy of 50 fills 40 and rests.
    order_id = await client.place_limit_buy(Decimal("0.00201"), Decimal("50"), "dep:0/1")
    info = await client.order(order_id)
    assert info.state is OrderState.OPEN and info.status_name == "partially_completed"
    assert info.completed_amount == Decimal("40") and info.client_id == "dep:0/1"
    await client.cancel(order_id)
    info = await client.order(order_id)
    assert info.state is OrderState.CANCELLED and info.completed_amount == Decimal("40")
    assert info.avg_price == Decimal("0.00201")
    found = await client.find_by_client_id("dep:0/1")
    assert found is not None and found.order_id == order_id
    assert await client.find_by_client_id("dep:0/2") is None


async def test_find_by_client_id_reads_every_page(sim: C2CXSim, client: C2CXClient) -> None:
    sim.exchange.set_balance("btc", Decimal(100))
    for i in range(230):  # straight into the exchange: only the lookup is under test
        sim.exchange.place(
            price_type="limit", price=Decimal("0.001"), quantity=Decimal(1), cid=f"many/{i}", now=0
        )
    found = await client.find_by_client_id("many/0")  # the oldest: on the last page
    assert found is not None and found.client_id == "many/0"
    assert sim.requests["getorderbystatus"] == 3


async def test_a_client_id_used_before_is_client_id_taken(client: C2CXClient) -> None:
    await client.place_limit_buy(Decimal("0.00201"), Decimal("1"), "once")
    with pytest.raises(ClientIdTaken):
        await client.place_limit_buy(Decimal("0.00201"), Decimal("1"), "once")


async def test_below_the_exchange_minimum_is_permanent(sim: C2CXSim, client: C2CXClient) -> None:
    sim.exchange.switches.min_btc = Decimal("0.01")
    with pytest.raises(BelowExchangeMinimum, match=r"limit value: 0\.01") as raised:
        await client.place_limit_buy(Decimal("0.00201"), Decimal("2"), "small")
    assert raised.value.minimum == Decimal("0.01")  # the processor plans larger orders on it


@pytest.mark.parametrize("stated", ["abc", "-1", "0", "1e999", ""])
async def test_a_minimum_that_is_no_number_is_told_as_none(
    scripted: ScriptedNode, stated: str
) -> None:
    message = f"limit value: {stated}"
    scripted.on("POST", "/v1/createorder", (200, {"code": 400, "message": message, "data": {}}))
    client = _client_of(scripted)
    try:
        with pytest.raises(BelowExchangeMinimum) as raised:
            await client.place_limit_buy(Decimal(1), Decimal(1), "c")
        assert raised.value.minimum is None
    finally:
        await client.aclose()


async def test_wrong_credentials_are_refused_not_retried(sim: C2CXSim) -> None:
    client = C2CXClient(sim.key, "not-the-secret", f"http://127.0.0.1:{sim.port}/v1/")
    try:
        with pytest.raises(CredentialsRefused) as raised:
            await client.spendable_btc()
        assert "not-the-secret" not in str(raised.value)
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("ratelimit", MarketRateLimited),
        ("http500", MarketTemporary),
        ("garbage", MarketTemporary),
        ("bad_shape", MarketTemporary),
    ],
)
async def test_failures_are_classified(
    sim: C2CXSim, client: C2CXClient, mode: str, error: type[Exception]
) -> None:
    await _fail(sim, mode)
    with pytest.raises(error):
        await client.spendable_btc()
    assert await client.spendable_btc() == Decimal("1")  # only the next request failed


@pytest.mark.parametrize("body", ["", "<html><body>429 Too Many Requests</body></html>"])
async def test_a_plain_http_429_is_a_rate_limit(
    sim: C2CXSim, client: C2CXClient, body: str
) -> None:
    await _fail(sim, "http429", body=body, retry_after="12")
    with pytest.raises(MarketRateLimited, match="code=429") as raised:
        await client.spendable_btc()
    assert raised.value.retry_after == 12.0
    assert raised.value.wait_seconds(30.0) == 30.0  # never shorter than ratelimit_wait
    assert raised.value.wait_seconds(1.0) == 12.0
    await _fail(sim, "http429")
    with pytest.raises(MarketRateLimited) as raised:
        await client.order_book()
    assert raised.value.retry_after is None
    assert raised.value.wait_seconds(30.0) == 30.0


def test_retry_after_is_seconds_or_an_http_date() -> None:
    now = 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 GMT
    assert retry_after_seconds("120", now) == 120.0
    assert retry_after_seconds("Tue, 14 Nov 2023 22:14:20 GMT", now) == 60.0
    assert retry_after_seconds("Tue, 14 Nov 2023 22:00:00 GMT", now) == 0.0  # in the past
    assert retry_after_seconds("", now) is None
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds("-5", now) is None


async def test_rate_limit_of_the_exchange(sim: C2CXSim, client: C2CXClient) -> None:
    sim.rate_limit = 2.0
    with pytest.raises(MarketRateLimited, match="Too Many Requests"):
        for _ in range(5):
            await client.order_book()


async def test_an_unreachable_exchange_is_temporary() -> None:
    client = C2CXClient("k", "s", "http://127.0.0.1:1/v1/")
    try:
        with pytest.raises(MarketTemporary, match="unreachable"):
            await client.order_book()
    finally:
        await client.aclose()


async def _fail(sim: C2CXSim, mode: str, **options: str) -> None:
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"http://127.0.0.1:{sim.port}/sim/fail", json={"mode": mode, **options}
        )
        assert answer.status_code == 200


# -- answers the simulator never gives: garbage of every kind from a scripted server ---------


def _client_of(scripted: ScriptedNode) -> C2CXClient:
    return C2CXClient("k", "s", f"http://{scripted.address}/v1/")


def _ok(data: Any) -> tuple[int, Any]:
    return 200, {"code": 200, "message": "success", "data": data}


async def test_a_balance_without_its_frozen_part_is_no_answer(scripted: ScriptedNode) -> None:
    """Read as 0, a missing "frozen" would overstate what can be spent."""
    scripted.on("POST", "/v1/getbalance", _ok({"balance": {"btc": "1", "sky": "0"}}))
    client = _client_of(scripted)
    try:
        with pytest.raises(MarketTemporary, match="frozen is not an object"):
            await client.spendable_btc()
    finally:
        await client.aclose()


async def test_an_order_listing_without_its_page_count_is_no_answer(
    scripted: ScriptedNode,
) -> None:
    """Read as one page, an order on a later page would be taken for absent."""
    scripted.on("POST", "/v1/getorderbystatus", _ok({"rows": [], "pageindex": 1}))
    client = _client_of(scripted)
    try:
        with pytest.raises(MarketTemporary, match="pagecount is not an integer"):
            await client.find_by_client_id("d/1")
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    "data",
    [
        {"asks": [["NaN", "1"]], "bids": []},
        {"asks": [["0.002", "-5"]], "bids": []},
        {"asks": [[True, 1]], "bids": []},
        {"asks": [["0.002"]], "bids": []},
        {"asks": [["1e999999", "1"]], "bids": []},
        {"asks": "none", "bids": []},
        {"asks": [["0", "1"]], "bids": []},
        {"asks": [], "bids": [], "timestamp": "\u00b2"},  # a digit to isdigit(), not to int()
    ],
)
async def test_a_garbage_order_book_is_temporary(scripted: ScriptedNode, data: Any) -> None:
    scripted.on("GET", "/v1/getorderbook", _ok(data))
    client = _client_of(scripted)
    try:
        with pytest.raises(MarketTemporary, match="unexpected answer"):
            await client.order_book()
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[]",
        b'{"message": "success"}',
        b'{"code": "two hundred", "data": {}}',
        b'{"code": 200, "data": {"balance": {"btc": 1e400000}}}',
        b'{"code": 200, "data": {"balance": {"btc": "1,5"}}}',
        b'{"code": 200, "data": {"balance": {"btc": NaN}}}',
        b'{"code": 200, "data": {"balance": "lots"}}',
        b"[" * 100_000,
    ],
)
async def test_a_garbage_balance_is_temporary(scripted: ScriptedNode, body: bytes) -> None:
    scripted.on("POST", "/v1/getbalance", (200, body))
    client = _client_of(scripted)
    try:
        with pytest.raises(MarketTemporary):
            await client.spendable_btc()
    finally:
        await client.aclose()


async def test_numbers_as_strings_or_numbers_are_exact(scripted: ScriptedNode) -> None:
    scripted.on(
        "POST",
        "/v1/getbalance",
        (
            200,
            b'{"code":200,"message":"succcess","data":{"balance":{"btc":"1.23456789",'
            b'"sky":7},"frozen":{"btc":0.00000001}}}',
        ),
    )
    client = _client_of(scripted)
    try:
        assert await client.spendable_btc() == Decimal("1.23456788")
    finally:
        await client.aclose()


async def test_requests_are_signed_and_carry_no_secret(scripted: ScriptedNode) -> None:
    scripted.on("POST", "/v1/createorder", _ok({"orderId": 77}))
    client = C2CXClient("the-key", "the-secret", f"http://{scripted.address}/v1/")
    try:
        assert await client.place_limit_buy(Decimal("0.00201"), Decimal("4.97"), "d:0/1") == "77"
    finally:
        await client.aclose()
    seen = scripted.requests("/v1/createorder")[0]
    fields = dict(parse_qsl(seen.body.decode()))
    assert b"the-secret" not in seen.body
    sign = fields.pop("sign")
    assert fields.pop("apiKey") == "the-key"
    assert fields == {
        "symbol": "BTC_SKY",
        "price": "0.00201",
        "quantity": "4.97",
        "orderType": "buy",
        "priceTypeId": "limit",
        "cid": "d:0/1",
        "isAdvancedOrder": "0",
    }
    assert sign == sign_params("the-key", "the-secret", fields)


async def test_an_order_info_for_another_order_is_refused(scripted: ScriptedNode) -> None:
    order = {"orderId": 5, "status": 4, "amount": 1, "completedAmount": "1", "avgPrice": 1}
    scripted.on("POST", "/v1/getorderinfo", _ok(order))
    client = _client_of(scripted)
    try:
        with pytest.raises(MarketTemporary, match="asked for order 4"):
            await client.order("4")
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    "order",
    [
        {"orderId": 1, "status": 10, "completedAmount": "0"},  # a status no document names
        {"orderId": 1, "status": 4},  # what filled is never assumed to be 0
        {"orderId": 1, "status": 4, "completedAmount": "3"},  # fills without an avgPrice
        {"orderId": "\u00b2", "status": 4, "completedAmount": "0"},
        {"orderId": 1, "status": 4, "completedAmount": "-1"},
        {"orderId": 1, "status": 4, "completedAmount": "1", "fee": "2"},
        {"orderId": "x", "status": 4},
        {"orderId": 1, "status": 4, "cid": 7},
    ],
)
def test_garbage_orders_are_refused(order: dict[str, Any]) -> None:
    with pytest.raises(GarbageAnswer):
        parse_order(order)


def test_order_statuses_map_to_states() -> None:
    def state(status: int) -> OrderState:
        return parse_order({"orderId": 1, "status": status, "completedAmount": "0"}).state

    assert [state(s) for s in (1, 2, 3, 7, 8, 9, 12)] == [OrderState.OPEN] * 7
    assert state(4) is OrderState.COMPLETED
    assert state(5) is OrderState.CANCELLED
    assert state(6) is OrderState.FAILED and state(11) is OrderState.FAILED


async def test_a_listing_without_rows_is_no_answer(scripted: ScriptedNode) -> None:
    listing = {"rows": None, "pageindex": None, "pagesize": None, "recordcount": 0}
    scripted.on("POST", "/v1/getorderbystatus", _ok(listing))
    client = _client_of(scripted)
    try:
        with pytest.raises(MarketTemporary, match="rows is not a list"):
            await client.find_by_client_id("d:0/1")
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("endpoint", "code", "message", "error"),
    [
        ("createorder", 400, "cid already exists: a cid cannot be reused", ClientIdTaken),
        ("createorder", 400, "cid too long", MarketTemporary),
        ("getorderinfo", 400, "cid already exists", MarketTemporary),
        ("getbalance", 400, "could not assign the request", MarketTemporary),
        ("getbalance", 400, "Invalid apiKey or sign", CredentialsRefused),
        ("getbalance", 403, "Forbidden", CredentialsRefused),
        ("getorderinfo", 400, "limit value: 0.186", BelowExchangeMinimum),
    ],
)
async def test_api_errors_are_classified_by_their_words(
    scripted: ScriptedNode, endpoint: str, code: int, message: str, error: type[Exception]
) -> None:
    scripted.on("POST", f"/v1/{endpoint}", (200, {"code": code, "message": message, "data": {}}))
    client = _client_of(scripted)
    calls = {
        "createorder": lambda: client.place_limit_buy(Decimal(1), Decimal(1), "c"),
        "getorderinfo": lambda: client.order("1"),
        "getbalance": client.spendable_btc,
    }
    try:
        with pytest.raises(error) as raised:
            await calls[endpoint]()
        assert type(raised.value) is error
        assert str(raised.value) == (
            f"C2CX request failed: endpoint={endpoint} code={code} message={message}"
        )
    finally:
        await client.aclose()


async def test_an_exchange_echoing_the_key_does_not_leak_it(scripted: ScriptedNode) -> None:
    scripted.on(
        "POST", "/v1/getbalance", (200, {"code": 400, "message": "bad key the-key", "data": {}})
    )
    client = C2CXClient("the-key", "s", f"http://{scripted.address}/v1/")
    try:
        with pytest.raises(MarketTemporary) as raised:
            await client.spendable_btc()
        assert "the-key" not in str(raised.value) and "<redacted>" in str(raised.value)
    finally:
        await client.aclose()
