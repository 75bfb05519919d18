"""The audit's pure comparisons (audit/checks.py) on made-up books and answers: the cases the
peer tests do not reach (a low wallet, refused and missing orders, a wallet's own transfers)."""

from __future__ import annotations

from decimal import Decimal

from teller.audit import checks
from teller.clients.market import OrderInfo, OrderState
from teller.clients.skycoin_node import AddressTransaction, SkyTransaction, SkyTxOutput
from teller.store.models import ExchangeOrder

SKY = 1_000_000
HOT, BUYER = "hot-address", "buyer-address"


def stored(client_id: str, order_id: str, state: str, completed: str = "") -> ExchangeOrder:
    return ExchangeOrder(
        client_id, "d:0", 1, "c2cx", "limit_buy", order_id, state, "0.002", "10", "",
        completed, "", "0", "", 0, "", "", 1, 1,
    )  # fmt: skip


def listed(order_id: str, client_id: str, completed: str) -> OrderInfo:
    return OrderInfo(
        order_id, client_id, OrderState.COMPLETED, "completed", Decimal("0.002"),
        Decimal(10), Decimal(completed), Decimal("0.002"), Decimal(0), "{}",
    )  # fmt: skip


def test_a_wallet_that_lasts_less_than_a_day_at_the_recent_rate_is_low() -> None:
    # 480 SKY paid in 24 h = 20 SKY an hour; 300 SKY left after the 100 owed = 15 hours.
    low = checks.hot_wallet_balance(
        balance=400 * SKY, signed_unbroadcast=0, owed=100 * SKY, paid_recently=480 * SKY
    )
    [finding] = low.findings
    assert (finding.kind, finding.found) == (
        "hot_wallet_low",
        "300.000000 SKY left after the waiting deposits: 15.0 hours",
    )
    # Twice that lasts 35 hours: no finding; no payouts lately: no rate, no finding.
    ok = checks.hot_wallet_balance(
        balance=800 * SKY, signed_unbroadcast=0, owed=100 * SKY, paid_recently=480 * SKY
    )
    idle = checks.hot_wallet_balance(balance=1 * SKY, signed_unbroadcast=0, owed=0, paid_recently=0)
    assert (ok.findings, ok.figures["hours_left"], idle.findings) == ((), "35.0", ())


def test_refused_listed_and_final_missing_orders_are_differences() -> None:
    books = [
        stored("d:0/1", "11", "filled", "10"),  # listed, same fills: fine
        stored("d:0/2", "", "refused"),  # refused, yet the exchange lists it
        stored("d:0/3", "13", "filled", "4"),  # final, not on the exchange
        stored("d:0/4", "", "placing"),  # not placed yet: nothing expected
    ]
    exchange = [listed("11", "d:0/1", "10"), listed("12", "d:0/2", "3")]

    result = checks.exchange_orders(books, books, exchange)

    assert {(f.kind, f.subject) for f in result.findings} == {
        ("exchange_order_differs", "d:0/2"),
        ("exchange_order_missing", "d:0/3"),
    }


def test_moving_coins_between_the_wallets_own_addresses_is_no_unknown_spend() -> None:
    funding = SkyTransaction("f" * 64, (), (SkyTxOutput("u1", HOT, 10 * SKY, 10),))
    split = SkyTransaction(
        "s" * 64, ("u1",), (SkyTxOutput("u2", HOT, 5 * SKY, 1), SkyTxOutput("u3", HOT, 5 * SKY, 1))
    )
    theft = SkyTransaction("t" * 64, ("u2",), (SkyTxOutput("u4", BUYER, 5 * SKY, 1),))
    history = [AddressTransaction(t, True, n) for n, t in enumerate((funding, split, theft))]

    result = checks.hot_wallet_spends([], [], history, {HOT})

    assert [(f.kind, f.subject) for f in result.findings] == [("unknown_spend", "t" * 64)]
    assert (result.figures["spends"], result.figures["internal_transfers"]) == (2, 1)
