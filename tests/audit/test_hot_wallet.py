"""The audit's hot-wallet checks on a real store and the Skycoin node simulator: every spend
from the hot wallet is a stored payout, confirmed payouts sent on the chain what teller
recorded, and the wallet covers the deposits waiting to be paid."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from sqlalchemy import update

from teller.audit.checks import CheckResult
from teller.audit.loop import Auditor, AuditPeers, AuditReport
from teller.clients.skycoin_node import SkyNodeClient
from teller.payout.base import PayoutOutput
from teller.payout.skycoin_node import SkyNodePayer
from teller.services import operator
from teller.store import holds
from teller.store import payouts as payout_store
from teller.store.db import Database
from teller.store.tables import payouts
from tests.skynode.conftest import SKY_A, SKY_C, SimNode, SkyPipeline, build_sky_pipeline

SKY = 1_000_000


def auditor(p: SkyPipeline) -> Auditor:
    peers = AuditPeers(sky=p.payer.client, hot_addresses=tuple(p.payer.addresses))
    return Auditor(p.db, peers, interval_seconds=60)


def check(report: AuditReport, name: str) -> CheckResult:
    [found] = [c for c in report.checks if c.name == name]
    return found


def watch_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        str(getattr(r, "fields", {}).get("kind"))
        for r in caplog.records
        if getattr(r, "notice", None) == "WATCH"
    ]


async def pay_one(p: SkyPipeline, tx: str = "aa") -> str:
    """A deposit of 0.01 BTC (5 SKY) paid and confirmed; its payout's txid."""
    deposit_id = p.deposit(p.bind(), 1_000_000, tx)
    await p.settle()
    p.sim.make_block()
    await p.settle()
    paid = p.get(deposit_id)
    assert paid.status == "done" and paid.payout_txid is not None
    return paid.payout_txid


async def test_a_clean_round_finds_no_difference(sky_pipeline: SkyPipeline) -> None:
    await pay_one(sky_pipeline, "aa")
    await pay_one(sky_pipeline, "bb")

    report = await auditor(sky_pipeline).run_once()

    assert report.findings == []
    spends = check(report, "hot_wallet_spends")
    assert spends.state == "ok"
    assert spends.figures["confirmed_payouts"] == 2
    assert spends.figures["sky_sent_recorded"] == spends.figures["sky_sent_on_chain"] == "10.000000"
    balance = check(report, "hot_wallet_balance")
    assert (balance.state, balance.figures["owed"]) == ("ok", "0.000000")
    assert balance.figures["paid_last_24h"] == "10.000000"


async def test_a_spend_by_a_second_teller_is_found_and_logged_once(
    sky_pipeline: SkyPipeline, sim: SimNode, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="teller.audit")
    await pay_one(sky_pipeline)
    audit = auditor(sky_pipeline)
    assert (await audit.run_once()).findings == []
    # A second teller with the same wallet file (or a leaked key) pays someone 7 SKY.
    rogue = SkyNodePayer(SkyNodeClient(sim.address), sim.wallet)
    signed = await rogue.build_payout([PayoutOutput(SKY_C, 7 * SKY, "not-teller's")], [])
    await rogue.broadcast(signed.raw_tx)

    pending = await audit.run_once()
    sim.make_block()
    confirmed = await audit.run_once()

    [first] = pending.findings
    assert (first.kind, first.subject) == ("unknown_spend", signed.txid)
    assert first.found == f"pending: sends 7.000000 SKY to {SKY_C}"
    [second] = confirmed.findings
    assert second.key == first.key and second.found.startswith("confirmed in block")
    assert watch_lines(caplog) == ["unknown_spend"]  # once, not every round
    # The payouts teller did make still agree with the chain.
    assert check(confirmed, "hot_wallet_spends").figures["sky_sent_on_chain"] == "5.000000"


async def test_payouts_the_chain_contradicts_are_found(sky_pipeline: SkyPipeline) -> None:
    first = await pay_one(sky_pipeline, "aa")
    second = await pay_one(sky_pipeline, "bb")
    never_sent = "ab" * 32
    with sky_pipeline.db.write() as conn:
        # The books say the first payout sent 6 SKY (it sent 5), that the second was
        # conflicted (it confirmed), and that a payout the node never saw confirmed.
        conn.execute(update(payouts).where(payouts.c.txid == first).values(total_droplets=6 * SKY))
        conn.execute(
            update(payouts).where(payouts.c.txid == second).values(status=payout_store.CONFLICTED)
        )
        payout_store.insert_payout(
            conn, txid=never_sent, raw_tx="00", inputs=[], total_droplets=SKY, now=1
        )
        conn.execute(
            update(payouts)
            .where(payouts.c.txid == never_sent)
            .values(status=payout_store.CONFIRMED)
        )

    report = await auditor(sky_pipeline).run_once()

    found = {(f.kind, f.subject): (f.expected, f.found) for f in report.findings}
    assert found == {
        ("payout_amount_differs", first): ("6.000000 SKY", "5.000000 SKY"),
        ("conflicted_payout_confirmed", second): (
            "never confirms (teller stopped its deposits as conflicted)",
            found[("conflicted_payout_confirmed", second)][1],
        ),
        ("payout_not_on_chain", never_sent): (
            "confirmed, sending 1.000000 SKY",
            "not among the hot wallet's transactions",
        ),
        ("payouts_sum_differs", "confirmed payouts"): ("7.000000 SKY", "5.000000 SKY"),
    }
    assert found[("conflicted_payout_confirmed", second)][1].startswith("confirmed in block")


async def test_a_wallet_that_cannot_cover_the_waiting_deposits_is_short(
    sqlite_db: Database, make_sim: Callable[..., SimNode]
) -> None:
    node = make_sim(outputs=2, droplets=100 * SKY)
    p = build_sky_pipeline(sqlite_db, node)
    p.deposit(p.bind(), 100_000_000, "big")  # 1 BTC = 500 SKY: sold out
    await p.settle()

    report = await auditor(p).run_once()

    [finding] = report.findings
    assert (finding.kind, finding.subject) == ("hot_wallet_short", "hot wallet")
    assert finding.expected == "at least 500.000000 SKY for the deposits waiting to be paid"
    assert finding.found == "100.000000 SKY available"


async def test_an_unknown_spend_holds_the_sender_until_the_operator_resumes(
    sky_pipeline: SkyPipeline, sim: SimNode, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="teller.audit")
    p = sky_pipeline
    await pay_one(p)
    rogue = SkyNodePayer(SkyNodeClient(sim.address), sim.wallet)
    signed = await rogue.build_payout([PayoutOutput(SKY_C, 7 * SKY, "not-teller's")], [])
    await rogue.broadcast(signed.raw_tx)
    audit = auditor(p)
    await audit.run_once()
    await auditor(p).run_once()  # a restarted audit finds it again: nothing new is written
    with p.db.read() as conn:
        [held] = holds.payouts_held(conn)
    assert held.spend_txid == signed.txid and "7.000000 SKY" in held.reason
    assert watch_lines(caplog) == ["unknown_spend"]  # once, across restarts (the hold's row)

    waiting = p.deposit(p.bind(SKY_A), 2_000_000, "cc")  # 10 SKY, arrives while held
    await p.settle()
    sim.make_block()
    await p.settle()
    assert p.get(waiting).payout_txid is None
    assert sim.ledger(SKY_A)[SKY_A] == (1, 5 * SKY)  # only the payout made before

    await operator.resume_payouts(operator.OperatorContext(p.db, p.payer), "alice")
    await audit.run_once()  # the released spend is still found, and holds no more
    await p.settle()
    sim.make_block()
    await p.settle()
    assert p.get(waiting).status == "done"
    assert sim.ledger(SKY_A)[SKY_A] == (2, 15 * SKY)
