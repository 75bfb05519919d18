"""The C2CX simulator's exchange (teller_sims/c2cx_engine.py): matching, frozen balances, partial
fills, cancels, the minimum and precision refusals, client ids, fees, and its state file."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from teller_sims.c2cx import C2CXSim, demo_book, load_or_create, new_exchange, running_sim
from teller_sims.c2cx_engine import (
    CANCELLED,
    COMPLETED,
    EXPIRED,
    OPENED,
    PARTIAL,
    SUSPENDED,
    Exchange,
    Refusal,
)

D = Decimal


def exchange(btc: str = "1") -> Exchange:
    return new_exchange(D(btc), asks=[[D("0.002"), D("10")], [D("0.003"), D("10")]])


def buy(ex: Exchange, price: str, quantity: str, cid: str | None = None, now: float = 0):  # type: ignore[no-untyped-def]
    return ex.place(price_type="limit", price=D(price), quantity=D(quantity), cid=cid, now=now)


def test_a_limit_buy_takes_cheaper_asks_at_their_price_and_rests() -> None:
    ex = exchange()
    order = buy(ex, "0.003", "15")
    assert order.completed == D(15) and order.status == COMPLETED
    assert order.cost == D("10") * D("0.002") + D(5) * D("0.003")
    assert ex.balance["btc"] == D(1) - order.cost and ex.frozen()["btc"] == 0
    rest = buy(ex, "0.003", "10")
    assert (rest.status, rest.completed) == (PARTIAL, D(5))
    assert ex.frozen()["btc"] == D(5) * D("0.003")  # the unfilled part stays frozen
    ex.cancel(rest.order_id, 1)
    ex.advance(1)
    assert rest.status == CANCELLED and ex.frozen()["btc"] == 0


def test_asks_arriving_later_fill_a_resting_buy() -> None:
    ex = exchange()
    order = buy(ex, "0.001", "5")
    assert order.status == OPENED and order.completed == 0
    ex.add_asks([(D("0.0009"), D("5"))], now=2)
    assert order.status == COMPLETED and order.cost == D("0.0045")


def test_a_buy_costing_more_than_the_balance_is_suspended() -> None:
    ex = exchange("0.01")
    order = buy(ex, "0.002", "10")  # 0.02 BTC
    assert order.status == SUSPENDED and order.completed == 0 and ex.frozen()["btc"] == 0


@pytest.mark.parametrize(
    ("price", "quantity", "message"),
    [
        ("0.002", "0.5", "limit value: 1"),
        ("0.000001", "1", "price precision"),
        ("0.002", "1.234", "quantity precision"),
        ("0.00001", "2", "limit value: 0.0001"),  # costs 0.00002 BTC
        ("0", "1", "greater than 0"),
    ],
)
def test_orders_the_exchange_refuses(price: str, quantity: str, message: str) -> None:
    with pytest.raises(Refusal, match=message):
        buy(exchange(), price, quantity)


def test_a_client_id_is_never_reusable() -> None:
    ex = exchange()
    buy(ex, "0.002", "1", cid="x")
    with pytest.raises(Refusal, match="cid"):
        buy(ex, "0.002", "1", cid="x")


def test_the_fee_is_taken_from_the_sky_bought() -> None:
    ex = exchange()
    ex.switches.fee_rate = D("0.002")
    order = buy(ex, "0.002", "10")
    assert order.fee == D("0.02") and ex.balance["sky"] == D("9.98")


def test_switches_steal_and_expire() -> None:
    ex = exchange()
    ex.switches.steal_next = D(4)
    order = buy(ex, "0.002", "10")
    assert (order.status, order.completed) == (PARTIAL, D(6))
    ex.switches.expire_next = 1
    assert buy(ex, "0.003", "1").status == EXPIRED


def test_the_state_file_keeps_the_account(tmp_path: Path) -> None:
    ex = exchange()
    buy(ex, "0.003", "12", cid="kept")
    path = tmp_path / "state.json"
    path.write_text(json.dumps(ex.to_json()))
    again = load_or_create(path, D(0))
    assert again.to_json() == ex.to_json()
    assert len(demo_book()) == 200


async def test_the_http_side_checks_signatures_and_serves_controls() -> None:
    async with running_sim(C2CXSim(exchange())) as sim, httpx.AsyncClient() as http:
        base = f"http://127.0.0.1:{sim.port}"
        answer = (await http.post(f"{base}/v1/getbalance", content=b"apiKey=x&sign=y")).json()
        assert answer == {"code": 401, "message": "Invalid apiKey or sign", "data": {}}
        book = (await http.get(f"{base}/v1/getorderbook", params={"symbol": "BTC_SKY"})).json()
        assert book["data"]["asks"] == [[0.003, 10], [0.002, 10]]  # dearest first
        bad = await http.post(f"{base}/sim/fail", json={"mode": "nonsense"})
        assert bad.status_code == 400
        for switch in ({"match_delay": "NaN"}, {"rate_limit": -1}, {"cancel_delay": "1e9"}):
            refused = await http.post(f"{base}/sim/switches", json=switch)
            assert refused.status_code == 400, switch
        state = (await http.post(f"{base}/sim/balance", json={"btc": "2.5"})).json()
        assert state["balance"]["btc"] == "2.5"
