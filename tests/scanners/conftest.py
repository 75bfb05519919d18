"""Real chain nodes for the scanner tests, one per test module, each on the loopback port the
kernel gave it (the node binds port 0; no port is picked beforehand, so no two workers race).

- `ltc`: Litecoin Core (litecoind) in regtest, with a funded wallet. It speaks Bitcoin Core
  0.21's JSON-RPC; teller matches deposits by scriptPubKey, so BTC regtest addresses of
  teller's pool are paid through the Litecoin forms of the same scripts.
- `anvil`: an Ethereum JSON-RPC node (foundry's anvil), from .tools/ (make test-deps).

A test needing a program that is missing is skipped with a message naming it and how to
install it; in CI (CI=true) it fails instead (tests/peers.py).
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import coincurve
import httpx
import pytest

from teller.clients.chain import ChainClient
from teller.coins.base58check import hash160
from teller.coins.btc import encode_segwit_address, p2pkh_address_from_hash160
from teller.deposits.direct import DirectProcessor
from teller.deposits.health import ScannerHealth, StatusBoard
from teller.deposits.intake import DepositIntake
from teller.payout.dummy import DummyPayer
from teller.payout.sender import Sender
from teller.scanners.base import BlockScanner, ScanSettings
from teller.store.bindings import insert_binding
from teller.store.db import Database
from teller.store.deposits import deposits_by_status
from teller.store.models import Deposit
from teller.store.scans import Orphan, orphans
from teller.worker import Waker

from ..peers import ANVIL_HINT, LITECOIND_HINT, REPO, closed_port, require_peer, wait_for_port

ANVIL = REPO / ".tools" / "node_modules" / ".bin" / "anvil"
SKY_A = "2Wbi4wvxC4fkTYMsS2f6HaFfW4pafDjXcQW"
RPC_USER, RPC_PASS = "teller", "regtest-pass"
START_TIMEOUT = 30.0


def _wait_rpc(url: str, body: dict[str, Any], auth: tuple[str, str] | None, proc: Any) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the node exited with {proc.returncode}")
        try:
            answer = httpx.post(url, json=body, auth=auth, timeout=2)
            if answer.status_code == 200 and answer.json().get("error") is None:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url}: the node did not answer in {START_TIMEOUT:.0f} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


# -- Litecoin Core ---------------------------------------------------------------------------


@dataclass
class Key:
    """A deposit address of teller's BTC regtest pool, and how litecoind names its script."""

    pubkey: bytes
    btc_address: str  # what teller's pool holds (BTC regtest form)
    ltc_address: str  # the same script in Litecoin regtest form (for the wallet's RPCs)
    script: bytes


def new_key(segwit: bool = False) -> Key:
    pubkey = coincurve.PrivateKey().public_key.format(compressed=True)
    key_hash = hash160(pubkey)
    if segwit:
        return Key(
            pubkey,
            encode_segwit_address("bcrt", 0, key_hash),
            encode_segwit_address("rltc", 0, key_hash),
            b"\x00\x14" + key_hash,
        )
    # P2PKH: Litecoin's regtest version byte is Bitcoin's (111), so the text is the same.
    address = p2pkh_address_from_hash160(key_hash, "regtest")
    return Key(pubkey, address, address, b"\x76\xa9\x14" + key_hash + b"\x88\xac")


def multisig_script(*keys: Key) -> bytes:
    """A bare 1-of-n multisig output script: its JSON lists n addresses."""
    body = b"".join(bytes([33]) + k.pubkey for k in keys)
    return bytes([0x51]) + body + bytes([0x50 + len(keys), 0xAE])


def _varint(n: int) -> bytes:
    assert n < 0xFD
    return bytes([n])


class LitecoinNode:
    def __init__(self, datadir: Path) -> None:
        self.datadir = datadir
        self.port = 0  # known once started: litecoind binds port 0, the kernel picks the port
        self.url = ""
        self.proc: subprocess.Popen[bytes] | None = None
        self.miner = ""

    def start(self) -> None:
        binary = shutil.which("litecoind")
        assert binary is not None
        # -rpcport=0: the kernel picks a free port, read back from the process's listening
        # socket (litecoind does not report it); -listen=0: no P2P port at all.
        self.proc = subprocess.Popen(
            [
                binary, "-regtest", f"-datadir={self.datadir}", "-rpcport=0",
                f"-rpcuser={RPC_USER}", f"-rpcpassword={RPC_PASS}", "-rpcbind=127.0.0.1",
                "-rpcallowip=127.0.0.1", "-listen=0", "-server=1", "-fallbackfee=0.0002",
                "-printtoconsole=0", "-txindex=0", "-rpcthreads=4",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        proc = self.proc
        self.port = wait_for_port(
            proc.pid, lambda: proc.poll() is None, "litecoind", timeout=START_TIMEOUT
        )
        self.url = f"http://127.0.0.1:{self.port}"
        _wait_rpc(
            self.url,
            {"jsonrpc": "1.0", "id": 0, "method": "getblockcount", "params": []},
            (RPC_USER, RPC_PASS),
            self.proc,
        )

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
            self.proc = None

    def rpc(self, method: str, *params: Any) -> Any:
        body = {"jsonrpc": "1.0", "id": 1, "method": method, "params": list(params)}
        answer = httpx.post(self.url, json=body, auth=(RPC_USER, RPC_PASS), timeout=60)
        document = answer.json(parse_float=Decimal)
        if document.get("error"):
            raise RuntimeError(f"{method}{params}: {document['error']}")
        return document["result"]

    def height(self) -> int:
        return int(self.rpc("getblockcount"))

    def mine(self, blocks: int = 1) -> list[str]:
        """Blocks with whatever the mempool holds.

        Each call pays a new address: a block mined again in the same second after an
        invalidateblock would otherwise be the invalidated block itself, and be refused."""
        return list(self.rpc("generatetoaddress", blocks, self.rpc("getnewaddress")))

    def mine_empty(self, blocks: int = 1) -> list[str]:
        """Blocks without any mempool transaction."""
        to = self.rpc("getnewaddress")
        return [self.rpc("generateblock", to, [])["hash"] for _ in range(blocks)]

    def pay(self, *outputs: tuple[bytes, int]) -> str:
        """One transaction with exactly these (script, satoshis) outputs, in this order (the
        wallet's change goes last). Returns its txid."""
        raw = b"\x02\x00\x00\x00" + b"\x00" + _varint(len(outputs))
        for script, satoshis in outputs:
            raw += satoshis.to_bytes(8, "little") + _varint(len(script)) + script
        raw += b"\x00\x00\x00\x00"
        funded = self.rpc("fundrawtransaction", raw.hex(), {"changePosition": len(outputs)})
        signed = self.rpc("signrawtransactionwithwallet", funded["hex"])
        assert signed["complete"], signed
        return str(self.rpc("sendrawtransaction", signed["hex"]))


@contextmanager
def running_litecoind(prefix: str = "teller-ltc-") -> Iterator[LitecoinNode]:
    """A regtest litecoind with a funded wallet, stopped at the end (skipped, or failed in CI,
    when litecoind is missing)."""
    if shutil.which("litecoind") is None:
        require_peer("litecoind (Litecoin Core)", LITECOIND_HINT, why="not on PATH")
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        node = LitecoinNode(Path(folder))
        node.start()
        try:
            node.rpc("createwallet", "teller-tests")
            node.miner = node.rpc("getnewaddress")
            node.mine(101)  # the first block's coinbase becomes spendable
            yield node
        finally:
            node.stop()


@pytest.fixture(scope="module")
def ltc() -> Iterator[LitecoinNode]:
    with running_litecoind() as node:
        yield node


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A loopback port where no node listens (connections are refused), held for the test."""
    with closed_port() as port:
        yield port


# -- anvil -----------------------------------------------------------------------------------


class AnvilNode:
    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path  # anvil's output, which says the port it got
        self.port = 0  # known once started: anvil binds port 0, the kernel picks the port
        self.url = ""
        self.proc: subprocess.Popen[bytes] | None = None
        self.accounts: list[str] = []

    def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [str(ANVIL), "--host", "127.0.0.1", "--port", "0"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.port = self._reported_port(self.proc)
        self.url = f"http://127.0.0.1:{self.port}"
        _wait_rpc(
            self.url, {"jsonrpc": "2.0", "id": 0, "method": "eth_blockNumber"}, None, self.proc
        )
        self.accounts = list(self.rpc("eth_accounts"))

    def _reported_port(self, proc: subprocess.Popen[bytes]) -> int:
        """The port of anvil's "Listening on 127.0.0.1:PORT" line."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            found = re.search(r"Listening on 127\.0\.0\.1:(\d+)", self.log_path.read_text())
            if found:
                return int(found.group(1))
            if proc.poll() is not None:
                raise RuntimeError(f"anvil exited with {proc.returncode} before it listened")
            time.sleep(0.05)
        raise RuntimeError(f"anvil did not say its port in {START_TIMEOUT:.0f} s")

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
            self.proc = None

    def rpc(self, method: str, *params: Any) -> Any:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        document = httpx.post(self.url, json=body, timeout=30).json()
        if document.get("error"):
            raise RuntimeError(f"{method}{params}: {document['error']}")
        return document["result"]

    def height(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def mine(self, blocks: int = 1) -> None:
        self.rpc("anvil_mine", hex(blocks))

    def send(self, to: str, wei: int, sender: int = 0) -> str:
        """A value transfer, mined at once (anvil's automine): its transaction hash, returned
        once its receipt is there (on a loaded machine anvil can answer the send before the
        block is in its chain, and a scan right after would not see it yet)."""
        tx = {"from": self.accounts[sender], "to": to, "value": hex(wei)}
        txid = str(self.rpc("eth_sendTransaction", tx))
        deadline = time.monotonic() + 30
        while self.rpc("eth_getTransactionReceipt", txid) is None:
            assert time.monotonic() < deadline, f"anvil did not mine {txid} in 30 s"
            time.sleep(0.02)
        return txid


@pytest.fixture(scope="module")
def anvil() -> Iterator[AnvilNode]:
    if not ANVIL.is_file():
        require_peer("anvil", ANVIL_HINT, why=f"not at {ANVIL.relative_to(REPO)}")
    with tempfile.TemporaryDirectory(prefix="teller-anvil-") as folder:
        node = AnvilNode(Path(folder) / "anvil.log")
        node.start()
        try:
            yield node
        finally:
            node.stop()


# -- teller's side: a store, the intake, a scanner -------------------------------------------


@dataclass
class Rig:
    """A store with bindings and the deposit stages, and scanners on it."""

    db: Database
    tmp_path: Path
    intake: DepositIntake = field(init=False)
    board: StatusBoard = field(default_factory=StatusBoard)

    def __post_init__(self) -> None:
        self.intake = DepositIntake(self.db, Waker())

    def bind(self, coin: str, address: str, sky_address: str = SKY_A) -> None:
        with self.db.write() as conn:
            insert_binding(
                conn,
                coin_type=coin,
                deposit_address=address,
                sky_address=sky_address,
                buy_method="direct",
                now=1,
            )

    def scanner(
        self,
        client: ChainClient,
        *,
        confirmations_required: int,
        start: int,
        batch: int = 25,
        keep: int = 1000,
    ) -> BlockScanner:
        """`confirmations_required` is the config key: blocks on top of the deposit's block
        (the Go teller's meaning), so a deposit needs `confirmations_required + 1`
        confirmations as Bitcoin counts them (the tip block has 1)."""
        settings = ScanSettings(
            scan_period=0.05,
            initial_scan_height=start,
            confirmations_required=confirmations_required,
            batch_blocks=batch,
            keep_blocks=keep,
        )
        health = ScannerHealth(
            client.coin_type, "node", confirmations_required=confirmations_required
        )
        return BlockScanner(client, self.db, self.intake, settings, health)

    def deposits(self) -> dict[str, Deposit]:
        with self.db.read() as conn:
            return {d.deposit_id: d for d in deposits_by_status(conn)}

    def orphans(self) -> dict[str, Orphan]:
        with self.db.read() as conn:
            return {o.deposit_id: o for o in orphans(conn)}

    def stages(self, balance_sky: int = 1000) -> tuple[DirectProcessor, Sender]:
        """The processor and a dummy-payer sender, to take deposits towards paid."""
        from tests.pipeline import make_config

        payer = DummyPayer(self.tmp_path / "ledger.jsonl", balance_sky * 1_000_000)
        processor = DirectProcessor(self.db, make_config(), self.board, Waker())
        return processor, Sender(self.db, payer, self.board, send_enabled=True)


async def scan_all(scanner: BlockScanner, rounds: int = 100) -> None:
    """Scan until the scanner has nothing more to scan now."""
    for _ in range(rounds):
        if await scanner.scan_once():
            return
    raise AssertionError(f"scanner not caught up after {rounds} rounds")


def watch_notices(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if getattr(r, "notice", None) == "WATCH"]


@pytest.fixture
def rig(sqlite_db: Database, tmp_path: Path) -> Rig:
    return Rig(sqlite_db, tmp_path)


@pytest.fixture
def any_rig(db: Database, tmp_path: Path) -> Rig:
    """A rig on SQLite, then on PostgreSQL (the `db` fixture; skipped if unreachable)."""
    return Rig(db, tmp_path)


@pytest.fixture(autouse=True)
def _scanner_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="teller")
