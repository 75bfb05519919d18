"""Deciding deposits: the fixed rate recorded, exact SKY amounts, too-small deposits stopped."""

from __future__ import annotations

from dataclasses import replace

import pytest

from teller.deposits import states
from teller.deposits.direct import sky_droplets_owed
from teller.store.deposits import update_deposit
from tests.pipeline import SKY_A, Pipeline


def test_direct_buy_records_rate_and_amount_when_deciding(pipeline: Pipeline) -> None:
    address = pipeline.bind("BTC")
    pipeline.deposit(address, 12_345_678, "aa")
    assert pipeline.processor.decide_batch() == 1
    deposit = pipeline.get("aa:0")
    assert deposit.status == states.WAITING_SEND
    assert deposit.conversion_rate == "500"
    assert deposit.sky_due == 61_728_000  # 0.12345678 BTC × 500 = 61.72839 → 61.728 SKY


def test_a_later_rate_change_does_not_change_what_a_decided_deposit_is_owed(
    pipeline: Pipeline,
) -> None:
    address = pipeline.bind("BTC")
    pipeline.deposit(address, 100_000_000, "aa")
    pipeline.processor.decide_batch()
    pipeline.config.sky_exchanger.sky_btc_exchange_rate = "1"
    pipeline.processor.decide_batch()
    assert pipeline.get("aa:0").sky_due == 500_000_000


def test_eth_deposits_are_paid_from_exact_wei(pipeline: Pipeline) -> None:
    address = pipeline.bind("ETH")
    pipeline.deposit(address, 1_234_567_890_123_456_789, "0xbb", coin="ETH")
    pipeline.processor.decide_batch()
    assert pipeline.get("0xbb:0").sky_due == 123_456_000  # 1.2345… ETH × 100, 3 decimals


def test_a_deposit_too_small_to_buy_anything_ends_done_with_the_original_error(
    pipeline: Pipeline,
) -> None:
    address = pipeline.bind("BTC")
    pipeline.deposit(address, 150, "aa")  # 0.0000015 BTC × 500 = 0.00075 SKY → 0.000
    pipeline.processor.decide_batch()
    deposit = pipeline.get("aa:0")
    assert (deposit.status, deposit.error) == (states.DONE, "Skycoin send amount is 0")
    assert deposit.payout_txid is None and deposit.sky_sent == 0


def test_sky_deposits_use_the_sky_rate_on_droplets(pipeline: Pipeline) -> None:
    pipeline.deposit(pipeline.bind("BTC", SKY_A), 1_000_000, "cc")
    one_sky = replace(pipeline.get("cc:0"), coin_type="SKY")  # 1,000,000 droplets
    assert sky_droplets_owed(one_sky, "2/3", 3) == 666_000  # 1 × 0.66666667 → 0.666


def test_passthrough_deposits_wait_undecided_and_say_why(pipeline: Pipeline) -> None:
    address = pipeline.bind("BTC")
    pipeline.deposit(address, 100_000, "aa")
    with pipeline.db.write() as conn:
        update_deposit(conn, "aa:0", states.WAITING_DECIDE, 2, buy_method="passthrough")
    assert pipeline.processor.decide_batch() == 0
    assert pipeline.get("aa:0").status == states.WAITING_DECIDE
    assert "passthrough" in pipeline.board.processor_error


def test_undecided_passthrough_deposits_never_hold_back_direct_ones(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("teller.deposits.direct.BATCH", 2)  # a full batch of passthrough
    for tx in ("p1", "p2"):
        pipeline.deposit(pipeline.bind("BTC"), 100_000, tx)
        with pipeline.db.write() as conn:
            update_deposit(conn, f"{tx}:0", states.WAITING_DECIDE, 2, buy_method="passthrough")
    pipeline.deposit(pipeline.bind("BTC"), 100_000, "direct")
    pipeline.processor.decide_batch()
    assert pipeline.get("direct:0").status == states.WAITING_SEND
    assert pipeline.get("p1:0").status == states.WAITING_DECIDE
