"""The audit in a whole running teller (worker role, admin API, /metrics), paying through the
node simulator: /api/audit answers from the latest round; a spend from the hot wallet that
teller never made shows there and in teller_audit_findings."""

from __future__ import annotations

from typing import Any

from teller.clients.skycoin_node import SkyNodeClient
from teller.payout.base import PayoutOutput
from teller.payout.skycoin_node import SkyNodePayer
from tests.http.running_teller import RunningTeller, StartTeller
from tests.skynode.conftest import SKY_C, SimNode


def audited_teller(start_teller: StartTeller, sim: SimNode) -> RunningTeller:
    return start_teller(
        overrides={
            "sky_rpc": {"address": sim.address},
            "sky_exchanger": {"wallet": str(sim.wallet_path)},
            "dummy": {"sender": False, "fake_deposits_pay_real_sky": True},
            "audit": {"interval": "200ms"},
        }
    )


def audit(tel: RunningTeller) -> dict[str, Any]:
    found = tel.admin_get("/api/audit")
    assert isinstance(found, dict)
    return found


async def test_api_audit_and_metrics_show_an_unknown_spend(
    start_teller: StartTeller, sim: SimNode
) -> None:
    tel = audited_teller(start_teller, sim)
    clean = tel.wait_for(lambda: (a := audit(tel))["ran_at"] and a, what="a first round")
    assert (clean["enabled"], clean["clean"], clean["findings"]) == (True, True, [])
    states = {c["name"]: c["state"] for c in clean["checks"]}
    assert states == {
        "hot_wallet_spends": "ok",
        "hot_wallet_balance": "ok",
        "exchange_orders": "not_checked",  # direct mode: no exchange account
    }

    rogue = SkyNodePayer(SkyNodeClient(sim.address), sim.wallet)
    signed = await rogue.build_payout([PayoutOutput(SKY_C, 3_000_000, "rogue")], [])
    await rogue.broadcast(signed.raw_tx)

    report = tel.wait_for(lambda: (a := audit(tel))["findings"] and a, what="the finding")
    [finding] = report["findings"]
    assert finding["kind"] == "unknown_spend" and finding["subject"] == signed.txid
    assert report["clean"] is False
    metrics = tel.http.get(tel.admin + "/metrics").text
    assert 'teller_audit_findings{kind="unknown_spend"} 1.0' in metrics
    assert 'teller_audit_findings{kind="hot_wallet_short"} 0.0' in metrics
    assert "teller_audit_last_run_timestamp_seconds " in metrics

    # The spend holds the sender: shown in /api/health (public: no txid) and the admin API.
    exchange = tel.wait_for(
        lambda: (
            (e := tel.http.get(tel.public + "/api/health").json()["exchange"])["payouts_held"] and e
        ),
        what="the hold in /api/health",
    )
    assert exchange["sender_error"].startswith("payouts held:")
    assert signed.txid not in exchange["sender_error"]
    hold = tel.admin_get("/api/payouts/hold")
    assert hold["held"] is True and [h["spend_txid"] for h in hold["holds"]] == [signed.txid]
    assert "teller_payouts_held 1.0" in tel.http.get(tel.admin + "/metrics").text
    resumed = tel.http.post(tel.admin + "/api/payouts/resume")
    assert resumed.status_code == 200 and resumed.json()["released"] == [signed.txid]
    assert tel.http.post(tel.admin + "/api/payouts/resume").status_code == 409
    # /api/health is made at most once a second: the next answer shows the hold gone.
    exchange = tel.wait_for(
        lambda: (
            not (e := tel.http.get(tel.public + "/api/health").json()["exchange"])["payouts_held"]
            and e
        ),
        what="the hold gone from /api/health",
    )
    assert (exchange["payouts_held"], exchange["sender_error"]) == (False, "")
    assert "teller_payouts_held 0.0" in tel.http.get(tel.admin + "/metrics").text
    [action] = tel.admin_get("/api/actions", target="payouts", limit="1")["actions"]
    assert (action["actor"], action["outcome"]) == ("admin-api", "refused: payouts are not held")


def test_api_audit_says_when_the_audit_is_off(start_teller: StartTeller) -> None:
    tel = start_teller(overrides={"audit": {"interval": "0"}})

    answer = audit(tel)

    assert answer["enabled"] is False and answer["findings"] == []
    assert "teller_audit_findings" not in tel.http.get(tel.admin + "/metrics").text
