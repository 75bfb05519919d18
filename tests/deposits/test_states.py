"""Status changes, on SQLite and PostgreSQL: each kind is checked against the state machine
and written as a compare-and-set, one deposit at a time or in one statement for many."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from teller.deposits import direct as processor_module
from teller.deposits import states
from teller.errors import InvalidTransition
from teller.store import payouts as payout_store
from teller.store.db import Database
from teller.store.deposits import StaleStatus, assign_payout
from teller.store.models import Deposit
from tests.pipeline import SKY_A, SKY_B, Pipeline, build_pipeline

TXID = "ab" * 32

# DESIGN.md §3, written out: every move the state machine allows.
ALLOWED = {
    (states.WAITING_DECIDE, states.WAITING_SEND),
    (states.WAITING_DECIDE, states.WAITING_PASSTHROUGH),
    (states.WAITING_DECIDE, states.DONE),
    (states.WAITING_PASSTHROUGH, states.WAITING_PASSTHROUGH_ORDER_COMPLETE),
    # A deposit bought over several orders ends in waiting_passthrough, between two orders,
    # when what is left cannot buy the exchange's minimum.
    (states.WAITING_PASSTHROUGH, states.WAITING_SEND),
    (states.WAITING_PASSTHROUGH, states.DONE),
    (states.WAITING_PASSTHROUGH_ORDER_COMPLETE, states.WAITING_PASSTHROUGH),
    (states.WAITING_PASSTHROUGH_ORDER_COMPLETE, states.WAITING_SEND),
    (states.WAITING_PASSTHROUGH_ORDER_COMPLETE, states.DONE),
    (states.WAITING_SEND, states.WAITING_CONFIRM),
    (states.WAITING_SEND, states.DONE),
    (states.WAITING_CONFIRM, states.DONE),
}


def _recorded(pipeline: Pipeline, count: int) -> list[Deposit]:
    """`count` deposits in waiting_decide, as read back from the store."""
    ids = []
    for i in range(count):
        pipeline.deposit(
            pipeline.bind("BTC", SKY_A if i % 2 else SKY_B), 1_000_000 * (i + 1), f"t{i}"
        )
        ids.append(f"t{i}:0")
    return [pipeline.get(deposit_id) for deposit_id in ids]


def _statuses(pipeline: Pipeline, deposits: list[Deposit]) -> list[str]:
    return [pipeline.get(d.deposit_id).status for d in deposits]


def test_check_transition_allows_exactly_the_moves_of_the_design() -> None:
    stored = [s for s in states.ALL_STATUSES if states.is_stored_status(s)]
    for current, new in itertools.product(states.ALL_STATUSES, stored):
        if (current, new) in ALLOWED:
            states.check_transition(current, new)
        else:
            with pytest.raises(InvalidTransition, match="cannot move"):
                states.check_transition(current, new)


def test_move_each_sets_each_deposit_its_own_values(both: Pipeline) -> None:
    deposits = _recorded(both, 3)
    moves: list[tuple[Deposit, str, dict[str, Any]]] = [
        (d, states.WAITING_SEND, {"conversion_rate": "500", "sky_due": 10 + i})
        for i, d in enumerate(deposits)
    ]
    # A second move of the same read: by its turn the deposit is waiting_send, so it is stale.
    moves.append((deposits[2], states.DONE, {"error": "x"}))
    with pytest.raises(StaleStatus), both.db.write() as conn:
        states.move_each(conn, moves, 5)
    assert _statuses(both, deposits) == [states.WAITING_DECIDE] * 3  # rolled back, all of it
    with both.db.write() as conn:
        states.move_each(conn, moves[:3], 5)
    after = [both.get(d.deposit_id) for d in deposits]
    assert [(d.status, d.sky_due, d.updated_at) for d in after] == [
        (states.WAITING_SEND, 10, 5),
        (states.WAITING_SEND, 11, 5),
        (states.WAITING_SEND, 12, 5),
    ]


def test_move_each_checks_every_transition_before_writing_any(both: Pipeline) -> None:
    first, second = _recorded(both, 2)
    moves: list[tuple[Deposit, str, dict[str, Any]]] = [
        (first, states.WAITING_SEND, {"sky_due": 1}),
        (second, states.WAITING_CONFIRM, {}),  # not allowed from waiting_decide
    ]
    with pytest.raises(InvalidTransition, match="cannot move"), both.db.write() as conn:
        states.move_each(conn, moves, 5)
    sneaky: list[tuple[Deposit, str, dict[str, Any]]] = [
        (first, states.WAITING_SEND, {"sky_due": 1}),
        (second, states.WAITING_SEND, {"status": states.WAITING_CONFIRM}),  # past the check
    ]
    with pytest.raises(ValueError, match="apart from the values"), both.db.write() as conn:
        states.move_each(conn, sneaky, 5)
    assert _statuses(both, [first, second]) == [states.WAITING_DECIDE] * 2


def test_move_each_refuses_a_deposit_moved_since_it_was_read(both: Pipeline) -> None:
    deposits = _recorded(both, 3)
    with both.db.write() as conn:  # another step gets to the middle one first
        states.move(conn, deposits[1], states.DONE, 4, error="moved elsewhere")
    moves: list[tuple[Deposit, str, dict[str, Any]]] = [
        (d, states.WAITING_SEND, {"sky_due": 7}) for d in deposits
    ]
    with pytest.raises(StaleStatus), both.db.write() as conn:
        states.move_each(conn, moves, 5)
    after = [both.get(d.deposit_id) for d in deposits]
    assert [(d.status, d.sky_due) for d in after] == [
        (states.WAITING_DECIDE, 0),
        (states.DONE, 0),
        (states.WAITING_DECIDE, 0),
    ]


def _payout_of_two(pipeline: Pipeline) -> list[Deposit]:
    """Three deposits in waiting_send; the first two assigned to the payout TXID."""
    deposits = _recorded(pipeline, 3)
    pipeline.processor.decide_batch()
    with pipeline.db.write() as conn:
        payout_store.insert_payout(conn, txid=TXID, raw_tx="00", inputs=[], total_droplets=1, now=2)
        assign_payout(conn, [deposits[0].deposit_id, deposits[1].deposit_id], TXID, 2)
    return [pipeline.get(d.deposit_id) for d in deposits]


def test_move_payout_deposits_moves_only_the_payouts_deposits_in_the_expected_status(
    both: Pipeline,
) -> None:
    first, second, other = _payout_of_two(both)
    with both.db.write() as conn:  # one of the payout's deposits is no longer waiting_send
        states.move(conn, second, states.DONE, 3, error="stopped")
    with both.db.write() as conn:
        moved = states.move_payout_deposits(
            conn, TXID, states.WAITING_SEND, states.WAITING_CONFIRM, 4, send_due=True
        )
    assert moved == 1
    first, second, other = (both.get(d.deposit_id) for d in (first, second, other))
    assert (first.status, first.sky_sent, first.updated_at) == (
        states.WAITING_CONFIRM,
        first.sky_due,
        4,
    )
    assert first.sky_due > 0
    assert (second.status, second.sky_sent) == (states.DONE, 0)  # left alone
    assert (other.status, other.sky_sent, other.payout_txid) == (states.WAITING_SEND, 0, None)


@pytest.mark.parametrize(
    ("expected", "new"),
    [
        (states.WAITING_CONFIRM, states.WAITING_SEND),
        (states.WAITING_DECIDE, states.WAITING_CONFIRM),
        (states.DONE, states.WAITING_CONFIRM),
    ],
)
def test_move_payout_deposits_refuses_a_move_the_state_machine_forbids(
    both: Pipeline, expected: str, new: str
) -> None:
    deposits = _payout_of_two(both)
    with pytest.raises(InvalidTransition, match="cannot move"), both.db.write() as conn:
        states.move_payout_deposits(conn, TXID, expected, new, 4)
    assert _statuses(both, deposits) == [states.WAITING_SEND] * 3


def test_a_batch_with_a_deposit_moved_since_it_was_read_is_decided_again_later(
    both: Pipeline, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fresh, stale = _recorded(both, 2)
    with both.db.write() as conn:  # someone else decides `stale` after our read of it
        states.move(conn, stale, states.DONE, 3, error="decided elsewhere")
    real: Callable[..., list[Deposit]] = processor_module.deposits_by_status
    monkeypatch.setattr(
        processor_module, "deposits_by_status", lambda *a, **k: [*real(*a, **k), stale]
    )
    with pytest.raises(StaleStatus):
        both.processor.decide_batch()
    assert both.get(fresh.deposit_id).status == states.WAITING_DECIDE  # nothing stands
    assert "deposit decided" not in caplog.text  # and nothing was logged as decided
    monkeypatch.setattr(processor_module, "deposits_by_status", real)
    assert both.processor.decide_batch() == 1
    assert both.get(fresh.deposit_id).status == states.WAITING_SEND
    assert both.get(stale.deposit_id).error == "decided elsewhere"


async def test_deposits_are_paid_once_and_done_on_both_backends(
    db: Database, tmp_path: Path
) -> None:
    pipeline = build_pipeline(db, tmp_path, balance_sky=1000, auto_confirm=True)
    deposits = _recorded(pipeline, 4)
    pipeline.deposit(deposits[0].deposit_address, 1_000_000, "t0")  # reported again
    pipeline.deposit(pipeline.bind("BTC"), 150, "tiny")  # too small: done, unpaid
    assert pipeline.processor.decide_batch() == 5
    for _ in range(3):
        await pipeline.sender.step()
    done = [pipeline.get(d.deposit_id) for d in deposits]
    assert {d.status for d in done} == {states.DONE}
    assert [d.sky_sent for d in done] == [5_000_000 * (i + 1) for i in range(4)]
    assert all(d.sky_sent == d.sky_due for d in done)
    [broadcast] = pipeline.payer.broadcasts()
    assert sorted(d for _, d in broadcast.outputs) == [d.sky_due for d in done]
    assert pipeline.get("tiny:0").status == states.DONE and pipeline.get("tiny:0").sky_sent == 0
