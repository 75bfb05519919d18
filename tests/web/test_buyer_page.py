"""The buyer's page (src/teller/http/web/) in chromium against real tellers in dummy mode.

Issue 6: pick a coin, get a deposit address with its QR code and copy it, see the rate and
the quote for an amount, follow deposits to done without reloading, the closed, sold-out and
passthrough states told truthfully, bad addresses refused inline (by the page and by the
server). The page's money and address checks are also compared with teller's own code.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from teller_sims.process import SimProcess

from teller.coins import eth, sky
from teller.money import (
    format_droplets,
    parse_rate,
    plain_decimal,
    sky_droplets_for_satoshis,
    sky_droplets_for_wei,
)
from tests.http.running_teller import SKY_A, SKY_B, SKY_C, RunningTeller, example_addresses
from tests.sim_peers import c2cx_process, exchange_client

from .conftest import EXPECT_TIMEOUT_MS, OpenPage, TellerLauncher, screenshot

expect.set_options(timeout=EXPECT_TIMEOUT_MS)

BTC_RATE = "512.3456"  # more decimals than max_decimals: a cut rate would quote wrongly
ETH_RATE = "2/3"
MAX_BOUND = 2


@pytest.fixture(scope="module", autouse=True)
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimProcess]:
    """`teller-sim c2cx` with its demo order book, as its own process, for the passthrough
    shop. Autouse so that it starts before the module's tellers and stops after them."""
    with c2cx_process(tmp_path_factory.mktemp("c2cx")) as sim:
        yield sim


@pytest.fixture(scope="module")
def shop(launcher: TellerLauncher) -> RunningTeller:
    """The open shop: BTC and ETH, fixed rates, payouts confirmed by hand."""
    return launcher.start(
        max_bound_addrs=MAX_BOUND,
        overrides={
            "sky_exchanger": {"sky_btc_exchange_rate": BTC_RATE, "sky_eth_exchange_rate": ETH_RATE}
        },
    )


def sky_text(droplets: int) -> str:
    """Droplets as the page writes SKY: no trailing zeros."""
    return format_droplets(droplets).rstrip("0").rstrip(".")


def quote_of(page: Page, amount: str) -> str:
    page.fill("#amount", amount)
    return page.locator("#quote").inner_text()


# -- what a new buyer sees ---------------------------------------------------------------------


def test_first_view_shows_the_offer_and_its_rules(shop: RunningTeller, open_page: OpenPage) -> None:
    page = open_page(shop.public + "/")
    response = page.request.get(shop.public + "/")
    assert "script-src 'self'" in response.headers["content-security-policy"]

    options = page.locator("#coin-options input")
    expect(options).to_have_count(2)  # SKY is not enabled in this shop
    assert [options.nth(i).get_attribute("value") for i in range(2)] == ["BTC", "ETH"]
    expect(page.locator("#coin-BTC")).to_be_checked()
    one_btc = sky_text(sky_droplets_for_satoshis(10**8, BTC_RATE, 3))
    expect(page.locator("#rate")).to_have_text(f"1 BTC = {one_btc} SKY")
    expect(page.locator("#inventory")).to_contain_text("SKY available")
    facts = page.locator("#facts-list")
    # confirmations_required = 1: one block on top, 2 confirmations as Bitcoin counts them.
    expect(facts).to_contain_text("BTC payments count after 2 confirmations on the BTC network.")
    expect(facts).to_contain_text(f"up to {MAX_BOUND} deposit addresses")
    expect(page.locator("#banner")).to_be_hidden()
    expect(page.locator("#bind-button")).to_have_text("Get my BTC deposit address")
    screenshot(page, "buyer-desktop-first")

    phone = open_page(shop.public + "/", phone=True)
    expect(phone.locator("#rate")).to_have_text(f"1 BTC = {one_btc} SKY")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
    screenshot(phone, "buyer-phone-first")


def test_quotes_are_what_teller_will_pay(shop: RunningTeller, open_page: OpenPage) -> None:
    page = open_page(shop.public + "/")
    for amount, satoshis in [("10", 10 * 10**8), ("0.12345678", 12_345_678), ("0,5", 5 * 10**7)]:
        droplets = sky_droplets_for_satoshis(satoshis, BTC_RATE, 3)
        normal = amount.replace(",", ".")
        assert quote_of(page, amount) == f"For {normal} BTC you receive {sky_text(droplets)} SKY."
    assert quote_of(page, "0.000000001") == "BTC amounts have at most 8 decimals."
    assert quote_of(page, "1e3") == "Type an amount like 0.05."
    assert quote_of(page, "0.00000001") == "That is too little to buy any SKY."

    page.locator("label[for], .coin-option").filter(has_text="Ether").click()
    expect(page.locator("#rate")).to_have_text("1 ETH = 0.666 SKY")
    wei = 10**18 + 1
    droplets = sky_droplets_for_wei(wei, ETH_RATE, 3)
    assert quote_of(page, "1.000000000000000001") == (
        f"For 1.000000000000000001 ETH you receive {sky_text(droplets)} SKY."
    )


def test_the_page_computes_amounts_exactly_as_teller(
    shop: RunningTeller, open_page: OpenPage
) -> None:
    # The page's BigInt arithmetic against teller's Decimal arithmetic on random inputs.
    page = open_page(shop.public + "/")
    rng = random.Random(6)
    cases: list[dict[str, Any]] = []
    for _ in range(300):
        coin = rng.choice(["BTC", "ETH"])
        units = rng.choice([rng.randrange(1, 10**4), rng.randrange(1, 10**12), rng.getrandbits(90)])
        rate_text = rng.choice(
            [
                str(rng.randrange(1, 10**6)),
                f"{rng.randrange(0, 10**4)}.{rng.randrange(1, 10**8):08d}",
                f"{rng.randrange(1, 10**4)}/{rng.randrange(1, 10**4)}",
            ]
        )
        if parse_rate(rate_text) <= 0:
            continue
        max_decimals = rng.randrange(0, 4)
        compute = sky_droplets_for_satoshis if coin == "BTC" else sky_droplets_for_wei
        try:
            expected = compute(units, rate_text, max_decimals)
        except ValueError:
            continue  # beyond int64 droplets: teller refuses such a deposit
        cases.append(
            {
                "units": str(units),
                "decimals": 8 if coin == "BTC" else 18,
                "rate": plain_decimal(parse_rate(rate_text)),
                "md": max_decimals,
                "expected": str(expected),
            }
        )
    mismatches = page.evaluate(
        """async (cases) => {
            const { skyDroplets } = await import("/js/amounts.js");
            return cases.filter((c) =>
                String(skyDroplets(BigInt(c.units), c.decimals, c.rate, c.md)) !== c.expected);
        }""",
        cases,
    )
    assert len(cases) >= 200  # the rest overflow int64 droplets
    assert mismatches == []


def test_the_page_checks_addresses_exactly_as_teller(
    shop: RunningTeller, open_page: OpenPage
) -> None:
    page = open_page(shop.public + "/")
    rng = random.Random(7)
    valid = [*example_addresses("SKY")[:20], SKY_A, SKY_B, SKY_C]
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    samples = [*valid, sky.NULL_ADDRESS, "1", "11111111111111111111111111", "abc0", "2Wb"]
    for address in valid:
        i = rng.randrange(len(address))
        samples.append(address[:i] + rng.choice(alphabet) + address[i + 1 :])  # a typo
        samples.append(address[:-1])  # cut short
        samples.append(address + rng.choice(alphabet))
    reasons = {
        "Invalid base58 character": "character",
        "Invalid address length": "length",
        "Invalid version": "version",
        "Invalid checksum": "checksum",
        "Address is the null address": "null",
    }

    def teller_says(address: str) -> str:
        try:
            sky.decode_address(address)
        except sky.AddressError as exc:
            return reasons[str(exc)]
        return "ok"

    page_says = page.evaluate(
        """async (samples) => {
            const { checkSkyAddress } = await import("/js/skyaddress.js");
            return samples.map((s) => {
                const result = checkSkyAddress(s);
                return result.ok ? "ok" : result.reason;
            });
        }""",
        samples,
    )
    assert page_says == [teller_says(s) for s in samples]
    assert page_says.count("ok") >= len(valid)  # the valid ones, and any typo that is one


# -- binding, copying, following ---------------------------------------------------------------


def test_invalid_address_is_refused_inline_before_any_request(
    shop: RunningTeller, open_page: OpenPage
) -> None:
    page = open_page(shop.public + "/")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/api/bind" in r.url else None)
    address = page.locator("#skyaddr")
    check = page.locator("#skyaddr-check")

    address.fill("2Wbi4wvxC4fkTYMsS2f6HaFfW4pafDjXc0W")  # "0" is never in an address
    expect(check).to_have_text(re.compile(r"contains “0”"))
    expect(address).to_have_attribute("aria-invalid", "true")

    address.fill(SKY_A[:-1] + ("X" if SKY_A[-1] != "X" else "Y"))  # a typo: checksum
    address.press("Enter")
    expect(check).to_have_text(re.compile("checksum does not match"))
    expect(address).to_be_focused()
    expect(page.locator("#deposit")).to_be_hidden()

    address.fill(SKY_A)
    expect(check).to_have_text("Looks like a valid Skycoin address.")
    expect(address).to_have_attribute("aria-invalid", "false")
    assert requests == []


def test_bind_btc_and_eth_copy_and_follow_a_deposit_to_done(
    shop: RunningTeller, open_page: OpenPage
) -> None:
    page = open_page(shop.public + "/", clipboard=True)
    page.evaluate("window.sameDocument = true")  # gone if the page ever reloads

    # Keyboard only: Tab to the address field, type, Enter.
    page.locator("#amount").focus()
    page.keyboard.press("Tab")
    expect(page.locator("#skyaddr")).to_be_focused()
    page.keyboard.type(SKY_B)
    page.keyboard.press("Enter")

    heading = page.locator("#deposit-heading")
    expect(heading).to_have_text("3. Send BTC to this address")
    expect(heading).to_be_focused()
    btc_address = page.locator("#deposit-address").inner_text()
    assert btc_address in example_addresses("BTC")
    qr = page.locator("#deposit-qr")
    expect(qr).to_have_attribute("src", f"api/qr?data=bitcoin%3A{btc_address}")
    expect(qr).to_have_attribute("alt", f"QR code of bitcoin:{btc_address}")
    # Polled from here: wait_for_function would re-evaluate a string inside the page, which
    # the page's CSP (no unsafe-eval) refuses when the image is not loaded at the first look.
    deadline = time.monotonic() + 10
    while qr.evaluate("img => img.naturalWidth") == 0:
        assert time.monotonic() < deadline, "the QR image never loaded"
        page.wait_for_timeout(50)
    expect(page.locator("#wallet-link")).to_have_attribute("href", f"bitcoin:{btc_address}")

    page.locator("#copy-button").click()
    expect(page.locator("#copy-feedback")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == btc_address

    items = page.locator("#status-list li")
    expect(items).to_have_count(1)
    expect(items.first).to_contain_text("Waiting for your payment")

    # The quote typed before paying is what is sent.
    quote = quote_of(page, "0.12345678")
    shop.deposit_ok(addr=btc_address, value=12_345_678, tx="a1" * 32)
    expect(items.first).to_contain_text(
        "SKY sent, waiting for the Skycoin network to confirm", timeout=15_000
    )
    [broadcast] = [b for b in shop.broadcasts() if b["outputs"][0]["address"] == SKY_B]
    httpx.get(shop.dummy + "/dummy/sender/confirm", params={"txid": broadcast["txid"]})
    expect(items.first).to_contain_text("Done: your SKY has arrived", timeout=15_000)
    sent = sky_text(sky_droplets_for_satoshis(12_345_678, BTC_RATE, 3))
    assert quote == f"For 0.12345678 BTC you receive {sent} SKY."
    expect(items.first.locator(".sky-sent")).to_have_text(f"{sent} SKY")
    expect(items.first.locator(".txid")).to_have_text(broadcast["txid"])
    assert page.evaluate("window.sameDocument") is True
    screenshot(page, "buyer-desktop-done")

    # ETH for the same SKY address.
    page.locator("#coin-ETH").check()
    expect(page.locator("#bind-button")).to_have_text("Get my ETH deposit address")
    page.locator("#bind-button").click()
    expect(heading).to_have_text("3. Send ETH to this address")
    eth_address = page.locator("#deposit-address").inner_text()
    # Handed out in EIP-55 case (the example file has it lower-cased).
    assert eth_address.lower() in example_addresses("ETH")
    assert eth_address == eth.checksum_address(eth_address)
    expect(qr).to_have_attribute("src", f"api/qr?data=ethereum%3A{eth_address}")  # EIP-681
    expect(page.locator("#wallet-link")).to_have_attribute("href", f"ethereum:{eth_address}")
    expect(items).to_have_count(2)
    expect(items.nth(1)).to_contain_text("Waiting for your payment")

    # Asking again offers the address already given, and there is none left to get.
    page.locator("#bind-button").click()
    expect(page.locator("#bind-offer-left")).to_have_text(
        "This Skycoin address cannot get any more deposit addresses."
    )
    expect(page.locator("#bind-new-button")).to_be_hidden()
    expect(page.locator("#deposit-address")).to_have_text(eth_address)

    phone = open_page(shop.public + "/", phone=True)
    phone.locator("#skyaddr").fill(SKY_B)
    phone.locator("#status-button").click()
    expect(phone.locator("#status-list li")).to_have_count(2)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone, "buyer-phone-status")


def test_a_deposit_too_small_is_told_plainly(shop: RunningTeller, open_page: OpenPage) -> None:
    address = shop.bind_ok(SKY_C, "BTC")
    shop.deposit_ok(addr=address, value=1, tx="a2" * 32)
    page = open_page(shop.public + "/")
    page.locator("#skyaddr").fill(SKY_C)
    page.locator("#status-button").click()
    expect(page.locator("#status-list li").first).to_contain_text(
        "Finished without sending SKY: The payment was too small to buy any SKY."
    )


# -- the truth about the service ---------------------------------------------------------------


def test_closed_shop_says_so_and_gives_no_address(
    launcher: TellerLauncher, open_page: OpenPage
) -> None:
    closed = launcher.start(bind_enabled=False)
    page = open_page(closed.public + "/", phone=True)
    banner = page.locator("#banner")
    expect(banner).to_be_visible()
    expect(banner).to_have_attribute("data-state", "closed")
    expect(banner).to_contain_text("Closed for new purchases")
    expect(page.locator("#bind-button")).to_be_hidden()
    expect(page.locator("#status-button")).to_be_visible()  # status checks still work
    screenshot(page, "buyer-phone-closed")


def test_sold_out_shop_says_so(launcher: TellerLauncher, open_page: OpenPage) -> None:
    poor = launcher.start(balance="100", auto_confirm=True)
    address = poor.bind_ok(SKY_A, "BTC")
    poor.deposit_ok(addr=address, value=10**8, tx="a3" * 32)  # 500 SKY > 100 in the wallet
    poor.wait_for(
        lambda: poor.http.get(poor.public + "/api/health").json()["exchange"]["sender_error"],
        what="sender_error",
    )
    page = open_page(poor.public + "/")
    banner = page.locator("#banner")
    expect(banner).to_have_attribute("data-state", "sold-out")
    expect(banner).to_contain_text("Sold out")
    expect(page.locator("#bind-button")).to_be_hidden()
    expect(page.locator("#inventory")).to_be_hidden()

    # The waiting deposit is shown as waiting to be sent.
    page.locator("#skyaddr").fill(SKY_A)
    page.locator("#status-button").click()
    expect(page.locator("#status-list li").first).to_contain_text(
        "Payment confirmed, your SKY is about to be sent"
    )
    screenshot(page, "buyer-desktop-sold-out")


def test_passthrough_shop_tells_the_minimum_and_market_price(
    launcher: TellerLauncher, open_page: OpenPage, exchange: SimProcess
) -> None:
    passthrough = launcher.start(
        eth_enabled=False,
        overrides={
            "sky_exchanger": {
                "buy_method": "passthrough",
                # the exchange: the simulator's demo order book
                "exchange_client": exchange_client(exchange, btc_minimum_volume="0.005"),
            },
        },
    )
    page = open_page(passthrough.public + "/")
    expect(page.locator("#coin-options input")).to_have_count(1)
    expect(page.locator("#rate")).to_have_text(
        "The price is the exchange's market price when your payment arrives."
    )
    expect(page.locator("#facts-list")).to_contain_text(
        "Send at least 0.005 BTC: smaller payments are not converted to SKY."
    )
    assert quote_of(page, "0.004") == (
        "Below the minimum of 0.005 BTC: such a payment is not converted to SKY."
    )
    # The demo book's cheapest ask is 50 SKY at 0.002 BTC: 0.005 BTC buys 2.5 SKY there
    # (/api/quote, asked when typing pauses; until then the general sentence).
    assert "depends on the exchange price" in quote_of(page, "0.005")
    expect(page.locator("#quote")).to_contain_text("0.005 BTC buys about 2.5 SKY")
