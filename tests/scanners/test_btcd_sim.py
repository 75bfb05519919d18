"""The btcd simulator (teller_sims/btcd.py) as the BTC scanner's peer: TLS with its pinned rpc.cert,
basic auth, blocks added and reorganized through its control API."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from teller_sims import btcd

from teller.clients.bitcoind import BitcoinClient
from teller.deposits.states import DONE
from teller.errors import NodeUnreachable, ScanHalted
from teller.store.seen import seen_payments
from tests.scanners.conftest import Rig, scan_all, watch_notices

A = "1PZ63K3G4gZP6A6E2TTbBwxT5bFQGL2TLB"
B = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"  # BIP173's example P2WPKH


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[btcd.Simulator]:
    simulator = btcd.start(
        rpc="127.0.0.1:0",
        api="127.0.0.1:0",
        user="sim-user",
        password="sim-pass",
        directory=tmp_path_factory.mktemp("btcd"),
        start_height=492478,
    )
    yield simulator
    simulator.stop()


@pytest.fixture
async def client(sim: btcd.Simulator) -> AsyncIterator[BitcoinClient]:
    assert sim.cert is not None
    node = BitcoinClient(sim.rpc_address, "sim-user", "sim-pass", cert=str(sim.cert), tls=True)
    yield node
    await node.aclose()


def api(sim: btcd.Simulator, path: str, body: Any) -> dict[str, Any]:
    answer = httpx.post(sim.api_url + path, json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def test_deposits_over_tls_with_the_pinned_certificate(
    sim: btcd.Simulator, rig: Rig, client: BitcoinClient
) -> None:
    rig.bind("BTC", A)
    rig.bind("BTC", B)
    start = await client.tip_height() + 1
    made = api(
        sim,
        "/api/blocks",
        {
            "transactions": [
                {
                    "outputs": [
                        {"address": A, "value": 1},
                        {"address": "1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "value": 9},
                        {"address": B, "value": 2_099_999_997_690_000},
                    ]
                },
                {"outputs": [{"multisig": [A, B], "value": 5}, {"script": "6a00", "value": 0}]},
            ]
        },
    )
    txid = made["txids"][1]  # [0] is the coinbase

    await scan_all(rig.scanner(client, confirmations_required=0, start=start))

    assert {i: d.value for i, d in rig.deposits().items()} == {
        f"{txid}:0": 1,
        f"{txid}:2": 2_099_999_997_690_000,
    }


async def test_the_original_nextdeposit_call_and_a_deep_reorg(
    sim: btcd.Simulator, rig: Rig, client: BitcoinClient, caplog: pytest.LogCaptureFixture
) -> None:
    address = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"  # P2SH
    rig.bind("BTC", address)
    start = await client.tip_height() + 1
    made = api(sim, "/api/nextdeposit", [{"Address": address, "Value": 5000, "N": 2}])
    api(sim, "/api/blocks", {"count": 1})
    scanner = rig.scanner(client, confirmations_required=1, start=start)
    await scan_all(scanner)
    deposit_id = f"{made['txids'][1]}:2"
    assert list(rig.deposits()) == [deposit_id]

    api(sim, "/api/reorg", {"depth": 2})  # 3 new blocks replace the last 2

    await scan_all(scanner)
    assert rig.deposits()[deposit_id].status == DONE
    assert rig.orphans()[deposit_id].action == "stopped"
    assert len(watch_notices(caplog)) == 1


async def test_a_client_without_the_pinned_certificate_is_refused(sim: btcd.Simulator) -> None:
    stranger = BitcoinClient(sim.rpc_address, "sim-user", "sim-pass", tls=True)
    with pytest.raises(NodeUnreachable, match="CERTIFICATE_VERIFY_FAILED"):
        await stranger.tip_height()
    await stranger.aclose()


def test_the_simulator_runs_as_a_command(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "teller_sims.cli", "btcd", "--rpc", "127.0.0.1:0",
         "--api", "127.0.0.1:0", "--no-tls"],
        stdout=subprocess.PIPE,
        cwd=tmp_path,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        match = re.search(r"rpc=(\S+) api=(\S+)", line)
        assert match, line
        rpc, control = match.groups()
        tip = httpx.get(control + "/api/tip").json()
        answer = httpx.post(rpc, json={"method": "getblockcount", "params": [], "id": 1}).json()
        assert answer == {"result": tip["height"], "error": None, "id": 1}
    finally:
        proc.terminate()
        proc.wait(10)


async def test_old_btcd_getblock_is_asked_the_older_way(
    tmp_path: Path, rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    old = btcd.start(
        rpc="127.0.0.1:0", api="127.0.0.1:0", tls=False, legacy_getblock=True, directory=tmp_path
    )
    try:
        rig.bind("BTC", A)
        made = api(
            old, "/api/blocks", {"transactions": [{"outputs": [{"address": A, "value": 7}]}]}
        )
        client = BitcoinClient(old.rpc_address, "", "", tls=False)
        await scan_all(rig.scanner(client, confirmations_required=0, start=made["height"]))
        await client.aclose()
    finally:
        old.stop()
    assert list(rig.deposits()) == [f"{made['txids'][1]}:0"]  # read from btcd's "rawtx"


async def test_a_reorg_below_every_stored_block_halts_the_scanner(
    sim: btcd.Simulator, rig: Rig, client: BitcoinClient, caplog: pytest.LogCaptureFixture
) -> None:
    start = await client.tip_height() + 1
    api(sim, "/api/blocks", {"count": 6})
    scanner = rig.scanner(client, confirmations_required=0, start=start, keep=3)
    await scan_all(scanner)
    api(sim, "/api/reorg", {"depth": 5})  # deeper than the 3 stored blocks

    with pytest.raises(ScanHalted, match="differs from all 3 stored blocks"):
        await scanner.scan_once()
    task = asyncio.create_task(scanner.run())
    for _ in range(100):
        if scanner.health.error:
            break
        await asyncio.sleep(0.02)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert "scan_blocks" in scanner.health.error
    assert any("differs from all" in r.fields["error"] for r in caplog.records  # type: ignore[attr-defined]
               if getattr(r, "notice", None) == "WATCH")  # fmt: skip


async def test_without_a_mempool_shallow_blocks_are_still_seen(
    sim: btcd.Simulator, rig: Rig, client: BitcoinClient, caplog: pytest.LogCaptureFixture
) -> None:
    """The simulator has no getrawmempool (method not found): no mempool is shown, and a
    payment in a block without its confirmations is (scanners/seen.py), with no trouble."""
    address = "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"
    rig.bind("BTC", address)
    scanner = rig.scanner(client, confirmations_required=1, start=await client.tip_height() + 1)
    made = api(
        sim, "/api/blocks", {"transactions": [{"outputs": [{"address": address, "value": 77}]}]}
    )
    await scan_all(scanner)
    await scanner.see_payments()
    await scanner.see_payments()  # the mempool is not asked again
    with rig.db.read() as conn:
        found = [(p.deposit_id, p.value, p.confirmations) for p in seen_payments(conn)]
    assert found == [(f"{made['txids'][1]}:0", 77, 1)]
    told = [r.getMessage() for r in caplog.records if "no mempool" in r.getMessage()]
    assert len(told) == 1
    assert not [r for r in caplog.records if "not read" in r.getMessage()]
