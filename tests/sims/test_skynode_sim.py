"""The Skycoin node simulator (teller_sims/skynode.py) over real loopback HTTP, as teller sees
it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from teller_sims.skynode import (
    Genesis,
    SimOptions,
    SkyNodeSim,
    format_coins,
    load_or_create,
    parse_coins,
    running_sim,
)

from teller.coins import sky, sky_tx
from teller.coins.sky import DROPLETS_PER_SKY
from teller.coins.sky_wallet import Wallet, load_wallet

SKY = DROPLETS_PER_SKY
USERS = [sky.address_from_pubkey(k.pubkey) for k in sky.deterministic_keypairs(b"sim users", 3)]


@dataclass
class Node:
    sim: SkyNodeSim
    http: httpx.AsyncClient
    wallet: Wallet

    async def csrf(self) -> str:
        response = await self.http.get("/api/v1/csrf")
        assert response.status_code == 200
        token: str = response.json()["csrf_token"]
        return token

    async def post(self, path: str, body: Any, **headers: str) -> httpx.Response:
        headers = {"X-CSRF-Token": await self.csrf()} | headers
        return await self.http.post(path, json=body, headers=headers)

    async def inject(self, raw_hex: str, **extra: Any) -> httpx.Response:
        return await self.post("/api/v1/injectTransaction", {"rawtx": raw_hex} | extra)

    async def unspent(self) -> list[sky_tx.Unspent]:
        """The wallet's spendable outputs: head outputs minus outgoing (as the payer does)."""
        response = await self.http.get(
            "/api/v1/outputs", params={"addrs": ",".join(self.wallet.addresses)}
        )
        assert response.status_code == 200
        doc = response.json()
        outgoing = {o["hash"] for o in doc["outgoing_outputs"]}
        return [
            sky_tx.Unspent(o["hash"], o["address"], parse_coins(o["coins"]), o["calculated_hours"])
            for o in doc["head_outputs"]
            if o["hash"] not in outgoing
        ]

    async def build(
        self, payments: Sequence[tuple[str, int]], unspent: Sequence[sky_tx.Unspent] | None = None
    ) -> sky_tx.BuiltTransaction:
        health = (await self.http.get("/api/v1/health")).json()
        return sky_tx.build_transaction(
            unspent if unspent is not None else await self.unspent(),
            payments,
            self.wallet.change_address,
            self.wallet.seckeys,
            burn_factor=health["user_verify_transaction"]["burn_factor"],
        )

    async def status(self, txid: str) -> httpx.Response:
        return await self.http.get("/api/v1/transaction", params={"txid": txid})

    async def block(self) -> dict[str, Any]:
        response = await self.http.post("/sim/block")
        assert response.status_code == 200
        doc: dict[str, Any] = response.json()
        return doc

    async def ledger(self, *addresses: str) -> dict[str, Any]:
        response = await self.http.get("/sim/ledger", params={"addrs": ",".join(addresses)})
        assert response.status_code == 200
        doc: dict[str, Any] = response.json()["addresses"]
        return doc

    async def pending(self) -> list[str]:
        pending: list[str] = (await self.http.get("/sim/status")).json()["pending"]
        return pending


@pytest.fixture
def genesis(tmp_path: Path) -> Genesis:
    return Genesis(
        seed="sim test wallet",
        wallet=tmp_path / "hot.wlt",
        addresses=2,
        outputs=4,
        droplets=1000 * SKY,
        hours=10_000_000,
    )


@pytest.fixture
def options() -> SimOptions:
    return SimOptions(block_interval=0, conflict_ttl=3600)


async def start(options: SimOptions, genesis: Genesis) -> AsyncIterator[Node]:
    async with running_sim(options, genesis) as sim:
        base = f"http://127.0.0.1:{sim.port}"
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            assert genesis.wallet is not None
            yield Node(sim, client, load_wallet(genesis.wallet))


@pytest.fixture
async def node(options: SimOptions, genesis: Genesis) -> AsyncIterator[Node]:
    async for started in start(options, genesis):
        yield started


# --- the demo wallet and genesis ----------------------------------------------------------------


async def test_demo_wallet_is_funded_in_several_outputs(node: Node, genesis: Genesis) -> None:
    assert node.wallet.addresses == load_wallet(genesis.wallet or "").addresses
    unspent = await node.unspent()
    assert len(unspent) == 4  # genesis split into `outputs` outputs in block 1
    assert sum(u.droplets for u in unspent) == 1000 * SKY
    assert {u.address for u in unspent} == set(node.wallet.addresses)
    balance = await node.http.get(
        "/api/v1/balance", params={"addrs": ",".join(node.wallet.addresses)}
    )
    assert balance.json()["confirmed"]["coins"] == 1000 * SKY
    assert balance.json()["predicted"] == balance.json()["confirmed"]
    meta = (await node.http.get("/api/v1/blockchain/metadata")).json()
    assert meta["head"]["seq"] == 1 and meta["unconfirmed"] == 0 and meta["unspents"] == 4


async def test_health_reports_version_burn_factor_and_csrf(node: Node) -> None:
    health = (await node.http.get("/api/v1/health")).json()
    assert health["version"]["version"] == "0.27.1"
    assert health["user_verify_transaction"]["burn_factor"] == 10
    assert health["user_verify_transaction"]["max_transaction_size"] == 32768
    assert health["csrf_enabled"] is True
    assert (await node.http.get("/api/v1/version")).json()["version"] == "0.27.1"


# --- request checks ---------------------------------------------------------------------------


async def test_post_needs_a_csrf_token(node: Node) -> None:
    built = await node.build([(USERS[0], SKY)])
    body = {"rawtx": built.raw_hex}
    missing = await node.http.post("/api/v1/injectTransaction", json=body)
    assert (missing.status_code, missing.text) == (403, "403 Forbidden - invalid CSRF token\n")
    forged = await node.http.post(
        "/api/v1/injectTransaction", json=body, headers={"X-CSRF-Token": "1.2.3"}
    )
    assert forged.status_code == 403
    assert await node.pending() == []  # nothing was injected by the refused requests
    accepted = await node.inject(built.raw_hex)
    assert accepted.status_code == 200 and accepted.json() == built.txid
    # a token can be reused while it is fresh (v0.25+ HMAC tokens)
    token = await node.csrf()
    for _ in range(2):
        again = await node.http.post(
            "/api/v1/injectTransaction", json=body, headers={"X-CSRF-Token": token}
        )
        assert again.status_code == 200


async def test_csrf_disabled_answers_404_for_the_token(genesis: Genesis) -> None:
    async for node in start(SimOptions(block_interval=0, csrf=False), genesis):
        assert (await node.http.get("/api/v1/csrf")).status_code == 404
        built = await node.build([(USERS[0], SKY)])
        response = await node.http.post("/api/v1/injectTransaction", json={"rawtx": built.raw_hex})
        assert response.status_code == 200
        assert (await node.http.get("/api/v1/health")).json()["csrf_enabled"] is False


async def test_bad_host_is_refused(node: Node) -> None:
    port = node.sim.port
    for host in ("example.com", f"example.com:{port}", f"127.0.0.1:{port + 1}", "localhost"):
        response = await node.http.get("/api/v1/health", headers={"Host": host})
        assert (response.status_code, response.text) == (403, "403 Forbidden - Invalid Host\n")
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        response = await node.http.get("/api/v1/health", headers={"Host": host})
        assert response.status_code == 200
    evil = await node.http.get("/api/v1/health", headers={"Origin": "http://evil.example"})
    assert evil.status_code == 403


async def test_inject_needs_json(node: Node) -> None:
    built = await node.build([(USERS[0], SKY)])
    response = await node.http.post(
        "/api/v1/injectTransaction",
        content=json.dumps({"rawtx": built.raw_hex}),
        headers={"X-CSRF-Token": await node.csrf(), "Content-Type": "text/plain"},
    )
    assert (response.status_code, response.text) == (415, "415 Unsupported Media Type\n")


@pytest.mark.parametrize(
    ("rawtx", "message"),
    [
        ("zz", "not a hex string"),
        ("00" * 10, "truncated"),
        ("", "rawtx is required"),
    ],
)
async def test_garbage_is_a_400(node: Node, rawtx: str, message: str) -> None:
    response = await node.inject(rawtx)
    assert response.status_code == 400
    assert response.text.startswith("400 Bad Request - ") and message in response.text


# --- a payout's life --------------------------------------------------------------------------


async def test_signed_transaction_is_pending_then_confirmed_with_depth(node: Node) -> None:
    built = await node.build([(USERS[0], 3 * SKY), (USERS[1], 2 * SKY)])
    assert (await node.status(built.txid)).status_code == 404
    response = await node.inject(built.raw_hex)
    assert response.status_code == 200 and response.json() == built.txid

    pending = (await node.status(built.txid)).json()
    assert pending["status"] == {
        "confirmed": False,
        "unconfirmed": True,
        "height": 0,
        "block_seq": 0,
    }
    # the inputs it spends are outgoing; its change is incoming; neither is spendable yet
    outputs = (
        await node.http.get("/api/v1/outputs", params={"addrs": ",".join(node.wallet.addresses)})
    ).json()
    assert {o["hash"] for o in outputs["outgoing_outputs"]} == set(built.inputs)
    change = built.change
    assert change is not None
    assert [o["hash"] for o in outputs["incoming_outputs"]] == [change.uxid]
    assert {u.uxid for u in await node.unspent()}.isdisjoint(built.inputs)
    balance = (
        await node.http.get("/api/v1/balance", params={"addrs": ",".join(node.wallet.addresses)})
    ).json()
    assert balance["predicted"]["coins"] == balance["confirmed"]["coins"] - 5 * SKY

    block = await node.block()
    assert block["txids"] == [built.txid]
    confirmed = (await node.status(built.txid)).json()
    assert confirmed["status"] == {
        "confirmed": True,
        "unconfirmed": False,
        "height": 1,
        "block_seq": block["seq"],
    }
    assert confirmed["txn"]["outputs"][0] == {
        "uxid": built.transaction.output_uxids()[0],
        "dst": USERS[0],
        "coins": "3.000000",
        "hours": built.transaction.outputs[0].hours,
    }
    await node.block()
    assert (await node.status(built.txid)).json()["status"]["height"] == 2  # depth grows
    # the change is now a confirmed output of the wallet, with the uxid known before
    assert change.uxid in {u.uxid for u in await node.unspent()}
    encoded = (
        await node.http.get("/api/v1/transaction", params={"txid": built.txid, "encoded": "1"})
    ).json()
    assert encoded["encoded_transaction"] == built.raw_hex
    verbose = (
        await node.http.get("/api/v1/transaction", params={"txid": built.txid, "verbose": "1"})
    ).json()
    assert verbose["txn"]["fee"] == built.fee
    assert [i["uxid"] for i in verbose["txn"]["inputs"]] == list(built.inputs)


async def test_blocks_show_each_output_with_address_and_coins(node: Node) -> None:
    built = await node.build([(USERS[0], SKY), (USERS[1], 2 * SKY)])
    assert (await node.inject(built.raw_hex)).status_code == 200
    seq = (await node.block())["seq"]
    doc = (await node.http.get("/api/v1/block", params={"seq": seq})).json()
    assert doc["header"]["seq"] == seq
    previous = (await node.http.get("/api/v1/block", params={"seq": seq - 1})).json()
    assert doc["header"]["previous_block_hash"] == previous["header"]["block_hash"]
    (txn,) = doc["body"]["txns"]
    assert txn["txid"] == built.txid and txn["inputs"] == list(built.inputs)
    assert [(o["dst"], o["coins"]) for o in txn["outputs"][:2]] == [
        (USERS[0], "1.000000"),
        (USERS[1], "2.000000"),
    ]
    by_hash = await node.http.get("/api/v1/block", params={"hash": doc["header"]["block_hash"]})
    assert by_hash.json() == doc
    assert (await node.http.get("/api/v1/block", params={"seq": seq + 1})).status_code == 404
    blocks = (await node.http.get("/api/v1/blocks", params={"start": 0, "end": seq})).json()
    assert [b["header"]["seq"] for b in blocks["blocks"]] == list(range(seq + 1))
    last = (await node.http.get("/api/v1/last_blocks", params={"num": 1})).json()
    assert last["blocks"] == [doc]


async def test_reinjecting_a_pending_transaction_changes_nothing(node: Node) -> None:
    built = await node.build([(USERS[0], SKY)])
    for _ in range(3):
        response = await node.inject(built.raw_hex)
        assert response.status_code == 200 and response.json() == built.txid
    assert await node.pending() == [built.txid]
    assert (await node.block())["txids"] == [built.txid]


# --- refusals -----------------------------------------------------------------------------------


async def test_double_spend_of_a_confirmed_output_is_refused(node: Node) -> None:
    unspent = await node.unspent()
    first = await node.build([(USERS[0], SKY)], unspent)
    assert (await node.inject(first.raw_hex)).status_code == 200
    await node.block()
    # the same bytes again after they confirmed: the node's answer to any double spend
    again = await node.inject(first.raw_hex)
    spent = first.inputs[0]
    expected = (
        "400 Bad Request - Transaction violates hard constraint: "
        f"unspent output of {spent} does not exist\n"
    )
    assert (again.status_code, again.text) == (400, expected)
    # a new transaction spending the same (now spent) output
    other = await node.build([(USERS[1], 2 * SKY)], [u for u in unspent if u.uxid == spent])
    refused = await node.inject(other.raw_hex)
    assert refused.status_code == 400 and f"unspent output of {spent}" in refused.text
    assert (await node.status(other.txid)).status_code == 404
    made_up = sky_tx.Unspent("ab" * 32, *spent_owner(unspent, spent))
    unknown = await node.build([(USERS[1], SKY)], [made_up])
    assert "unspent output of " + "ab" * 32 in (await node.inject(unknown.raw_hex)).text


def spent_owner(unspent: Sequence[sky_tx.Unspent], uxid: str) -> tuple[str, int, int]:
    (found,) = [u for u in unspent if u.uxid == uxid]
    return found.address, found.droplets, found.hours


async def test_pending_double_spend_is_accepted_but_only_one_confirms(
    genesis: Genesis,
) -> None:
    async for node in start(SimOptions(block_interval=0, conflict_ttl=0), genesis):
        unspent = await node.unspent()
        first = await node.build([(USERS[0], SKY)], unspent)
        rival = await node.build([(USERS[1], SKY)], unspent)
        assert set(first.inputs) == set(rival.inputs) and first.txid != rival.txid
        assert (await node.inject(first.raw_hex)).status_code == 200
        assert (await node.inject(rival.raw_hex)).status_code == 200  # as a real node (§9)
        block = await node.block()
        assert block["txids"] == [first.txid]
        # with conflict_ttl=0 the loser is forgotten at once: 404, safe to tell "never paid"
        assert (await node.status(rival.txid)).status_code == 404
        assert (await node.status(first.txid)).json()["status"]["confirmed"] is True


async def test_double_spend_loser_stays_unconfirmed_until_its_ttl(node: Node) -> None:
    unspent = await node.unspent()
    first = await node.build([(USERS[0], SKY)], unspent)
    rival = await node.build([(USERS[1], SKY)], unspent)
    for built in (first, rival):
        assert (await node.inject(built.raw_hex)).status_code == 200
    await node.block()
    await node.block()
    loser = (await node.status(rival.txid)).json()
    assert loser["status"]["unconfirmed"] is True and loser["status"]["confirmed"] is False
    assert (await node.status(first.txid)).json()["status"]["height"] == 2


def resign(tx: sky_tx.Transaction, outputs: Sequence[sky_tx.TxOutput], keys: list[bytes]) -> str:
    return sky_tx.sign_transaction(tx.inputs, outputs, keys).raw_hex


async def test_insufficient_fee_is_refused(node: Node) -> None:
    unspent = await node.unspent()
    built = await node.build([(USERS[0], SKY)], unspent[:1])
    tx = built.transaction
    (spent,) = built.spent
    keys = [node.wallet.seckeys[spent.address]]
    pay, change = tx.outputs
    # fee = ceil(in/10) - 1: one hour short of the minimum
    short_fee = spent.hours - sky_tx.required_fee(spent.hours, 10) + 1
    outs = [pay, sky_tx.TxOutput(change.address, change.droplets, short_fee - pay.hours)]
    response = await node.inject(resign(tx, outs, keys))
    assert (response.status_code, response.text) == (
        400,
        "400 Bad Request - Transaction violates soft constraint: "
        "Transaction coinhour fee minimum not met\n",
    )
    zero_fee = [pay, sky_tx.TxOutput(change.address, change.droplets, spent.hours - pay.hours)]
    response = await node.inject(resign(tx, zero_fee, keys))
    assert "Transaction has zero coinhour fee" in response.text
    dust = [
        sky_tx.TxOutput(pay.address, pay.droplets + 1, pay.hours),
        sky_tx.TxOutput(change.address, change.droplets - 1, change.hours),
    ]
    response = await node.inject(resign(tx, dust, keys))
    assert "too many decimal places" in response.text
    unbalanced = [pay, sky_tx.TxOutput(change.address, change.droplets - 1000, change.hours)]
    response = await node.inject(resign(tx, unbalanced, keys))
    assert "Transactions may not destroy coins" in response.text
    assert await node.pending() == []


async def test_bad_signature_is_refused(node: Node) -> None:
    built = await node.build([(USERS[0], SKY)])
    tx = built.transaction
    stranger = next(iter(sky.deterministic_keypairs(b"not the wallet", 1))).seckey
    forged = sky_tx.sign_transaction(tx.inputs, tx.outputs, [stranger] * len(tx.inputs))
    response = await node.inject(forged.raw_hex)
    assert (response.status_code, response.text) == (
        400,
        "400 Bad Request - Transaction violates hard constraint: "
        "Signature not valid for output being spent\n",
    )
    unsigned = sky_tx.Transaction.unsigned(tx.inputs, tx.outputs)
    assert "Signature not valid" in (await node.inject(unsigned.raw_hex)).text
    assert await node.pending() == []


async def test_v025_node_burns_half_and_answers_500(genesis: Genesis) -> None:
    async for node in start(SimOptions(version="0.25.1", block_interval=0), genesis):
        health = (await node.http.get("/api/v1/health")).json()
        assert health["user_verify_transaction"]["burn_factor"] == 2
        unspent = (await node.unspent())[:1]
        (spent,) = unspent
        tenth = sky_tx.build_transaction(
            unspent,
            [(USERS[0], SKY)],
            node.wallet.change_address,
            node.wallet.seckeys,
            burn_factor=10,
        )
        response = await node.inject(tenth.raw_hex)
        assert response.status_code == 500
        assert "coinhour fee minimum not met" in response.text
        half = await node.build([(USERS[0], SKY)], unspent)
        assert half.fee == sky_tx.required_fee(spent.hours, 2)
        assert (await node.inject(half.raw_hex)).status_code == 200
        # no_broadcast is a v0.27 option: an older node ignores it
        assert (await node.post("/sim/fail_broadcasts", {"enabled": True})).status_code == 200
        other = await node.build([(USERS[1], SKY)])
        failed = await node.inject(other.raw_hex, no_broadcast=True)
        assert failed.status_code == 503


# --- broadcast failures --------------------------------------------------------------------------


async def test_failed_broadcast_is_503_and_keeps_nothing(node: Node) -> None:
    switch = await node.http.post("/sim/fail_broadcasts", json={"enabled": True})
    assert switch.json() == {"fail_broadcasts": True}
    built = await node.build([(USERS[0], SKY)])
    response = await node.inject(built.raw_hex)
    assert (response.status_code, response.text) == (
        503,
        "503 Service Unavailable - No addresses provided\n",
    )
    # rolled back: unknown, nothing pending, its inputs still spendable, no block takes it
    assert (await node.status(built.txid)).status_code == 404
    assert await node.pending() == []
    assert set(built.inputs) <= {u.uxid for u in await node.unspent()}
    assert (await node.block())["txids"] == []
    # an invalid transaction is still refused for what it is, before any broadcast
    bad = sky_tx.Transaction.unsigned(built.transaction.inputs, built.transaction.outputs)
    assert (await node.inject(bad.raw_hex)).status_code == 400
    # v0.27's no_broadcast keeps it in the pool without broadcasting
    kept = await node.inject(built.raw_hex, no_broadcast=True)
    assert kept.status_code == 200 and await node.pending() == [built.txid]
    await node.http.post("/sim/fail_broadcasts", json={"enabled": False})
    retry = await node.build([(USERS[1], SKY)])
    assert (await node.inject(retry.raw_hex)).status_code == 200
    assert set((await node.block())["txids"]) == {built.txid, retry.txid}


# --- ledger, blocks on a timer, persistence -------------------------------------------------------


async def test_ledger_counts_and_sums_confirmed_outputs_per_address(node: Node) -> None:
    assert await node.ledger(*USERS) == {
        a: {"count": 0, "droplets": 0, "coins": "0.000000"} for a in USERS
    }
    first = await node.build([(USERS[0], SKY), (USERS[0], SKY), (USERS[1], 5 * SKY)])
    assert (await node.inject(first.raw_hex)).status_code == 200
    pending_view = await node.ledger(USERS[0])
    assert pending_view[USERS[0]]["count"] == 0  # not confirmed yet: not on the ledger
    await node.block()
    second = await node.build([(USERS[0], 7 * SKY + 1000)])
    assert (await node.inject(second.raw_hex)).status_code == 200
    await node.block()
    ledger = await node.ledger(*USERS)
    assert ledger[USERS[0]] == {"count": 3, "droplets": 9 * SKY + 1000, "coins": "9.001000"}
    assert ledger[USERS[1]] == {"count": 1, "droplets": 5 * SKY, "coins": "5.000000"}
    assert ledger[USERS[2]]["count"] == 0
    everything = (await node.http.get("/sim/ledger")).json()["addresses"]
    assert set(USERS[:2]) | set(node.wallet.addresses) <= set(everything)


async def test_blocks_are_made_on_a_timer_and_can_be_paused(genesis: Genesis) -> None:
    async for node in start(SimOptions(block_interval=0.02), genesis):
        built = await node.build([(USERS[0], SKY)])
        assert (await node.inject(built.raw_hex)).status_code == 200
        for _ in range(500):  # waits for the timer, however slow the machine
            if (await node.status(built.txid)).json()["status"]["confirmed"]:
                break
            await asyncio.sleep(0.02)
        assert (await node.status(built.txid)).json()["status"]["confirmed"] is True
        head = (await node.http.get("/api/v1/blockchain/metadata")).json()["head"]["seq"]
        # no pending transactions: no empty blocks (as a node)
        await asyncio.sleep(0.1)
        assert (await node.http.get("/api/v1/blockchain/metadata")).json()["head"]["seq"] == head
        assert (await node.http.post("/sim/pause", json={"paused": True})).json()["paused"]
        held = await node.build([(USERS[1], SKY)])
        assert (await node.inject(held.raw_hex)).status_code == 200
        await asyncio.sleep(0.1)
        assert (await node.status(held.txid)).json()["status"]["confirmed"] is False
        assert (await node.block())["txids"] == [held.txid]  # on demand still works


async def test_state_file_keeps_the_ledger_and_pool_across_restarts(
    tmp_path: Path, genesis: Genesis
) -> None:
    options = SimOptions(block_interval=0, state_file=tmp_path / "chain.json")
    async for node in start(options, genesis):
        confirmed = await node.build([(USERS[0], 2 * SKY)])
        assert (await node.inject(confirmed.raw_hex)).status_code == 200
        await node.block()
        pending = await node.build([(USERS[1], SKY)])
        assert (await node.inject(pending.raw_hex)).status_code == 200
        before = await node.ledger()
        head = (await node.http.get("/api/v1/blockchain/metadata")).json()["head"]
    async for node in start(options, genesis):
        assert (await node.http.get("/api/v1/blockchain/metadata")).json()["head"] == head
        assert await node.ledger() == before
        assert (await node.status(confirmed.txid)).json()["status"]["height"] == 1
        assert await node.pending() == [pending.txid]
        assert (await node.block())["txids"] == [pending.txid]
    chain = load_or_create(options, genesis)
    assert chain.head.seq == head["seq"] + 1


# --- the command -------------------------------------------------------------------------------


def test_command_help_and_subcommand() -> None:
    from teller_sims.cli import build_parser

    args = build_parser().parse_args(["skynode", "--port", "0", "--block-interval", "1"])
    assert (args.simulator, args.port, args.block_interval) == ("skynode", 0, 1)
    result = subprocess.run(
        [sys.executable, "-m", "teller_sims.skynode", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and "--block-interval" in result.stdout


def test_command_runs_a_node_and_writes_the_wallet(tmp_path: Path) -> None:
    port_file, wallet = tmp_path / "port", tmp_path / "demo.wlt"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "teller_sims.skynode",
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--wallet",
            str(wallet),
            "--addresses",
            "3",
            "--coins",
            "500.5",
            "--outputs",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # printed once it listens
        assert "listening on http://127.0.0.1:" in line
        port = int(port_file.read_text())
        addresses = load_wallet(wallet).addresses
        assert len(addresses) == 3
        response = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/balance", params={"addrs": ",".join(addresses)}
        )
        assert response.json()["confirmed"]["coins"] == 500_500_000
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_coin_text_is_exact() -> None:
    assert format_coins(27_000_000_000) == "27000.000000"
    assert format_coins(1) == "0.000001"
    assert parse_coins("27000.000000") == 27_000_000_000
    assert parse_coins("0.001") == 1000
    for bad in ("0.0000001", "-1", "abc", "NaN"):
        with pytest.raises(ValueError):
            parse_coins(bad)
