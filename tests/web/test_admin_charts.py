"""The dashboard's pictures and long lists (issue 16, item 6) in chromium against a real teller.

Charts drawn by the page itself (inline SVG: a bar a day for the last 30 days, a point per
history sample), deposits paged past 100 with "Show more", filtered by coin, downloaded as CSV
with the token (fetch + Blob); desktop and a 390 px phone without horizontal overflow.
"""

from __future__ import annotations

import csv
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from teller.audit import history as history_sampler
from tests.http.running_teller import SKY_A, SKY_B, RunningTeller

from .conftest import EXPECT_TIMEOUT_MS, SCREENSHOTS, OpenPage, TellerLauncher, screenshot

expect.set_options(timeout=EXPECT_TIMEOUT_MS)

DAY = 86_400


def tx(i: int, prefix: str = "a") -> str:
    return f"{prefix}{i:063x}"


@pytest.fixture(scope="module")
def quiet_sampler() -> Iterator[None]:
    """The sampler writes its first sample at start and then not for an hour: the points
    drawn are the ones this module seeds and that first one."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(history_sampler, "CHECK_SECONDS", 3600.0)
        yield


def db_path(tel: RunningTeller) -> Path:
    return tel.dir / "data" / "teller.db"


@pytest.fixture(scope="module")
def charted(launcher: TellerLauncher, quiet_sampler: None) -> RunningTeller:
    """Three paid deposits on three days (today, 2 and 10 days ago) and a few hours of
    history samples."""
    tel = launcher.start(auto_confirm=True)
    btc = tel.bind_ok(SKY_A, "BTC")
    eth = tel.bind_ok(SKY_B, "ETH")
    paid = [
        ({"addr": btc, "value": 12_345_678, "tx": tx(1)}, f"{tx(1)}:0", 0),
        ({"addr": btc, "value": 100_000_000, "tx": tx(2)}, f"{tx(2)}:0", 2),
        ({"coin": "ETH", "addr": eth, "value": 10**18 + 1, "tx": tx(3)}, f"{tx(3)}:0", 10),
    ]
    for count, (deposit, _, _) in enumerate(paid, start=1):
        tel.deposit_ok(**deposit)
        tel.wait_for(
            lambda n=count: len(tel.admin_get("/api/deposits", status="done")["deposits"]) == n,
            what=f"{count} deposits done",
        )
    tel.wait_for(lambda: tel.admin_get("/api/history")["hot_wallet"], what="the first sample")
    now = int(time.time())
    midnight = now // DAY * DAY
    with sqlite3.connect(db_path(tel)) as conn:
        for _, deposit_id, days_ago in paid:
            at = midnight - days_ago * DAY + 3600
            conn.execute(
                "UPDATE deposits SET created_at = ? WHERE deposit_id = ?", (at, deposit_id)
            )
            conn.execute(
                "UPDATE payouts SET created_at = ? WHERE txid ="
                " (SELECT payout_txid FROM deposits WHERE deposit_id = ?)",
                (at, deposit_id),
            )
        for hours in range(1, 6):
            at = now - hours * 3600
            conn.execute(
                "INSERT INTO history_samples (series, at, value) VALUES ('hot_wallet', ?, ?)",
                (at, (1_000_000 + hours * 150) * 10**6),  # paying out as time goes
            )
            conn.execute(
                "INSERT INTO history_samples (series, at, value) VALUES ('pool:BTC', ?, ?)",
                (at, 4 + hours),  # addresses handed out as time goes
            )
    return tel


def no_horizontal_overflow(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], width  # type: ignore[index]


def test_the_charts_are_drawn_from_the_admin_api(
    charted: RunningTeller, open_page: OpenPage
) -> None:
    history: dict[str, Any] = charted.admin_get("/api/history")
    wallet_points = len(history["hot_wallet"])
    pool_points = sum(len(points) for points in history["pools"].values())
    assert wallet_points == 6  # five seeded and the sampler's first
    page = open_page(charted.admin + "/", admin_token=charted.admin_token)

    deposits = page.locator("#chart-deposits svg[role=img]")
    expect(deposits.locator("rect.bar")).to_have_count(30)
    expect(deposits.locator("rect.bar:not(.bar-zero)")).to_have_count(3)
    expect(deposits.locator("title").first).to_have_text("Deposits per day (last 30 days, UTC)")
    expect(deposits.locator("desc")).to_have_text("3 deposits in 30 days; the most in a day: 1.")
    today = time.strftime("%Y-%m-%d", time.gmtime())
    today_bar = deposits.locator(f"rect.bar[data-label='{today}']")
    expect(today_bar.locator("title")).to_have_text(
        f"{today}: 1 deposits (BTC: 1 (0.12345678 BTC))"
    )
    expect(deposits.locator("text.axis-label")).to_have_text(["Deposits", "Day (UTC)"])

    sent = page.locator("#chart-sent svg[role=img]")
    expect(sent.locator("rect.bar")).to_have_count(30)
    expect(sent.locator("rect.bar:not(.bar-zero)")).to_have_count(3)
    expect(sent.locator(f"rect.bar[data-label='{today}']")).to_have_attribute(
        "data-value", "61.728"
    )
    expect(sent.locator("desc")).to_have_text("661.728 SKY sent in 30 days.")

    wallet = page.locator("#chart-wallet svg[role=img]")
    expect(wallet.locator("circle.point")).to_have_count(wallet_points)
    expect(wallet.locator("polyline.line")).to_have_count(1)
    expect(wallet.locator("circle.point").first.locator("title")).to_contain_text(
        "1000750.000000 SKY"
    )
    pools = page.locator("#chart-pools svg[role=img]")
    expect(pools.locator("circle.point")).to_have_count(pool_points)
    expect(pools.locator("g.series")).to_have_count(2)  # BTC and ETH
    expect(page.locator("#chart-pools .legend li")).to_have_text(["BTC", "ETH"])
    no_horizontal_overflow(page)
    screenshot(page, "admin-charts-desktop")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("section[aria-labelledby=activity-heading]").screenshot(
        path=str(SCREENSHOTS / "admin-charts.png")
    )

    phone = open_page(charted.admin + "/", phone=True, admin_token=charted.admin_token)
    expect(phone.locator("#chart-deposits rect.bar")).to_have_count(30)
    expect(phone.locator("#chart-wallet circle.point")).to_have_count(wallet_points)
    chart_width = phone.locator("#chart-deposits svg").bounding_box()
    assert chart_width is not None and chart_width["width"] <= 390
    no_horizontal_overflow(phone)
    screenshot(phone, "admin-charts-phone")
    phone.locator("section[aria-labelledby=activity-heading]").screenshot(
        path=str(SCREENSHOTS / "admin-charts-phone-section.png")
    )


@pytest.fixture(scope="module")
def crowded(launcher: TellerLauncher, quiet_sampler: None) -> RunningTeller:
    """205 BTC deposits and one ETH deposit, none paid (sending off)."""
    tel = launcher.start(send_enabled=False)
    btc = tel.bind_ok(SKY_A, "BTC")
    eth = tel.bind_ok(SKY_B, "ETH")
    for i in range(205):
        tel.deposit_ok(addr=btc, value=1_000_000 + i, tx=tx(i, "b"))
    tel.deposit_ok(coin="ETH", addr=eth, value=2**70 + 1, tx=tx(0, "e"))
    return tel


def test_the_list_pages_past_100_filters_by_coin_and_downloads_csv(
    crowded: RunningTeller, open_page: OpenPage, tmp_path: Path
) -> None:
    page = open_page(crowded.admin + "/", admin_token=crowded.admin_token)
    rows = page.locator("#deposits tr")
    more = page.locator("#deposits-more")
    expect(rows).to_have_count(100)
    expect(rows.first).to_have_attribute("data-deposit-id", f"{tx(0, 'e')}:0")  # newest first
    more.click()
    expect(rows).to_have_count(200)
    more.click()
    expect(rows).to_have_count(206)
    expect(more).to_be_hidden()
    expect(rows.last).to_have_attribute("data-deposit-id", f"{tx(0, 'b')}:0")  # the oldest
    ids = page.locator("#deposits tr").evaluate_all("rows => rows.map(r => r.dataset.depositId)")
    assert len(set(ids)) == 206
    page.locator("#refresh").click()  # a refresh keeps what "Show more" loaded
    expect(page.locator("#updated")).not_to_be_empty()
    expect(rows).to_have_count(206)
    no_horizontal_overflow(page)

    page.locator("#coin-filter").select_option("ETH")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("1180.591620717411303425 ETH")  # 2**70 + 1 wei
    with page.expect_download() as waiting:
        page.locator("#deposits-csv").click()
    saved = tmp_path / waiting.value.suggested_filename
    waiting.value.save_as(saved)
    assert saved.name == "teller-deposits.csv"
    with saved.open(newline="", encoding="utf-8") as file:
        eth_rows = list(csv.DictReader(file))
    assert [(r["deposit_id"], r["value"]) for r in eth_rows] == [
        (f"{tx(0, 'e')}:0", "1180.591620717411303425")
    ]

    page.locator("#coin-filter").select_option("")
    expect(rows).to_have_count(100)
    with page.expect_download() as waiting:
        page.locator("#deposits-csv").click()
    waiting.value.save_as(tmp_path / "all.csv")
    with (tmp_path / "all.csv").open(newline="", encoding="utf-8") as file:
        everything = list(csv.DictReader(file))
    assert len(everything) == 206
    assert everything[-1]["value"] == "0.01000000"  # 1_000_000 satoshi, exact
    screenshot(page, "admin-deposits-pages")

    phone = open_page(crowded.admin + "/", phone=True, admin_token=crowded.admin_token)
    expect(phone.locator("#deposits tr")).to_have_count(100)
    no_horizontal_overflow(phone)
