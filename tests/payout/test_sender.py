"""Paying SKY exactly once: sign, store, broadcast, confirm — through failures and restarts."""

from __future__ import annotations

import pytest

from teller.deposits import states
from teller.errors import SendConflict, SendTemporary
from teller.payout.base import PayoutOutput
from teller.payout.sender import choose_affordable
from teller.store import payouts as payout_store
from teller.store.deposits import deposits_by_status
from tests.pipeline import SKY_A, SKY_B, Pipeline


async def _settle(pipeline: Pipeline, rounds: int = 3) -> None:
    for _ in range(rounds):
        pipeline.processor.decide_batch()
        await pipeline.sender.step()


async def test_a_deposit_is_paid_confirmed_and_done(pipeline: Pipeline) -> None:
    address = pipeline.bind("BTC")
    pipeline.deposit(address, 12_345_678, "aa")
    await _settle(pipeline)
    deposit = pipeline.get("aa:0")
    assert deposit.status == states.WAITING_CONFIRM and deposit.sky_sent == 61_728_000
    assert pipeline.paid_to(SKY_A) == [61_728_000]
    pipeline.payer.confirm(txid=deposit.payout_txid)
    await pipeline.sender.step()
    assert pipeline.get("aa:0").status == states.DONE


async def test_waiting_deposits_are_paid_together_one_output_each(pipeline: Pipeline) -> None:
    for i in range(5):
        pipeline.deposit(
            pipeline.bind("BTC", SKY_A if i % 2 else SKY_B), 1_000_000 * (i + 1), f"t{i}"
        )
    await _settle(pipeline, rounds=1)
    [broadcast] = pipeline.payer.broadcasts()
    assert sorted(d for _, d in broadcast.outputs) == [5_000_000 * (i + 1) for i in range(5)]
    txids = {pipeline.get(f"t{i}:0").payout_txid for i in range(5)}
    assert txids == {broadcast.txid}


async def test_the_same_deposit_reported_twice_is_paid_once(pipeline: Pipeline) -> None:
    address = pipeline.bind("BTC")
    pipeline.deposit(address, 100_000_000, "aa")
    await _settle(pipeline)
    pipeline.deposit(address, 100_000_000, "aa")  # a rescan, a repeated dummy request
    await _settle(pipeline)
    assert pipeline.paid_to(SKY_A) == [500_000_000]


async def test_an_unpayable_deposit_does_not_hold_back_smaller_ones(pipeline: Pipeline) -> None:
    big = pipeline.bind("BTC", SKY_B)
    small = pipeline.bind("BTC", SKY_A)
    pipeline.deposit(big, 1_000_000_000, "big")  # 10 BTC = 5000 SKY > 1000 SKY balance
    pipeline.deposit(small, 1_000_000, "small")  # 5 SKY
    await _settle(pipeline)
    assert pipeline.get("big:0").status == states.WAITING_SEND
    assert pipeline.get("small:0").status == states.WAITING_CONFIRM
    assert "not enough coins" in pipeline.board.sender_error
    assert pipeline.paid_to(SKY_B) == []


async def test_sold_out_clears_once_nothing_is_left_waiting(pipeline: Pipeline) -> None:
    big = pipeline.bind("BTC", SKY_B)
    pipeline.deposit(big, 1_000_000_000, "big")
    await _settle(pipeline)
    assert pipeline.board.sender_error
    pipeline.payer.starting_droplets = 10_000 * 1_000_000  # the operator tops the wallet up
    await _settle(pipeline)
    assert pipeline.paid_to(SKY_B) == [5_000_000_000]
    assert pipeline.board.sender_error == ""


async def test_send_disabled_records_but_pays_nothing(pipeline: Pipeline) -> None:
    pipeline.sender.send_enabled = False
    pipeline.deposit(pipeline.bind("BTC"), 100_000_000, "aa")
    await _settle(pipeline)
    assert pipeline.get("aa:0").status == states.WAITING_SEND
    assert pipeline.payer.broadcasts() == []


async def test_crash_after_storing_before_broadcasting_sends_the_stored_bytes(
    pipeline: Pipeline,
) -> None:
    pipeline.deposit(pipeline.bind("BTC"), 100_000_000, "aa")
    pipeline.processor.decide_batch()
    deposit = pipeline.get("aa:0")
    signed = await pipeline.payer.build_payout(
        [PayoutOutput(SKY_A, deposit.sky_due, deposit.deposit_id)], []
    )
    pipeline.sender._store_payout(signed)  # the process dies right after this commit
    sender = pipeline.restarted_sender()
    await sender.step()
    await sender.step()
    [broadcast] = pipeline.payer.broadcasts()
    assert broadcast.txid == signed.txid  # the stored transaction, not a new signature
    assert pipeline.paid_to(SKY_A) == [500_000_000]


async def test_crash_after_broadcasting_before_committing_pays_once(pipeline: Pipeline) -> None:
    pipeline.deposit(pipeline.bind("BTC"), 100_000_000, "aa")
    pipeline.processor.decide_batch()
    deposit = pipeline.get("aa:0")
    signed = await pipeline.payer.build_payout(
        [PayoutOutput(SKY_A, deposit.sky_due, deposit.deposit_id)], []
    )
    pipeline.sender._store_payout(signed)
    await pipeline.payer.broadcast(signed.raw_tx)  # broadcast done, then the process dies
    sender = pipeline.restarted_sender()
    for _ in range(3):
        await sender.step()
    assert pipeline.paid_to(SKY_A) == [500_000_000]
    assert pipeline.get("aa:0").status == states.WAITING_CONFIRM


class FlakyBroadcast:
    """Wraps a payer: the first `failures` broadcasts raise `error`."""

    def __init__(self, inner: object, failures: int, error: Exception) -> None:
        self.inner = inner
        self.failures = failures
        self.error = error

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def broadcast(self, raw_tx: str) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise self.error
        await self.inner.broadcast(raw_tx)  # type: ignore[attr-defined]


async def test_a_refused_broadcast_is_retried_with_the_same_transaction(
    pipeline: Pipeline,
) -> None:
    flaky = FlakyBroadcast(pipeline.payer, 2, SendTemporary("503 no peers"))
    pipeline.sender.payer = flaky  # type: ignore[assignment]
    pipeline.deposit(pipeline.bind("BTC"), 100_000_000, "aa")
    pipeline.processor.decide_batch()
    await pipeline.sender.step()
    assert pipeline.get("aa:0").status == states.WAITING_SEND
    assert pipeline.board.sender_error == "Send skycoin failed: 503 no peers"
    first_txid = pipeline.get("aa:0").payout_txid
    await pipeline.sender.step()
    await pipeline.sender.step()
    assert pipeline.get("aa:0").status == states.WAITING_CONFIRM
    assert [b.txid for b in pipeline.payer.broadcasts()] == [first_txid]
    with pipeline.db.read() as conn:
        payout = payout_store.get_payout(conn, first_txid or "")
    assert payout is not None and payout.attempts == 2


async def test_a_conflicted_payout_stops_its_deposits_for_the_operator(
    pipeline: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline.sender.payer = FlakyBroadcast(  # type: ignore[assignment]
        pipeline.payer, 1, SendConflict("inputs already spent")
    )
    pipeline.deposit(pipeline.bind("BTC"), 100_000_000, "aa")
    pipeline.processor.decide_batch()
    await pipeline.sender.step()
    deposit = pipeline.get("aa:0")
    assert deposit.status == states.DONE
    assert "can never confirm" in deposit.error
    assert pipeline.payer.broadcasts() == []  # never re-signed, never paid by another tx
    assert any(
        "notice=WATCH" in r.getMessage() or getattr(r, "notice", "") == "WATCH"
        for r in caplog.records
    )
    for _ in range(2):
        await pipeline.sender.step()
    assert pipeline.payer.broadcasts() == []


async def test_a_transaction_the_node_forgot_is_broadcast_again_unchanged(
    pipeline: Pipeline,
) -> None:
    pipeline.deposit(pipeline.bind("BTC"), 100_000_000, "aa")
    await _settle(pipeline, rounds=1)
    txid = pipeline.get("aa:0").payout_txid
    pipeline.ledger.unlink()  # the fake network loses everything it knew
    pipeline.restarted_sender()
    await pipeline.sender.step()
    assert [b.txid for b in pipeline.payer.broadcasts()] == [txid]


def test_choose_affordable_skips_what_does_not_fit_and_keeps_order(pipeline: Pipeline) -> None:
    for i, value in enumerate([100, 900_000, 300, 200]):
        pipeline.deposit(pipeline.bind("BTC"), value * 1_000, f"t{i}")
    pipeline.processor.decide_batch()
    with pipeline.db.read() as conn:
        waiting = deposits_by_status(conn, states.WAITING_SEND)
    dues = [d.sky_due for d in waiting]
    chosen = choose_affordable(waiting, dues[0] + dues[2] + dues[3])
    assert [d.deposit_id for d in chosen] == ["t0:0", "t2:0", "t3:0"]


async def test_a_payout_conflicted_after_the_node_took_it_records_nothing_sent(
    pipeline: Pipeline,
) -> None:
    pipeline.deposit(pipeline.bind("BTC"), 100_000_000, "aa")
    await _settle(pipeline, rounds=1)
    assert pipeline.get("aa:0").sky_sent == 500_000_000  # waiting_confirm: sent as far as known
    pipeline.ledger.unlink()  # the node forgot it, and its inputs went elsewhere
    sender = pipeline.restarted_sender()
    sender.payer = FlakyBroadcast(  # type: ignore[assignment]
        pipeline.payer, 1, SendConflict("inputs already spent")
    )
    await sender.step()
    deposit = pipeline.get("aa:0")
    assert deposit.status == states.DONE and "can never confirm" in deposit.error
    assert deposit.sky_sent == 0  # the buyer's status must not claim SKY that never arrived


class FailingNewPayouts:
    """Wraps a payer: making a new payout fails as a node answering garbage would."""

    def __init__(self, inner: object) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def spendable(self, pending: object, locked: object = ()) -> int:
        raise SendTemporary("unspent outputs: garbage answer")


async def test_a_failure_to_pay_new_deposits_does_not_stop_confirmations(
    pipeline: Pipeline,
) -> None:
    pipeline.deposit(pipeline.bind("BTC"), 100_000_000, "aa")
    await _settle(pipeline, rounds=1)
    txid = pipeline.get("aa:0").payout_txid
    pipeline.sender.payer = FailingNewPayouts(pipeline.payer)  # type: ignore[assignment]
    pipeline.deposit(pipeline.bind("BTC", SKY_B), 100_000_000, "bb")
    pipeline.processor.decide_batch()
    pipeline.payer.confirm(txid=txid)
    await pipeline.sender.step()
    assert pipeline.get("aa:0").status == states.DONE
    assert pipeline.get("bb:0").status == states.WAITING_SEND
    assert "garbage answer" in pipeline.board.sender_error


async def test_a_payout_unconfirmed_for_long_is_shown_to_the_operator_once(
    pipeline: Pipeline, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from teller.payout import sender as sender_module

    pipeline.deposit(pipeline.bind("BTC"), 100_000_000, "aa")
    await _settle(pipeline, rounds=1)
    await pipeline.sender.step()
    assert pipeline.board.sender_error == ""  # pending for seconds: nothing to say yet
    later = sender_module.unix_now() + sender_module.STUCK_AFTER_SECONDS + 60
    monkeypatch.setattr(sender_module, "unix_now", lambda: later)
    caplog.clear()
    for _ in range(3):
        await pipeline.sender.step()
    watches = [r for r in caplog.records if "payout not confirmed" in r.getMessage()]
    assert len(watches) == 1 and getattr(watches[0], "notice", "") == "WATCH"
    assert "unconfirmed for 31 minutes" in pipeline.board.sender_error
    assert pipeline.get("aa:0").status == states.WAITING_CONFIRM  # watched, never re-signed
    assert len(pipeline.payer.broadcasts()) == 1
