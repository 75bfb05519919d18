"""An imported Go `waiting_send` deposit is paid only if the chain shows no earlier payment
(issue 13, item 3; payout/earlier_payment.py), on the node simulator.

The Go teller broadcast inside its Bolt transaction: a crash right after left the deposit
`waiting_send` without a txid, already paid. The importer holds such deposits
(HOLD_CHECK_EARLIER_PAYMENT; tests/goteller/test_import.py checks that); here the store is
given that hold directly and the past payment is a transaction from the hot wallet that
teller's store does not know. What the buyers got is read from the simulator's ledger.
"""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import update

from teller.deposits import states
from teller.payout.base import PayoutOutput
from teller.services import operator
from teller.store import operator_actions as ops
from teller.store import tables
from teller.store.deposits import HOLD_CHECK_EARLIER_PAYMENT, held_deposits

from .conftest import SKY_A, SKY_B, SimNode, SkyPipeline

BTC = 100_000_000  # 1 BTC = 500 SKY here: BTC // 100 is 5 SKY
SKY = 1_000_000
ACTOR = "alice"


def _imported_waiting_send(p: SkyPipeline, sky_address: str, tx: str) -> str:
    """A deposit owed 5 SKY, held as the importer holds a Go `waiting_send` one."""
    deposit_id = p.deposit(p.bind(sky_address), BTC // 100, tx)
    p.processor.decide_batch()
    with p.db.write() as conn:
        conn.execute(
            update(tables.deposits)
            .where(tables.deposits.c.deposit_id == deposit_id)
            .values(hold_reason=HOLD_CHECK_EARLIER_PAYMENT)
        )
    assert p.get(deposit_id).status == states.WAITING_SEND
    return deposit_id


async def _paid_before_by_the_hot_wallet(p: SkyPipeline, sim: SimNode, to: str, sky: int) -> str:
    """A payment from the hot wallet the store never recorded (the Go teller's), confirmed."""
    made = await p.payer.build_payout([PayoutOutput(to, sky * SKY, "go")], [])
    await p.payer.broadcast(made.raw_tx)
    assert sim.make_block() == [made.txid]
    return made.txid


def _watches(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if getattr(r, "notice", None) == "WATCH"]


async def test_a_deposit_the_go_teller_paid_before_its_crash_is_recorded_not_paid_again(
    sky_pipeline: SkyPipeline, sim: SimNode, caplog: pytest.LogCaptureFixture
) -> None:
    p = sky_pipeline
    earlier = await _paid_before_by_the_hot_wallet(p, sim, SKY_A, 5)
    deposit_id = _imported_waiting_send(p, SKY_A, "a1" * 32)
    caplog.set_level(logging.INFO, logger="teller")
    await p.settle(3)
    sim.make_block()
    await p.settle(2)
    found = p.get(deposit_id)
    assert (found.status, found.payout_txid, found.sky_sent, found.hold_reason) == (
        states.DONE,
        earlier,
        5 * SKY,
        None,
    )
    assert sim.ledger(SKY_A) == {SKY_A: (1, 5 * SKY)}  # paid once: by the Go teller
    assert _watches(caplog) == [
        "imported deposit was paid by the Go teller before its crash; recorded, not paid again"
    ]


async def test_a_deposit_with_no_earlier_payment_is_paid_once(
    sky_pipeline: SkyPipeline, sim: SimNode, caplog: pytest.LogCaptureFixture
) -> None:
    p = sky_pipeline
    deposit_id = _imported_waiting_send(p, SKY_A, "a2" * 32)
    caplog.set_level(logging.INFO, logger="teller")
    await p.settle(2)
    sim.make_block()
    await p.settle(2)
    found = p.get(deposit_id)
    assert (found.status, found.sky_sent, found.hold_reason) == (states.DONE, 5 * SKY, None)
    assert sim.ledger(SKY_A) == {SKY_A: (1, 5 * SKY)}
    assert _watches(caplog) == []


async def test_an_undecidable_one_is_held_listed_and_paid_only_once_released(
    sky_pipeline: SkyPipeline, sim: SimNode, caplog: pytest.LogCaptureFixture
) -> None:
    # The hot wallet paid the address another amount: maybe this deposit, maybe not.
    p = sky_pipeline
    earlier = await _paid_before_by_the_hot_wallet(p, sim, SKY_B, 3)
    deposit_id = _imported_waiting_send(p, SKY_B, "a3" * 32)
    caplog.set_level(logging.INFO, logger="teller")
    for _ in range(3):
        await p.settle(2)
        sim.make_block()
    held = p.get(deposit_id)
    assert (held.status, held.payout_txid, held.sky_sent) == (states.WAITING_SEND, None, 0)
    assert held.hold_reason is not None and earlier in held.hold_reason
    with p.db.read() as conn:
        assert [d.deposit_id for d in held_deposits(conn)] == [deposit_id]  # /api/deposits/held
    assert _watches(caplog) == [
        "imported deposit held: it may have been paid already; release or settle it by hand"
    ]
    assert sim.ledger(SKY_B) == {SKY_B: (1, 3 * SKY)}  # nothing paid while held

    await operator.release(operator.OperatorContext(p.db, p.payer), deposit_id, ACTOR)
    await p.settle(2)
    sim.make_block()
    await p.settle(2)
    assert p.get(deposit_id).status == states.DONE
    assert sim.ledger(SKY_B) == {SKY_B: (2, 8 * SKY)}  # the operator's decision: paid once
    with p.db.read() as conn:
        assert held_deposits(conn) == []
        [action] = ops.recent_actions(conn, 5, deposit_id)
    assert (action.actor, action.action, action.outcome) == (
        ACTOR,
        "deposit.release",
        "done: released",
    )


async def test_one_earlier_payment_settles_one_of_two_held_deposits_never_both(
    sky_pipeline: SkyPipeline, sim: SimNode
) -> None:
    p = sky_pipeline
    earlier = await _paid_before_by_the_hot_wallet(p, sim, SKY_A, 5)
    first = _imported_waiting_send(p, SKY_A, "a4" * 32)
    second = _imported_waiting_send(p, SKY_A, "a5" * 32)
    await p.settle(2)
    sim.make_block()
    await p.settle(2)
    assert p.get(first).payout_txid == earlier
    paid_anew = p.get(second)
    assert paid_anew.status == states.DONE and paid_anew.payout_txid not in (None, earlier)
    assert sim.ledger(SKY_A) == {SKY_A: (2, 10 * SKY)}  # each deposit paid exactly once
