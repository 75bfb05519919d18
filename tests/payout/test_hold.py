"""The audit-driven hold (store/holds.py) as the sender obeys it: while someone else spends from
the hot wallet, no new payout is signed, stored payouts still go out and confirm, and after the
operator's `teller payout resume` every waiting deposit is paid exactly once."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import pytest

from teller.deposits import states
from teller.errors import ActionRefused
from teller.payout.base import PayoutOutput, SignedPayout
from teller.services import operator
from teller.store import holds
from teller.store import operator_actions as ops
from teller.store import payouts as payout_store
from teller.store.models import Payout
from tests.pipeline import SKY_A, SKY_B, Pipeline

SPEND = "5e" * 32  # a transaction teller never made, spending from its hot wallet


def hold(p: Pipeline, txid: str = SPEND) -> bool:
    with p.db.write() as conn:
        return holds.hold_for_spend(conn, txid, "pending: sends 7.000000 SKY to someone", 1)


def count_signatures(p: Pipeline) -> list[int]:
    """Counts the payer's build_payout calls (each signs a payout) from now on."""
    calls: list[int] = []
    build = p.payer.build_payout

    async def counted(
        outputs: Sequence[PayoutOutput], pending: Sequence[Payout], locked: Collection[str] = ()
    ) -> SignedPayout:
        calls.append(len(outputs))
        return await build(outputs, pending, locked)

    p.payer.build_payout = counted  # type: ignore[method-assign]
    return calls


async def settle(p: Pipeline, rounds: int = 3) -> None:
    for _ in range(rounds):
        p.processor.decide_batch()
        await p.sender.step()


async def test_while_held_nothing_is_signed_but_stored_payouts_confirm(both: Pipeline) -> None:
    p = both
    p.deposit(p.bind("BTC", SKY_A), 1_000_000, "aa")  # 5 SKY
    await settle(p, 1)
    first = p.get("aa:0")
    assert first.status == states.WAITING_CONFIRM and first.payout_txid is not None

    assert hold(p)
    p.deposit(p.bind("BTC", SKY_B), 2_000_000, "bb")  # 10 SKY, arrives while held
    signatures = count_signatures(p)
    await settle(p)
    p.restarted_sender()  # the hold is in the store: a restarted sender is held too
    after_restart = count_signatures(p)
    await settle(p)

    assert signatures == [] and after_restart == []
    waiting = p.get("bb:0")
    assert (waiting.status, waiting.payout_txid) == (states.WAITING_SEND, None)
    assert p.paid_to(SKY_B) == []
    # The payout stored before the hold is still confirmed.
    p.payer.confirm(txid=first.payout_txid)
    await settle(p, 1)
    assert p.get("aa:0").status == states.DONE

    ctx = operator.OperatorContext(p.db, p.payer)
    found = await operator.resume_payouts(ctx, "alice")
    assert found == {"held": False, "released": [SPEND]}
    await settle(p)
    assert p.paid_to(SKY_B) == [10_000_000]
    assert p.paid_to(SKY_A) == [5_000_000]
    [action] = (await operator.actions(ctx, 1))["actions"]
    assert (action["action"], action["actor"]) == ("payout.resume", "alice")
    assert SPEND in action["detail"] and action["outcome"].startswith("done")


async def test_a_hold_written_while_a_payout_is_signed_keeps_it_from_being_stored(
    pipeline: Pipeline,
) -> None:
    p = pipeline
    p.deposit(p.bind("BTC", SKY_A), 1_000_000, "aa")
    p.processor.decide_batch()
    build = p.payer.build_payout

    async def audit_holds_meanwhile(
        outputs: Sequence[PayoutOutput], pending: Sequence[Payout], locked: Collection[str] = ()
    ) -> SignedPayout:
        signed = await build(outputs, pending, locked)
        hold(p)  # the audit's round commits between the sender's read and its store
        return signed

    p.payer.build_payout = audit_holds_meanwhile  # type: ignore[method-assign]
    await p.sender.step()

    deposit = p.get("aa:0")
    assert (deposit.status, deposit.payout_txid) == (states.WAITING_SEND, None)
    assert p.payer.broadcasts() == []
    with p.db.read() as conn:
        assert payout_store.payouts_by_status(conn, payout_store.SIGNED) == []


async def test_resume_refuses_when_nothing_is_held_and_a_released_spend_never_holds_again(
    pipeline: Pipeline,
) -> None:
    p = pipeline
    ctx = operator.OperatorContext(p.db, None)
    with pytest.raises(ActionRefused, match="not held"):
        await operator.resume_payouts(ctx, "alice")
    assert hold(p) and not hold(p)  # the next round finds it again: nothing changes
    assert (await operator.payout_holds(ctx))["held"] is True
    await operator.resume_payouts(ctx, "alice")

    assert not hold(p)  # the same spend, found again after the release: not held
    assert (await operator.payout_holds(ctx))["held"] is False
    assert hold(p, "6f" * 32)  # another spend holds the sender anew
    view = await operator.payout_holds(ctx)
    assert view["held"] is True
    assert {h["spend_txid"]: h["released_by"] for h in view["holds"]} == {
        SPEND: "alice",
        "6f" * 32: "",
    }
    with p.db.read() as conn:
        trail = ops.recent_actions(conn, 5, target="payouts")
    assert [a.outcome.split(":")[0] for a in trail] == ["done", "refused"]
