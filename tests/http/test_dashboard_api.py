"""The admin API behind the dashboard's pictures (issue 16, item 6), on a real teller.

- GET /api/stats/daily: deposits (count, exact sum per coin) and SKY sent per UTC day of the
  last 30 days, days without activity as zeros, on SQLite and PostgreSQL;
- GET /api/deposits/page: keyset pages, newest first, nothing repeated or missed while
  deposits are recorded between pages; a bad cursor is a 400 naming it;
- GET /api/deposits.csv: CSV parsed back with the csv module, exact decimals, quoting;
- GET /api/history: what the worker's sampler wrote (tests/audit/test_history.py tests the
  sampler itself).
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from .running_teller import (
    SKY_A,
    SKY_B,
    RunningTeller,
    StartTeller,
    TellerLauncher,
    reap_stopping,
)

DAY = 86_400


def tx(i: int, prefix: str = "a") -> str:
    return f"{prefix}{i:063x}"


def set_created(tel: RunningTeller, db_url: str, deposit_id: str, at: int) -> None:
    """Move a deposit (and its payout) to `at`, as if recorded and paid then."""
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE deposits SET created_at = :at WHERE deposit_id = :id"),
                {"at": at, "id": deposit_id},
            )
            conn.execute(
                text(
                    "UPDATE payouts SET created_at = :at WHERE txid ="
                    " (SELECT payout_txid FROM deposits WHERE deposit_id = :id)"
                ),
                {"at": at, "id": deposit_id},
            )
    finally:
        engine.dispose()


def day_of(stats: dict[str, Any], day: int) -> dict[str, Any]:
    wanted = time.strftime("%Y-%m-%d", time.gmtime(day * DAY))
    [found] = [d for d in stats["days"] if d["day"] == wanted]
    return found


@pytest.fixture
def teller_on_db(db_url: str, tmp_path: Path) -> Iterator[tuple[RunningTeller, str]]:
    """A teller on the `db_url` database (SQLite or PostgreSQL), stopped before the database
    is dropped; with the URL its store can be reached at."""
    launcher = TellerLauncher(tmp_path)
    url = db_url if db_url.startswith("postgresql") else ""
    try:
        tel = launcher.start(auto_confirm=True, overrides={"database_url": url} if url else None)
        yield tel, url or f"sqlite:///{tel.dir / 'data' / 'teller.db'}"
    finally:
        launcher.stop_all()
        problems = reap_stopping(wait=True)
        assert not problems, "\n".join(problems)


def test_per_day_figures_are_exact_by_utc_day_with_empty_days(
    teller_on_db: tuple[RunningTeller, str],
) -> None:
    tel, url = teller_on_db
    # The payouts are made "today": a run that would cross UTC midnight starts after it.
    to_midnight = DAY - time.time() % DAY
    if to_midnight < 120:
        time.sleep(to_midnight + 1)
    btc = tel.bind_ok(SKY_A, "BTC")
    eth = tel.bind_ok(SKY_B, "ETH")
    big_wei = 2**70 + 1  # more than 64 bits: exact only if summed exactly
    recorded = 0

    def pay(**deposit: Any) -> None:  # one at a time: each paid deposit has its own payout
        nonlocal recorded
        tel.deposit_ok(**deposit)
        recorded += 1
        tel.wait_for(
            lambda: len(tel.admin_get("/api/deposits", status="done")["deposits"]) == recorded,
            what=f"{recorded} deposits done",
        )

    pay(addr=btc, value=12_345_678, tx=tx(1))  # 61.728 SKY at 500 SKY/BTC
    pay(addr=btc, value=1, tx=tx(2))  # too small: errored, nothing sent
    pay(addr=btc, value=100_000_000, tx=tx(3))  # 500 SKY
    pay(coin="ETH", addr=eth, value=big_wei, tx=tx(4), n=1)
    pay(coin="ETH", addr=eth, value=10**18 + 1, tx=tx(5), n=2)  # 100 SKY
    pay(coin="ETH", addr=eth, value=10**18, tx=tx(6), n=0)  # 100 SKY, too old to be shown
    today = int(time.time()) // DAY
    midnight = today * DAY
    set_created(tel, url, f"{tx(1)}:0", midnight)  # the first second of today (UTC)
    set_created(tel, url, f"{tx(2)}:0", midnight - 1)  # the last second of yesterday
    set_created(tel, url, f"{tx(3)}:0", midnight - 29 * DAY)  # the first day shown
    set_created(tel, url, f"{tx(4)}:1", midnight + DAY - 1)  # the last second of today
    set_created(tel, url, f"{tx(5)}:2", midnight + 1)
    set_created(tel, url, f"{tx(6)}:0", midnight - 29 * DAY - 1)  # a day too old: left out

    stats = tel.admin_get("/api/stats/daily")
    assert stats["coins"] == ["BTC", "ETH"]
    assert len(stats["days"]) == 30
    assert [d["start"] for d in stats["days"]] == [midnight - k * DAY for k in range(29, -1, -1)]

    now = day_of(stats, today)
    assert now["deposits"]["BTC"] == {"count": 1, "value": "0.12345678"}
    assert now["deposits"]["ETH"] == {
        "count": 2,
        "value": f"{(big_wei + 10**18 + 1) // 10**18}.{(big_wei + 10**18 + 1) % 10**18:018d}",
    }
    yesterday = day_of(stats, today - 1)
    assert yesterday["deposits"]["BTC"] == {"count": 1, "value": "0.00000001"}
    assert yesterday["sky_sent"] == "0.000000"  # too small: nothing sent
    assert yesterday["deposits_paid"] == 0
    first = day_of(stats, today - 29)
    assert first["deposits"]["BTC"] == {"count": 1, "value": "1.00000000"}
    assert first["sky_sent"] == "500.000000"
    empty = [
        d for d in stats["days"] if d["start"] not in (midnight, midnight - DAY, first["start"])
    ]
    assert len(empty) == 27
    for day in empty:
        assert day["deposits"] == {
            "BTC": {"count": 0, "value": "0.00000000"},
            "ETH": {"count": 0, "value": "0.000000000000000000"},
        }
        assert (day["sky_sent"], day["deposits_paid"]) == ("0.000000", 0)

    # SKY sent: each paid deposit's sky_sent on its payout's day, as the accounting counts it.
    sent = tel.admin_get("/api/accounting")["sent"]
    in_window = sum(int(d["sky_sent"].replace(".", "")) for d in stats["days"])
    assert in_window + 100_000_000 == int(sent.replace(".", ""))  # all but the too old one
    assert now["deposits_paid"] == 3
    today_droplets = int(sent.replace(".", "")) - 500_000_000 - 100_000_000
    assert now["sky_sent"] == f"{today_droplets // 10**6}.{today_droplets % 10**6:06d}"


def test_days_parameter_and_its_errors(tel: RunningTeller) -> None:
    assert len(tel.admin_get("/api/stats/daily", days="1")["days"]) == 1
    for bad in ("0", "91", "x"):
        answer = tel.http.get(f"{tel.admin}/api/stats/daily", params={"days": bad})
        assert answer.status_code == 400, answer.text
        assert "days" in answer.text
    anonymous = httpx.get(f"{tel.admin}/api/stats/daily")
    assert anonymous.status_code == 401


def record_many(tel: RunningTeller, address: str, start: int, count: int) -> list[str]:
    ids = []
    for i in range(start, start + count):
        tel.deposit_ok(addr=address, value=1000 + i, tx=tx(i, "c"))
        ids.append(f"{tx(i, 'c')}:0")
    return ids


def pages(tel: RunningTeller, during: Any = None, **params: str) -> list[dict[str, Any]]:
    """Every page from the newest on; `during()` runs between pages."""
    found: list[dict[str, Any]] = []
    after = ""
    while True:
        answer = tel.admin_get("/api/deposits/page", after=after, **params)
        found += answer["deposits"]
        if answer["next"] is None:
            return found
        assert answer["deposits"], "a page with a next is never empty"
        after = answer["next"]
        if during is not None:
            during()


def test_pages_go_past_100_without_repeats_or_gaps_while_deposits_arrive(
    start_teller: StartTeller,
) -> None:
    tel = start_teller(send_enabled=False)
    address = tel.bind_ok(SKY_A, "BTC")
    eth = tel.bind_ok(SKY_B, "ETH")
    before = record_many(tel, address, 0, 230)
    tel.deposit_ok(coin="ETH", addr=eth, value=10**18 + 1, tx=tx(999, "e"))
    eth_id = f"{tx(999, 'e')}:0"
    counter = iter(range(1000, 2000))

    def arrive() -> None:
        record_many(tel, address, next(counter), 3)

    first = tel.admin_get("/api/deposits/page", limit="100")
    assert len(first["deposits"]) == 100
    seen = pages(tel, during=arrive, limit="100", coin="BTC")
    ids = [d["deposit_id"] for d in seen]
    assert len(ids) == len(set(ids)), "no deposit twice"
    assert set(before) <= set(ids), "none of the deposits there at the start missing"
    seqs = [d["seq"] for d in seen]
    assert seqs == sorted(seqs, reverse=True), "newest first"
    assert eth_id not in ids

    only_eth = pages(tel, coin="ETH")
    assert [d["deposit_id"] for d in only_eth] == [eth_id]
    assert only_eth[0]["deposit_value"] == 10**18 + 1
    waiting = tel.admin_get("/api/deposits/page", status="waiting_send", limit="5")
    assert len(waiting["deposits"]) == 5
    assert {d["status"] for d in waiting["deposits"]} == {"waiting_send"}
    assert tel.admin_get("/api/deposits/page", status="done")["deposits"] == []

    for params, word in (
        ({"after": "abc"}, "after"),
        ({"after": "-1"}, "after"),
        ({"after": "1" * 20}, "after"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"coin": "DOGE"}, "coin"),
        ({"status": "paid"}, "status"),
    ):
        answer = tel.http.get(f"{tel.admin}/api/deposits/page", params=params)
        assert answer.status_code == 400, (params, answer.text)
        assert word in answer.text.lower(), answer.text
        csv_answer = tel.http.get(f"{tel.admin}/api/deposits.csv", params=params)
        if word != "limit":  # the CSV has no limit: it streams them all
            assert csv_answer.status_code == 400, (params, csv_answer.text)


def test_csv_export_is_exact_quoted_and_needs_the_token(start_teller: StartTeller) -> None:
    tel = start_teller(auto_confirm=True)
    btc = tel.bind_ok(SKY_A, "BTC")
    eth = tel.bind_ok(SKY_B, "ETH")
    tel.deposit_ok(addr=btc, value=12_345_678, tx=tx(1))
    tel.deposit_ok(coin="ETH", addr=eth, value=2**70 + 1, tx=tx(2), n=7)
    tel.wait_for(
        lambda: len(tel.admin_get("/api/deposits", status="done")["deposits"]) == 2,
        what="two deposits done",
    )
    answer = tel.http.get(f"{tel.admin}/api/deposits.csv")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [r["deposit_id"] for r in rows] == [f"{tx(2)}:7", f"{tx(1)}:0"]
    eth_row, btc_row = rows
    assert eth_row["value"] == f"{(2**70 + 1) // 10**18}.{(2**70 + 1) % 10**18:018d}"
    assert eth_row["coin_type"] == "ETH"
    assert btc_row["value"] == "0.12345678"
    assert btc_row["sky_sent"] == "61.728000"
    assert btc_row["status"] == "done"
    assert btc_row["created_at"].endswith("Z")
    only_btc = list(
        csv.DictReader(
            io.StringIO(tel.http.get(f"{tel.admin}/api/deposits.csv", params={"coin": "BTC"}).text)
        )
    )
    assert [r["deposit_id"] for r in only_btc] == [f"{tx(1)}:0"]
    assert httpx.get(f"{tel.admin}/api/deposits.csv").status_code == 401


def stopped_with(tel: RunningTeller, reason: str) -> tuple[str, list[list[str]]]:
    """A deposit stopped by the operator with `reason`: its id, and the CSV export's rows."""
    btc = tel.bind_ok(SKY_A, "BTC")
    tel.deposit_ok(addr=btc, value=5_000_000, tx=tx(1))
    deposit_id = f"{tx(1)}:0"
    tel.wait_for(
        lambda: tel.admin_get("/api/deposits", status="waiting_send")["deposits"],
        what="the deposit decided",
    )
    stop = tel.http.post(f"{tel.admin}/api/deposits/{deposit_id}/stop", json={"reason": reason})
    assert stop.status_code == 200, stop.text
    rows = list(csv.reader(io.StringIO(tel.http.get(f"{tel.admin}/api/deposits.csv").text)))
    return deposit_id, rows


def test_csv_quotes_commas_quotes_and_new_lines(start_teller: StartTeller) -> None:
    reason = 'refund, asked by "the buyer"'
    _, rows = stopped_with(start_teller(send_enabled=False), reason)
    assert rows[0][0] == "seq"
    assert len(rows) == 2
    assert rows[1][rows[0].index("error")] == reason


def test_csv_text_a_spreadsheet_would_run_as_a_formula_is_written_inert(
    start_teller: StartTeller,
) -> None:
    tel = start_teller(send_enabled=False)
    reason = '=HYPERLINK("http://evil.example","refund")'
    deposit_id, rows = stopped_with(tel, reason)
    assert rows[1][rows[0].index("error")] == "'" + reason  # shown as text, not run
    # The JSON answers keep the text as it is.
    (found,) = tel.admin_get("/api/deposits", deposit_id=deposit_id)["deposits"]
    assert found["error"] == reason


def test_history_has_the_samples_the_worker_wrote(tel: RunningTeller) -> None:
    def sampled() -> Any:
        found = tel.admin_get("/api/history")
        return found if found["hot_wallet"] else None

    history = tel.wait_for(sampled, what="the first sample")
    assert history["hot_wallet"][0]["sky"] == "1000000.000000"
    assert history["pools"]["BTC"][0]["free"] == 5
    assert history["pools"]["ETH"][0]["free"] == 5
    assert history["since"] <= history["hot_wallet"][0]["at"]
