"""GET /api/status: what a buyer sees of their deposits (seed README "Status", §8.2, §14.14).

Entries are numbered 1, 2, … in a stable order (binding order, then deposit order), so
the same entry keeps its number between calls (the original renumbered by timestamp).
"""

from __future__ import annotations

import time

import pytest

from ..vectors import load_json
from .running_teller import SKY_A, SKY_B, RunningTeller, StartTeller

TX1 = "11" * 32
TX2 = "22" * 32


def test_a_never_bound_address_has_no_statuses(tel: RunningTeller) -> None:
    response = tel.status(SKY_A)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"statuses": []}
    assert response.text == '{\n    "statuses": []\n}'


def test_one_waiting_deposit_entry_per_binding_numbered_from_1(tel: RunningTeller) -> None:
    start = int(time.time())
    tel.bind_ok(SKY_A, "BTC")
    tel.bind_ok(SKY_A, "ETH")
    tel.bind_ok(SKY_A, "BTC")

    statuses = tel.statuses(SKY_A)

    assert [(s["seq"], s["status"], s["coin_type"]) for s in statuses] == [
        (1, "waiting_deposit", "BTC"),
        (2, "waiting_deposit", "ETH"),
        (3, "waiting_deposit", "BTC"),
    ]
    assert all(start <= s["updated_at"] <= time.time() for s in statuses)
    # Deposit addresses are never shown (README: "for security reasons").
    assert "deposit_address" not in tel.status(SKY_A).text
    for address in tel.admin_get("/api/deposit-addresses")["BTC"]["scanning_addresses"]:
        assert address not in tel.status(SKY_A).text


def test_statuses_are_per_sky_address(tel: RunningTeller) -> None:
    tel.bind_ok(SKY_A, "BTC")
    tel.bind_ok(SKY_B, "ETH")
    tel.bind_ok(SKY_B, "ETH")

    assert [s["coin_type"] for s in tel.statuses(SKY_A)] == ["BTC"]
    assert [s["coin_type"] for s in tel.statuses(SKY_B)] == ["ETH", "ETH"]


def test_numbering_is_stable_between_calls_and_as_deposits_progress(
    start_teller: StartTeller,
) -> None:
    tel = start_teller(auto_confirm=True)
    first = tel.bind_ok(SKY_A, "BTC")
    second = tel.bind_ok(SKY_A, "BTC")
    tel.bind_ok(SKY_A, "ETH")
    assert tel.statuses(SKY_A) == tel.statuses(SKY_A)

    # A deposit to the second address: entry 2 moves on, entries 1 and 3 keep their place.
    tel.deposit_ok(addr=second, value=100_000_000, tx=TX1, n=0)
    statuses = tel.wait_for(
        lambda: (s := tel.statuses(SKY_A)) and s[1]["status"] == "done" and s,
        what="the deposit to be done",
    )
    assert [(s["seq"], s["status"], s["coin_type"]) for s in statuses] == [
        (1, "waiting_deposit", "BTC"),
        (2, "done", "BTC"),
        (3, "waiting_deposit", "ETH"),
    ]
    assert statuses[1]["sky_sent"] == "500.000000"

    # Two deposits to the first address replace its waiting_deposit entry, in deposit order.
    tel.deposit_ok(addr=first, value=1_000_000, tx=TX2, n=1)
    tel.deposit_ok(addr=first, value=2_000_000, tx=TX2, n=0)
    statuses = tel.wait_for(
        lambda: (
            (s := tel.statuses(SKY_A))
            and [e["status"] for e in s] == ["done", "done", "done", "waiting_deposit"]
            and s
        ),
        what="four entries, the new deposits done",
    )
    assert [(s["seq"], s["coin_type"]) for s in statuses] == [
        (1, "BTC"),
        (2, "BTC"),
        (3, "BTC"),
        (4, "ETH"),
    ]
    assert [s.get("deposit_value") for s in statuses] == [
        "0.01000000",
        "0.02000000",
        "1.00000000",
        None,
    ]
    assert tel.statuses(SKY_A) == tel.statuses(SKY_A)


def test_skyaddr_is_trimmed(tel: RunningTeller) -> None:
    tel.bind_ok(SKY_A, "BTC")
    assert len(tel.statuses(f"  {SKY_A}\n")) == 1


@pytest.mark.parametrize("query", ["", "?skyaddr=", "?skyaddr=%20%20", "?other=1"])
def test_missing_skyaddr(tel: RunningTeller, query: str) -> None:
    response = tel.http.get(tel.public + "/api/status" + query)

    assert response.status_code == 400
    assert response.text == "Missing skyaddr\n"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_invalid_skyaddr_messages_from_the_shared_vectors(tel: RunningTeller) -> None:
    cases = [
        c
        for c in load_json("teller/address_validation.json")["cases"]
        if not c["sky_valid"] and c["input"] and c["input"] == c["input"].strip()
    ]
    assert cases
    for case in cases:
        response = tel.status(case["input"])
        assert response.status_code == 400, case
        assert response.text == f"Invalid skycoin address: {case['sky_error']}\n"


def test_null_address_is_invalid(tel: RunningTeller) -> None:
    response = tel.status("111111111111111111111691FSP")
    assert response.status_code == 400
    assert response.text == "Invalid skycoin address: Address is the null address\n"


def test_wrong_method_is_405(tel: RunningTeller) -> None:
    response = tel.http.post(tel.public + "/api/status", params={"skyaddr": SKY_A})

    assert response.status_code == 405
    assert response.text == "Invalid request method\n"
    assert response.headers["allow"] == "GET"
