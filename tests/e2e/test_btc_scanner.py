"""The real `teller` process with its BTC scanner on a regtest node (Litecoin Core) and the
dummy sender: bind → pay on chain → mine → /api/status says done; and a kill -9 mid-scan."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.peers import LITECOIND_HINT, require_peer
from tests.scanners.conftest import RPC_PASS, RPC_USER, Key, LitecoinNode, new_key

from .conftest import TellerProcess
from .crash import store_rows

pytestmark = pytest.mark.e2e

BUYERS = [
    "2Wbi4wvxC4fkTYMsS2f6HaFfW4pafDjXcQW",
    "hs1pyuNgxDLyLaZsnqzQG9U3DKdJsbzNpn",
    "6bCydnmFtHpZSL88McsynH3kNPDdaNxQpY",
]


@pytest.fixture(scope="module")
def node() -> Iterator[LitecoinNode]:
    if shutil.which("litecoind") is None:
        require_peer("litecoind (Litecoin Core)", LITECOIND_HINT, why="not on PATH")
    with tempfile.TemporaryDirectory(prefix="teller-e2e-ltc-") as folder:
        ltc = LitecoinNode(Path(folder))
        ltc.start()
        try:
            ltc.rpc("createwallet", "e2e")
            ltc.mine(101)
            yield ltc
        finally:
            ltc.stop()


def on_chain(t: TellerProcess, node: LitecoinNode, tmp_path: Path, keys: list[Key]) -> None:
    """Point `t` at `node`: the real BTC scanner, no ETH, the dummy sender confirming at once."""
    pool = tmp_path / "btc_regtest_addresses.txt"
    pool.write_text("".join(k.btc_address + "\n" for k in keys))
    t.env.update(
        {
            "TELLER_DUMMY__SCANNER": "false",
            "TELLER_DUMMY__AUTO_CONFIRM": "true",
            "TELLER_ETH_SCANNER__ENABLED": "false",
            "TELLER_BTC_ADDRESSES": str(pool),
            "TELLER_BTC_RPC__SERVER": f"127.0.0.1:{node.port}",
            "TELLER_BTC_RPC__USER": RPC_USER,
            "TELLER_BTC_RPC__PASS": RPC_PASS,
            "TELLER_BTC_RPC__TLS": "false",
            "TELLER_BTC_SCANNER__NETWORK": "regtest",
            "TELLER_BTC_SCANNER__SCAN_PERIOD": "100ms",
            # One block on top of the deposit's (the Go teller's meaning): 2 confirmations.
            "TELLER_BTC_SCANNER__CONFIRMATIONS_REQUIRED": "1",
            "TELLER_BTC_SCANNER__INITIAL_SCAN_HEIGHT": str(node.height() + 1),
        }
    )


def get(url: str, headers: dict[str, str] | None = None, **params: str) -> Any:
    response = httpx.get(url, params=params, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def bind(t: TellerProcess, sky: str) -> str:
    response = httpx.post(f"{t.public}/api/bind", json={"skyaddr": sky, "coin_type": "BTC"})
    assert response.status_code == 200, response.text
    return str(response.json()["deposit_address"])


def wait_for(condition: Callable[[], Any], what: str, seconds: float = 20) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


def test_bind_pay_mine_done(
    teller_process: TellerProcess, node: LitecoinNode, tmp_path: Path
) -> None:
    keys = [new_key(), new_key(segwit=True)]
    script_of = {k.btc_address: k.script for k in keys}
    on_chain(teller_process, node, tmp_path, keys)
    t = teller_process
    t.start()
    address = bind(t, BUYERS[0])
    txid = node.pay((script_of[address], 12_345_678))

    node.mine(1)  # in the tip block: 1 of 2 confirmations, seen by nobody yet
    wait_for(lambda: get(f"{t.public}/api/health")["scanners"]["btc"]["node_height"]
             == node.height(), "the scanner to see the tip")  # fmt: skip
    assert get(f"{t.public}/api/status", skyaddr=BUYERS[0])["statuses"][0]["status"] == (
        "waiting_deposit"
    )
    node.mine(1)  # one block on top

    wait_for(
        lambda: get(f"{t.public}/api/status", skyaddr=BUYERS[0])["statuses"][0]["status"] == "done",
        "the deposit to be paid",
    )
    deposits = get(f"{t.admin}/api/deposits", t.admin_headers)["deposits"]
    assert [(d["deposit_id"], d["deposit_value"], d["sky_sent"]) for d in deposits] == [
        (f"{txid}:0", 12_345_678, 61_728_000)  # 0.12345678 BTC at 500 SKY/BTC, 3 decimals
    ]
    # /api/health is made at most once a second: wait for an answer made after the round.
    health = wait_for(
        lambda: (
            (h := get(f"{t.public}/api/health")["scanners"]["btc"])["scanned_height"]
            == node.height() - 1
            and h
        ),
        "the health answer after the scan",
    )
    assert health["source"] == "node" and health["node_reachable"] is True
    assert health["scanned_height"] == node.height() - 1 and health["error"] == ""
    assert (health["confirmations_required"], health["confirmations"]) == (1, 2)
    config = get(f"{t.public}/api/config")["deposits"]["btc"]
    assert (config["confirmations_required"], config["confirmations"]) == (1, 2)
    scanner = get(f"{t.admin}/api/deposit-addresses", t.admin_headers)["BTC"]["scanner"]
    assert (scanner["node_height"], scanner["orphaned_deposits"]) == (node.height(), 0)
    assert t.stop() == 0


def scanned_height(t: TellerProcess) -> int | None:
    [(height,)] = store_rows(t, "SELECT max(height) FROM scan_blocks WHERE coin_type = 'BTC'") or [
        (None,)
    ]
    return height


def test_kill_9_mid_scan_then_every_deposit_is_paid_once(
    teller_process: TellerProcess, node: LitecoinNode, tmp_path: Path
) -> None:
    keys = [new_key() for _ in BUYERS]
    script_of = {k.btc_address: k.script for k in keys}
    on_chain(teller_process, node, tmp_path, keys)
    t = teller_process
    t.env["TELLER_BTC_SCANNER__CONFIRMATIONS_REQUIRED"] = "0"  # the tip block
    t.start()
    addresses = [bind(t, sky) for sky in BUYERS]
    t.kill()
    # A backlog of 300 blocks, with payments spread through it.
    paid: dict[str, int] = {}
    for round_ in range(6):
        for i, address in enumerate(addresses):
            value = 100_000 * (round_ + 1) + i
            paid[f"{node.pay((script_of[address], value))}:0"] = value
        node.mine(50)
    end = node.height()

    t.start()
    # The store's scanned height, not /api/health's (made at most once a second: a fast scan
    # could end between two answers, and the kill would come after it).
    seen = wait_for(
        lambda: (h := scanned_height(t)) is not None and h > end - 290 and h,
        "the scan to start",
        seconds=40,
    )
    t.kill()
    assert seen < end  # killed mid-scan
    t.start()
    wait_for(
        lambda: (
            len(get(f"{t.admin}/api/deposits", t.admin_headers, status="done")["deposits"])
            == len(paid)
        ),
        "every deposit done",
        seconds=40,
    )
    deposits = get(f"{t.admin}/api/deposits", t.admin_headers)["deposits"]
    assert {d["deposit_id"]: d["deposit_value"] for d in deposits} == paid
    sent = [o for b in get(f"{t.dummy}/dummy/sender/broadcasts") for o in b["outputs"]]
    assert len(sent) == len(paid)  # one payout output per deposit: none paid twice
    assert t.stop() == 0
