"""Crash test of the real sender: SIGKILL at random moments, every deposit paid exactly once.

The node simulator runs as its own process (it outlives every teller) and makes a block
every half second. Deposits keep arriving through the dummy scanner API while the real
`teller` process is killed with SIGKILL (no shutdown code runs) at random moments — during
start-up, while signing, broadcasting, confirming — and started again each time. At the end
the check is made on the simulator's ledger, the outputs the chain confirmed: for every
buyer, exactly as many outputs and droplets as deposits it made. teller's own records are
not trusted for this.

Seeded: the seed is printed (pytest -s) and can be set with TELLER_CRASH_SEED.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from teller.coins.sky import address_from_pubkey, deterministic_keypairs

from .conftest import TellerProcess
from .crash import DepositPoster, SkyNodeProcess, bind_btc, seeded_rng, start_unwaited

pytestmark = pytest.mark.e2e

DEPOSITS = 220
BUYERS = 55  # one BTC deposit address each, four deposits per address
KILLS = 22
SKY_PER_BTC = 500


def test_sigkill_at_random_moments_every_deposit_paid_exactly_once(
    teller_process: TellerProcess, tmp_path: Path
) -> None:
    rng = seeded_rng("crash test")
    started = time.monotonic()
    sim = SkyNodeProcess(tmp_path / "sim")
    t = teller_process
    t.env.update(sim.env())
    poster: DepositPoster | None = None
    try:
        t.start()
        buyers = [address_from_pubkey(p) for _, p in deterministic_keypairs(b"crash", BUYERS)]
        addresses = [bind_btc(t, buyer) for buyer in buyers]
        deposits: list[tuple[str, int, str]] = []
        expected: dict[str, tuple[int, int]] = dict.fromkeys(buyers, (0, 0))
        for i in range(DEPOSITS):
            k = i % BUYERS
            satoshis = rng.randrange(1, 2_000) * 1_000  # SKY amounts with 3 decimals
            deposits.append((addresses[k], satoshis, f"{i:064x}"))
            count, droplets = expected[buyers[k]]
            expected[buyers[k]] = (count + 1, droplets + satoshis * SKY_PER_BTC // 100)
        poster = DepositPoster(t.dummy, deposits)
        poster.start()

        kills = 0
        ready = True
        while kills < KILLS:
            if ready:  # killed while serving: signing, storing, broadcasting, confirming
                time.sleep(rng.uniform(0.0, 0.7))
            else:  # killed anywhere from exec to serving
                time.sleep(rng.uniform(0.2, 1.2))
            t.kill()
            kills += 1
            ready = rng.random() >= 0.3
            if ready:
                t.start()
            else:
                start_unwaited(t)
        if not ready:
            t.kill()
            t.start()

        deadline = time.monotonic() + 60
        while poster.is_alive() or sim.ledger(buyers) != expected or sim.pending():
            assert time.monotonic() < deadline, _progress(sim, buyers, expected, poster)
            time.sleep(0.25)
        assert poster.posted == DEPOSITS
        # Exactly once: per buyer, as many outputs and droplets as deposits it made, and
        # nothing more arrives once the node's pool is empty.
        time.sleep(0.5)
        assert sim.ledger(buyers) == expected
        assert sim.pending() == []
        total = sum(c for c, _ in expected.values())
        print(
            f"{DEPOSITS} deposits ({total} outputs) paid exactly once through {kills} SIGKILLs,"
            f" {t.starts} starts, in {time.monotonic() - started:.1f}s"
        )
    finally:
        if poster is not None:
            poster.stop.set()
        sim.stop()


def _progress(
    sim: SkyNodeProcess,
    buyers: list[str],
    expected: dict[str, tuple[int, int]],
    poster: DepositPoster,
) -> Any:
    ledger = sim.ledger(buyers)
    wrong = {b: (ledger.get(b), expected[b]) for b in buyers if ledger.get(b) != expected[b]}
    return f"posted {poster.posted}/{DEPOSITS}; pending {sim.pending()}; not as expected: {wrong}"
