"""The admin dashboard's audit panel in chromium: "no differences" on a clean teller, then the
finding of a spend from the hot wallet that teller never made (the page refreshes itself)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from playwright.sync_api import expect

from teller.clients.skycoin_node import SkyNodeClient
from teller.payout.base import PayoutOutput
from teller.payout.skycoin_node import SkyNodePayer
from tests.http.running_teller import TellerLauncher
from tests.skynode.conftest import SKY_C, SimNode
from tests.web.conftest import EXPECT_TIMEOUT_MS, OpenPage, screenshot

expect.set_options(timeout=EXPECT_TIMEOUT_MS)


def rogue_spend(sim: SimNode) -> str:
    """Pay 2 SKY from the hot wallet behind teller's back; the txid."""

    async def spend() -> str:
        rogue = SkyNodePayer(SkyNodeClient(sim.address), sim.wallet)
        signed = await rogue.build_payout([PayoutOutput(SKY_C, 2_000_000, "rogue")], [])
        await rogue.broadcast(signed.raw_tx)
        return signed.txid

    with ThreadPoolExecutor(1) as pool:  # its own event loop, beside Playwright's
        return pool.submit(asyncio.run, spend()).result()


def test_the_audit_panel_shows_no_differences_then_a_finding(
    launcher: TellerLauncher, open_page: OpenPage, sim: SimNode
) -> None:
    tel = launcher.start(
        overrides={
            "sky_rpc": {"address": sim.address},
            "sky_exchanger": {"wallet": str(sim.wallet_path)},
            "dummy": {"sender": False, "fake_deposits_pay_real_sky": True},
            "audit": {"interval": "200ms"},
        }
    )
    tel.wait_for(lambda: tel.admin_get("/api/audit")["ran_at"], what="a first audit round")
    page = open_page(tel.admin + "/", admin_token=tel.admin_token)
    expect(page.locator("#audit-summary")).to_contain_text("No differences")
    expect(page.locator("#audit-findings tr")).to_have_count(0)
    expect(page.locator("#audit-checks li[data-check=exchange_orders]")).to_contain_text(
        "not_checked"
    )

    txid = rogue_spend(sim)
    tel.wait_for(lambda: tel.admin_get("/api/audit")["findings"], what="the finding")
    page.locator("#refresh").click()  # not waiting for the page's own 5 s refresh

    row = page.locator("#audit-findings tr[data-kind=unknown_spend]")
    expect(row).to_contain_text(txid)
    expect(row).to_contain_text(f"2.000000 SKY to {SKY_C}")
    expect(page.locator("#audit-summary")).to_contain_text("Differences found: 1")
    screenshot(page, "admin-audit")
