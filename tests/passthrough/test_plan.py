"""Passthrough arithmetic (passthrough/plan.py): the original's amounts per the vectors,
and the order plan's rules, each rounding direction stated."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from teller.clients.c2cx import RULES
from teller.clients.market import PriceLevel
from teller.money import AmountError
from teller.passthrough.orders import deposit_totals
from teller.passthrough.plan import (
    PlannedOrder,
    budget_charge,
    buying_price,
    fill_on_book,
    is_dust,
    next_order,
    payable_droplets,
    price_cap,
    requested_btc,
    satoshis_spent,
    sky_bought_droplets,
    walk_book,
)
from teller.store.models import ExchangeOrder
from tests.vectors import load_json

CALC = load_json("teller/passthrough_calc.json")
D = Decimal


def book(*levels: tuple[str, str]) -> list[PriceLevel]:
    return [PriceLevel(D(p), D(v)) for p, v in levels]


@pytest.mark.parametrize("case", CALC["calculate_requested_amount"]["cases"], ids=str)
def test_requested_amount_is_truncated_to_five_decimals(case: dict[str, Any]) -> None:
    result = requested_btc(case["satoshis"], RULES)
    assert format(result, "f") == case["btc"]


@pytest.mark.parametrize("case", CALC["calculate_sky_bought"]["cases"], ids=str)
def test_sky_bought_is_truncated_to_droplets(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(AmountError, match=case["error"]):
            sky_bought_droplets(D(case["completed_amount"]))
    else:
        assert sky_bought_droplets(D(case["completed_amount"])) == case["droplets"]


@pytest.mark.parametrize("case", CALC["calculate_btc_spent"]["cases"], ids=str)
def test_btc_spent_is_truncated_to_satoshis(case: dict[str, Any]) -> None:
    assert satoshis_spent(D(case["bought"]), D(case["price"])) == case["satoshis"]


def _final_order(completed: str, avg_price: str) -> ExchangeOrder:
    return ExchangeOrder(
        client_id="d:0/1", deposit_id="d:0", number=1, exchange="c2cx", kind="limit_buy",
        order_id="1", state="filled", price=avg_price, volume=completed,
        exchange_status="completed", completed_amount=completed, avg_price=avg_price, fee="0",
        btc_spent="", sky_bought=sky_bought_droplets(D(completed)), error="", original="",
        created_at=0, updated_at=0,
    )  # fmt: skip


@pytest.mark.parametrize("case", CALC["end_to_end_examples_from_tests"], ids=str)
def test_deposit_fields_of_one_order_are_the_originals(case: dict[str, Any]) -> None:
    totals = deposit_totals([_final_order(case["completed_amount"], case["avg_price"])])
    expect = case["expect"]
    assert totals["sky_bought"] == expect["sky_bought"]
    assert totals["deposit_value_spent"] == expect["deposit_value_spent"]
    assert totals["order_price"] == expect["order.price"]
    assert totals["order_completed_amount"] == expect["order.completed_amount"]


def test_the_fee_comes_off_the_sky_bought() -> None:
    assert sky_bought_droplets(D("10"), D("0.02")) == 9_980_000
    assert sky_bought_droplets(D("1.0000019"), D("0")) == 1_000_001  # truncated, never up


def test_payouts_are_truncated_to_max_decimals() -> None:
    assert payable_droplets(1_234_567, 3) == 1_234_000
    assert payable_droplets(1_234_567, 0) == 1_000_000
    assert payable_droplets(999, 3) == 0


def test_an_order_takes_the_cheapest_ask_capped_by_the_budget() -> None:
    asks = book(("0.002", "50"), ("0.003", "1000"))
    assert next_order(asks, D("1"), RULES) == PlannedOrder(D("0.002"), D("50"))
    # 0.05 BTC buys 25 SKY at 0.002: capped by what the budget buys.
    assert next_order(asks, D("0.05"), RULES) == PlannedOrder(D("0.002"), D("25"))
    # 0.03333 / 0.002 = 16.665: the volume truncated to 2 decimals.
    assert next_order(asks, D("0.03333"), RULES) == PlannedOrder(D("0.002"), D("16.66"))


def test_asks_below_the_minimum_volume_are_taken_with_the_next() -> None:
    asks = book(("0.002", "0.4"), ("0.0021", "0.3"), ("0.0025", "10"))
    assert next_order(asks, D("1"), RULES) == PlannedOrder(D("0.0025"), D("10.7"))


def test_dust_and_an_empty_book_plan_nothing() -> None:
    asks = book(("0.002", "50"))
    assert next_order(asks, D("0.0019"), RULES) is None  # cannot buy 1 SKY: dust
    assert next_order([], D("1"), RULES) is None
    assert next_order(book(("0.002", "0.5")), D("1"), RULES) is None  # book below minimum


def test_a_limit_buy_fills_cheaper_asks_at_their_own_price() -> None:
    asks = book(("0.002", "0.4"), ("0.0021", "0.3"), ("0.0025", "10"))
    filled, paid, left = fill_on_book(asks, PlannedOrder(D("0.0025"), D("10.7")))
    assert filled == D("10.7")
    assert paid == D("0.4") * D("0.002") + D("0.3") * D("0.0021") + D("10") * D("0.0025")
    assert left == []
    # The budget is charged at the limit price: at least what was paid, never less.
    assert budget_charge(filled, D("0.0025"), D(0)) >= paid


def test_walk_over_a_known_book_gives_the_exact_sky() -> None:
    asks = book(("0.002", "50"), ("0.00201", "87"), ("0.00202", "124"), ("0.00203", "161"))
    walk = walk_book(asks, requested_btc(50_000_000, RULES), RULES)
    # 50 × 0.002 = 0.1; 87 × 0.00201 = 0.17487; 0.5 − 0.27487 = 0.22513 buys 111.45 at 0.00202.
    assert walk.sky == D("248.45")
    assert walk.orders == 3
    assert walk.btc_spent == D("0.1") + D("0.17487") + D("111.45") * D("0.00202")
    assert walk.btc_left == D("0.000001")


levels = st.lists(
    st.tuples(
        st.decimals(min_value=D("0.00001"), max_value=D("0.1"), places=5),
        st.decimals(min_value=D("0.01"), max_value=D("500"), places=2),
    ),
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(levels=levels, satoshis=st.integers(min_value=0, max_value=10**9))
def test_a_walk_never_spends_more_than_the_budget(
    levels: list[tuple[Decimal, Decimal]], satoshis: int
) -> None:
    asks = sorted((PriceLevel(p, v) for p, v in levels), key=lambda a: a.price)
    budget = requested_btc(satoshis, RULES)
    walk = walk_book(asks, budget, RULES)
    assert walk.btc_spent <= budget
    assert walk.btc_left >= 0
    assert walk.sky <= sum((a.volume for a in asks), D(0))
    # Volumes go to the exchange with its 2 decimals.
    assert walk.sky == walk.sky.quantize(D("0.01"))


def test_the_price_limit_is_the_first_fill_raised_exactly() -> None:
    assert price_cap(D("0.00201"), D("0.1")) == D("0.002211")
    assert price_cap(D("0.00201"), D("0")) is None  # no limit


def test_the_buying_price_is_where_the_asks_reach_the_minimum() -> None:
    asks = [PriceLevel(D("0.002"), D("0.4")), PriceLevel(D("0.003"), D("0.6"))]
    assert buying_price(asks, RULES) == D("0.003")  # 0.4 + 0.6 = the 1 SKY minimum
    assert buying_price(asks[:1], RULES) is None


def test_dust_is_what_cannot_buy_the_minimum_at_a_price() -> None:
    assert is_dust(D("0.0021"), D("0.0022"), RULES)  # 1 SKY would cost 0.0022
    assert not is_dust(D("0.0022"), D("0.0022"), RULES)


def test_a_walk_stops_where_the_purchase_would_wait_for_cheaper_asks() -> None:
    asks = [PriceLevel(D("0.0002"), D("5")), PriceLevel(D("0.05"), D("1000"))]
    limited = walk_book(asks, D("0.1"), RULES, D("0.1"))
    assert (limited.sky, limited.btc_left, limited.price_limited) == (D("5"), D("0.099"), True)
    walked = walk_book(asks, D("0.1"), RULES)  # no limit: up the book, as the original
    assert (walked.sky, walked.btc_left, walked.price_limited) == (D("6.98"), D("0"), False)


def test_an_ask_finer_than_the_price_precision_is_bought_at_the_next_price_up() -> None:
    asks = [PriceLevel(D("0.000201"), D("100"))]  # C2CX takes limit prices of 5 decimals
    order = next_order(asks, D("0.01"), RULES)
    assert order == PlannedOrder(D("0.00021"), D("47.61"))  # sized at 0.00021: 0.0099981 BTC
    assert order is not None and order.cost() <= D("0.01")
    assert str(next_order([PriceLevel(D("0.002"), D("5"))], D("1"), RULES).price) == "0.002"


def test_fills_reported_dearer_than_the_limit_are_charged_at_their_average() -> None:
    assert budget_charge(D("10"), D("0.002"), D("0.0019")) == D("0.020")  # the limit
    assert budget_charge(D("10"), D("0.002"), D("0.0021")) == D("0.021")  # never less than paid
    assert budget_charge(D("10"), D("0"), D("0.0021")) == D("0.021")  # a market buy
