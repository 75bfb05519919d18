"""Fixtures of the Skycoin node tests: the project's node simulator on loopback, restartable.

`SimNode` runs teller_sims/skynode.py in a thread with its own event loop, served on a
127.0.0.1 port that stays the same across restarts (its chain is kept in a state file, as a
node keeps its database), with a funded hot wallet written next to it. Tests drive it over
HTTP with its /sim/ controls and check payouts on its ledger (what the chain paid), never on
teller's own records. `sky_pipeline` is the deposit pipeline (store, intake, processor,
sender) with the real SKY payer against it, stepped by hand; `start_teller` (tests/http) runs
a whole teller.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from teller_sims.skynode import Genesis, SimOptions, running_sim
from teller_sims.skynode_chain import GENESIS_DROPLETS

from teller.clients.skycoin_node import SkyNodeClient
from teller.coins.sky_wallet import Wallet, load_wallet
from teller.config.schema import Config
from teller.deposits.direct import DirectProcessor
from teller.deposits.health import StatusBoard
from teller.deposits.intake import DepositIntake
from teller.payout.sender import Sender
from teller.payout.skycoin_node import SkyNodePayer
from teller.store.bindings import insert_binding
from teller.store.db import Database
from teller.store.deposits import get_deposit
from teller.store.models import Deposit, IncomingDeposit
from teller.store.pool import sync_pool, take_free_address
from teller.worker import Waker

from ..http.conftest import _every_teller_stopped, start_teller  # noqa: F401 (fixtures)
from ..tls_certs import ServerFiles

SKY_A = "2Wbi4wvxC4fkTYMsS2f6HaFfW4pafDjXcQW"
SKY_B = "hs1pyuNgxDLyLaZsnqzQG9U3DKdJsbzNpn"
SKY_C = "6bCydnmFtHpZSL88McsynH3kNPDdaNxQpY"


class SimNode:
    """The node simulator in a thread; `stop()`/`start()` is a node going down and back."""

    def __init__(
        self,
        directory: Path,
        *,
        outputs: int = 10,
        droplets: int = GENESIS_DROPLETS,
        version: str = "0.27.1",
        block_interval: float = 0.0,
        tls: ServerFiles | None = None,
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.state = directory / "sim-state.json"
        self.wallet_path = directory / "hot.wlt"
        self.tls = tls  # HTTPS with these files (tests/tls_certs.py), else plain HTTP
        self.options = SimOptions(
            version=version,
            block_interval=block_interval,
            state_file=self.state,
            tls_cert=tls.cert if tls else None,
            tls_key=tls.key if tls else None,
        )
        self.genesis = Genesis(wallet=self.wallet_path, outputs=outputs, droplets=droplets)
        self.port = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.error: BaseException | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.address}"

    @property
    def wallet(self) -> Wallet:
        return load_wallet(self.wallet_path)

    def start(self) -> SimNode:
        assert self._thread is None, "already running"
        ready = threading.Event()

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            try:
                async with running_sim(self.options, self.genesis, port=self.port) as sim:
                    self.port = sim.port
                    ready.set()
                    await self._stop.wait()
            except BaseException as exc:
                self.error = exc
                ready.set()

        self._thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
        self._thread.start()
        assert ready.wait(15), "the simulator did not start"
        assert self.error is None, f"the simulator failed: {self.error!r}"
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)
        assert not self._thread.is_alive(), "the simulator did not stop"
        self._thread = None

    def restart(self, *, forget_pool: bool = False) -> None:
        """Stop and start again on the same port and chain; `forget_pool` also drops the
        unconfirmed transactions (a node that lost its pool, or restarted on a fresh one)."""
        self.stop()
        if forget_pool:
            state = json.loads(self.state.read_text(encoding="utf-8"))
            state["pool"] = []
            self.state.write_text(json.dumps(state), encoding="utf-8")
        self.start()

    # -- the /sim/ controls and the ledger ------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        verify = ssl.create_default_context(cafile=self.tls.trust) if self.tls else True
        response = httpx.request(method, self.url + path, timeout=10, verify=verify, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    def make_block(self) -> list[str]:
        """A block now with whatever is pending; returns its txids."""
        return list(self._call("POST", "/sim/block")["txids"])

    def fail_broadcasts(self, enabled: bool) -> None:
        self._call("POST", "/sim/fail_broadcasts", json={"enabled": enabled})

    def pending(self) -> list[str]:
        return list(self._call("GET", "/sim/status")["pending"])

    def network_pending(self) -> list[str]:
        """What the network's pool holds (the node's own while it is synced)."""
        return list(self._call("GET", "/sim/status")["network_pending"])

    def replace_with_empty_node(self, peers: int = 1) -> None:
        """The node is swapped for an empty one (same genesis) with `peers` peers; the real
        chain goes on as the network's, and this node gets its blocks only by `sync`."""
        self._call("POST", "/sim/replace", json={"peers": peers})

    def sync(self, blocks: int | None = None) -> bool:
        """Download `blocks` (None: all) of the network's blocks; True once synced."""
        body = {} if blocks is None else {"blocks": blocks}
        return bool(self._call("POST", "/sim/sync", json=body)["synced"])

    def set_peers(self, count: int) -> None:
        self._call("POST", "/sim/peers", json={"count": count})

    def ledger(self, *addresses: str) -> dict[str, tuple[int, int]]:
        """address → (count, droplets) of every output the chain ever paid it."""
        found = self._call("GET", "/sim/ledger", params={"addrs": ",".join(addresses)})
        return {a: (v["count"], v["droplets"]) for a, v in found["addresses"].items()}

    def transaction(self, txid: str) -> dict[str, Any]:
        found = self._call("GET", "/api/v1/transaction", params={"txid": txid})
        assert isinstance(found, dict)
        return found


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimNode]:
    node = SimNode(tmp_path / "sim").start()
    yield node
    node.stop()


@pytest.fixture
def make_sim(tmp_path: Path) -> Iterator[Any]:
    """make_sim(**options) -> a started SimNode (options as SimNode's); all stopped after."""
    started: list[SimNode] = []

    def make(**options: Any) -> SimNode:
        node = SimNode(tmp_path / f"sim{len(started)}", **options).start()
        started.append(node)
        return node

    yield make
    for node in started:
        node.stop()


# -- the deposit pipeline with the real payer, stepped by hand ----------------------------------


@dataclass
class SkyPipeline:
    db: Database
    config: Config
    board: StatusBoard
    sim: SimNode
    payer: SkyNodePayer
    intake: DepositIntake
    processor: DirectProcessor
    sender: Sender

    def bind(self, sky_address: str = SKY_A) -> str:
        with self.db.write() as conn:
            address = take_free_address(conn, "BTC", 1)
            assert address is not None
            insert_binding(
                conn,
                coin_type="BTC",
                deposit_address=address,
                sky_address=sky_address,
                buy_method="direct",
                now=1,
            )
        return address

    def deposit(self, address: str, satoshis: int, tx: str) -> str:
        """A deposit of a BTC transaction named by `tag`-like `tx` ("aa", "dep1"): its txid is
        64 hex digits made from it, as every deposit id is (the operator tools check)."""
        txid = tx if re.fullmatch("[0-9a-f]{64}", tx) else hashlib.sha256(tx.encode()).hexdigest()
        self.intake.receive(IncomingDeposit("BTC", address, satoshis, 1, txid, 0))
        return f"{txid}:0"

    def get(self, deposit_id: str) -> Deposit:
        with self.db.read() as conn:
            found = get_deposit(conn, deposit_id)
        assert found is not None
        return found

    async def settle(self, rounds: int = 3) -> None:
        for _ in range(rounds):
            self.processor.decide_batch()
            await self.sender.step()

    def restarted_sender(self) -> Sender:
        """A new client, payer and sender on the same store: what a teller restart builds."""
        self.payer = SkyNodePayer(SkyNodeClient(self.sim.address), self.sim.wallet)
        self.sender = Sender(self.db, self.payer, self.board, send_enabled=True)
        return self.sender


class Killed(Exception):
    """teller dying (SIGKILL) right after the node took a payout, before the next commit."""


def die_after_inject(p: SkyPipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on the payer's broadcast reaches the node, then teller 'dies' (Killed) before
    it can record that."""
    inject = p.payer.broadcast

    async def inject_then_die(raw_tx: str) -> None:
        await inject(raw_tx)
        raise Killed

    monkeypatch.setattr(p.payer, "broadcast", inject_then_die)


def build_sky_pipeline(db: Database, sim: SimNode) -> SkyPipeline:
    with db.write() as conn:
        sync_pool(conn, "BTC", [f"btc{i}" for i in range(50)])
    config = Config.model_validate(
        {
            "sky_exchanger": {"sky_btc_exchange_rate": "500", "max_decimals": 3},
            "dummy": {"sender": False, "scanner": True},
        }
    )
    board = StatusBoard()
    payer = SkyNodePayer(SkyNodeClient(sim.address), sim.wallet)
    return SkyPipeline(
        db=db,
        config=config,
        board=board,
        sim=sim,
        payer=payer,
        intake=DepositIntake(db, Waker()),
        processor=DirectProcessor(db, config, board, Waker()),
        sender=Sender(db, payer, board, send_enabled=True),
    )


@pytest.fixture
def sky_pipeline(sqlite_db: Database, sim: SimNode) -> SkyPipeline:
    return build_sky_pipeline(sqlite_db, sim)
