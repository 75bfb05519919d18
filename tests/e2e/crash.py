"""Helpers of the crash tests: the node simulator as a process, deposits posted through kills,
binds, unwaited starts, teller's operator commands as processes, a read-only look at its store."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from teller.clients.skycoin_node import SkyNodeClient
from teller.coins.sky import address_from_pubkey, deterministic_keypairs
from teller.coins.sky_wallet import load_wallet
from teller.payout.base import PayoutOutput
from teller.payout.skycoin_node import SkyNodePayer

from .conftest import EXAMPLE_CONFIG, TellerProcess

SKY_PER_BTC = 500  # the example config's sky_btc_exchange_rate


def seeded_rng(test: str) -> random.Random:
    """The crash test's random moments: a fresh seed, printed (pytest -s), or TELLER_CRASH_SEED
    to replay a run."""
    seed = int(os.environ.get("TELLER_CRASH_SEED", str(random.SystemRandom().randrange(2**32))))
    print(f"\n{test} seed: {seed} (rerun with TELLER_CRASH_SEED={seed})")
    return random.Random(seed)


class SimulatorProcess:
    """A simulator of the project (`python -m teller.sim.<name> … --port 0 --port-file F`)
    as its own process, which outlives every teller a crash test kills."""

    def __init__(self, directory: Path, module: str, *args: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        port_file = directory / "port"
        self.log = (directory / "sim.log").open("ab")
        command = [sys.executable, "-m", module, "--port", "0", "--port-file", str(port_file)]
        self.proc = subprocess.Popen([*command, *args], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            assert self.proc.poll() is None, f"{module} exited at start"
            assert time.monotonic() < deadline, f"{module} did not start"
            time.sleep(0.05)
        self.port = int(port_file.read_text())

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class DepositPoster(threading.Thread):
    """Posts the deposits one after another, each until teller has answered 200 for it.

    A deposit whose request was cut by a kill is posted again: the same txid:n, so teller
    records it once however often it arrives.
    """

    def __init__(
        self, dummy_url: str, deposits: list[tuple[str, int, str]], interval: float = 0.01
    ) -> None:
        super().__init__(name="deposit poster", daemon=True)
        self.interval = interval
        self.url = f"{dummy_url}/dummy/scanner/deposit"
        self.deposits = deposits
        self.posted = 0
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=5) as http:
            for address, satoshis, tx in self.deposits:
                params = {"coin": "BTC", "addr": address, "value": str(satoshis), "tx": tx}
                while not self.stop.is_set():
                    try:
                        # POST: with the real sender GET is refused (README Dummy mode).
                        if http.post(self.url, params=params).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    time.sleep(0.02)
                self.posted += 1
                time.sleep(self.interval)


def bind_btc(t: TellerProcess, sky: str) -> str:
    response = httpx.post(f"{t.public}/api/bind", json={"skyaddr": sky, "coin_type": "BTC"})
    assert response.status_code == 200, response.text
    return str(response.json()["deposit_address"])


def start_unwaited(t: TellerProcess) -> None:
    """Start teller without waiting for it to be ready (so a kill may hit its start-up)."""
    assert t.proc is None
    t.starts += 1
    with t.log_path.open("ab") as log:
        t.proc = subprocess.Popen(
            [sys.executable, "-m", "teller.cli", "-c", str(EXAMPLE_CONFIG), "-d", str(t.datadir)],
            env=t.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


class SkyNodeProcess(SimulatorProcess):
    """`python -m teller_sims.skynode` with a funded hot wallet, as its own process."""

    def __init__(self, directory: Path, *args: str, outputs: int = 20) -> None:
        self.wallet = directory / "hot.wlt"
        super().__init__(
            directory, "teller_sims.skynode", "--block-interval", "0.5", "--wallet",
            str(self.wallet), "--state", str(directory / "chain.json"), "--outputs", str(outputs),
            *args,
        )  # fmt: skip
        self.address = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.address}"

    def ledger(self, addresses: list[str]) -> dict[str, tuple[int, int]]:
        """address → (outputs, droplets) the chain confirmed paying it."""
        response = httpx.get(
            f"{self.url}/sim/ledger", params={"addrs": ",".join(addresses)}, timeout=30
        )
        assert response.status_code == 200, response.text
        found = response.json()["addresses"]
        return {a: (v["count"], v["droplets"]) for a, v in found.items()}

    def pending(self) -> list[str]:
        return list(httpx.get(f"{self.url}/sim/status", timeout=30).json()["pending"])

    def fail_broadcasts(self, enabled: bool) -> None:
        """While enabled the node answers every inject 503 and keeps nothing: stuck payouts."""
        response = httpx.post(
            f"{self.url}/sim/fail_broadcasts", json={"enabled": enabled}, timeout=30
        )
        assert response.status_code == 200, response.text

    def pause_blocks(self, paused: bool) -> None:
        """While paused no block is made: what is broadcast stays in the pool."""
        response = httpx.post(f"{self.url}/sim/pause", json={"paused": paused}, timeout=30)
        assert response.status_code == 200, response.text

    def spend_from_hot_wallet(self, to: str, droplets: int) -> str:
        """A transaction teller never made, spending from its hot wallet (a leaked key, a second
        teller): signed with the wallet file, injected into the node. Its txid."""

        async def spend() -> str:
            payer = SkyNodePayer(SkyNodeClient(self.address), load_wallet(self.wallet))
            try:
                signed = await payer.build_payout([PayoutOutput(to, droplets, "not teller's")], [])
                await payer.broadcast(signed.raw_tx)
            finally:
                await payer.client.aclose()
            return signed.txid

        return asyncio.run(spend())

    def env(self) -> dict[str, str]:
        """teller's environment for paying through this node with its wallet."""
        return {
            "TELLER_DEBUG": "false",
            "TELLER_DUMMY__SENDER": "false",
            # Dummy-API deposits paid by the real sender on the simulator: said explicitly.
            "TELLER_DUMMY__FAKE_DEPOSITS_PAY_REAL_SKY": "true",
            "TELLER_SKY_RPC__ADDRESS": self.address,
            "TELLER_SKY_EXCHANGER__WALLET": str(self.wallet),
            "TELLER_SKY_EXCHANGER__TX_CONFIRMATION_CHECK_WAIT": "200ms",
        }


def buyers(seed: bytes, count: int) -> list[str]:
    return [address_from_pubkey(p) for _, p in deterministic_keypairs(seed, count)]


def plan_deposits(
    rng: random.Random, addresses: list[str], buyer_of: dict[str, str], count: int, tag: str
) -> tuple[list[tuple[str, int, str]], dict[str, tuple[int, int]]]:
    """`count` BTC deposits spread over `addresses` (round robin), and what each buyer is owed:
    (outputs, droplets). Txids (64 hex digits, as the dummy API takes) are unique per `tag`
    (hex digits)."""
    deposits: list[tuple[str, int, str]] = []
    owed: dict[str, tuple[int, int]] = {}
    for i in range(count):
        address = addresses[i % len(addresses)]
        satoshis = rng.randrange(1, 2_000) * 1_000  # SKY amounts with 3 decimals
        deposits.append((address, satoshis, f"{tag}{i:0{64 - len(tag)}x}"))
        outputs, droplets = owed.get(buyer_of[address], (0, 0))
        owed[buyer_of[address]] = (outputs + 1, droplets + satoshis * SKY_PER_BTC // 100)
    return deposits, owed


def wait_until(condition: Callable[[], Any], timeout: float, what: Callable[[], str]) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"not reached in {timeout:g} s: {what()}"
        time.sleep(0.1)
    return found


def kill_and_restart(t: TellerProcess, rng: random.Random, waited: float = 0.5) -> None:
    """SIGKILL teller, then start it again: waited for until it serves (probability `waited`),
    or not (the next kill may hit its start-up)."""
    if t.proc is not None:
        t.kill()
    if rng.random() < waited:
        t.start()
    else:
        start_unwaited(t)


def ensure_serving(t: TellerProcess) -> None:
    """teller started and serving (after an unwaited start, killed and started again)."""
    if t.proc is not None:
        try:
            if httpx.get(f"{t.public}/api/health", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        t.kill()
    t.start()


def teller_command(t: TellerProcess, *args: str) -> subprocess.Popen[bytes]:
    """`teller ARGS -c EXAMPLE -d DATADIR` as its own process, with teller's environment; its
    output goes to the teller log (it is read if a test fails)."""
    with t.log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "teller.cli", *args, "-c", str(EXAMPLE_CONFIG), "-d",
             str(t.datadir)],
            env=t.env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip


def store_rows(t: TellerProcess, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """A read-only query of teller's SQLite store (to find a txid, or see a hold), never the
    test's evidence of payment: that is the simulator's ledger."""
    database = t.datadir / "teller.db"
    if not database.exists():
        return []
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)
    try:
        return list(conn.execute(sql, params))
    except sqlite3.OperationalError:  # no such table yet: teller has not migrated it
        return []
    finally:
        conn.close()
