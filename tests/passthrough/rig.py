"""A passthrough processor on a real SQLite store and the C2CX simulator on loopback, for
the passthrough and quote tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal

import httpx
from teller_sims.c2cx import C2CXSim, new_exchange, running_sim

from teller.clients.c2cx import C2CXClient
from teller.config.schema import Config
from teller.deposits.health import StatusBoard
from teller.deposits.intake import DepositIntake
from teller.passthrough.orders import PassthroughProcessor, Wait
from teller.store import orders as order_store
from teller.store.bindings import insert_binding
from teller.store.db import Database
from teller.store.deposits import get_deposit
from teller.store.models import Deposit, ExchangeOrder, IncomingDeposit
from teller.store.pool import sync_pool, take_free_address
from teller.worker import Waker
from tests.pipeline import SKY_A, make_config

D = Decimal
BOOK = [[D("0.002"), D("50")], [D("0.00201"), D("87")], [D("0.00202"), D("124")]]


def passthrough_config(**client: object) -> Config:
    settings: dict[str, object] = {
        "key": "k",
        "secret": "s",
        "check_order_wait": "50ms",
        "request_failure_wait": "50ms",
        "ratelimit_wait": "80ms",
        "btc_minimum_volume": "0.005",
    }
    settings.update(client)
    return make_config(buy_method="passthrough", exchange_client=settings)


@dataclass
class Rig:
    db: Database
    sim: C2CXSim
    market: C2CXClient
    board: StatusBoard
    processor: PassthroughProcessor
    intake: DepositIntake
    config: Config

    def deposit(self, satoshis: int, tx: str) -> str:
        with self.db.write() as conn:
            address = take_free_address(conn, "BTC", 1)
            assert address is not None
            insert_binding(
                conn,
                coin_type="BTC",
                deposit_address=address,
                sky_address=SKY_A,
                buy_method="passthrough",
                now=1,
            )
        self.intake.receive(IncomingDeposit("BTC", address, satoshis, 1, tx, 0))
        return f"{tx}:0"

    def get(self, deposit_id: str) -> Deposit:
        with self.db.read() as conn:
            found = get_deposit(conn, deposit_id)
        assert found is not None
        return found

    def orders(self, deposit_id: str) -> list[ExchangeOrder]:
        with self.db.read() as conn:
            return order_store.orders_of(conn, deposit_id)

    def restarted(self) -> PassthroughProcessor:
        """A new processor on the same store and exchange: what a restart builds."""
        self.processor = PassthroughProcessor(
            self.db, self.config, self.board, self.market, Waker()
        )
        return self.processor

    async def run_until(self, done: Callable[[], bool], steps: int = 300) -> list[Wait]:
        waits = []
        for _ in range(steps):
            wait = await self.processor.step()
            waits.append(wait)
            self.board.processor_error = wait.problem
            if done():
                return waits
            await asyncio.sleep(min(wait.seconds, 0.06))
        raise AssertionError(f"not done after {steps} steps; last wait {waits[-1]}")

    def trades_of(self, deposit_id: str) -> list[tuple[Decimal, Decimal]]:
        return [
            (t.volume, t.btc)
            for t in self.sim.exchange.trades
            if t.cid is not None and t.cid.rsplit("/", 1)[0] == deposit_id
        ]

    async def control(self, path: str, document: dict[str, object]) -> None:
        async with httpx.AsyncClient() as http:
            answer = await http.post(f"http://127.0.0.1:{self.sim.port}/sim/{path}", json=document)
            assert answer.status_code == 200, answer.text


@contextlib.asynccontextmanager
async def make_rig(
    db: Database, config: Config, btc: str = "1", book: list[list[Decimal]] | None = None
) -> AsyncIterator[Rig]:
    with db.write() as conn:
        sync_pool(conn, "BTC", [f"btc{i}" for i in range(80)])
    exchange = new_exchange(D(btc), asks=[list(level) for level in (book or BOOK)])
    async with running_sim(C2CXSim(exchange, key="k", secret="s")) as sim:
        market = C2CXClient("k", "s", f"http://127.0.0.1:{sim.port}/v1/")
        board = StatusBoard()
        processor = PassthroughProcessor(db, config, board, market, Waker())
        yield Rig(db, sim, market, board, processor, DepositIntake(db, Waker()), config)
        await market.aclose()
