"""The dummy API: fake deposits in (/dummy/scanner/deposit), fake SKY payouts out
(/dummy/sender/broadcasts, /dummy/sender/confirm). Seed README "Dummy Scanner and Sender
API", teller-go.md §8.4; a deposit reported twice is paid once (§14.4).

GET of the two state-changing calls (the seed's curl examples) only in all-dummy mode; with
a real scanner or a real sender they are POST only and refuse a web page's request (issue 13,
finding 4; README "Dummy mode").
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from teller.coins import btc, sky
from tests.peers import closed_port
from tests.skynode.conftest import SimNode

from .running_teller import SKY_A, SKY_B, RunningTeller, StartTeller, example_addresses

TX = "edb29a9b561a8d6a6118eb1f724c87f853bf471d7e4f0e9ccb9e1d340235687b"
TX2 = "4fc9743b04c2e3f5e467cde38c0872e3e3ad9ec05d59081ad1a8bd88045635de"
BAD_BTC_TX = "invalid tx: a BTC transaction id is 64 hex digits"
UNBOUND_BTC = example_addresses("BTC")[4]


def nothing_recorded(tel: RunningTeller) -> None:
    assert tel.admin_get("/api/deposits")["deposits"] == []
    assert tel.broadcasts() == []
    assert all(s["status"] == "waiting_deposit" for s in tel.statuses(SKY_A))


def confirm(tel: RunningTeller, **params: str) -> Any:
    return tel.http.get(tel.dummy + "/dummy/sender/confirm", params=params)


def test_a_deposit_is_paid_and_done_after_confirm(tel: RunningTeller) -> None:
    address = tel.bind_ok(SKY_A, "BTC")

    response = tel.deposit(addr=address, value=100_000_000, height=494713, tx=TX, n=0)

    assert response.status_code == 200
    assert response.content == b""
    [sent] = tel.wait_status(SKY_A, "waiting_confirm")
    [broadcast] = tel.broadcasts()
    assert broadcast == {
        "txid": broadcast["txid"],
        "outputs": [{"address": SKY_A, "coins": "500.000000"}],
        "confirmed": False,
    }
    assert sent["txid"] == broadcast["txid"]
    assert sent["sky_sent"] == "500.000000"

    assert confirm(tel, txid=broadcast["txid"]).status_code == 200

    [done] = tel.wait_status(SKY_A, "done")
    assert done["sky_sent"] == "500.000000"
    assert tel.broadcasts()[0]["confirmed"] is True


def test_the_seed_readmes_get_calls_work_in_all_dummy_mode(tel: RunningTeller) -> None:
    """dummy.scanner and dummy.sender both on: the seed README's `curl URL?query` (GET)."""
    address = tel.bind_ok(SKY_A, "BTC")
    query = {"addr": address, "value": "100000000", "height": "494713", "tx": TX, "n": "0"}
    response = tel.http.get(tel.dummy + "/dummy/scanner/deposit", params=query)
    assert response.status_code == 200, response.text
    [broadcast] = tel.wait_for(tel.broadcasts, what="a payout")
    assert confirm(tel, txid=broadcast["txid"]).status_code == 200  # GET as well
    tel.wait_status(SKY_A, "done")


def test_a_deposit_by_post_form(tel: RunningTeller) -> None:
    address = tel.bind_ok(SKY_A, "BTC")

    response = tel.http.post(
        tel.dummy + "/dummy/scanner/deposit",
        data={"addr": address, "value": "12345678", "tx": TX, "n": "1", "height": "5"},
    )

    assert response.status_code == 200, response.text
    tel.wait_status(SKY_A, "waiting_confirm")
    [deposit] = tel.admin_get("/api/deposits")["deposits"]
    assert deposit["deposit_id"] == f"{TX}:1"
    assert deposit["deposit"]["height"] == 5
    assert tel.broadcasts()[0]["outputs"] == [{"address": SKY_A, "coins": "61.728000"}]

    # And confirmed by POST form, by broadcast sequence number.
    assert tel.http.post(tel.dummy + "/dummy/sender/confirm", data={"seq": "0"}).status_code == 200
    tel.wait_status(SKY_A, "done")


def test_form_fields_override_the_query(tel: RunningTeller) -> None:
    address = tel.bind_ok(SKY_A, "BTC")
    response = tel.http.post(
        tel.dummy + "/dummy/scanner/deposit",
        params={"addr": address, "value": "1", "tx": TX},
        data={"value": "200000000"},
    )
    assert response.status_code == 200
    tel.wait_status(SKY_A, "waiting_confirm")
    assert tel.broadcasts()[0]["outputs"][0]["coins"] == "1000.000000"


def test_an_eth_deposit_in_wei(tel: RunningTeller) -> None:
    address = tel.bind_ok(SKY_A, "ETH")

    tel.deposit_ok(coin="ETH", addr=address.upper().replace("0X", "0x"), value=10**18, tx=TX)

    [sent] = tel.wait_status(SKY_A, "waiting_confirm")
    assert sent["coin_type"] == "ETH"
    assert sent["deposit_value"] == "1.000000000000000000"
    assert tel.broadcasts()[0]["outputs"] == [{"address": SKY_A, "coins": "100.000000"}]


def test_the_same_deposit_twice_is_paid_once(start_teller: StartTeller) -> None:
    tel = start_teller(auto_confirm=True)
    address = tel.bind_ok(SKY_A, "BTC")

    tel.deposit_ok(addr=address, value=100_000_000, tx=TX, n=0)
    tel.wait_status(SKY_A, "done")
    tel.deposit_ok(addr=address, value=100_000_000, tx=TX, n=0)
    tel.deposit_ok(addr=address, value=999_000_000, tx=TX, n=0)  # same id, other value

    # Another output of the same transaction is another deposit.
    tel.deposit_ok(addr=address, value=100_000_000, tx=TX, n=1)
    tel.wait_for(lambda: len(tel.statuses(SKY_A)) == 2, what="the second output")
    tel.wait_status(SKY_A, "done")
    outputs = [o for b in tel.broadcasts() for o in b["outputs"]]
    assert outputs == [{"address": SKY_A, "coins": "500.000000"}] * 2
    assert [d["deposit_id"] for d in tel.admin_get("/api/deposits")["deposits"]] == [
        f"{TX}:0",
        f"{TX}:1",
    ]


def test_deposits_in_quick_succession_are_paid_once_each(start_teller: StartTeller) -> None:
    tel = start_teller(auto_confirm=True, max_bound_addrs=0)
    addresses = [tel.bind_ok(SKY_A, "BTC") for _ in range(5)]
    for i, address in enumerate(addresses):
        for _ in range(3):
            tel.deposit_ok(addr=address, value=(i + 1) * 1_000_000, tx=TX, n=i)

    tel.wait_for(
        lambda: (s := tel.statuses(SKY_A)) and all(e["status"] == "done" for e in s),
        what="every deposit done",
    )
    outputs = sorted(o["coins"] for b in tel.broadcasts() for o in b["outputs"])
    assert outputs == ["10.000000", "15.000000", "20.000000", "25.000000", "5.000000"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"value": "1", "tx": TX}, "addr required"),
        ({"addr": "  ", "value": "1", "tx": TX}, "addr required"),
        ({"addr": SKY_A, "value": "1", "tx": TX}, "invalid addr: Invalid version"),
        (
            {"addr": "1PZ63K3G4gZP6A6E2TTbBwxT5bFQGL2TLC", "value": "1", "tx": TX},
            "invalid addr: Invalid checksum",
        ),
        (
            {"coin": "ETH", "addr": "0x123", "value": "1", "tx": TX},
            "invalid addr: Invalid address length",
        ),
        (
            {
                "coin": "ETH",
                "addr": "0xZZ2428fbbca5cdcc6c28d27d9d5291e26051f9d5",
                "value": "1",
                "tx": TX,
            },
            "invalid addr: Invalid hex character in address",
        ),
        (
            {"coin": "ETH", "addr": "{btc}", "value": "1", "tx": TX},
            "invalid addr: Address must start with 0x",
        ),
        ({"coin": "SKY", "addr": "{btc}", "value": "1", "tx": TX}, "SKY not enabled"),
        (
            {"coin": "DOGE", "addr": "{btc}", "value": "1", "tx": TX},
            "invalid coin 'DOGE': expected one of BTC, ETH, SKY",
        ),
        ({"addr": "{btc}", "tx": TX}, "value required"),
        ({"addr": "{btc}", "value": "", "tx": TX}, "value required"),
        ({"addr": "{btc}", "value": "abc", "tx": TX}, "invalid value"),
        ({"addr": "{btc}", "value": "-1", "tx": TX}, "invalid value"),
        ({"addr": "{btc}", "value": "1.5", "tx": TX}, "invalid value"),
        ({"addr": "{btc}", "value": "1e8", "tx": TX}, "invalid value"),
        ({"addr": "{btc}", "value": "²", "tx": TX}, "invalid value"),
        ({"addr": "{btc}", "value": "١٢", "tx": TX}, "invalid value"),
        ({"addr": "{btc}", "value": "9" * 5000, "tx": TX}, "value too large"),
        ({"addr": "{btc}", "value": "0", "tx": TX}, "invalid value: must be greater than 0"),
        ({"addr": "{btc}", "value": "000", "tx": TX}, "invalid value: must be greater than 0"),
        ({"addr": "{btc}", "value": "1"}, "tx required"),
        ({"addr": "{btc}", "value": "1", "tx": " "}, "tx required"),
        ({"addr": "{btc}", "value": "1", "tx": "a:b"}, BAD_BTC_TX),
        ({"addr": "{btc}", "value": "1", "tx": "a" * 129}, BAD_BTC_TX),
        ({"addr": "{btc}", "value": "1", "tx": "a" * 63}, BAD_BTC_TX),
        ({"addr": "{btc}", "value": "1", "tx": "0x" + TX}, BAD_BTC_TX),
        # Log forging (issue 14): a newline, a NUL, a terminal escape.
        ({"addr": "{btc}", "value": "1", "tx": "ab\nFORGED ERROR notice=WATCH"}, BAD_BTC_TX),
        ({"addr": "{btc}", "value": "1", "tx": TX[:-1] + "\x00"}, BAD_BTC_TX),
        ({"addr": "{btc}", "value": "1", "tx": "\x1b[2J" + TX[4:]}, BAD_BTC_TX),
        ({"addr": "{btc}", "value": "1", "tx": TX[:-1] + "\u2028"}, BAD_BTC_TX),
        ({"addr": "{btc}", "value": "1", "tx": TX, "n": "x"}, "invalid n"),
        ({"addr": "{btc}", "value": "1", "tx": TX, "n": "-1"}, "invalid n"),
        ({"addr": "{btc}", "value": "1", "tx": TX, "n": "4294967296"}, "n too large"),
        ({"addr": "{btc}", "value": "1", "tx": TX, "n": "9" * 5000}, "n too large"),
        ({"addr": "{btc}", "value": "1", "tx": TX, "height": "h"}, "invalid height"),
        ({"addr": "{btc}", "value": "1", "tx": TX, "height": "9" * 20}, "height too large"),
        (
            {"addr": UNBOUND_BTC, "value": "1", "tx": TX},
            f"BTC address {UNBOUND_BTC} is not bound to a SKY address",
        ),
    ],
)
def test_bad_deposits_are_400_and_record_nothing(
    tel: RunningTeller, params: dict[str, str], message: str
) -> None:
    btc = tel.bind_ok(SKY_A, "BTC")
    params = {k: v.replace("{btc}", btc) for k, v in params.items()}

    response = tel.deposit(**params)

    assert response.status_code == 400, response.text
    assert response.text == message + "\n"
    nothing_recorded(tel)


def test_largest_n_is_accepted(tel: RunningTeller) -> None:
    address = tel.bind_ok(SKY_A, "BTC")
    tel.deposit_ok(addr=address, value=1_000, tx=TX, n=2**32 - 1)
    [deposit] = tel.admin_get("/api/deposits")["deposits"]
    assert deposit["deposit_id"] == f"{TX}:{2**32 - 1}"


def test_a_deposit_to_an_address_of_another_coin_is_refused(tel: RunningTeller) -> None:
    tel.bind_ok(SKY_A, "BTC")
    eth = example_addresses("ETH")[0]  # in the pool, but never bound

    response = tel.deposit(coin="ETH", addr=eth, value=1, tx=TX)

    assert response.status_code == 400
    assert response.text == f"ETH address {eth} is not bound to a SKY address\n"
    nothing_recorded(tel)


def test_a_json_body_is_not_a_form(tel: RunningTeller) -> None:
    address = tel.bind_ok(SKY_A, "BTC")
    response = tel.http.post(
        tel.dummy + "/dummy/scanner/deposit", json={"addr": address, "value": 1, "tx": TX}
    )
    assert response.status_code == 415
    assert response.text.startswith("Invalid content type")
    nothing_recorded(tel)


def test_deposit_refuses_other_methods(tel: RunningTeller) -> None:
    response = tel.http.put(tel.dummy + "/dummy/scanner/deposit")
    assert response.status_code == 405
    assert response.text == "Invalid request method\n"


def test_broadcasts_lists_payouts_in_order(start_teller: StartTeller) -> None:
    tel = start_teller(max_bound_addrs=0)
    assert tel.broadcasts() == []
    first = tel.bind_ok(SKY_A, "BTC")
    second = tel.bind_ok(SKY_B, "ETH")

    tel.deposit_ok(addr=first, value=12_345_678, tx=TX)
    tel.wait_for(lambda: len(tel.broadcasts()) == 1, what="first payout")
    tel.deposit_ok(coin="ETH", addr=second, value=5 * 10**17, tx=TX2)
    tel.wait_for(lambda: len(tel.broadcasts()) == 2, what="second payout")

    response = tel.http.get(tel.dummy + "/dummy/sender/broadcasts")
    assert response.headers["content-type"] == "application/json"
    listing = response.json()
    assert [b["outputs"] for b in listing] == [
        [{"address": SKY_A, "coins": "61.728000"}],
        [{"address": SKY_B, "coins": "50.000000"}],
    ]
    assert all(set(b) == {"txid", "outputs", "confirmed"} for b in listing)
    assert all(len(b["txid"]) == 64 and not b["confirmed"] for b in listing)
    assert tel.http.post(tel.dummy + "/dummy/sender/broadcasts").status_code == 405


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({}, 400, "txid or seq required"),
        ({"txid": "", "seq": ""}, 400, "txid or seq required"),
        ({"seq": "x"}, 400, "invalid seq"),
        ({"seq": "-1"}, 400, "invalid seq"),
        ({"seq": "²"}, 400, "invalid seq"),
        ({"seq": "9" * 5000}, 400, "invalid seq"),
        ({"seq": "0"}, 404, "txn not found"),
        ({"seq": "1"}, 404, "txn not found"),
        ({"txid": "00" * 32}, 404, "txn not found"),
    ],
)
def test_confirm_errors(
    start_teller: StartTeller, params: dict[str, str], status: int, message: str
) -> None:
    tel = start_teller()
    address = tel.bind_ok(SKY_A, "BTC")
    if params.get("seq") == "1" or params.get("txid"):
        # One broadcast exists (seq 0): other numbers and txids are still unknown.
        tel.deposit_ok(addr=address, value=1_000_000, tx=TX)
        tel.wait_for(tel.broadcasts, what="a payout")

    response = confirm(tel, **params)

    assert response.status_code == status
    assert response.text == message + "\n"
    assert not any(b["confirmed"] for b in tel.broadcasts())


def test_confirm_twice_is_harmless(tel: RunningTeller) -> None:
    address = tel.bind_ok(SKY_A, "BTC")
    tel.deposit_ok(addr=address, value=1_000_000, tx=TX)
    [broadcast] = tel.wait_for(tel.broadcasts, what="a payout")

    assert confirm(tel, txid=broadcast["txid"]).status_code == 200
    assert confirm(tel, seq="0").status_code == 200

    tel.wait_status(SKY_A, "done")
    assert tel.broadcasts()[0]["confirmed"] is True


def test_dummy_deposits_to_a_regtest_pool(start_teller: StartTeller, tmp_path: Path) -> None:
    """With btc_scanner.network = regtest the pool holds regtest addresses, and the dummy
    scanner accepts deposits to them (it checks addresses on the configured network)."""
    pool = tmp_path / "regtest_btc.txt"
    keys = sky.deterministic_keypairs(b"regtest dummy pool", 3)
    regtest = [btc.p2pkh_address_from_pubkey(k.pubkey, "regtest") for k in keys]
    pool.write_text("\n".join(regtest) + "\n", encoding="utf-8")
    tel = start_teller(
        auto_confirm=True,
        overrides={"btc_addresses": str(pool), "btc_scanner": {"network": "regtest"}},
    )
    address = tel.bind_ok(SKY_A, "BTC")
    assert address in regtest
    tel.deposit_ok(addr=address, value=100_000_000, tx=TX, n=0)
    tel.wait_status(SKY_A, "done")
    mainnet = example_addresses("BTC")[0]
    refused = tel.deposit(addr=mainnet, value=1, tx=TX2, n=0)
    assert refused.status_code == 400 and "invalid addr" in refused.text


# -- outside all-dummy mode: POST only, and no request from a web page --------------------------

GET_DEPOSIT_REFUSED = (
    "GET /dummy/scanner/deposit is refused: it changes state, so send it as POST (a web page"
    " can make a browser send a GET). GET is served only when dummy.scanner and dummy.sender"
    " are both true\n"
)
PAGE_REFUSED = (
    "dummy API: requests from a web page (with an Origin header) are refused unless"
    " dummy.scanner and dummy.sender are both true\n"
)


@pytest.fixture
def sky_node(tmp_path: Path) -> Iterator[SimNode]:
    sim = SimNode(tmp_path / "skynode").start()
    yield sim
    sim.stop()


def test_fake_deposits_paid_by_the_real_sender_come_by_post_only(
    start_teller: StartTeller, sky_node: SimNode, caplog: pytest.LogCaptureFixture
) -> None:
    """dummy.scanner with the real sender (allowed by dummy.fake_deposits_pay_real_sky): a GET
    (an <img> or a link in any page the operator opens) and a page's form POST add nothing."""
    caplog.set_level(logging.WARNING, logger="teller")
    tel = start_teller(
        overrides={
            "sky_rpc": {"address": sky_node.address},
            "sky_exchanger": {"wallet": str(sky_node.wallet_path)},
            "dummy": {"sender": False, "fake_deposits_pay_real_sky": True},
        }
    )
    [notice] = [r for r in caplog.records if getattr(r, "notice", None) == "WATCH"]
    assert "dummy scanner feeds the real SKY sender" in notice.getMessage()
    address = tel.bind_ok(SKY_A, "BTC")
    deposit_url = tel.dummy + "/dummy/scanner/deposit"
    query = {"addr": address, "value": "1000000", "tx": TX, "n": "0"}

    got = tel.http.get(deposit_url, params=query)
    assert (got.status_code, got.text, got.headers["allow"]) == (405, GET_DEPOSIT_REFUSED, "POST")
    from_page = tel.http.post(deposit_url, data=query, headers={"Origin": "http://evil.example"})
    assert (from_page.status_code, from_page.text) == (403, PAGE_REFUSED)
    assert tel.admin_get("/api/deposits")["deposits"] == []

    assert tel.http.post(deposit_url, data=query).status_code == 200  # curl, a script, a test
    [waiting] = tel.wait_status(SKY_A, "waiting_confirm")
    assert waiting["sky_sent"] == "5.000000"  # 0.01 BTC at 500, from the node's hot wallet
    assert sky_node.pending() == [waiting["txid"]]


def test_the_dummy_sender_beside_a_real_scanner_confirms_by_post_only(
    start_teller: StartTeller,
) -> None:
    with closed_port() as port:  # the ETH node is down: only the dummy API matters here
        tel = start_teller(
            overrides={
                "dummy": {"scanner": False},
                "btc_scanner": {"enabled": False},
                "eth_rpc": {"server": "127.0.0.1", "port": str(port)},
                "eth_scanner": {"enabled": True, "chain_id": 0},
            }
        )
        confirm_url = tel.dummy + "/dummy/sender/confirm"
        got = tel.http.get(confirm_url, params={"seq": "0"})
        assert got.status_code == 405 and got.headers["allow"] == "POST"
        assert got.text.startswith("GET /dummy/sender/confirm is refused: it changes state")
        other = tel.http.request("OPTIONS", confirm_url)  # as the OpenAPI document says
        assert other.status_code == 405 and other.headers["allow"] == "POST"
        from_page = tel.http.post(confirm_url, data={"seq": "0"}, headers={"Origin": "null"})
        assert (from_page.status_code, from_page.text) == (403, PAGE_REFUSED)
        posted = tel.http.post(confirm_url, data={"seq": "0"})  # reaches the dummy sender
        assert (posted.status_code, posted.text) == (404, "txn not found\n")
        # No dummy scanner: no deposit route at all.
        assert tel.http.post(tel.dummy + "/dummy/scanner/deposit").status_code == 404
        assert tel.broadcasts() == []
