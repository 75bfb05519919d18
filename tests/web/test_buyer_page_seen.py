"""The buyer's page, issue 16 item 3, in chromium against a teller scanning a real regtest node
(Litecoin Core, Bitcoin Core 0.21's RPC): a payment is shown as soon as it is in the mempool
("0 of 2 confirmations"), counts up as blocks are mined one at a time, and once it has its
confirmations it is the deposit it always was; on a 390 px phone and on a desktop.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.http.running_teller import SKY_A, SKY_B, RunningTeller
from tests.scanners.conftest import (
    RPC_PASS,
    RPC_USER,
    Key,
    LitecoinNode,
    new_key,
    running_litecoind,
)

from .conftest import EXPECT_TIMEOUT_MS, OpenPage, TellerLauncher, screenshot

expect.set_options(timeout=EXPECT_TIMEOUT_MS)

PAID = 12_345_678  # satoshis: 0.12345678 BTC


@pytest.fixture(scope="module")
def node() -> Iterator[LitecoinNode]:
    with running_litecoind("teller-web-ltc-") as ltc:
        yield ltc


@pytest.fixture(scope="module")
def keys() -> list[Key]:
    return [new_key(segwit=True), new_key()]


@pytest.fixture(scope="module")
def shop(
    launcher: TellerLauncher,
    node: LitecoinNode,
    keys: list[Key],
    tmp_path_factory: pytest.TempPathFactory,
) -> RunningTeller:
    """The real BTC scanner on `node` (one block on top: 2 confirmations), the dummy sender
    confirming its payouts at once."""
    pool = tmp_path_factory.mktemp("pool") / "btc_regtest_addresses.txt"
    pool.write_text("".join(k.btc_address + "\n" for k in keys))
    return launcher.start(
        auto_confirm=True,
        eth_enabled=False,
        overrides={
            "btc_addresses": str(pool),
            "btc_rpc": {
                "server": f"127.0.0.1:{node.port}",
                "user": RPC_USER,
                "pass": RPC_PASS,
                "tls": False,
            },
            "btc_scanner": {
                "network": "regtest",
                "scan_period": "200ms",
                "confirmations_required": 1,
                "initial_scan_height": node.height() + 1,
            },
            "dummy": {"scanner": False},
        },
    )


def bind_btc(page: Page, skyaddr: str) -> str:
    page.locator("#skyaddr").fill(skyaddr)
    page.locator("#bind-button").click()
    expect(page.locator("#deposit-heading")).to_have_text("3. Send BTC to this address")
    return page.locator("#deposit-address").inner_text()


@pytest.mark.parametrize("phone", [True, False], ids=["phone", "desktop"])
def test_a_payment_is_seen_in_the_mempool_and_counts_up_to_its_deposit(
    shop: RunningTeller, node: LitecoinNode, keys: list[Key], open_page: OpenPage, phone: bool
) -> None:
    name = "phone" if phone else "desktop"
    page = open_page(shop.public + "/", phone=phone)
    address = bind_btc(page, SKY_A if phone else SKY_B)
    [key] = [k for k in keys if k.btc_address == address]
    item = page.locator("#status-list li").first
    expect(item).to_contain_text("Waiting for your payment")

    node.pay((key.script, PAID))
    # The page's own poll brings it: in the mempool, nothing counted yet.
    expect(item).to_contain_text("Payment seen: in the mempool, 0 of 2 confirmations")
    expect(item).to_contain_text("0.12345678 BTC")
    expect(item).to_contain_text("Payment seen, waiting for confirmations")
    expect(item.locator("progress")).to_have_attribute("max", "2")
    width = 390 if phone else 1280
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scroll
    screenshot(page, f"buyer-{name}-seen-mempool")

    node.mine(1)  # in the tip block: 1 of 2
    expect(item).to_contain_text("Payment seen: 1 of 2 confirmations")
    expect(item.locator("progress")).to_have_attribute("value", "1")
    screenshot(page, f"buyer-{name}-seen-1-of-2")

    node.mine(1)  # one block on top: it counts, is recorded and paid
    expect(item).to_contain_text("Done: your SKY has arrived")
    expect(item).to_contain_text("0.12345678 BTC")
    expect(item).not_to_contain_text("Payment seen")
    expect(page.locator("#status-list li")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
