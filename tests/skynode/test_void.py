"""Operator tools on the node simulator: void a stuck payout, record a payment made by hand,
release and stop deposits (services/operator.py, payout/void.py), checked on the simulator's
ledger (what the chain paid), never on teller's records alone."""

from __future__ import annotations

import logging

import pytest

from teller.errors import ActionRefused, BadRequest
from teller.payout.base import PayoutOutput
from teller.services import operator
from teller.store import operator_actions as ops
from teller.store import payouts as payout_store
from teller.store.models import Payout

from .conftest import SKY_A, SKY_B, SimNode, SkyPipeline

BTC = 100_000_000
ACTOR = "alice"


def _ctx(p: SkyPipeline) -> operator.OperatorContext:
    return operator.OperatorContext(p.db, p.payer)


def _payout(p: SkyPipeline, txid: str) -> Payout:
    with p.db.read() as conn:
        found = payout_store.get_payout(conn, txid)
    assert found is not None
    return found


def _actions(p: SkyPipeline, target: str) -> list[ops.OperatorAction]:
    with p.db.read() as conn:
        return ops.recent_actions(conn, 10, target)


async def _stuck_payout(p: SkyPipeline, sim: SimNode, tx: str) -> tuple[str, str]:
    """A deposit whose stored payout the node keeps refusing to broadcast: (deposit, txid)."""
    sim.fail_broadcasts(True)
    deposit_id = p.deposit(p.bind(SKY_A), BTC // 100, tx)  # 5 SKY
    await p.settle(1)
    txid = p.get(deposit_id).payout_txid
    assert txid is not None and _payout(p, txid).status == payout_store.SIGNED
    return deposit_id, txid


async def test_a_payout_that_cannot_be_broadcast_is_reported_stuck_once_never_re_signed(
    sky_pipeline: SkyPipeline, sim: SimNode, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue 13, item 7: a stored payout the node keeps refusing (not for spent inputs) was
    # retried for ever and nothing said so. Past the threshold it is shown in /api/health
    # with the way out, raised once with notice=WATCH, and still retried, never re-signed.
    p = sky_pipeline
    p.sender.stuck_broadcast_attempts = 3
    caplog.set_level(logging.INFO, logger="teller")
    deposit_id, txid = await _stuck_payout(p, sim, "ab" * 32)  # 1 failed broadcast
    await p.settle(1)
    assert "stuck" not in p.board.sender_error
    await p.settle(3)
    assert f"payout {txid} is stuck: " in p.board.sender_error
    assert f"(teller payout void {txid})" in p.board.sender_error
    watched = [r for r in caplog.records if getattr(r, "notice", None) == "WATCH"]
    assert [r.getMessage() for r in watched] == [
        "payout stuck: it cannot be broadcast; fix the node or void it"
    ]
    stuck = _payout(p, txid)
    assert (stuck.status, stuck.attempts >= 3, p.get(deposit_id).payout_txid) == (
        payout_store.SIGNED,
        True,
        txid,
    )
    sim.fail_broadcasts(False)  # the node is fixed: the same bytes go through
    await p.settle(1)
    assert sim.pending() == [txid] and p.board.sender_error == ""
    sim.make_block()
    await p.settle(1)
    assert sim.ledger(SKY_A)[SKY_A] == (1, 5_000_000)


async def test_a_stuck_payout_is_voided_then_its_deposit_is_paid_once_anew(
    sky_pipeline: SkyPipeline, sim: SimNode
) -> None:
    p = sky_pipeline
    deposit_id, txid = await _stuck_payout(p, sim, "aa" * 32)
    found = await operator.void_payout(_ctx(p), txid, ACTOR)
    void_txid = found["void_txid"]
    assert found["deposits"] == [deposit_id] and _payout(p, txid).status == ops.VOIDING
    assert _actions(p, txid)[0].actor == ACTOR
    sim.fail_broadcasts(False)
    await p.sender.step()  # broadcasts the void, never the voided payout's bytes
    assert sim.pending() == [void_txid]
    # Not before the void confirms: the deposit still points at the voided payout.
    assert p.get(deposit_id).payout_txid == txid
    sim.make_block()
    await p.sender.step()  # the void confirmed: the deposit goes back to be paid
    assert _payout(p, txid).status == ops.VOIDED
    assert _payout(p, void_txid).status == payout_store.CONFIRMED
    assert (await operator.void_progress(_ctx(p), txid))["outcome"].startswith("done")
    await p.settle(2)  # a new payout, signed fresh
    new_txid = p.get(deposit_id).payout_txid
    assert new_txid not in (None, txid, void_txid)
    sim.make_block()
    await p.settle(2)
    assert p.get(deposit_id).status == "done"
    assert sim.ledger(SKY_A)[SKY_A] == (1, 5_000_000)  # paid exactly once on the chain


async def test_a_void_that_loses_to_its_payout_leaves_the_deposit_paid_once(
    sky_pipeline: SkyPipeline, sim: SimNode
) -> None:
    p = sky_pipeline
    deposit_id = p.deposit(p.bind(SKY_A), BTC // 100, "bb" * 32)
    await p.settle(1)  # broadcast: in the node's pool, ahead of any void
    txid = p.get(deposit_id).payout_txid
    assert txid is not None and sim.pending() == [txid]
    found = await operator.void_payout(_ctx(p), txid, ACTOR)
    await p.sender.step()
    assert set(sim.pending()) == {txid, found["void_txid"]}
    sim.make_block()  # the older one wins
    for _ in range(3):
        await p.sender.step()
    assert _payout(p, txid).status == payout_store.CONFIRMED
    assert _payout(p, found["void_txid"]).status == payout_store.CONFLICTED
    deposit = p.get(deposit_id)
    assert (deposit.status, deposit.payout_txid, deposit.sky_sent) == ("done", txid, 5_000_000)
    assert _actions(p, txid)[0].outcome.startswith("failed: the payout confirmed")
    await p.settle(2)
    sim.make_block()
    assert sim.ledger(SKY_A)[SKY_A] == (1, 5_000_000)


async def test_void_refuses_confirmed_unknown_and_malformed_payouts(
    sky_pipeline: SkyPipeline, sim: SimNode
) -> None:
    p = sky_pipeline
    deposit_id = p.deposit(p.bind(SKY_A), BTC // 100, "cc" * 32)
    await p.settle(1)
    txid = p.get(deposit_id).payout_txid
    assert txid is not None
    sim.make_block()
    await p.settle(1)
    with pytest.raises(ActionRefused, match="confirmed"):
        await operator.void_payout(_ctx(p), txid, ACTOR)
    with pytest.raises(ActionRefused, match="no payout"):
        await operator.void_payout(_ctx(p), "ab" * 32, ACTOR)
    with pytest.raises(BadRequest):
        await operator.void_payout(_ctx(p), "nope", ACTOR)
    assert _actions(p, txid)[0].outcome.startswith("refused: payout")  # refusals audited
    # A second void of a voiding payout is refused too.
    _dep, stuck = await _stuck_payout(p, sim, "cd" * 32)
    await operator.void_payout(_ctx(p), stuck, ACTOR)
    with pytest.raises(ActionRefused, match="voiding"):
        await operator.void_payout(_ctx(p), stuck, ACTOR)


async def test_record_payment_checks_the_chain_and_never_pays_twice(
    sky_pipeline: SkyPipeline, sim: SimNode
) -> None:
    p = sky_pipeline
    ctx = _ctx(p)
    # A payment made by hand: teller's own wallet paying SKY_B 5 SKY, built by a second payer.
    paid = p.deposit(p.bind(SKY_B), BTC // 100, "dd" * 32)
    await p.settle(1)
    hand_txid = p.get(paid).payout_txid
    assert hand_txid is not None
    # This deposit is in a payout that could still confirm: refused (void it first).
    with pytest.raises(ActionRefused, match="void it first"):
        await operator.record_payment(ctx, paid, hand_txid, ACTOR)
    sim.make_block()
    await p.settle(1)
    # A stopped deposit of SKY_B, paid by hand with that same transaction? It is teller's
    # own payout: refused.
    sim.fail_broadcasts(True)
    other = p.deposit(p.bind(SKY_B), BTC // 100, "de" * 32)
    p.processor.decide_batch()
    await operator.stop(ctx, other, "paid by hand", ACTOR)
    with pytest.raises(ActionRefused, match="teller's own"):
        await operator.record_payment(ctx, other, hand_txid, ACTOR)
    assert p.get(other).status == "done" and p.get(other).sky_sent == 0
    # Unknown to the node: refused.
    with pytest.raises(ActionRefused, match="unknown to the node"):
        await operator.record_payment(ctx, other, "ef" * 32, ACTOR)


async def test_stop_and_release_refuse_what_could_pay_twice(
    sky_pipeline: SkyPipeline, sim: SimNode
) -> None:
    p = sky_pipeline
    ctx = _ctx(p)
    deposit_id, _txid = await _stuck_payout(p, sim, "ee" * 32)
    with pytest.raises(ActionRefused, match="void it first"):
        await operator.stop(ctx, deposit_id, "no", ACTOR)
    with pytest.raises(ActionRefused, match="not held"):
        await operator.release(ctx, deposit_id, ACTOR)
    waiting = p.deposit(p.bind(SKY_B), BTC // 100, "ef" * 32)
    p.processor.decide_batch()
    with pytest.raises(BadRequest):
        await operator.stop(ctx, waiting, "  ", ACTOR)
    found = await operator.stop(ctx, waiting, "buyer asked for a refund", ACTOR)
    assert found["status"] == "done"
    stopped = p.get(waiting)
    assert (stopped.status, stopped.error, stopped.sky_sent) == (
        "done",
        "buyer asked for a refund",
        0,
    )
    with pytest.raises(ActionRefused, match="done already"):
        await operator.stop(ctx, waiting, "again", ACTOR)
    sim.fail_broadcasts(False)
    await p.settle(2)
    sim.make_block()
    await p.settle(2)
    assert sim.ledger(SKY_B)[SKY_B] == (0, 0)  # the stopped deposit was never paid
    trail = (await operator.actions(ctx, 10))["actions"]
    assert [a["action"] for a in trail][:2] == ["deposit.stop", "deposit.stop"]
    assert trail[0]["outcome"].startswith("refused") and trail[1]["outcome"].startswith("done")


async def test_one_payment_by_hand_covers_deposits_of_its_address_up_to_what_it_paid(
    sky_pipeline: SkyPipeline, sim: SimNode
) -> None:
    p = sky_pipeline
    ctx = _ctx(p)
    sim.fail_broadcasts(True)  # teller pays nothing itself here
    first = p.deposit(p.bind(SKY_B), BTC // 100, "f1" * 32)  # 5 SKY each
    second = p.deposit(p.bind(SKY_B), BTC // 100, "f2" * 32)
    third = p.deposit(p.bind(SKY_B), BTC // 100, "f3" * 32)
    p.processor.decide_batch()
    for deposit_id in (first, second, third):
        await operator.stop(ctx, deposit_id, "paid by hand", ACTOR)
    # The operator pays 10 SKY to SKY_B by hand (from the same wallet, outside teller's store).
    hand = await p.payer.build_payout([PayoutOutput(SKY_B, 10_000_000, "hand")], [])
    sim.fail_broadcasts(False)
    with pytest.raises(ActionRefused, match="not confirmed yet"):
        await p.payer.broadcast(hand.raw_tx)
        await operator.record_payment(ctx, first, hand.txid, ACTOR)
    sim.make_block()
    done = await operator.record_payment(ctx, first, hand.txid, ACTOR)
    assert (done["status"], done["sky_sent"]) == ("done", "5.000000")
    await operator.record_payment(ctx, second, hand.txid.upper(), ACTOR)
    with pytest.raises(ActionRefused, match=r"15\.000000 SKY in all"):
        await operator.record_payment(ctx, third, hand.txid, ACTOR)
    with pytest.raises(ActionRefused, match="paid already"):
        await operator.record_payment(ctx, first, hand.txid, ACTOR)
    assert [(p.get(d).status, p.get(d).sky_sent, p.get(d).payout_txid) for d in (first, third)] == [
        ("done", 5_000_000, hand.txid),
        ("done", 0, None),
    ]
    assert _payout(p, hand.txid).kind == ops.KIND_MANUAL


async def test_record_payment_refuses_a_payment_elsewhere_or_of_less_and_audits_each_try(
    sky_pipeline: SkyPipeline, sim: SimNode
) -> None:
    p = sky_pipeline
    ctx = _ctx(p)
    sim.fail_broadcasts(True)  # teller pays nothing itself here
    deposit_id = p.deposit(p.bind(SKY_B), BTC // 100, "c7" * 32)  # owed 5 SKY
    p.processor.decide_batch()
    await operator.stop(ctx, deposit_id, "paid by hand", ACTOR)
    sim.fail_broadcasts(False)

    async def paid_by_hand(to: str, droplets: int) -> str:
        made = await p.payer.build_payout([PayoutOutput(to, droplets, "hand")], [])
        await p.payer.broadcast(made.raw_tx)
        sim.make_block()
        return made.txid

    elsewhere = await paid_by_hand(SKY_A, 5_000_000)  # the right amount, to another address
    with pytest.raises(ActionRefused, match=f"paid {SKY_B} 0.000000 SKY; deposit .* is owed 5"):
        await operator.record_payment(ctx, deposit_id, elsewhere, ACTOR)
    short = await paid_by_hand(SKY_B, 4_000_000)
    with pytest.raises(ActionRefused, match=f"paid {SKY_B} 4.000000 SKY; deposit .* is owed 5"):
        await operator.record_payment(ctx, deposit_id, short, ACTOR)
    unchanged = p.get(deposit_id)
    assert (unchanged.status, unchanged.sky_sent, unchanged.payout_txid) == ("done", 0, None)

    right = await paid_by_hand(SKY_B, 5_000_000)
    await operator.record_payment(ctx, deposit_id, right, ACTOR)
    paid = p.get(deposit_id)
    assert (paid.status, paid.sky_sent, paid.payout_txid) == ("done", 5_000_000, right)
    assert [(a.actor, a.action, a.outcome.split(":")[0]) for a in _actions(p, deposit_id)] == [
        (ACTOR, "deposit.record_payment", "done"),
        (ACTOR, "deposit.record_payment", "refused"),
        (ACTOR, "deposit.record_payment", "refused"),
        (ACTOR, "deposit.stop", "done"),
    ]
    assert sim.ledger(SKY_B)[SKY_B] == (2, 9_000_000)  # teller itself paid nothing
