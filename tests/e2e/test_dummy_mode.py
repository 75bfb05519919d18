"""The whole service as an operator runs it: bind, deposit, pay, confirm — and crash on the way.

The process is the real `teller` command with the shipped example config; the check that a
deposit was paid exactly once is made on the dummy network's ledger (what was broadcast), not
on teller's own records.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from teller.coins.sky import address_from_pubkey, deterministic_keypairs
from teller.money import sky_droplets_for_satoshis

from .conftest import ANY_PORT, EXAMPLE_CONFIG, SERVERS, TellerProcess

pytestmark = pytest.mark.e2e

BUYER_1 = "2Wbi4wvxC4fkTYMsS2f6HaFfW4pafDjXcQW"
BUYER_2 = "hs1pyuNgxDLyLaZsnqzQG9U3DKdJsbzNpn"


def bind(t: TellerProcess, sky: str, coin: str = "BTC") -> str:
    response = httpx.post(f"{t.public}/api/bind", json={"skyaddr": sky, "coin_type": coin})
    assert response.status_code == 200, response.text
    return str(response.json()["deposit_address"])


def deposit(t: TellerProcess, address: str, value: int, tx: str, coin: str = "BTC") -> None:
    params = {"coin": coin, "addr": address, "value": value, "height": 1, "tx": tx, "n": 0}
    response = httpx.get(f"{t.dummy}/dummy/scanner/deposit", params=params)
    assert response.status_code == 200, response.text


def statuses(t: TellerProcess, sky: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{t.public}/api/status", params={"skyaddr": sky})
    assert response.status_code == 200, response.text
    return list(response.json()["statuses"])


def broadcasts(t: TellerProcess) -> list[dict[str, Any]]:
    return list(httpx.get(f"{t.dummy}/dummy/sender/broadcasts").json())


def paid_to(t: TellerProcess, sky: str) -> list[str]:
    return [o["coins"] for b in broadcasts(t) for o in b["outputs"] if o["address"] == sky]


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def confirm_all(t: TellerProcess) -> None:
    for entry in broadcasts(t):
        if not entry["confirmed"]:
            assert (
                httpx.get(
                    f"{t.dummy}/dummy/sender/confirm", params={"txid": entry["txid"]}
                ).status_code
                == 200
            )


def test_bind_deposit_pay_confirm_then_survive_sigkill(teller_process: TellerProcess) -> None:
    t = teller_process
    t.start()
    address = bind(t, BUYER_1)
    assert statuses(t, BUYER_1) == [
        {
            "seq": 1,
            "updated_at": statuses(t, BUYER_1)[0]["updated_at"],
            "status": "waiting_deposit",
            "coin_type": "BTC",
        }
    ]
    deposit(t, address, 12_345_678, "aa" * 32)
    wait_for(lambda: len(broadcasts(t)) == 1, "the first payout broadcast")
    confirm_all(t)
    wait_for(lambda: statuses(t, BUYER_1)[0]["status"] == "done", "the first deposit done")
    assert paid_to(t, BUYER_1) == ["61.728000"]

    # The second deposit's life is cut by SIGKILL at a random moment, several times over.
    rng = random.Random(20261123)
    address_2 = bind(t, BUYER_2, "ETH")
    deposit(t, address_2, 2 * 10**18, "0x" + "bb" * 32, coin="ETH")
    for _ in range(4):
        time.sleep(rng.uniform(0, 0.15))
        t.kill()
        t.start()
    wait_for(lambda: bool(paid_to(t, BUYER_2)), "the second payout broadcast")
    confirm_all(t)
    wait_for(lambda: statuses(t, BUYER_2)[0]["status"] == "done", "the second deposit done")
    assert paid_to(t, BUYER_2) == ["200.000000"]
    assert paid_to(t, BUYER_1) == ["61.728000"]

    accounting = httpx.get(f"{t.admin}/api/accounting", headers=t.admin_headers).json()
    assert accounting == {
        "sent": "261.728000",
        "received": {"BTC": "0.12345678", "ETH": "2.000000000000000000", "SKY": "0.000000"},
    }
    assert t.stop() == 0


def test_kill_at_random_moments_with_many_deposits_in_flight(
    teller_process: TellerProcess,
) -> None:
    """Deposits keep arriving while teller is killed and restarted: each is paid exactly once."""
    t = teller_process
    t.start()
    rng = random.Random(7)
    buyers = [address_from_pubkey(pub) for _, pub in deterministic_keypairs(b"e2e buyers", 15)]
    expected: dict[str, list[str]] = {}
    for round_number in range(5):
        for buyer in buyers[round_number * 3 : round_number * 3 + 3]:
            value = rng.randrange(1_000, 10_000_000)
            deposit(t, bind(t, buyer), value, f"{round_number}{value:063d}")
            sky = sky_droplets_for_satoshis(value, "500", 3)
            expected[buyer] = [f"{sky // 1_000_000}.{sky % 1_000_000:06d}"]
        time.sleep(rng.uniform(0, 0.2))
        t.kill()
        t.start()

    def all_paid() -> bool:
        confirm_all(t)
        return all(paid_to(t, buyer) for buyer in expected)

    wait_for(all_paid, "every deposit paid", seconds=30)
    for buyer, amounts in expected.items():
        assert paid_to(t, buyer) == amounts  # one output each, the exact amount
    txids = [b["txid"] for b in broadcasts(t)]
    assert len(txids) == len(set(txids))


def test_the_same_service_on_postgresql(teller_process: TellerProcess, pg_url: str) -> None:
    """With database_url naming PostgreSQL, the same tables and the same flow."""
    t = teller_process
    t.env["TELLER_DATABASE_URL"] = pg_url
    t.start()
    deposit(t, bind(t, BUYER_1), 100_000_000, "cc" * 32)
    wait_for(lambda: len(broadcasts(t)) == 1, "the payout broadcast")
    confirm_all(t)
    wait_for(lambda: statuses(t, BUYER_1)[0]["status"] == "done", "the deposit done")
    assert paid_to(t, BUYER_1) == ["500.000000"]
    assert not (t.datadir / "teller.db").exists()  # nothing went to SQLite
    assert t.stop() == 0


def test_a_second_teller_on_the_same_sqlite_file_serves_beside_the_worker(
    teller_process: TellerProcess, tmp_path: Path
) -> None:
    """Two teller processes on one SQLite data directory (other ports): both serve, one holds
    the worker role, a deposit reported through the second is paid once by the first, and the
    worker's sender error ("sold out") shows in the second's /api/health too."""
    first = teller_process
    first.env["TELLER_DUMMY__BALANCE"] = "600"  # one 500 SKY payout, then sold out
    first.start()
    env = {k: v for k, v in first.env.items() if k not in {v for _, v, _ in SERVERS}}
    second = TellerProcess(
        datadir=first.datadir, log_path=tmp_path / "second.log", env=env | ANY_PORT
    )
    try:
        second.start()

        def worker(t: TellerProcess) -> dict[str, Any] | None:
            found: dict[str, Any] = httpx.get(f"{t.public}/api/health").json()["worker"]
            return found if found["held"] else None

        wait_for(lambda: worker(first) is not None, "the worker role held")
        seen = [worker(t) for t in (first, second)]
        assert [(w or {}).get("this_process") for w in seen] == [True, False]
        assert len({((w or {})["epoch"], (w or {})["since"]) for w in seen}) == 1  # one holder
        deposit(second, bind(second, BUYER_1), 100_000_000, "cd" * 32)
        wait_for(lambda: len(broadcasts(first)) == 1, "the payout broadcast")
        confirm_all(first)
        wait_for(lambda: statuses(second, BUYER_1)[0]["status"] == "done", "the deposit done")
        assert paid_to(second, BUYER_1) == ["500.000000"]  # one ledger, read by both

        def sender_error(t: TellerProcess) -> str:
            return str(httpx.get(f"{t.public}/api/health").json()["exchange"]["sender_error"])

        deposit(second, bind(second, BUYER_2), 100_000_000, "ce" * 32)  # 500 SKY: 100 left
        wait_for(lambda: sender_error(first) != "", "the worker's sender error")
        wait_for(lambda: sender_error(second) == sender_error(first), "the same from the second")
    finally:
        if second.proc is not None:
            second.kill()
        second.release_ports()
    assert first.stop() == 0


def test_the_dummy_scanner_feeding_the_real_sender_does_not_start(
    teller_process: TellerProcess,
) -> None:
    """The example config with only dummy.sender switched off: fake deposits would be paid from
    the hot wallet. Teller refuses to start and names the key that would allow it."""
    t = teller_process
    refused = subprocess.run(
        [sys.executable, "-m", "teller.cli", "-c", str(EXAMPLE_CONFIG), "-d", str(t.datadir)],
        env={**t.env, "TELLER_DUMMY__SENDER": "false"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 1
    assert (
        "dummy.scanner = true with the real SKY sender (dummy.sender = false): anyone who reaches"
        " dummy.http_addr could add deposits that the hot wallet pays. Set"
        " dummy.fake_deposits_pay_real_sky = true only if that is meant" in refused.stderr
    )
    assert not (t.datadir / "teller.db").exists()  # nothing started
