"""POST /api/bind: a buyer gets a deposit address for their SKY address.

Contract: seed README "Bind" and teller-go.md §8.2 (checks in the original's order, status
codes and plain-text messages). Every refused request must leave the pool and the
bindings exactly as they were.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from teller.coins.eth import checksum_address

from ..vectors import load_json
from .running_teller import SKY_A, SKY_B, SKY_C, RunningTeller, StartTeller, example_addresses

NULL_SKY_ADDRESS = "111111111111111111111691FSP"


def post_bind(
    tel: RunningTeller, content: bytes | str, content_type: str | None = "application/json"
) -> httpx.Response:
    headers = {} if content_type is None else {"Content-Type": content_type}
    return tel.http.post(tel.public + "/api/bind", content=content, headers=headers)


def assert_refused(
    tel: RunningTeller, before: dict[str, Any], response: httpx.Response, status: int, message: str
) -> None:
    """The exact status and plain-text message, and nothing changed in teller."""
    assert response.status_code == status, response.text
    assert response.text == message + "\n"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert tel.snapshot() == before


# -- success -----------------------------------------------------------------------------------


def test_bind_btc_returns_the_first_pool_address_as_indented_json(tel: RunningTeller) -> None:
    before = time.time()
    response = tel.bind(SKY_A, "BTC")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["accept"] == "application/json"
    first = example_addresses("BTC")[0]
    assert response.json() == {
        "deposit_address": first,
        "coin_type": "BTC",
        "buy_method": "direct",
        "bound_addrs_left": 4,  # teller's addition: max_bound_addrs (5) less this one
    }
    # The original's json.MarshalIndent(..., "", "    "): 4 spaces, no trailing newline.
    assert response.text == json.dumps(response.json(), indent=4)
    assert tel.remaining()["BTC"] == 4
    [status] = tel.statuses(SKY_A)
    assert status == {
        "seq": 1,
        "updated_at": status["updated_at"],
        "status": "waiting_deposit",
        "coin_type": "BTC",
    }
    assert int(before) <= status["updated_at"] <= time.time()


def test_bind_eth_hands_out_eth_addresses_in_pool_order(tel: RunningTeller) -> None:
    first = tel.bind(SKY_A, "ETH")
    second = tel.bind(SKY_B, "ETH")

    assert first.status_code == second.status_code == 200
    # Handed out in EIP-55 case (tests/http/test_pool.py); the file has them lower-cased.
    eth = [checksum_address(a) for a in example_addresses("ETH")]
    assert first.json() == {
        "deposit_address": eth[0],
        "coin_type": "ETH",
        "buy_method": "direct",
        "bound_addrs_left": 4,
    }
    assert second.json()["deposit_address"] == eth[1]
    assert tel.remaining() == {"BTC": 5, "ETH": 3, "SKY": 0}


def test_each_bind_gets_a_new_address_even_for_the_same_sky_address(tel: RunningTeller) -> None:
    addresses = [tel.bind_ok(SKY_A, "BTC") for _ in range(3)]

    assert addresses == example_addresses("BTC")[:3]
    assert [s["status"] for s in tel.statuses(SKY_A)] == ["waiting_deposit"] * 3


def test_skyaddr_is_trimmed_of_white_space(tel: RunningTeller) -> None:
    response = tel.bind(f" \t{SKY_A}\r\n", "BTC")

    assert response.status_code == 200, response.text
    assert len(tel.statuses(SKY_A)) == 1


def test_unknown_fields_are_ignored(tel: RunningTeller) -> None:
    body = json.dumps({"skyaddr": SKY_A, "coin_type": "BTC", "extra": [1, 2]})
    assert post_bind(tel, body).status_code == 200


def test_content_type_with_a_charset_is_accepted(tel: RunningTeller) -> None:
    # Browsers' and axios' "application/json;charset=utf-8" is the same media type (the
    # original refused it; clients that send it deserve an address, not a 415).
    body = json.dumps({"skyaddr": SKY_A, "coin_type": "BTC"})
    assert post_bind(tel, body, "application/json; charset=utf-8").status_code == 200


def test_sky_deposits_bind_from_the_sky_pool_when_enabled(start_teller: StartTeller) -> None:
    tel = start_teller(sky_enabled=True)
    response = tel.bind(SKY_A, "SKY")

    assert response.status_code == 200, response.text
    assert response.json()["deposit_address"] == example_addresses("SKY")[0]


# -- refused, in the original's order ----------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_wrong_method_is_405_with_allow(tel: RunningTeller, method: str) -> None:
    before = tel.snapshot()
    response = tel.request(
        method, tel.public + "/api/bind", json={"skyaddr": SKY_A, "coin_type": "BTC"}
    )
    assert_refused(tel, before, response, 405, "Invalid request method")
    assert response.headers["allow"] == "POST"
    assert response.headers["accept"] == "application/json"


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx"]
)
def test_other_content_types_are_415(tel: RunningTeller, content_type: str | None) -> None:
    before = tel.snapshot()
    body = json.dumps({"skyaddr": SKY_A, "coin_type": "BTC"})

    response = post_bind(tel, body, content_type)

    assert_refused(tel, before, response, 415, "Invalid content type")
    assert response.headers["accept"] == "application/json"


def test_method_is_checked_before_content_type(tel: RunningTeller) -> None:
    response = tel.request("GET", tel.public + "/api/bind", headers={"Content-Type": "text/plain"})
    assert response.status_code == 405


def test_content_type_is_checked_before_the_body(tel: RunningTeller) -> None:
    before = tel.snapshot()
    assert_refused(tel, before, post_bind(tel, "{", "text/plain"), 415, "Invalid content type")


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ("", "EOF"),
        ("   \n", "EOF"),
        ("{", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        (
            '{"skyaddr": "x",}',
            "Expecting property name enclosed in double quotes: line 1 column 17 (char 16)",
        ),
        ("[]", "expected a JSON object"),
        (f'["{SKY_A}", "BTC"]', "expected a JSON object"),
        ("null", "expected a JSON object"),
        ('"BTC"', "expected a JSON object"),
        ("42", "expected a JSON object"),
        ('{"skyaddr": 5, "coin_type": "BTC"}', "skyaddr must be a string"),
        (f'{{"skyaddr": "{SKY_A}", "coin_type": 1}}', "coin_type must be a string"),
        (f'{{"skyaddr": ["{SKY_A}"], "coin_type": "BTC"}}', "skyaddr must be a string"),
        (f'{{"skyaddr": "{SKY_A}", "coin_type": null}}', "coin_type must be a string"),
        (f'{{"skyaddr": "{SKY_A}", "coin_type": true}}', "coin_type must be a string"),
        ("[" * 2000 + "]" * 2000, "nesting too deep"),
    ],
)
def test_malformed_json_is_400(tel: RunningTeller, body: str, detail: str) -> None:
    before = tel.snapshot()
    response = post_bind(tel, body)
    assert_refused(tel, before, response, 400, f"Invalid json request body: {detail}")


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe\xfa{}",
        b'{"skyaddr": "\xc3\x28", "coin_type": "BTC"}',
        '{"skyaddr": "\u202e\u0000"}'.encode(),
    ],
)
def test_undecodable_or_garbage_unicode_is_400(tel: RunningTeller, body: bytes) -> None:
    before = tel.snapshot()
    response = post_bind(tel, body)
    assert response.status_code == 400, response.text
    assert response.text.endswith("\n")
    assert tel.snapshot() == before


def test_unicode_garbage_in_skyaddr_is_an_invalid_address(tel: RunningTeller) -> None:
    before = tel.snapshot()
    for garbage in ["\u202e2Wbi4wvxC4fkTYMsS2f6HaFfW4pafDjXcQW", "ｓｋｙ", "💰" * 20, "\x00"]:
        response = tel.bind(garbage, "BTC")
        assert_refused(
            tel, before, response, 400, "Invalid skycoin address: Invalid base58 character"
        )


@pytest.mark.parametrize("skyaddr", ["", "   ", "\t\r\n"])
def test_missing_skyaddr(tel: RunningTeller, skyaddr: str) -> None:
    before = tel.snapshot()
    assert_refused(tel, before, tel.bind(skyaddr, "BTC"), 400, "Missing skyaddr")


def test_absent_skyaddr_field_is_missing_skyaddr(tel: RunningTeller) -> None:
    before = tel.snapshot()
    response = post_bind(tel, '{"coin_type": "BTC"}')
    assert_refused(tel, before, response, 400, "Missing skyaddr")


def test_missing_coin_type(tel: RunningTeller) -> None:
    before = tel.snapshot()
    assert_refused(tel, before, tel.bind(SKY_A, ""), 400, "Missing coin_type")
    assert_refused(
        tel, before, post_bind(tel, json.dumps({"skyaddr": SKY_A})), 400, "Missing coin_type"
    )


@pytest.mark.parametrize("coin_type", ["btc", "Eth", "DOGE", " BTC", "BTC ", "B\u0000TC"])
def test_invalid_coin_type(tel: RunningTeller, coin_type: str) -> None:
    before = tel.snapshot()
    assert_refused(tel, before, tel.bind(SKY_A, coin_type), 400, "Invalid coin_type")


def test_coin_with_its_scanner_disabled_is_not_enabled(tel: RunningTeller) -> None:
    before = tel.snapshot()
    assert_refused(tel, before, tel.bind(SKY_A, "SKY"), 400, "SKY not enabled")


def test_eth_disabled_is_not_enabled(start_teller: StartTeller) -> None:
    tel = start_teller(eth_enabled=False)
    before = tel.snapshot()
    assert_refused(tel, before, tel.bind(SKY_A, "ETH"), 400, "ETH not enabled")


def test_missing_skyaddr_is_reported_before_the_coin_type(tel: RunningTeller) -> None:
    before = tel.snapshot()
    assert_refused(tel, before, tel.bind("", "nope"), 400, "Missing skyaddr")


def test_coin_type_is_checked_before_the_address(tel: RunningTeller) -> None:
    # The original checked coin_type before decoding the address.
    before = tel.snapshot()
    assert_refused(tel, before, tel.bind("not-an-address", ""), 400, "Missing coin_type")
    assert_refused(tel, before, tel.bind("not-an-address", "btc"), 400, "Invalid coin_type")
    assert_refused(tel, before, tel.bind("not-an-address", "SKY"), 400, "SKY not enabled")


def _invalid_sky_vectors() -> list[Any]:
    cases = load_json("teller/address_validation.json")["cases"]
    return [
        pytest.param(c["input"], c["sky_error"], id=c["input"] or "empty")
        for c in cases
        # Over HTTP the address is trimmed first, and an empty one is "Missing skyaddr".
        if not c["sky_valid"] and c["input"] and c["input"] == c["input"].strip()
    ]


@pytest.mark.parametrize(("skyaddr", "reason"), _invalid_sky_vectors())
def test_invalid_sky_addresses_from_the_shared_vectors(
    tel: RunningTeller, skyaddr: str, reason: str
) -> None:
    before = tel.snapshot()
    response = tel.bind(skyaddr, "BTC")
    assert_refused(tel, before, response, 400, f"Invalid skycoin address: {reason}")


def test_valid_sky_addresses_from_the_shared_vectors_bind(start_teller: StartTeller) -> None:
    tel = start_teller(max_bound_addrs=0, pool_size=20)
    cases = load_json("teller/address_validation.json")["cases"]
    valid = [c["input"] for c in cases if c["sky_valid"]]
    assert valid
    for address in valid:
        assert tel.bind(address, "BTC").status_code == 200


def test_the_null_address_is_refused(tel: RunningTeller) -> None:
    before = tel.snapshot()
    response = tel.bind(NULL_SKY_ADDRESS, "BTC")
    assert_refused(
        tel, before, response, 400, "Invalid skycoin address: Address is the null address"
    )


def test_bind_disabled_is_403_after_the_request_checks(start_teller: StartTeller) -> None:
    tel = start_teller(bind_enabled=False)
    before = tel.snapshot()

    assert_refused(tel, before, tel.bind(SKY_A, "BTC"), 403, "Address binding is disabled")
    assert_refused(tel, before, tel.bind(SKY_A, "ETH"), 403, "Address binding is disabled")
    # Bad requests are still told what is wrong with them.
    assert_refused(
        tel, before, tel.bind("abc", "BTC"), 400, "Invalid skycoin address: Invalid address length"
    )
    assert tel.http.get(tel.public + "/api/config").json()["enabled"] is False


def test_max_bound_addrs_counts_every_coin(start_teller: StartTeller) -> None:
    tel = start_teller(max_bound_addrs=3)
    # Each answer says how many more SKY_A can get (the page tells the buyer before asking).
    lefts = [tel.bind(SKY_A, coin).json()["bound_addrs_left"] for coin in ("BTC", "ETH", "BTC")]
    assert lefts == [2, 1, 0]
    before = tel.snapshot()

    for coin in ("BTC", "ETH"):
        response = tel.bind(SKY_A, coin)
        assert_refused(
            tel,
            before,
            response,
            500,
            "The maximum number of addresses have been assigned to this SKY address",
        )
    # Another buyer is not affected.
    assert tel.bind(SKY_B, "BTC").status_code == 200
    assert len(tel.statuses(SKY_A)) == 3


def test_max_bound_addrs_zero_is_unlimited(start_teller: StartTeller) -> None:
    tel = start_teller(max_bound_addrs=0, pool_size=8)
    for _ in range(8):
        assert tel.bind(SKY_A, "BTC").json()["bound_addrs_left"] == -1  # no limit
    assert len(tel.statuses(SKY_A)) == 8


def test_exhausted_pool_is_500_and_other_coins_still_bind(start_teller: StartTeller) -> None:
    tel = start_teller(pool_size=2, max_bound_addrs=0)
    tel.bind_ok(SKY_A, "BTC")
    tel.bind_ok(SKY_B, "BTC")
    before = tel.snapshot()
    assert before["addresses"]["BTC"]["remaining_addresses"] == 0

    response = tel.bind(SKY_C, "BTC")

    assert_refused(tel, before, response, 500, "Deposit address pool is empty")
    # The operator is told (an ERROR log line), not only the buyer.
    assert any("pool is empty" in line for line in tel.expect_errors())
    assert tel.statuses(SKY_C) == []
    assert tel.bind(SKY_C, "ETH").status_code == 200


def test_max_bound_is_checked_before_the_pool(start_teller: StartTeller) -> None:
    tel = start_teller(pool_size=1, max_bound_addrs=1)
    tel.bind_ok(SKY_A, "BTC")
    before = tel.snapshot()
    response = tel.bind(SKY_A, "BTC")
    assert_refused(
        tel,
        before,
        response,
        500,
        "The maximum number of addresses have been assigned to this SKY address",
    )


def test_a_failed_bind_never_consumes_an_address(start_teller: StartTeller) -> None:
    tel = start_teller(max_bound_addrs=1)
    tel.bind_ok(SKY_A, "BTC")
    for _ in range(5):
        assert tel.bind(SKY_A, "BTC").status_code == 500
        assert tel.bind("abc", "BTC").status_code == 400
    # The next buyer gets the very next address of the file.
    assert tel.bind_ok(SKY_B, "BTC") == example_addresses("BTC")[1]
    assert tel.remaining()["BTC"] == 3


def test_huge_body_is_413_without_reaching_the_handler(tel: RunningTeller) -> None:
    before = tel.snapshot()
    body = json.dumps({"skyaddr": SKY_A, "coin_type": "BTC", "pad": "x" * 100_000})

    response = post_bind(tel, body)

    assert response.status_code == 413
    assert response.text == "Request body larger than 4096 bytes\n"
    assert tel.snapshot() == before


def test_huge_chunked_body_is_413(tel: RunningTeller) -> None:
    before = tel.snapshot()

    def chunks() -> Any:
        yield b'{"skyaddr": "' + SKY_A.encode() + b'", "coin_type": "BTC", "pad": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    response = tel.http.post(
        tel.public + "/api/bind",
        content=chunks(),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 413
    assert tel.snapshot() == before


def test_concurrent_binds_never_share_an_address(start_teller: StartTeller) -> None:
    from concurrent.futures import ThreadPoolExecutor

    tel = start_teller(pool_size=None, max_bound_addrs=0)
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: tel.bind(SKY_A, "BTC"), range(24)))

    addresses = [r.json()["deposit_address"] for r in responses if r.status_code == 200]
    assert len(addresses) == 24
    assert sorted(addresses) == sorted(example_addresses("BTC")[:24])


# -- any body at all ---------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)
bind_objects = st.fixed_dictionaries(
    {},
    optional={
        "skyaddr": st.one_of(
            st.sampled_from([SKY_A, SKY_B, "abc", NULL_SKY_ADDRESS, ""]),
            st.text(max_size=40),
            json_scalars,
        ),
        "coin_type": st.one_of(
            st.sampled_from(["BTC", "ETH", "SKY", "btc", ""]), st.text(max_size=6), json_scalars
        ),
        "extra": json_values,
    },
)
bodies = st.one_of(
    bind_objects.map(json.dumps).map(str.encode),
    json_values.map(json.dumps).map(str.encode),
    st.binary(max_size=200),
)


def test_no_body_causes_a_500_or_changes_anything_unless_bound(start_teller: StartTeller) -> None:
    # One teller for every example, with a pool big enough for any 200s.
    tel = start_teller(pool_size=None, max_bound_addrs=0)

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(body=bodies)
    def check(body: bytes) -> None:
        before = tel.snapshot()

        response = post_bind(tel, body)

        assert response.status_code in (200, 400), (body, response.status_code, response.text)
        after = tel.snapshot()
        if response.status_code == 200:
            coin = response.json()["coin_type"]
            assert (
                after["addresses"][coin]["remaining_addresses"]
                == before["addresses"][coin]["remaining_addresses"] - 1
            )
        else:
            assert response.text.endswith("\n")
            assert after == before

    check()


def test_a_client_that_leaves_mid_body_binds_nothing(tel: RunningTeller) -> None:
    # The body so far is valid JSON, but shorter than announced: the request never completed.
    body = json.dumps({"skyaddr": SKY_A, "coin_type": "BTC"}).encode()
    host, port = tel.public.removeprefix("http://").rsplit(":", 1)
    before = tel.snapshot()
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            b"POST /api/bind HTTP/1.1\r\nHost: teller\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body) + 100}\r\n\r\n".encode()
            + body
        )
        time.sleep(0.2)
    time.sleep(0.3)

    assert tel.snapshot() == before
    assert tel.statuses(SKY_A) == []
