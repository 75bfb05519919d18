"""GET /api/quote on a real teller: the fixed rate's answer in direct mode, the order book's
in passthrough mode (the project's C2CX simulator as its own process, its demo order book),
bad amounts 400; and a quoted amount, then paid, gets exactly the SKY quoted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..sim_peers import c2cx_process, exchange_client
from .running_teller import SKY_A, RunningTeller, StartTeller


@pytest.fixture
def passthrough(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The config layer of a passthrough teller buying on a `teller-sim c2cx` process."""
    with c2cx_process(tmp_path / "c2cx") as sim:
        client = exchange_client(sim, check_order_wait="50ms", orderbook_refresh="1s")
        yield {"sky_exchanger": {"buy_method": "passthrough", "exchange_client": client}}


def quote(tel: RunningTeller, **params: str) -> tuple[int, object]:
    response = tel.http.get(tel.public + "/api/quote", params=params)
    if response.status_code == 200:
        return 200, response.json()
    return response.status_code, response.text


def test_direct_quotes_the_fixed_rate_truncated_to_max_decimals(tel: RunningTeller) -> None:
    status, answer = quote(tel, coin_type="BTC", amount="0.12345678")
    assert status == 200
    assert answer == {
        "coin_type": "BTC",
        "amount": "0.12345678",
        "buy_method": "direct",
        "sky": "61.728000",  # 61.72839 at 500 SKY/BTC, cut to 3 decimals
        "rate": "500",
        "max_decimals": 3,
    }
    assert quote(tel, coin_type="ETH", amount="0.000000000000000001")[1]["sky"] == "0.000000"  # type: ignore[index]
    assert quote(tel, coin_type="ETH", amount="1.5")[1]["sky"] == "150.000000"  # type: ignore[index]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"coin_type": "BTC"}, "Missing amount"),
        ({"coin_type": "BTC", "amount": "abc"}, "Invalid amount: must be a plain decimal"),
        ({"coin_type": "BTC", "amount": "1e5"}, "Invalid amount: must be a plain decimal"),
        ({"coin_type": "BTC", "amount": "-1"}, "Invalid amount: must be a plain decimal"),
        ({"coin_type": "BTC", "amount": "NaN"}, "Invalid amount: must be a plain decimal"),
        ({"coin_type": "BTC", "amount": "0"}, "Invalid amount: must be greater than 0"),
        ({"coin_type": "BTC", "amount": "0.000000001"}, "Invalid amount: BTC has at most 8"),
        ({"coin_type": "BTC", "amount": "21000001"}, "Invalid amount: more than 21 000 000 BTC"),
        ({"coin_type": "BTC", "amount": "1" * 500}, "Invalid amount: must be a plain decimal"),
        ({"coin_type": "DOGE", "amount": "1"}, "Invalid coin_type"),
        ({"coin_type": "", "amount": "1"}, "Missing coin_type"),
        ({"coin_type": "SKY", "amount": "1"}, "SKY not enabled"),
    ],
)
def test_bad_quotes_are_400_with_the_reason(
    tel: RunningTeller, params: dict[str, str], message: str
) -> None:
    status, text = quote(tel, **params)
    assert status == 400
    assert isinstance(text, str) and text.startswith(message)


def test_quotes_are_rate_limited(start_teller: StartTeller) -> None:
    tel = start_teller(throttle_max=2)
    codes = [quote(tel, coin_type="BTC", amount="1")[0] for _ in range(4)]
    assert codes[:2] == [200, 200] and codes[-1] == 429


def test_passthrough_quote_is_what_the_same_deposit_is_paid(
    passthrough: dict[str, Any], start_teller: StartTeller
) -> None:
    tel = start_teller(eth_enabled=False, auto_confirm=True, overrides=passthrough)
    answer = tel.wait_for(
        lambda: (q := quote(tel, coin_type="BTC", amount="0.5"))[0] == 200 and q[1],
        what="a quote",
    )
    # The simulator's demo book: 50 SKY at 0.002, 87 at 0.00201, 124 at 0.00202, …
    assert answer["sky"] == "248.450000"
    assert answer["btc_spent"] == "0.499999" and answer["orders"] == 3
    assert answer["below_minimum"] is False and answer["fees_included"] is False
    assert 0 <= answer["order_book_age_seconds"] <= 5

    address = tel.bind_ok(SKY_A, "BTC")
    tel.deposit_ok(addr=address, value=50_000_000, tx="ab" * 32)
    [done] = tel.wait_for(
        lambda: [s for s in tel.statuses(SKY_A) if s["status"] == "done"], what="paid"
    )
    assert done["sky_sent"] == answer["sky"]

    orders = tel.http.get(tel.admin + "/api/orders").json()["orders"]
    assert sorted(o["client_id"] for o in orders) == [f"{'ab' * 32}:0/{n}" for n in (1, 2, 3)]
    assert {o["state"] for o in orders} == {"filled"}
    config = tel.http.get(tel.public + "/api/config").json()
    assert config["buy_method"] == "passthrough"
    assert config["deposits"]["btc"]["passthrough_minimum_volume"] == "0.005"


def test_passthrough_quote_below_the_minimum_says_so(
    passthrough: dict[str, Any], start_teller: StartTeller
) -> None:
    tel = start_teller(eth_enabled=False, overrides=passthrough)
    answer = tel.wait_for(
        lambda: (q := quote(tel, coin_type="BTC", amount="0.001"))[0] == 200 and q[1],
        what="a quote",
    )
    assert answer["below_minimum"] is True and answer["sky"] == "0.000000"
    assert answer["minimum_volume"] == "0.005"
