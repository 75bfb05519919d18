"""A payout is conflicted only when a synced node proves it (issue 13, finding 1).

"Unknown txid" plus "unspent output … does not exist" is also what a node answers that was
swapped for an empty one, restored from a snapshot or is still syncing (skycoin.md §11): the
payout may be on the network and confirm. These tests replace the simulator's node by an
empty one right after a broadcast (its /sim/replace control: the real chain goes on as the
network's and confirms the payout there) and check that nothing is stopped, the reason is
shown in /api/health, and the payout is confirmed once the node has synced. What the buyers
got is read from the chain's ledger, never from teller's records.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import httpx
import pytest

from teller.clients.skycoin_node import SkyNodeClient, SkyNodeError
from teller.clock import unix_now
from teller.coins import sky_tx
from teller.deposits import states
from teller.payout.base import PayoutOutput
from teller.services import operator
from teller.store import payouts as payout_store
from teller.store.models import Payout, WebhookTarget
from teller.store.webhooks import list_deliveries

from .conftest import SKY_A, SKY_B, SKY_C, Killed, SimNode, SkyPipeline, die_after_inject
from .scripted import ScriptedNode, serve_scripted

BTC = 100_000_000  # satoshis; 1 BTC = 500 SKY in these tests
SKY = 1_000_000
BUYERS = (SKY_A, SKY_B, SKY_C)


def _payouts(p: SkyPipeline) -> list[Payout]:
    with p.db.read() as conn:
        return payout_store.payouts_by_status(
            conn,
            payout_store.SIGNED,
            payout_store.BROADCAST,
            payout_store.CONFIRMED,
            payout_store.CONFLICTED,
        )


def _watches(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if getattr(r, "notice", None) == "WATCH"]


async def _six_deposits_paid_in_one_payout(p: SkyPipeline) -> tuple[list[str], str]:
    """Six deposits (5 SKY each, two per buyer) paid by one broadcast payout: (ids, txid)."""
    deposits = [p.deposit(p.bind(BUYERS[i % 3]), BTC // 100, f"dep{i}") for i in range(6)]
    await p.settle(rounds=1)
    txids = {p.get(d).payout_txid for d in deposits}
    assert len(txids) == 1
    (txid,) = txids
    assert txid is not None and p.sim.pending() == [txid]
    assert all(p.get(d).status == states.WAITING_CONFIRM for d in deposits)
    return deposits, txid


def _assert_waiting_not_stopped(p: SkyPipeline, deposits: list[str], txid: str) -> None:
    for deposit_id in deposits:
        found = p.get(deposit_id)
        assert (found.status, found.error, found.payout_txid, found.sky_sent) == (
            states.WAITING_CONFIRM,
            "",
            txid,
            5 * SKY,
        )
    assert [(x.txid, x.status) for x in _payouts(p)] == [(txid, payout_store.BROADCAST)]


def _assert_paid_once(p: SkyPipeline, deposits: list[str], txid: str) -> None:
    for deposit_id in deposits:
        found = p.get(deposit_id)
        assert (found.status, found.error, found.payout_txid, found.sky_sent) == (
            states.DONE,
            "",
            txid,
            5 * SKY,
        )
    assert [(x.txid, x.status) for x in _payouts(p)] == [(txid, payout_store.CONFIRMED)]
    assert p.sim.ledger(*BUYERS) == {b: (2, 10 * SKY) for b in BUYERS}


async def test_node_replaced_by_an_empty_syncing_one_mid_broadcast_stops_nothing(
    sky_pipeline: SkyPipeline, caplog: pytest.LogCaptureFixture
) -> None:
    # The report: six deposits paid through node B, B replaced by an empty node right
    # after the broadcast; teller called all six payouts conflicted within seconds, and they
    # all confirmed in the next block.
    p, sim = sky_pipeline, sky_pipeline.sim
    deposits, txid = await _six_deposits_paid_in_one_payout(p)
    sim.replace_with_empty_node(peers=1)  # it sees the network's height, has no block yet
    assert sim.make_block() == [txid]  # the network confirms the payout (blocks 0, 1, 2)
    caplog.set_level(logging.INFO, logger="teller")
    await p.settle(rounds=3)
    _assert_waiting_not_stopped(p, deposits, txid)
    assert f"payout {txid} unknown to the node, which is not synced (height 0 of 2)" in (
        p.board.sender_error
    )
    assert _watches(caplog) == []
    sim.sync(blocks=1)  # half way: the wallet's outputs are there, unspent; the block is not
    await p.settle(rounds=2)
    _assert_waiting_not_stopped(p, deposits, txid)
    assert sim.sync() is True
    await p.settle(rounds=1)
    _assert_paid_once(p, deposits, txid)
    assert p.board.sender_error == "" and _watches(caplog) == []


async def test_an_empty_node_with_no_peers_then_syncing_stops_nothing(
    sky_pipeline: SkyPipeline, caplog: pytest.LogCaptureFixture
) -> None:
    # What was observed on v0.27.1: the fresh node had the same genesis, an empty database
    # and no peers (so its head is also its "highest").
    p, sim = sky_pipeline, sky_pipeline.sim
    deposits, txid = await _six_deposits_paid_in_one_payout(p)
    sim.replace_with_empty_node(peers=0)
    sim.make_block()
    caplog.set_level(logging.INFO, logger="teller")
    await p.settle(rounds=2)
    _assert_waiting_not_stopped(p, deposits, txid)
    assert f"payout {txid} unknown to the node, which has no peers (height 0)" in (
        p.board.sender_error
    )
    sim.set_peers(1)  # it finds the network and starts syncing
    await p.settle(rounds=1)
    _assert_waiting_not_stopped(p, deposits, txid)
    assert "is not synced (height 0 of 2)" in p.board.sender_error
    sim.sync()
    await p.settle(rounds=1)
    _assert_paid_once(p, deposits, txid)
    assert _watches(caplog) == []


async def test_a_payout_stored_signed_is_not_stopped_by_a_node_that_does_not_know_it(
    sky_pipeline: SkyPipeline, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The broadcast reached the network, teller died before recording it, and came back on a
    # replaced node: the stored payout (signed) is re-injected and refused.
    p, sim = sky_pipeline, sky_pipeline.sim
    die_after_inject(p, monkeypatch)
    deposit = p.deposit(p.bind(SKY_A), BTC // 10, "aa")
    with pytest.raises(Killed):
        await p.settle(rounds=1)
    txid = p.get(deposit).payout_txid
    assert txid is not None and p.get(deposit).status == states.WAITING_SEND
    sim.replace_with_empty_node(peers=1)
    assert sim.make_block() == [txid]
    p.restarted_sender()
    caplog.set_level(logging.INFO, logger="teller")
    await p.settle(rounds=2)
    waiting = p.get(deposit)
    assert (waiting.status, waiting.error, waiting.payout_txid) == (states.WAITING_SEND, "", txid)
    assert [(x.txid, x.status) for x in _payouts(p)] == [(txid, payout_store.SIGNED)]
    assert "not synced (height 0 of 2): waiting" in p.board.sender_error
    sim.sync()
    await p.settle(rounds=2)
    done = p.get(deposit)
    assert (done.status, done.error, done.sky_sent) == (states.DONE, "", 50 * SKY)
    assert [(x.txid, x.status) for x in _payouts(p)] == [(txid, payout_store.CONFIRMED)]
    assert sim.ledger(SKY_A) == {SKY_A: (1, 50 * SKY)}
    assert _watches(caplog) == []


async def test_a_synced_node_that_never_saw_an_input_proves_no_conflict(
    sky_pipeline: SkyPipeline,
) -> None:
    # A payout spending an output the node's chain never had (another chain's, a node on a
    # fork): refused with "does not exist", but nothing on the chain spent it. It waits.
    p, sim = sky_pipeline, sky_pipeline.sim
    wallet = sim.wallet
    elsewhere = sky_tx.Unspent("ab" * 32, wallet.addresses[0], 100 * SKY, 1_000)
    built = sky_tx.build_transaction(
        [elsewhere], [(SKY_A, 1 * SKY)], wallet.addresses[0], wallet.seckeys, burn_factor=10
    )
    with p.db.write() as conn:
        payout_store.insert_payout(
            conn,
            txid=built.txid,
            raw_tx=built.raw_hex,
            inputs=built.inputs,
            total_droplets=1 * SKY,
            now=unix_now(),
        )
    await p.settle(rounds=2)
    assert [(x.txid, x.status) for x in _payouts(p)] == [(built.txid, payout_store.SIGNED)]
    assert f"has never seen its input {'ab' * 32}" in p.board.sender_error


async def test_a_spend_elsewhere_shown_by_a_synced_node_is_a_conflict_with_its_proof(
    sky_pipeline: SkyPipeline, caplog: pytest.LogCaptureFixture
) -> None:
    p, sim = sky_pipeline, sky_pipeline.sim
    sim.fail_broadcasts(True)
    deposit = p.deposit(p.bind(SKY_A), BTC // 10, "aa")
    await p.settle(rounds=1)  # signed and stored, not taken by the node
    [payout] = _payouts(p)
    sim.fail_broadcasts(False)
    client = SkyNodeClient(sim.address)
    wallet = sim.wallet
    spendable = (await client.outputs(wallet.addresses)).spendable
    stored_inputs = json.loads(payout.inputs)
    mine = [
        sky_tx.Unspent(o.uxid, o.address, o.droplets, o.hours)
        for o in spendable
        if o.uxid in stored_inputs
    ]
    other = sky_tx.build_transaction(
        mine, [(SKY_C, 1 * SKY)], wallet.addresses[0], wallet.seckeys, burn_factor=10
    )
    await client.inject(other.raw_hex)
    await client.aclose()
    sim.make_block()
    caplog.set_level(logging.INFO, logger="teller")
    await p.settle(rounds=1)
    stopped = p.get(deposit)
    assert stopped.status == states.DONE and stopped.sky_sent == 0
    assert f"spent: {stored_inputs[0]} by {other.txid} in block 2" in stopped.error
    assert _watches(caplog) == ["payout conflicted"]

    # The way out README "When something goes wrong" gives: pay by hand, then record it.
    hand = await p.payer.build_payout([PayoutOutput(SKY_A, 50 * SKY, "hand")], [])
    await p.payer.broadcast(hand.raw_tx)
    sim.make_block()
    await operator.record_payment(
        operator.OperatorContext(p.db, p.payer), deposit, hand.txid, "ops"
    )
    paid = p.get(deposit)
    assert (paid.status, paid.sky_sent, paid.payout_txid) == (states.DONE, 50 * SKY, hand.txid)
    await p.settle(rounds=2)  # the conflicted payout is still watched; nothing more is paid
    sim.make_block()
    await p.settle(rounds=1)
    assert sim.ledger(SKY_A) == {SKY_A: (1, 50 * SKY)}


async def test_a_payout_taken_for_conflicted_that_confirms_is_recorded_paid(
    sky_pipeline: SkyPipeline, caplog: pytest.LogCaptureFixture
) -> None:
    # A store written by a teller that called payouts conflicted without a proof: each round
    # still asks about them, and one that confirms pays its deposits (never paid again).
    p, sim = sky_pipeline, sky_pipeline.sim
    deposits, txid = await _six_deposits_paid_in_one_payout(p)
    p.sender._mark_conflicted(txid, "unspent output of … does not exist")  # the old verdict
    assert all(p.get(d).sky_sent == 0 and p.get(d).status == states.DONE for d in deposits)
    await p.settle(rounds=2)  # still pending on the node: still conflicted, nothing signed
    assert [(x.txid, x.status) for x in _payouts(p)] == [(txid, payout_store.CONFLICTED)]
    assert sim.pending() == [txid]
    caplog.set_level(logging.INFO, logger="teller")
    caplog.clear()
    hook = WebhookTarget("https://r.example/", frozenset({"sky.sent", "deposit.done"}))
    p.db.webhook_targets = (hook,)
    assert sim.make_block() == [txid]
    await p.settle(rounds=2)
    _assert_paid_once(p, deposits, txid)
    # Webhooks hear of it in the same transaction: each deposit sent its SKY, and done.
    with p.db.read() as conn:
        bodies = [json.loads(row.body) for row in list_deliveries(conn)]
    told = sorted((b["data"]["deposit"]["deposit_id"], b["type"]) for b in bodies)
    assert told == sorted((d, t) for d in deposits for t in ("sky.sent", "deposit.done"))
    assert all(b["data"]["deposit"]["error"] == "" for b in bodies)
    watched = [r for r in caplog.records if getattr(r, "notice", None) == "WATCH"]
    assert len(watched) == 6
    assert all("confirmed after all" in r.getMessage() for r in watched)
    assert sorted(r.fields["deposit_id"] for r in watched) == sorted(deposits)  # type: ignore[attr-defined]


# -- the client's three questions, against answers the simulator never gives ------------------


@pytest.fixture
def node() -> Iterator[ScriptedNode]:
    yield from serve_scripted()


UX = "01" * 32
TX = "02" * 32


def _uxout(**changes: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "uxid": UX,
        "time": 1_700_000_000,
        "src_block_seq": 3,
        "src_tx": "03" * 32,
        "owner_address": SKY_A,
        "coins": 2_000_000,
        "hours": 7,
        "spent_block_seq": 5,
        "spent_tx": TX,
    }
    doc.update(changes)
    return doc


async def test_the_client_reads_progress_connections_and_outputs(node: ScriptedNode) -> None:
    client = SkyNodeClient(node.address)
    node.on("GET", "/api/v1/blockchain/progress", (200, {"current": 3, "highest": 120, "peers": [
        {"address": "1.2.3.4:6000", "height": 120}]}))  # fmt: skip
    progress = await client.blockchain_progress()
    assert (progress.current, progress.highest, len(progress.peers)) == (3, 120, 1)
    node.on("GET", "/api/v1/network/connections", (200, {"connections": None}))
    assert await client.connections() == ()
    node.on("GET", "/api/v1/uxout", (200, _uxout()))
    spent = await client.uxout(UX)
    assert spent is not None and (spent.spent_tx, spent.spent_block_seq) == (TX, 5)
    node.on("GET", "/api/v1/uxout", (200, _uxout(spent_tx="0" * 64, spent_block_seq=0)))
    unspent = await client.uxout(UX)
    assert unspent is not None and unspent.spent_tx is None
    node.on("GET", "/api/v1/uxout", (404, b"404 Not Found"))
    assert await client.uxout(UX) is None
    await client.aclose()


@pytest.mark.parametrize(
    ("path", "answer"),
    [
        ("/api/v1/blockchain/progress", {"current": 9, "highest": 3, "peers": []}),
        ("/api/v1/blockchain/progress", {"current": 3, "highest": 3, "peers": [{"height": 4}]}),
        ("/api/v1/blockchain/progress", {"current": "3", "highest": 3, "peers": []}),
        ("/api/v1/blockchain/progress", {"current": 3, "peers": []}),
        ("/api/v1/network/connections", {"connections": [{"address": "x", "outgoing": "yes"}]}),
        ("/api/v1/network/connections", {"connections": {}}),
        ("/api/v1/uxout", _uxout(uxid="04" * 32)),  # another output than asked
        ("/api/v1/uxout", _uxout(spent_tx="not a hash")),
        ("/api/v1/uxout", _uxout(spent_block_seq=0)),  # spent, in no block
        ("/api/v1/uxout", _uxout(spent_tx="0" * 64)),  # unspent, in block 5
        ("/api/v1/uxout", _uxout(spent_block_seq=2)),  # spent before it was made
        ("/api/v1/uxout", _uxout(coins="2.000000")),
        ("/api/v1/uxout", [1, 2]),
    ],
)
async def test_garbage_from_the_three_questions_is_a_node_error(
    node: ScriptedNode, path: str, answer: object
) -> None:
    client = SkyNodeClient(node.address)
    node.on("GET", path, (200, answer))
    with pytest.raises(SkyNodeError):
        if path == "/api/v1/uxout":
            await client.uxout(UX)
        elif path == "/api/v1/network/connections":
            await client.connections()
        else:
            await client.blockchain_progress()
    await client.aclose()


# -- the simulator answers as a v0.27 node --------------------------------------------------


async def test_the_simulator_reports_sync_peers_and_output_history_as_a_node(
    sky_pipeline: SkyPipeline,
) -> None:
    p, sim = sky_pipeline, sky_pipeline.sim
    client = SkyNodeClient(sim.address)
    progress = await client.blockchain_progress()
    assert (progress.current, progress.highest, len(progress.peers)) == (1, 1, 1)
    [peer] = await client.connections()
    assert (peer.state, peer.outgoing, peer.height) == ("introduced", True, 1)
    deposit = p.deposit(p.bind(SKY_A), BTC // 10, "aa")
    await p.settle(rounds=1)
    [payout] = _payouts(p)
    uxid = json.loads(payout.inputs)[0]
    before = await client.uxout(uxid)
    assert before is not None and before.spent_tx is None  # spent only in the pool
    sim.make_block()
    after = await client.uxout(uxid)
    assert after is not None and (after.spent_tx, after.spent_block_seq) == (payout.txid, 2)
    sim.replace_with_empty_node()
    progress = await client.blockchain_progress()
    assert (progress.current, progress.highest) == (0, 2)
    assert await client.uxout(uxid) is None
    assert (await client.transaction_status(payout.txid)).known is False
    assert sim.sync(blocks=1) is False
    assert (await client.blockchain_progress()).current == 1
    assert sim.sync() is True
    assert (await client.transaction_status(payout.txid)).confirmed
    assert p.get(deposit).payout_txid == payout.txid
    await client.aclose()


@pytest.mark.parametrize(
    ("path", "query", "status"),
    [
        ("/api/v1/uxout", {}, 400),
        ("/api/v1/uxout", {"uxid": "zz"}, 400),
        ("/api/v1/uxout", {"uxid": "ab" * 32}, 404),
        ("/api/v1/network/connections", {"states": "lost"}, 400),
        ("/api/v1/network/connections", {"direction": "sideways"}, 400),
    ],
)
def test_the_simulator_refuses_what_the_node_refuses(
    sim: SimNode, path: str, query: dict[str, str], status: int
) -> None:
    response = httpx.get(sim.url + path, params=query, timeout=10)
    assert response.status_code == status
    assert response.text.startswith(f"{status} ")
