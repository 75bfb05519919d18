"""Fixtures of the market tests: the project's C2CX simulator on a loopback port, and a
scripted server for the answers the simulator never gives."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

import pytest
from teller_sims.c2cx import C2CXSim, new_exchange, running_sim

from teller.clients.c2cx import C2CXClient
from tests.skynode.scripted import ScriptedNode, serve_scripted


@pytest.fixture
async def sim() -> AsyncIterator[C2CXSim]:
    exchange = new_exchange(Decimal("1"), asks=[[Decimal("0.00201"), Decimal("40")]])
    async with running_sim(C2CXSim(exchange)) as running:
        yield running


@pytest.fixture
async def client(sim: C2CXSim) -> AsyncIterator[C2CXClient]:
    market = C2CXClient(sim.key, sim.secret, f"http://127.0.0.1:{sim.port}/v1/")
    yield market
    await market.aclose()


@pytest.fixture
def scripted() -> Iterator[ScriptedNode]:
    yield from serve_scripted()
