"""The admin (monitoring) server: address pools, deposits by status, errored deposits,
accounting, backup, and /debug/stacks with `profile = true` (seed README "Monitoring API",
teller-go.md §8.3, §14.7 for the fixed accounting and scanning_addresses bugs).
"""

from __future__ import annotations

import re
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from .running_teller import SKY_A, SKY_B, SKY_C, RunningTeller, StartTeller, example_addresses

STATUSES = (
    "waiting_deposit",
    "waiting_send",
    "waiting_confirm",
    "done",
    "waiting_decide",
    "waiting_passthrough",
    "waiting_passthrough_order_complete",
)
DEPOSIT_INFO_KEYS = {
    "seq",
    "updated_at",
    "status",
    "coin_type",
    "sky_address",
    "buy_method",
    "deposit_address",
    "deposit_id",
    "txid",
    "conversion_rate",
    "deposit_value",
    "sky_sent",
    "passthrough",
    "error",
    "deposit",
}


def deposits(tel: RunningTeller, status: str | None = None) -> list[dict[str, Any]]:
    params = {} if status is None else {"status": status}
    found = tel.admin_get("/api/deposits", **params)["deposits"]
    assert isinstance(found, list)
    return found


def test_deposit_addresses_shows_pools_and_bound_addresses(tel: RunningTeller) -> None:
    empty = tel.admin_get("/api/deposit-addresses")
    # teller's own addition: each coin's chain scanner (dummy mode here; SKY off).
    scanners = {coin: empty[coin].pop("scanner") for coin in empty}
    assert {coin: s["source"] for coin, s in scanners.items()} == {
        "BTC": "dummy",
        "ETH": "dummy",
        "SKY": "off",
    }
    assert all(s["orphaned_deposits"] == 0 for s in scanners.values())
    assert empty == {
        "BTC": {
            "remaining_addresses": 5,
            "scanning_addresses": [],
            # As the Go teller: no chain is scanned with the dummy scanner.
            "scanning_enabled": False,
            "address_manager_enabled": True,
        },
        "ETH": {
            "remaining_addresses": 5,
            "scanning_addresses": [],
            # As the Go teller: no chain is scanned with the dummy scanner.
            "scanning_enabled": False,
            "address_manager_enabled": True,
        },
        "SKY": {
            "remaining_addresses": 0,
            "scanning_addresses": [],
            "scanning_enabled": False,
            "address_manager_enabled": False,
        },
    }
    btc1 = tel.bind_ok(SKY_A, "BTC")
    eth1 = tel.bind_ok(SKY_A, "ETH")
    btc2 = tel.bind_ok(SKY_B, "BTC")

    view = tel.admin_get("/api/deposit-addresses")

    assert view["BTC"]["remaining_addresses"] == 3
    # Each coin lists its own addresses (the original showed BTC's for every coin: §14.7).
    assert view["BTC"]["scanning_addresses"] == [btc1, btc2]
    assert view["ETH"]["remaining_addresses"] == 4
    # The admin lists the stored (lower-case) form; the buyer was given EIP-55 case.
    assert view["ETH"]["scanning_addresses"] == [eth1.lower()]
    assert view["SKY"]["scanning_addresses"] == []


def test_deposits_by_status(start_teller: StartTeller) -> None:
    tel = start_teller(balance="600", max_bound_addrs=0)
    confirming, done, unaffordable, too_small = (tel.bind_ok(SKY_A, "BTC") for _ in range(4))

    tel.deposit_ok(addr=confirming, value=10_000_000, tx="a1" * 32, height=7)
    tel.wait_for(lambda: len(tel.broadcasts()) == 1, what="first payout")
    tel.deposit_ok(addr=done, value=20_000_000, tx="a2" * 32, n=3)
    tel.wait_for(lambda: len(tel.broadcasts()) == 2, what="second payout")
    tel.http.get(tel.dummy + "/dummy/sender/confirm", params={"seq": "1"})
    tel.deposit_ok(addr=unaffordable, value=200_000_000, tx="a3" * 32)
    tel.deposit_ok(addr=too_small, value=1, tx="a4" * 32)
    tel.wait_for(lambda: len(deposits(tel, "done")) == 2, what="two deposits done")
    tel.wait_for(lambda: len(deposits(tel, "waiting_send")) == 1, what="one waiting_send")

    by_status = {status: deposits(tel, status) for status in STATUSES}

    assert [d["deposit_address"] for d in by_status["waiting_confirm"]] == [confirming]
    assert [d["deposit_address"] for d in by_status["done"]] == [done, too_small]
    assert [d["deposit_address"] for d in by_status["waiting_send"]] == [unaffordable]
    for status in (
        "waiting_deposit",
        "waiting_decide",
        "waiting_passthrough",
        "waiting_passthrough_order_complete",
    ):
        assert by_status[status] == [], status
    everything = deposits(tel)
    assert [d["seq"] for d in everything] == [1, 2, 3, 4]
    assert all(set(d) == DEPOSIT_INFO_KEYS for d in everything)
    assert deposits(tel, "") == everything

    [paid] = by_status["done"][:1]
    txid = tel.broadcasts()[1]["txid"]
    assert paid == {
        "seq": 2,
        "updated_at": paid["updated_at"],
        "status": "done",
        "coin_type": "BTC",
        "sky_address": SKY_A,
        "buy_method": "direct",
        "deposit_address": done,
        "deposit_id": f"{'a2' * 32}:3",
        "txid": txid,
        "conversion_rate": "500",
        "deposit_value": 20_000_000,
        "sky_sent": 100_000_000,
        "passthrough": {
            "exchange_name": "",
            "sky_bought": 0,
            "deposit_value_spent": 0,
            "requested_amount": "",
            "order": {
                "customer_id": "",
                "order_id": "",
                "completed_amount": "",
                "price": "",
                "status": "",
                "final": False,
                "original": "",
            },
        },
        "error": "",
        "deposit": {
            "coin_type": "BTC",
            "address": done,
            "value": 20_000_000,
            "height": 0,
            "tx": "a2" * 32,
            "n": 3,
            "processed": False,  # as the Go teller's records
        },
    }
    assert by_status["waiting_confirm"][0]["deposit"]["height"] == 7
    assert by_status["waiting_send"][0]["txid"] == ""
    assert by_status["waiting_send"][0]["sky_sent"] == 0


def test_passthrough_deposits_are_listed_with_their_fields(start_teller: StartTeller) -> None:
    tel = start_teller(
        eth_enabled=False,
        overrides={
            "sky_exchanger": {
                "buy_method": "passthrough",
                "exchange_client": {"key": "k", "secret": "s", "base_url": "http://127.0.0.1:1/"},
            }
        },
    )
    address = tel.bind_ok(SKY_A, "BTC")
    tel.deposit_ok(addr=address, value=1_234_567, tx="de" * 32)

    [waiting] = tel.wait_for(
        lambda: deposits(tel, "waiting_passthrough"), what="waiting_passthrough"
    )
    assert waiting["buy_method"] == "passthrough"
    assert waiting["passthrough"]["exchange_name"] == "c2cx"
    assert waiting["passthrough"]["requested_amount"] == "0.01234"
    assert deposits(tel, "waiting_send") == []


@pytest.mark.parametrize("status", ["nope", "DONE", "Done", "unknown", "waiting_deposit "])
def test_invalid_status_is_400(tel: RunningTeller, status: str) -> None:
    response = tel.http.get(tel.admin + "/api/deposits", params={"status": status})

    assert response.status_code == 400
    assert response.text == "Invalid status\n"


def test_errored_lists_deposits_too_small_to_pay(tel: RunningTeller) -> None:
    assert tel.admin_get("/api/deposits/errored") == {"deposits": []}
    small = tel.bind_ok(SKY_A, "BTC")
    fine = tel.bind_ok(SKY_B, "BTC")

    tel.deposit_ok(addr=small, value=1, tx="e1" * 32)
    tel.deposit_ok(addr=fine, value=100_000_000, tx="e2" * 32)
    tel.wait_for(lambda: deposits(tel, "waiting_confirm"), what="the payable deposit to be sent")
    tel.wait_status(SKY_A, "done")

    [errored] = tel.admin_get("/api/deposits/errored")["deposits"]
    assert set(errored) == DEPOSIT_INFO_KEYS
    assert errored["deposit_address"] == small
    assert errored["status"] == "done"
    assert errored["error"] == "Skycoin send amount is 0"
    assert errored["deposit_value"] == 1
    assert errored["sky_sent"] == 0
    assert errored["txid"] == ""
    assert [b["outputs"] for b in tel.broadcasts()] == [[{"address": SKY_B, "coins": "500.000000"}]]


def test_accounting_exact_decimals(start_teller: StartTeller) -> None:
    tel = start_teller(sky_enabled=True, auto_confirm=True)
    assert tel.admin_get("/api/accounting") == {
        "sent": "0.000000",
        "received": {"BTC": "0.00000000", "ETH": "0.000000000000000000", "SKY": "0.000000"},
    }
    btc = tel.bind_ok(SKY_A, "BTC")
    eth = tel.bind_ok(SKY_B, "ETH")
    sky = tel.bind_ok(SKY_C, "SKY")
    wei = 2**70 + 12_345  # beyond 64 bits: 1180.591620717411315769 ETH

    tel.deposit_ok(addr=btc, value=123_456_789, tx="f1" * 32)  # 617.283945 SKY -> 617.283
    tel.deposit_ok(coin="ETH", addr=eth, value=wei, tx="f2" * 32)  # 118059.162071... -> .162
    tel.deposit_ok(coin="SKY", addr=sky, value=1_234_567, tx="f3" * 32)  # 1.234567 -> 1.234
    for address in (SKY_A, SKY_B, SKY_C):
        tel.wait_status(address, "done")

    assert tel.admin_get("/api/accounting") == {
        "sent": "118677.679000",
        "received": {
            "BTC": "1.23456789",
            "ETH": "1180.591620717411315769",
            "SKY": "1.234567",
        },
    }
    [eth_deposit] = [d for d in deposits(tel) if d["coin_type"] == "ETH"]
    assert eth_deposit["deposit_value"] == wei
    assert eth_deposit["sky_sent"] == 118_059_162_000


def temp_copies() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("teller-backup-*"))


def test_backup_is_a_sqlite_snapshot_taken_while_running(
    tel: RunningTeller, tmp_path: Path
) -> None:
    first = tel.bind_ok(SKY_A, "BTC")
    second = tel.bind_ok(SKY_B, "ETH")
    before = int(time.time())
    earlier = temp_copies()

    response = tel.http.get(tel.admin + "/api/backup")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/octet-stream"
    match = re.fullmatch(
        r'attachment; filename="teller-(\d+)\.db"', response.headers["content-disposition"]
    )
    assert match is not None, response.headers["content-disposition"]
    assert before <= int(match.group(1)) <= time.time()
    assert int(response.headers["content-length"]) == len(response.content)
    # The server's temporary copy is gone once sent.
    tel.wait_for(lambda: not temp_copies() - earlier, what="the temporary copy to be removed")
    copy = tmp_path / f"teller-{match.group(1)}.db"
    copy.write_bytes(response.content)

    # Teller keeps working after the backup, and later changes are not in the copy.
    third = tel.bind_ok(SKY_C, "BTC")
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = conn.execute(
            "SELECT sky_address, coin_type, deposit_address FROM bindings ORDER BY id"
        ).fetchall()
        free = conn.execute(
            "SELECT count(*) FROM deposit_addresses WHERE coin_type = 'BTC' AND bound_at IS NULL"
        ).fetchone()
    conn.close()
    assert rows == [(SKY_A, "BTC", first), (SKY_B, "ETH", second.lower())]
    assert third not in {r[2] for r in rows}
    assert free == (4,)


def test_backup_by_post_too(tel: RunningTeller) -> None:
    response = tel.http.post(tel.admin + "/api/backup")
    assert response.status_code == 200
    assert response.content.startswith(b"SQLite format 3\x00")


@pytest.mark.parametrize(
    "path", ["/api/deposit-addresses", "/api/deposits", "/api/deposits/errored", "/api/accounting"]
)
def test_admin_routes_refuse_other_methods(tel: RunningTeller, path: str) -> None:
    response = tel.http.post(tel.admin + path)

    assert response.status_code == 405
    assert response.text == "Invalid request method\n"
    assert response.headers["allow"] == "GET"


def test_admin_unknown_path_is_404(tel: RunningTeller) -> None:
    response = tel.http.get(tel.admin + "/api/nope")
    assert response.status_code == 404
    assert response.text == "404 page not found\n"


def test_debug_stacks_with_profile(start_teller: StartTeller) -> None:
    tel = start_teller(profile=True)

    response = tel.http.get(tel.admin + "/debug/stacks")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "task processor:" in text
    assert "task sender:" in text
    assert "task serve admin_panel.host:" in text
    assert re.search(r"^thread MainThread \(ident \d+\):", text, re.MULTILINE)
    assert "thread teller-under-test" in text
    assert 'File "' in text  # frames, not only names


def test_no_debug_stacks_without_profile(tel: RunningTeller) -> None:
    response = tel.http.get(tel.admin + "/debug/stacks")

    assert response.status_code == 404
    assert response.text == "404 page not found\n"
    # Never on the public server either.
    assert tel.http.get(tel.public + "/debug/stacks").status_code == 404


def test_admin_pool_counts_follow_the_address_file(start_teller: StartTeller) -> None:
    tel = start_teller(pool_size=None)
    view = tel.admin_get("/api/deposit-addresses")
    assert view["BTC"]["remaining_addresses"] == len(example_addresses("BTC"))
    assert view["ETH"]["remaining_addresses"] == len(example_addresses("ETH"))


def test_metrics_agree_with_the_admin_api(start_teller: StartTeller) -> None:
    tel = start_teller(balance="100")
    paid = tel.bind_ok(SKY_A, "BTC")
    unaffordable = tel.bind_ok(SKY_B, "BTC")
    tel.deposit_ok(addr=paid, value=1_000_000, tx="9a" * 32)
    tel.wait_for(lambda: deposits(tel, "waiting_confirm"), what="a payout")
    tel.deposit_ok(addr=unaffordable, value=100_000_000, tx="9b" * 32)  # 500 SKY > 95 left
    tel.wait_for(
        lambda: tel.http.get(tel.public + "/api/health").json()["exchange"]["sender_error"],
        what="sold out",
    )

    response = tel.http.get(tel.admin + "/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = dict(
        line.rsplit(" ", 1) for line in response.text.splitlines() if not line.startswith("#")
    )
    assert float(samples['teller_deposit_addresses_remaining{coin_type="BTC"}']) == 3
    assert float(samples['teller_deposit_addresses_remaining{coin_type="ETH"}']) == 5
    assert float(samples['teller_deposits{status="waiting_confirm"}']) == 1
    assert float(samples['teller_deposits{status="waiting_send"}']) == 1
    assert float(samples['teller_deposits{status="done"}']) == 0
    assert float(samples["teller_deposits_errored"]) == 0
    assert float(samples["teller_sender_error"]) == 1


def test_operator_actions_on_the_admin_api_are_audited_as_admin_api(
    start_teller: StartTeller,
) -> None:
    tel = start_teller(balance="1")  # too little to pay: the deposit waits in waiting_send
    address = tel.bind_ok(SKY_A, "BTC")
    tel.deposit_ok(addr=address, value=10_000_000, tx="c1" * 32)
    tel.wait_for(lambda: len(deposits(tel, "waiting_send")) == 1, what="waiting_send")
    deposit_id = f"{'c1' * 32}:0"
    url = f"{tel.admin}/api/deposits/{deposit_id}"
    stopped = tel.http.post(url + "/stop", json={"reason": "refund asked"})
    assert stopped.status_code == 200, stopped.text
    assert stopped.json() == {"deposit_id": deposit_id, "status": "done", "error": "refund asked"}
    again = tel.http.post(url + "/stop", json={"reason": "refund asked"})
    assert (again.status_code, again.text.strip()) == (409, f"deposit {deposit_id} is done already")
    assert tel.http.post(url + "/release").status_code == 409
    assert tel.http.post(url + "/stop", json={}).status_code == 400  # no reason
    bad = tel.http.post(url + "/record-payment", json={"txid": "zz"})
    assert bad.status_code == 400 and "64 hex digits" in bad.text
    void = tel.http.post(f"{tel.admin}/api/payouts/{'ab' * 32}/void")
    assert void.status_code == 409 and "Skycoin node payer" in void.text
    missing = tel.http.post(f"{tel.admin}/api/deposits/{'c9' * 32}:0/release")
    assert missing.status_code == 404
    trail = tel.admin_get("/api/actions")["actions"]
    assert [(a["action"], a["outcome"].split(":")[0]) for a in trail] == [
        ("deposit.release", "refused"),  # no such deposit
        ("payout.void", "refused"),
        ("deposit.record_payment", "refused"),
        ("deposit.release", "refused"),
        ("deposit.stop", "refused"),
        ("deposit.stop", "done"),
    ]
    assert {a["actor"] for a in trail} == {"admin-api"}
    assert tel.admin_get("/api/actions", target=deposit_id)["actions"][-1]["detail"] == (
        "refund asked"
    )


@pytest.mark.parametrize(
    ("method", "path", "params", "body", "message"),
    [
        ("GET", "/api/deposits", {"deposit_id": "ab\nFORGED"}, None, "invalid deposit_id: "),
        ("GET", "/api/deposits", {"deposit_id": f"{'ab' * 32}:x"}, None, "invalid deposit_id: "),
        ("GET", "/api/deposits", {"sky_address": "2Wbi\x00"}, None, "invalid sky_address: "),
        ("GET", "/api/deposits", {"sky_address": "2" * 36}, None, "invalid sky_address: "),
        (  # waiting_deposit answers no deposits, but its parameters are still checked
            "GET",
            "/api/deposits",
            {"sky_address": "\t\u00c1\u00c0w", "status": "waiting_deposit", "limit": "35"},
            None,
            "invalid sky_address: ",
        ),
        ("GET", "/api/orders", {"deposit_id": "\x1b[2J"}, None, "invalid deposit_id: "),
        ("GET", "/api/actions", {"target": "x\r\ny"}, None, "invalid target: "),
        ("POST", "/api/deposits/ab%0Acd:0/release", {}, None, "invalid deposit_id: "),
        ("POST", f"/api/deposits/{'ab' * 32}:0/stop", {}, {"reason": "a\nb"}, "invalid reason: "),
        ("POST", f"/api/deposits/{'ab' * 32}:0/stop", {}, {"reason": "r" * 501}, "reason is long"),
    ],
)
def test_text_parameters_are_limited_to_their_alphabet_and_length(
    tel: RunningTeller,
    method: str,
    path: str,
    params: dict[str, str],
    body: dict[str, str] | None,
    message: str,
) -> None:
    response = tel.http.request(method, tel.admin + path, params=params, json=body)
    assert response.status_code == 400, response.text
    assert response.text.startswith(message), response.text


def test_deposits_in_keyset_pages(start_teller: StartTeller) -> None:
    """/api/deposits?after=SEQ&limit=N: the next N deposits after seq SEQ and the cursor of the
    page after them; without after, the whole list as before."""
    tel = start_teller(max_bound_addrs=0)
    for i in range(5):
        tel.deposit_ok(addr=tel.bind_ok(SKY_A, "BTC"), value=10_000 + i, tx=f"{i:064x}")
    tel.wait_for(lambda: len(deposits(tel)) == 5, what="five deposits")
    everything = [d["seq"] for d in deposits(tel)]
    pages, after = [], 0
    while after is not None:
        page = tel.admin_get("/api/deposits", after=str(after), limit="2")
        pages.append([d["seq"] for d in page["deposits"]])
        after = page["next_after"]
    assert pages == [everything[0:2], everything[2:4], everything[4:5]]
    first = tel.admin_get("/api/deposits", after="0")  # 100 a page by default
    assert [d["seq"] for d in first["deposits"]] == everything and first["next_after"] is None
    refused = tel.http.get(
        tel.admin + "/api/deposits", params={"after": "0", "limit": "0"}, headers=tel.admin_headers
    )
    assert refused.status_code == 400 and "limit" in refused.text
    # A cursor past any seq a deposit can have (a 64-bit column) is refused, not a 500.
    huge = tel.http.get(
        tel.admin + "/api/deposits", params={"after": str(2**63)}, headers=tel.admin_headers
    )
    assert huge.status_code == 400 and "after" in huge.text
