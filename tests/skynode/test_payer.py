"""The real SKY payer under the sender, against the node simulator over loopback HTTP.

Each test steps the deposit pipeline by hand (processor, sender rounds) and makes blocks on
the simulator when it wants them, so nothing depends on timing. What was paid is read from
the simulator's ledger: outputs the chain confirmed, per address.
"""

from __future__ import annotations

import logging

import pytest

from teller.clients.skycoin_node import SkyNodeClient
from teller.coins import sky_tx
from teller.deposits import states
from teller.payout.skycoin_node import payout_inputs
from teller.store import payouts as payout_store
from teller.store.db import Database
from teller.store.models import Payout

from .conftest import (
    SKY_A,
    SKY_B,
    SKY_C,
    Killed,
    SimNode,
    SkyPipeline,
    build_sky_pipeline,
    die_after_inject,
)

BTC = 100_000_000  # satoshis; 1 BTC = 500 SKY in these tests
SKY = 1_000_000


def _payouts(pipeline: SkyPipeline) -> list[Payout]:
    with pipeline.db.read() as conn:
        return payout_store.payouts_by_status(
            conn,
            payout_store.SIGNED,
            payout_store.BROADCAST,
            payout_store.CONFIRMED,
            payout_store.CONFLICTED,
        )


async def test_a_deposit_is_paid_by_a_transaction_the_node_confirms(
    sky_pipeline: SkyPipeline,
) -> None:
    p, sim = sky_pipeline, sky_pipeline.sim
    deposit = p.deposit(p.bind(SKY_A), BTC // 10, "aa")
    await p.settle()
    paid = p.get(deposit)
    assert paid.status == states.WAITING_CONFIRM and paid.sky_sent == 50 * SKY
    assert sim.pending() == [paid.payout_txid]
    assert sim.ledger(SKY_A) == {SKY_A: (0, 0)}
    assert sim.make_block() == [paid.payout_txid]
    await p.settle()
    assert p.get(deposit).status == states.DONE
    assert sim.ledger(SKY_A) == {SKY_A: (1, 50 * SKY)}
    # The change went back to the wallet's first address.
    assert paid.payout_txid is not None
    tx = sim.transaction(paid.payout_txid)["txn"]
    assert [o["dst"] for o in tx["outputs"]] == [SKY_A, sim.wallet.addresses[0]]


async def test_waiting_deposits_are_paid_in_one_transaction_one_output_each(
    sqlite_db: Database, make_sim: object
) -> None:
    sim: SimNode = make_sim(outputs=1)  # type: ignore[operator]
    p = build_sky_pipeline(sqlite_db, sim)
    buyers = [SKY_A, SKY_B, SKY_C]
    expected: dict[str, tuple[int, int]] = {b: (0, 0) for b in buyers}
    deposits = []
    for i in range(12):
        buyer = buyers[i % 3]
        satoshis = (i + 1) * 100_000  # 0.5 SKY × (i + 1): each deposit its own amount
        deposits.append((p.deposit(p.bind(buyer), satoshis, f"tx{i}"), satoshis * 5))
        count, droplets = expected[buyer]
        expected[buyer] = (count + 1, droplets + satoshis * 5)
    await p.settle(rounds=1)
    [txid] = sim.pending()
    for deposit_id, droplets in deposits:
        found = p.get(deposit_id)
        assert (found.status, found.payout_txid, found.sky_sent) == (
            states.WAITING_CONFIRM,
            txid,
            droplets,
        )
    assert len(sim.transaction(txid)["txn"]["outputs"]) == 12 + 1  # and the change
    sim.make_block()
    await p.settle(rounds=1)
    assert all(p.get(d).status == states.DONE for d, _ in deposits)
    assert sim.ledger(*buyers) == expected


async def test_a_new_payout_does_not_wait_for_the_previous_one_to_confirm(
    sky_pipeline: SkyPipeline,
) -> None:
    p, sim = sky_pipeline, sky_pipeline.sim  # the wallet starts with 10 confirmed outputs
    first = p.deposit(p.bind(SKY_A), BTC // 100, "one")
    await p.settle()
    second = p.deposit(p.bind(SKY_B), BTC // 100, "two")
    await p.settle()
    txids = {p.get(first).payout_txid, p.get(second).payout_txid}
    assert len(txids) == 2 and set(sim.pending()) == txids  # both pending, no block between
    spent = [set(payout_inputs(x)) for x in _payouts(p)]
    assert not spent[0] & spent[1]
    sim.make_block()
    await p.settle()
    assert sim.ledger(SKY_A, SKY_B) == {SKY_A: (1, 5 * SKY), SKY_B: (1, 5 * SKY)}


async def test_with_every_output_in_flight_deposits_wait_for_the_change_not_sold_out(
    sqlite_db: Database, make_sim: object
) -> None:
    sim: SimNode = make_sim(outputs=1)  # type: ignore[operator]
    p = build_sky_pipeline(sqlite_db, sim)
    first = p.deposit(p.bind(SKY_A), BTC // 100, "one")
    await p.settle()
    second = p.deposit(p.bind(SKY_B), BTC // 100, "two")
    await p.settle()
    assert p.get(second).status == states.WAITING_SEND and p.get(second).payout_txid is None
    assert p.board.sender_error == ""  # the coins are on their way back: not "sold out"
    assert len(sim.pending()) == 1
    sim.make_block()  # the first payout and its change confirm
    await p.settle()
    assert p.get(first).status == states.DONE
    assert sim.pending() == [p.get(second).payout_txid]


async def test_a_deposit_the_wallet_cannot_cover_waits_and_the_others_are_paid(
    sqlite_db: Database, make_sim: object, caplog: pytest.LogCaptureFixture
) -> None:
    sim: SimNode = make_sim(outputs=2, droplets=100 * SKY)  # type: ignore[operator]
    p = build_sky_pipeline(sqlite_db, sim)
    caplog.set_level(logging.INFO, logger="teller")
    big = p.deposit(p.bind(SKY_A), BTC, "big")  # 500 SKY: more than the wallet holds
    small = [p.deposit(p.bind(SKY_B), BTC // 100, f"small{i}") for i in range(3)]  # 5 SKY
    await p.settle()
    assert p.get(big).status == states.WAITING_SEND and p.get(big).payout_txid is None
    assert "not enough coins" in p.board.sender_error  # /api/health: sold out
    sim.make_block()
    await p.settle()
    assert all(p.get(d).status == states.DONE for d in small)
    assert p.get(big).status == states.WAITING_SEND
    assert sim.ledger(SKY_A, SKY_B) == {SKY_A: (0, 0), SKY_B: (3, 15 * SKY)}
    assert "not enough coins" in p.board.sender_error
    # Sold out: the operator must refill the wallet. Told once for that deposit, not per round.
    watched = [r for r in caplog.records if getattr(r, "notice", None) == "WATCH"]
    assert [(r.getMessage(), r.fields["deposit_id"]) for r in watched] == [  # type: ignore[attr-defined]
        ("deposit waits: hot wallet balance too low", big)
    ]


async def test_inject_answering_503_is_retried_with_the_same_stored_transaction(
    sky_pipeline: SkyPipeline,
) -> None:
    p, sim = sky_pipeline, sky_pipeline.sim
    sim.fail_broadcasts(True)
    deposit = p.deposit(p.bind(SKY_A), BTC // 10, "aa")
    await p.settle()
    stored = p.get(deposit)
    assert stored.status == states.WAITING_SEND and stored.payout_txid  # signed and stored
    assert sim.pending() == []  # the node rolled it back
    assert "503" in p.board.sender_error
    await p.settle()  # still failing: retried, nothing new signed
    assert [x.txid for x in _payouts(p)] == [stored.payout_txid]
    sim.fail_broadcasts(False)
    await p.settle()
    assert sim.pending() == [stored.payout_txid]
    assert p.get(deposit).status == states.WAITING_CONFIRM and p.board.sender_error == ""
    sim.make_block()
    await p.settle()
    assert p.get(deposit).status == states.DONE
    assert sim.ledger(SKY_A) == {SKY_A: (1, 50 * SKY)}


async def test_node_down_then_back(sky_pipeline: SkyPipeline) -> None:
    p, sim = sky_pipeline, sky_pipeline.sim
    sim.stop()
    deposit = p.deposit(p.bind(SKY_A), BTC // 10, "aa")
    await p.settle()  # no exception escapes: a temporary error, shown in health
    assert p.get(deposit).status == states.WAITING_SEND
    assert "unreachable" in p.board.sender_error
    sim.start()
    await p.settle()
    assert p.get(deposit).status == states.WAITING_CONFIRM and p.board.sender_error == ""
    sim.make_block()
    await p.settle()
    assert sim.ledger(SKY_A) == {SKY_A: (1, 50 * SKY)}


async def test_node_restarted_without_its_pool_gets_the_same_bytes_again(
    sky_pipeline: SkyPipeline,
) -> None:
    p, sim = sky_pipeline, sky_pipeline.sim
    deposit = p.deposit(p.bind(SKY_A), BTC // 10, "aa")
    await p.settle()
    txid = p.get(deposit).payout_txid
    sim.restart(forget_pool=True)
    assert sim.pending() == []
    p.restarted_sender()  # teller restarted too: nothing of the old payer survives
    await p.settle()
    assert sim.pending() == [txid]
    sim.make_block()
    await p.settle()
    assert p.get(deposit).status == states.DONE
    assert sim.ledger(SKY_A) == {SKY_A: (1, 50 * SKY)}


async def test_a_transaction_that_never_confirms_is_re_injected_never_re_signed(
    sky_pipeline: SkyPipeline,
) -> None:
    p, sim = sky_pipeline, sky_pipeline.sim
    deposit = p.deposit(p.bind(SKY_A), BTC // 10, "aa")
    await p.settle()
    txid = p.get(deposit).payout_txid
    for _ in range(3):
        await p.settle(rounds=5)  # no blocks: still pending, still waiting
        assert p.get(deposit).status == states.WAITING_CONFIRM
        sim.restart(forget_pool=True)  # the node forgets it
        await p.settle(rounds=1)
        assert sim.pending() == [txid]  # the same bytes, injected again
        assert p.get(deposit).payout_txid == txid
    assert [x.txid for x in _payouts(p)] == [txid]  # one transaction ever signed
    sim.make_block()
    await p.settle()
    assert p.get(deposit).status == states.DONE
    assert sim.ledger(SKY_A) == {SKY_A: (1, 50 * SKY)}


async def test_a_stored_transaction_whose_inputs_were_spent_elsewhere_stops_with_watch(
    sky_pipeline: SkyPipeline, caplog: pytest.LogCaptureFixture
) -> None:
    p, sim = sky_pipeline, sky_pipeline.sim
    sim.fail_broadcasts(True)
    deposit = p.deposit(p.bind(SKY_A), BTC // 10, "aa")
    await p.settle()  # signed and stored, not accepted by the node
    [payout] = _payouts(p)
    sim.fail_broadcasts(False)
    # Someone else spends the same outputs with the same keys (an operator, a second teller).
    client = SkyNodeClient(sim.address)
    wallet = sim.wallet
    mine = [o for o in (await client.outputs(wallet.addresses)).spendable]
    inputs = [
        sky_tx.Unspent(o.uxid, o.address, o.droplets, o.hours)
        for o in mine
        if o.uxid in payout_inputs(payout)
    ]
    other = sky_tx.build_transaction(
        inputs, [(SKY_C, 1 * SKY)], wallet.addresses[0], wallet.seckeys, burn_factor=10
    )
    await client.inject(other.raw_hex)
    await client.aclose()
    sim.make_block()
    caplog.set_level(logging.INFO, logger="teller")
    await p.settle()
    stopped = p.get(deposit)
    assert stopped.status == states.DONE and "can never confirm" in stopped.error
    watched = [r for r in caplog.records if getattr(r, "notice", None) == "WATCH"]
    assert [r.getMessage() for r in watched] == ["payout conflicted"]
    assert watched[0].fields["deposit_id"] == deposit  # type: ignore[attr-defined]
    await p.settle()
    assert [x.txid for x in _payouts(p)] == [payout.txid]  # never re-signed
    assert sim.ledger(SKY_A) == {SKY_A: (0, 0)}


async def test_the_burn_factor_of_an_older_node_is_used(
    sqlite_db: Database, make_sim: object
) -> None:
    sim: SimNode = make_sim(version="0.25.1")  # type: ignore[operator]  # burns half the hours
    p = build_sky_pipeline(sqlite_db, sim)
    deposit = p.deposit(p.bind(SKY_A), BTC // 10, "aa")
    await p.settle()
    txid = p.get(deposit).payout_txid
    assert sim.pending() == [txid]  # a 10% fee would have been refused
    sim.make_block()
    await p.settle()
    assert sim.ledger(SKY_A) == {SKY_A: (1, 50 * SKY)}


async def test_a_stored_payout_the_node_never_took_keeps_its_inputs_from_new_payouts(
    sky_pipeline: SkyPipeline,
) -> None:
    # The node rolls back what it cannot broadcast, so its outgoing_outputs do not show
    # what the first payout spends: only teller's own record of the stored payout does.
    p, sim = sky_pipeline, sky_pipeline.sim
    sim.fail_broadcasts(True)
    first = p.deposit(p.bind(SKY_A), BTC // 100, "one")
    await p.settle(rounds=1)
    second = p.deposit(p.bind(SKY_B), BTC // 100, "two")
    await p.settle(rounds=1)
    assert sim.pending() == []
    stored = _payouts(p)
    assert {x.txid for x in stored} == {p.get(first).payout_txid, p.get(second).payout_txid}
    assert len(stored) == 2
    assert not set(payout_inputs(stored[0])) & set(payout_inputs(stored[1]))
    sim.fail_broadcasts(False)
    await p.settle(rounds=1)
    assert set(sim.pending()) == {x.txid for x in stored}
    sim.make_block()
    await p.settle()
    assert p.get(first).status == p.get(second).status == states.DONE
    assert sim.ledger(SKY_A, SKY_B) == {SKY_A: (1, 5 * SKY), SKY_B: (1, 5 * SKY)}


async def test_a_payout_that_confirmed_before_teller_recorded_its_broadcast_is_done(
    sky_pipeline: SkyPipeline, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Re-injecting bytes that already confirmed is refused like a double spend
    # ("unspent output ... does not exist", skycoin.md §9): the payer must ask the node
    # about the txid before calling it a conflict.
    p, sim = sky_pipeline, sky_pipeline.sim
    die_after_inject(p, monkeypatch)
    deposit = p.deposit(p.bind(SKY_A), BTC // 10, "aa")
    with pytest.raises(Killed):
        await p.settle(rounds=1)
    stored = p.get(deposit)
    assert stored.status == states.WAITING_SEND and stored.payout_txid
    assert sim.make_block() == [stored.payout_txid]  # it confirms while teller is down
    p.restarted_sender()
    caplog.set_level(logging.INFO, logger="teller")
    await p.settle()
    done = p.get(deposit)
    assert (done.status, done.error, done.payout_txid) == (states.DONE, "", stored.payout_txid)
    assert [x.status for x in _payouts(p)] == [payout_store.CONFIRMED]
    assert not [r for r in caplog.records if getattr(r, "notice", None) == "WATCH"]
    assert sim.ledger(SKY_A) == {SKY_A: (1, 50 * SKY)}
