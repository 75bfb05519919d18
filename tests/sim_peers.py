"""Simulated peers as their own processes, for the tests that run a whole teller against them.

Place: test helper. Teller is configured against a simulator exactly as against the real peer
(an address, a key and a secret); nothing of the simulator runs in teller's process.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from teller_sims.process import SimProcess, start_simulator

C2CX_KEY, C2CX_SECRET = "test-c2cx-key", "test-c2cx-secret"


@contextlib.contextmanager
def c2cx_process(directory: Path, *args: str) -> Iterator[SimProcess]:
    """`teller-sim c2cx` (10 BTC, its demo order book unless `args` say otherwise) on a free
    loopback port, stopped at the end of the block."""
    directory.mkdir(parents=True, exist_ok=True)
    sim = start_simulator(
        "c2cx",
        ["--key", C2CX_KEY, "--secret", C2CX_SECRET, *args],
        port_file=directory / "c2cx.port",
        log=directory / "c2cx.log",
    )
    try:
        yield sim
    finally:
        sim.stop()


def exchange_client(sim: SimProcess, **settings: Any) -> dict[str, Any]:
    """The [sky_exchanger.exchange_client] keys that point teller at the simulator."""
    return {"base_url": f"{sim.url}/v1/", "key": C2CX_KEY, "secret": C2CX_SECRET, **settings}


def env_overrides(env: dict[str, str]) -> dict[str, Any]:
    """TELLER_SKY_RPC__ADDRESS=… as a config layer {"sky_rpc": {"address": …}}: how teller
    reads its environment, for a teller started from a config layer."""
    layer: dict[str, Any] = {}
    for name, value in env.items():
        assert name.startswith("TELLER_"), name
        *sections, key = name.removeprefix("TELLER_").lower().split("__")
        table = layer
        for section in sections:
            table = table.setdefault(section, {})
        table[key] = value
    return layer
