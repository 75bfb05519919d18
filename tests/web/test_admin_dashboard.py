"""The admin dashboard (src/teller/http/admin_web/) in chromium against a real teller.

Issue 6: pool usage per coin, deposits by status with search by SKY address or deposit id,
errored deposits, accounting, health and scanner heights, a backup button; auto-refreshing.
Issue 13: held deposits and the operator actions (tests/audit/ has the audit panel).
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from playwright.sync_api import expect

from teller.store.deposits import HOLD_CHECK_EARLIER_PAYMENT
from tests.http.running_teller import SKY_A, SKY_B, RunningTeller

from .conftest import EXPECT_TIMEOUT_MS, OpenPage, TellerLauncher, screenshot, sign_in

expect.set_options(timeout=EXPECT_TIMEOUT_MS)


@pytest.fixture(scope="module")
def busy(launcher: TellerLauncher) -> RunningTeller:
    """A teller with a paid BTC deposit, an ETH deposit of more than 2^53 wei, and a deposit
    too small to pay (errored)."""
    tel = launcher.start(auto_confirm=True)
    btc = tel.bind_ok(SKY_A, "BTC")
    eth = tel.bind_ok(SKY_B, "ETH")
    tel.deposit_ok(addr=btc, value=12_345_678, tx="b1" * 32)
    tel.deposit_ok(addr=btc, value=1, tx="b2" * 32)
    tel.deposit_ok(coin="ETH", addr=eth, value=10**18 + 1, tx="e1" * 32, n=3)
    tel.wait_for(
        lambda: len(tel.admin_get("/api/deposits", status="done")["deposits"]) == 3,
        what="three deposits done",
    )
    return tel


def test_dashboard_shows_health_pools_accounting_and_errors(
    busy: RunningTeller, open_page: OpenPage
) -> None:
    page = open_page(busy.admin + "/", admin_token=busy.admin_token)
    response = page.request.get(busy.admin + "/")
    assert "default-src 'none'" in response.headers["content-security-policy"]

    expect(page.locator("#health")).to_contain_text("direct")
    expect(page.locator("#health-pill")).to_have_text("Health: Attention")  # one errored deposit
    expect(page.locator("#scanners tr[data-coin=BTC]")).to_contain_text("dummy")
    btc_pool = page.locator("#pools tr[data-coin=BTC]")
    expect(btc_pool).to_contain_text("20%")  # 1 of the 5 test addresses bound
    expect(btc_pool.locator("td").nth(2)).to_have_text("4")
    expect(page.locator("#accounting")).to_contain_text("161.728000")  # 61.728 + 100 SKY
    expect(page.locator("#accounting")).to_contain_text("1.000000000000000001")  # exact wei

    deposits = page.locator("#deposits tr")
    expect(deposits).to_have_count(3)
    eth_row = page.locator(f"#deposits tr[data-deposit-id='{'e1' * 32}:3']")
    expect(eth_row).to_contain_text("1.000000000000000001 ETH")
    errored = page.locator("#errored tr")
    expect(errored).to_have_count(1)
    expect(errored.first).to_contain_text("Skycoin send amount is 0")
    screenshot(page, "admin-desktop")

    phone = open_page(busy.admin + "/", phone=True, admin_token=busy.admin_token)
    expect(phone.locator("#deposits tr")).to_have_count(3)
    screenshot(phone, "admin-phone")


def test_the_dashboard_asks_for_the_token_and_keeps_it_in_the_tab_only(
    busy: RunningTeller, open_page: OpenPage, tmp_path: Path
) -> None:
    """Issue 14: the admin API needs a credential; the page asks for the token, keeps it in
    sessionStorage (no cookie: no other page can act through the browser) and sends it as
    Authorization: Bearer with every call, the backup (a POST) too."""
    page = open_page(busy.admin + "/")
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#dashboard")).to_be_hidden()
    screenshot(page, "admin-sign-in")

    page.locator("#token").fill("not-the-token")
    page.locator("#login-form button[type=submit]").click()
    expect(page.locator("#login-error")).to_contain_text("The token was refused")
    expect(page.locator("#dashboard")).to_be_hidden()

    sign_in(page, busy.admin_token)
    expect(page.locator("#deposits tr")).to_have_count(3)
    assert page.context.cookies() == []
    stored = page.evaluate("sessionStorage.getItem('teller-admin-token')")
    assert stored == busy.admin_token

    with page.expect_download() as waiting:  # an action: POST /api/backup with the token
        page.locator("#backup").click()
    saved = tmp_path / waiting.value.suggested_filename
    waiting.value.save_as(saved)
    assert saved.read_bytes()[:16] == b"SQLite format 3\x00"

    page.reload()  # the same tab keeps the token
    page.wait_for_selector("body[data-signed-in=true]", state="attached")
    expect(page.locator("#deposits tr")).to_have_count(3)

    page.locator("#sign-out").click()
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#dashboard")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('teller-admin-token')") is None

    other_tab = open_page(busy.admin + "/")  # a new context: nothing kept
    expect(other_tab.locator("#login")).to_be_visible()


def test_with_auth_off_on_loopback_the_dashboard_opens_directly(
    launcher: TellerLauncher, open_page: OpenPage
) -> None:
    tel = launcher.start(overrides={"admin_panel": {"disable_auth_on_loopback": True}})
    page = open_page(tel.admin + "/")
    expect(page.locator("#dashboard")).to_be_visible()
    expect(page.locator("#login")).to_be_hidden()
    expect(page.locator("#sign-out")).to_be_hidden()
    expect(page.locator("#accounting")).to_contain_text("0.000000")


def test_search_filter_and_auto_refresh(busy: RunningTeller, open_page: OpenPage) -> None:
    page = open_page(busy.admin + "/", admin_token=busy.admin_token)
    rows = page.locator("#deposits tr")
    expect(rows).to_have_count(3)

    page.locator("#search").fill(SKY_B)
    page.locator("#search").press("Enter")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(SKY_B)

    page.locator("#search").fill(f"{'b2' * 32}:0")
    page.locator("#search-form button[type=submit]").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Skycoin send amount is 0")

    page.locator("#search-clear").click()
    expect(rows).to_have_count(3)
    page.locator("#status-filters button[data-status=waiting_send]").click()
    expect(rows).to_have_count(0)
    page.locator("#status-filters button[data-status=done]").click()
    expect(rows).to_have_count(3)
    expect(page.locator("#status-filters button[data-status=done]")).to_have_attribute(
        "aria-pressed", "true"
    )

    # A new deposit appears without reloading.
    address = busy.bind_ok(SKY_A, "BTC")
    busy.deposit_ok(addr=address, value=10**6, tx="b3" * 32)
    expect(rows).to_have_count(4, timeout=15_000)


def test_backup_button_downloads_the_database(
    busy: RunningTeller, open_page: OpenPage, tmp_path: Path
) -> None:
    page = open_page(busy.admin + "/", admin_token=busy.admin_token)
    with page.expect_download() as waiting:
        page.locator("#backup").click()
    download = waiting.value
    assert re.fullmatch(r"teller-\d+\.db", download.suggested_filename)
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert saved.read_bytes()[:16] == b"SQLite format 3\x00"


def test_held_deposits_and_the_operator_actions_are_shown(
    launcher: TellerLauncher, open_page: OpenPage
) -> None:
    """Issue 13: a deposit held from payment (an imported Go one that may have been paid) is
    listed with why and what it is owed, and every operator action shows in the audit trail,
    with who acted and how it ended."""
    tel = launcher.start(send_enabled=False)  # decided, never paid: they stay waiting_send
    address = tel.bind_ok(SKY_A, "BTC")
    tel.deposit_ok(addr=address, value=10_000_000, tx="d1" * 32)  # 50 SKY
    tel.deposit_ok(addr=address, value=2_000_000, tx="d2" * 32)
    held_id, other_id = f"{'d1' * 32}:0", f"{'d2' * 32}:0"
    tel.wait_for(
        lambda: len(tel.admin_get("/api/deposits", status="waiting_send")["deposits"]) == 2,
        what="two deposits waiting_send",
    )
    # What the importer writes for a Go waiting_send deposit without a txid.
    with sqlite3.connect(tel.dir / "data" / "teller.db") as conn:
        conn.execute(
            "UPDATE deposits SET hold_reason = ? WHERE deposit_id = ?",
            (HOLD_CHECK_EARLIER_PAYMENT, held_id),
        )
    page = open_page(tel.admin + "/", admin_token=tel.admin_token)
    held = page.locator("#held tr")
    expect(held).to_have_count(1)
    expect(held).to_contain_text(held_id)
    expect(held).to_contain_text("50")
    expect(held).to_contain_text("the Go teller may have paid it")
    expect(page.locator("#held-note")).to_contain_text("teller deposit release ID")
    expect(page.locator("#actions-none")).to_be_visible()
    screenshot(page, "admin-held")

    deposits = f"{tel.admin}/api/deposits"
    assert tel.http.post(f"{deposits}/{held_id}/release").status_code == 200
    assert tel.http.post(f"{deposits}/{other_id}/release").status_code == 409  # not held
    stopped = tel.http.post(f"{deposits}/{other_id}/stop", json={"reason": "refund asked"})
    assert stopped.status_code == 200
    page.locator("#refresh").click()

    expect(held).to_have_count(0)
    expect(page.locator("#held-none")).to_be_visible()
    actions = page.locator("#actions tr")
    expect(actions).to_have_count(3)
    expect(actions.nth(0)).to_contain_text("deposit.stop")
    expect(actions.nth(0)).to_contain_text("refund asked")
    expect(actions.nth(1)).to_contain_text("refused: deposit")
    expect(actions.nth(2)).to_contain_text("deposit.release")
    expect(actions.nth(2)).to_contain_text("admin-api")
    expect(actions.nth(2)).to_contain_text("done: released")
    screenshot(page, "admin-actions")


def test_webhook_deliveries_are_shown_and_a_dead_one_can_be_sent_again(
    launcher: TellerLauncher, open_page: OpenPage
) -> None:
    """Issue 16: the webhook panel lists the outbox (status, attempts, last error); a dead
    event is sent again from it, and that shows in the operator actions."""
    receiver = "http://127.0.0.1:9/hook"  # the discard port: nothing listens, every post fails
    hook = {
        "url": receiver,
        "secret": "a-webhook-secret",
        "max_attempts": 1,
        "events": ["binding.created"],
    }
    tel = launcher.start(overrides={"webhooks": [hook]})
    tel.bind_ok(SKY_A, "BTC")
    tel.wait_for(
        lambda: tel.admin_get("/api/webhooks/deliveries")["counts"]["dead"] == 1,
        what="the binding's event dead",
    )
    page = open_page(tel.admin + "/", admin_token=tel.admin_token)
    rows = page.locator("#webhooks tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-status", "dead")
    expect(rows.first).to_contain_text("binding.created")
    expect(rows.first).to_contain_text("ConnectError")
    expect(page.locator("#webhooks-counts")).to_contain_text("1 dead")
    expect(page.locator("#webhooks-card")).not_to_contain_text("a-webhook-secret")
    screenshot(page, "admin-webhooks")

    rows.first.get_by_role("button", name="Re-send").click()
    page.locator("#refresh").click()
    expect(page.locator("#actions tr").first).to_contain_text("webhook.resend")
    expect(page.locator("#webhooks-error")).to_be_empty()
    assert tel.error_log is not None
    tel.wait_for(  # its line is logged once the outcome is stored
        lambda: len(tel.error_log.records) == 2, what="the re-sent event tried (and dead again)"
    )
    dead = set(tel.expect_errors())
    assert dead == {"webhook event dead: re-send it from the admin API"}
