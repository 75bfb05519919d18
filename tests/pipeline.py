"""A recorded deposit pipeline on a real store: pool, binding, intake, processor, sender (the
`pipeline` and `both` fixtures of tests/deposits and tests/payout)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from teller.config.schema import Config
from teller.deposits.direct import DirectProcessor
from teller.deposits.health import StatusBoard
from teller.deposits.intake import DepositIntake
from teller.payout.dummy import DummyPayer
from teller.payout.sender import Sender
from teller.store.bindings import insert_binding
from teller.store.db import Database
from teller.store.deposits import get_deposit
from teller.store.models import Deposit, IncomingDeposit
from teller.store.pool import sync_pool, take_free_address
from teller.worker import Waker

SKY_A = "2Wbi4wvxC4fkTYMsS2f6HaFfW4pafDjXcQW"
SKY_B = "hs1pyuNgxDLyLaZsnqzQG9U3DKdJsbzNpn"


@dataclass
class Pipeline:
    db: Database
    config: Config
    board: StatusBoard
    payer: DummyPayer
    intake: DepositIntake
    processor: DirectProcessor
    sender: Sender
    ledger: Path

    def bind(self, coin: str, sky_address: str = SKY_A) -> str:
        with self.db.write() as conn:
            address = take_free_address(conn, coin, 1)
            assert address is not None
            insert_binding(
                conn,
                coin_type=coin,
                deposit_address=address,
                sky_address=sky_address,
                buy_method="direct",
                now=1,
            )
        return address

    def deposit(self, address: str, value: int, tx: str, n: int = 0, coin: str = "BTC") -> None:
        self.intake.receive(IncomingDeposit(coin, address, value, 1, tx, n))

    def get(self, deposit_id: str) -> Deposit:
        with self.db.read() as conn:
            found = get_deposit(conn, deposit_id)
        assert found is not None
        return found

    def restarted_sender(self) -> Sender:
        """A new payer and sender on the same store and ledger: what a restart builds."""
        payer = DummyPayer(
            self.ledger, self.payer.starting_droplets, auto_confirm=self.payer.auto_confirm
        )
        self.payer = payer
        self.sender = Sender(self.db, payer, self.board, send_enabled=True)
        return self.sender

    def paid_to(self, sky_address: str) -> list[int]:
        return [d for b in self.payer.broadcasts() for a, d in b.outputs if a == sky_address]


def make_config(**exchanger: object) -> Config:
    values = {
        "sky_btc_exchange_rate": "500",
        "sky_eth_exchange_rate": "100",
        "sky_sky_exchange_rate": "1",
        "max_decimals": 3,
    }
    values.update(exchanger)
    return Config.model_validate(
        {"sky_exchanger": values, "dummy": {"sender": True, "scanner": True}}
    )


@pytest.fixture
def pipeline(sqlite_db: Database, tmp_path: Path) -> Pipeline:
    return build_pipeline(sqlite_db, tmp_path, balance_sky=1000)


@pytest.fixture
def both(db: Database, tmp_path: Path) -> Pipeline:
    """The pipeline on each backend in turn (the `db` fixture: SQLite, then PostgreSQL)."""
    return build_pipeline(db, tmp_path, balance_sky=1000)


def build_pipeline(
    db: Database, tmp_path: Path, balance_sky: int, auto_confirm: bool = False
) -> Pipeline:
    with db.write() as conn:
        sync_pool(conn, "BTC", [f"btc{i}" for i in range(20)])
        sync_pool(conn, "ETH", [f"0x{i:040x}" for i in range(20)])
    config = make_config()
    board = StatusBoard()
    ledger = tmp_path / "ledger.jsonl"
    payer = DummyPayer(ledger, balance_sky * 1_000_000, auto_confirm=auto_confirm)
    return Pipeline(
        db=db,
        config=config,
        board=board,
        payer=payer,
        intake=DepositIntake(db, Waker()),
        processor=DirectProcessor(db, config, board, Waker()),
        sender=Sender(db, payer, board, send_enabled=True),
        ledger=ledger,
    )
