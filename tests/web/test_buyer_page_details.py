"""The buyer's page, issue 16 items 1, 2 and 4, in chromium against real tellers (dummy mode).

A long ETH amount fits a 390 px phone; the deposit addresses given come back after a reload
and asking again offers the one already given with how many are left; the SKY payout links
to the explorer when web.explorer_urls has a template; ETH is paid by an EIP-681 URI; the
throttle's 429 and the bind limit are told in the page's words; "Copied" is said once; the
footer tells who runs the service when web.operator_name, contact and terms_url are set.
"""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.http.running_teller import SKY_A, SKY_B, SKY_C, RunningTeller, example_addresses

from .conftest import EXPECT_TIMEOUT_MS, OpenPage, TellerLauncher, screenshot

expect.set_options(timeout=EXPECT_TIMEOUT_MS)

LONG_WEI = 123_456_789_012_345_678  # 0.123456789012345678 ETH: every decimal of a wei
EXPLORER = "https://explorer.skycoin.com/app/transaction/{txid}"
PAGE_WEB = {
    "explorer_urls": {"sky": EXPLORER, "btc": "https://blockstream.info/tx/{txid}"},
    "operator_name": "Example OTC Ltd",
    "contact": "support@example.com",
    "terms_url": "https://example.com/terms",
}


@pytest.fixture(scope="module")
def shop(launcher: TellerLauncher) -> RunningTeller:
    """An open shop with explorer links and an operator's footer; payouts confirmed at once."""
    return launcher.start(
        max_bound_addrs=3, auto_confirm=True, pool_size=None, overrides={"web": PAGE_WEB}
    )


@pytest.fixture(scope="module")
def plain(launcher: TellerLauncher) -> RunningTeller:
    """The same shop without any of the page's [web] keys."""
    return launcher.start(max_bound_addrs=3, auto_confirm=True)


def given_address(page: Page) -> str:
    """The deposit address the page shows, once the bind has been answered."""
    expect(page.locator("#deposit-address")).to_have_text(re.compile(r"^\S+$"))
    return page.locator("#deposit-address").inner_text()


def follow(page: Page, skyaddr: str) -> None:
    page.locator("#skyaddr").fill(skyaddr)
    page.locator("#status-button").click()


@pytest.mark.parametrize("phone", [True, False], ids=["phone", "desktop"])
def test_a_long_eth_amount_fits_the_screen(
    plain: RunningTeller, open_page: OpenPage, phone: bool
) -> None:
    skyaddr = SKY_A if phone else SKY_B
    eth = plain.bind_ok(skyaddr, "ETH")
    plain.deposit_ok(coin="ETH", addr=eth, value=LONG_WEI, tx=("c1" if phone else "c2") * 32)
    page = open_page(plain.public + "/", phone=phone)
    follow(page, skyaddr)
    item = page.locator("#status-list li").first
    expect(item).to_contain_text("0.123456789012345678 ETH")
    expect(item).to_contain_text("Done: your SKY has arrived")
    width = 390 if phone else 1280
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scroll
    screenshot(page, f"buyer-{'phone' if phone else 'desktop'}-long-eth")


@pytest.mark.parametrize("phone", [True, False], ids=["phone", "desktop"])
def test_a_reload_shows_the_address_again_and_asking_again_offers_it(
    shop: RunningTeller, open_page: OpenPage, phone: bool
) -> None:
    skyaddr = SKY_A if phone else SKY_B
    page = open_page(shop.public + "/", phone=phone)
    page.locator("#skyaddr").fill(skyaddr)
    page.locator("#bind-button").click()
    btc = given_address(page)
    assert btc in example_addresses("BTC")

    page.reload()
    page.wait_for_selector("body[data-ready=true]", state="attached")
    expect(page.locator("#deposit")).to_be_visible()
    expect(page.locator("#deposit-address")).to_have_text(btc)

    # Asking again binds nothing: the known address is offered, with how many are left.
    binds: list[str] = []
    page.on("request", lambda r: binds.append(r.url) if "/api/bind" in r.url else None)
    page.locator("#bind-button").click()
    expect(page.locator("#bind-offer")).to_be_visible()
    expect(page.locator("#bind-offer-text")).to_contain_text(
        "You were already given a BTC deposit address for this Skycoin address"
    )
    expect(page.locator("#bind-offer-left")).to_have_text(
        "This Skycoin address can get 2 more deposit addresses."
    )
    expect(page.locator("#deposit-address")).to_have_text(btc)
    assert binds == []
    screenshot(page, f"buyer-{'phone' if phone else 'desktop'}-offer")
    if phone:
        assert page.evaluate("document.documentElement.scrollWidth") <= 390

    # The buyer insists: a second address, and one left.
    page.locator("#bind-new-button").click()
    expect(page.locator("#deposit-address")).not_to_have_text(btc)
    second = page.locator("#deposit-address").inner_text()
    assert second in example_addresses("BTC")
    assert len(binds) == 1
    page.locator("#bind-button").click()
    expect(page.locator("#bind-offer-left")).to_have_text(
        "This Skycoin address can get 1 more deposit address."
    )
    expect(page.locator("#deposit-address")).to_have_text(second)


def test_a_reload_in_a_new_tab_shows_the_address_once_the_sky_address_is_typed(
    shop: RunningTeller, open_page: OpenPage
) -> None:
    page = open_page(shop.public + "/")
    page.locator("#skyaddr").fill(SKY_C)
    page.locator("#coin-ETH").check()
    page.locator("#bind-button").click()
    eth = given_address(page)
    other = page.context.new_page()  # a new tab: sessionStorage is empty, localStorage kept
    other.goto(shop.public + "/")
    other.wait_for_selector("body[data-ready=true]", state="attached")
    expect(other.locator("#deposit")).to_be_hidden()
    follow(other, SKY_C)
    expect(other.locator("#coin-ETH")).to_be_checked()  # the coin it was given for
    expect(other.locator("#deposit-address")).to_have_text(eth)
    other.locator("#coin-BTC").check()
    expect(other.locator("#deposit")).to_be_hidden()  # none given for BTC
    other.locator("#coin-ETH").check()
    expect(other.locator("#deposit-address")).to_have_text(eth)
    expect(other.locator("#deposit-qr")).to_have_attribute("src", f"api/qr?data=ethereum%3A{eth}")


@pytest.mark.parametrize("phone", [True, False], ids=["phone", "desktop"])
def test_copied_is_said_once_and_eth_is_paid_by_an_eip681_uri(
    shop: RunningTeller, open_page: OpenPage, phone: bool
) -> None:
    skyaddr = example_addresses("SKY")[1 if phone else 2]
    page = open_page(shop.public + "/", phone=phone, clipboard=True)
    page.locator("#skyaddr").fill(skyaddr)
    page.locator("#coin-ETH").check()
    page.locator("#bind-button").click()
    eth = given_address(page)

    page.locator("#copy-button").click()
    expect(page.locator("#copy-feedback")).to_have_text("Copied")
    # Read at once, not retried: the old page said it on the button too, for 2.5 s.
    said = page.evaluate(
        """[...document.querySelectorAll("body *")].filter((e) => e.children.length === 0
            && e.textContent.trim() === "Copied" && e.checkVisibility()).length"""
    )
    assert said <= 1
    assert page.locator("#copy-button").inner_text() == "Copy address"
    assert page.evaluate("navigator.clipboard.readText()") == eth

    uri = f"ethereum:{eth}"
    expect(page.locator("#deposit-qr")).to_have_attribute("src", f"api/qr?data=ethereum%3A{eth}")
    expect(page.locator("#deposit-qr")).to_have_attribute("alt", f"QR code of {uri}")
    expect(page.locator("#wallet-link")).to_have_attribute("href", uri)
    page.wait_for_function("document.getElementById('deposit-qr').naturalWidth > 0")
    if phone:
        assert page.evaluate("document.documentElement.scrollWidth") <= 390


@pytest.mark.parametrize("phone", [True, False], ids=["phone", "desktop"])
def test_the_sky_payout_links_to_the_explorer(
    shop: RunningTeller, open_page: OpenPage, phone: bool
) -> None:
    skyaddr = example_addresses("SKY")[1 if phone else 2]
    eth = shop.bind_ok(skyaddr, "ETH")
    shop.deposit_ok(coin="ETH", addr=eth, value=10**18, tx=("d1" if phone else "d2") * 32)
    page = open_page(shop.public + "/", phone=phone)
    follow(page, skyaddr)
    page.locator("#coin-ETH").check()
    item = page.locator("#status-list li", has_text="Done: your SKY has arrived").first
    expect(item).to_be_visible(timeout=15_000)
    txid = item.locator(".txid").inner_text()
    link = item.locator("a.explorer-link")
    expect(link).to_have_attribute("href", EXPLORER.replace("{txid}", txid))
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    if phone:
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, f"buyer-{'phone' if phone else 'desktop'}-eth-explorer")


@pytest.mark.parametrize("phone", [True, False], ids=["phone", "desktop"])
def test_the_footer_tells_who_runs_the_service(
    shop: RunningTeller, open_page: OpenPage, phone: bool
) -> None:
    footer = open_page(shop.public + "/", phone=phone).locator("footer")
    expect(footer.locator("#operator-name")).to_have_text("Run by Example OTC Ltd.")
    expect(footer.locator("#operator-contact")).to_have_text("Contact: support@example.com")
    expect(footer.locator("#operator-terms")).to_have_attribute("href", PAGE_WEB["terms_url"])
    expect(footer.locator("#operator-terms")).to_have_text("Terms of service")


def test_without_the_keys_no_explorer_link_and_no_footer_lines(
    plain: RunningTeller, open_page: OpenPage
) -> None:
    skyaddr = example_addresses("SKY")[3]
    btc = plain.bind_ok(skyaddr, "BTC")
    plain.deposit_ok(addr=btc, value=10**8, tx="e3" * 32)
    page = open_page(plain.public + "/")
    follow(page, skyaddr)
    item = page.locator("#status-list li").first
    expect(item).to_contain_text("Done: your SKY has arrived")
    expect(item.locator(".txid")).to_be_visible()
    expect(item.locator("a")).to_have_count(0)
    expect(page.locator("#operator")).to_be_hidden()


@pytest.mark.parametrize("phone", [True, False], ids=["phone", "desktop"])
def test_the_limits_are_told_in_the_pages_words(
    launcher: TellerLauncher, open_page: OpenPage, phone: bool
) -> None:
    # One request per path and hour: the second bind is refused with 429.
    tight = launcher.start(max_bound_addrs=1, throttle_max=1, throttle_duration="1h")
    page = open_page(tight.public + "/", phone=phone)
    page.locator("#skyaddr").fill(SKY_A)
    page.locator("#bind-button").click()
    expect(page.locator("#deposit")).to_be_visible()
    page.locator("#coin-ETH").check()
    page.locator("#bind-button").click()
    error = page.locator("#bind-error")
    expect(error).to_contain_text("You have asked too often in a short time. Please wait")
    expect(error).not_to_contain_text("maximum request limit")
    if phone:
        assert page.evaluate("document.documentElement.scrollWidth") <= 390

    # The bind limit (max_bound_addrs = 1), on a teller that does not throttle.
    limited = launcher.start(max_bound_addrs=1)
    limited.bind_ok(SKY_B, "BTC")  # given elsewhere: this browser does not know it
    page = open_page(limited.public + "/", phone=phone)
    page.locator("#skyaddr").fill(SKY_B)
    page.locator("#bind-button").click()
    expect(error := page.locator("#bind-error")).to_have_text(
        "This Skycoin address already has the 1 deposit address it can get."
        " Pay to the address you were given: it keeps working."
    )
    answer = httpx.post(limited.public + "/api/bind", json={"skyaddr": SKY_B, "coin_type": "BTC"})
    assert answer.text.strip() == (
        "The maximum number of addresses have been assigned to this SKY address"
    )  # the seed's text stays the API's
    screenshot(page, f"buyer-{'phone' if phone else 'desktop'}-limit")
