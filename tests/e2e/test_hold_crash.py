"""Crash test of the audit-driven hold: SIGKILL around the hold's write and around its release,
every deposit paid exactly once and none paid while held.

The node simulator runs as its own process and makes a block every half second; teller audits
every 300 ms. Deposits are paid; then a transaction teller never made spends from its hot
wallet (signed with the wallet file, as a second teller or a thief would), more deposits
arrive, and `teller` is SIGKILLed at random moments while its audit finds the spend and writes
the hold. Once the hold is in the store, a third group of deposits arrives, through kills, and
the simulator's ledger must show none of them paid. `teller payout resume` then runs as its own
process (itself SIGKILLed at a random moment half the time, and run again while the hold is
on), with teller killed around it. At the end, on the simulator's ledger: every buyer got
exactly as many outputs and droplets as deposits it made.

Seeded: the seed is printed (pytest -s) and can be set with TELLER_CRASH_SEED.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from .conftest import TellerProcess
from .crash import (
    DepositPoster,
    SkyNodeProcess,
    bind_btc,
    buyers,
    ensure_serving,
    kill_and_restart,
    plan_deposits,
    seeded_rng,
    store_rows,
    teller_command,
    wait_until,
)

pytestmark = pytest.mark.e2e

PER_GROUP = 6  # buyers of each group: paid before, around the hold's write, while held
DEPOSITS = 12  # per group
STRANGER = "6bCydnmFtHpZSL88McsynH3kNPDdaNxQpY"  # receives the spend teller never made
STOLEN = 7_000_000  # droplets: 7 SKY


def holds(t: TellerProcess) -> list[str]:
    """The spends that hold the sender now (store/holds.py)."""
    rows = store_rows(t, "SELECT spend_txid FROM payout_holds WHERE released_at IS NULL")
    return [str(r[0]) for r in rows]


def test_sigkill_around_an_audit_hold_every_deposit_paid_once_none_while_held(
    teller_process: TellerProcess, tmp_path: Path
) -> None:
    rng = seeded_rng("hold crash test")
    started = time.monotonic()
    sim = SkyNodeProcess(tmp_path / "sim")
    t = teller_process
    t.env.update(sim.env() | {"TELLER_AUDIT__INTERVAL": "300ms"})
    posters: list[DepositPoster] = []
    resume: subprocess.Popen[bytes] | None = None
    try:
        t.start()
        people = buyers(b"hold crash", 3 * PER_GROUP)
        groups = [people[i * PER_GROUP : (i + 1) * PER_GROUP] for i in range(3)]
        addresses = [[bind_btc(t, b) for b in group] for group in groups]
        buyer_of = {
            a: b
            for g, bs in zip(addresses, groups, strict=True)
            for a, b in zip(g, bs, strict=True)
        }
        plans = [
            plan_deposits(rng, a, buyer_of, DEPOSITS, tag)
            for a, tag in zip(addresses, "abc", strict=True)
        ]
        expected = {b: owed for _, group_owed in plans for b, owed in group_owed.items()}
        kills = 0

        def post(group: int) -> None:
            posters.append(DepositPoster(t.dummy, plans[group][0]))
            posters[-1].start()

        def paid(who: list[str]) -> bool:
            want = {b: expected[b] for b in who}
            return not any(p.is_alive() for p in posters) and sim.ledger(who) == want

        # 1. Paid as usual (through a kill); the wallet is teller's alone.
        post(0)
        time.sleep(rng.uniform(0.2, 1.0))
        kill_and_restart(t, rng)
        kills += 1
        ensure_serving(t)
        wait_until(lambda: paid(groups[0]) and not sim.pending(), 40, lambda: "group 0 paid")
        assert holds(t) == []

        # 2. Someone else spends from the hot wallet; deposits keep coming; teller is killed
        #    around the audit's finding and the hold's write, until the hold is stored.
        stolen = sim.spend_from_hot_wallet(STRANGER, STOLEN)
        post(1)
        while kills < 4 or not holds(t):
            assert kills < 12, "the audit never held the sender"
            time.sleep(rng.uniform(0.0, 1.2))
            kill_and_restart(t, rng)
            kills += 1
        assert holds(t) == [stolen]

        # 3. While held: a third group of deposits, through kills; none of them is paid.
        post(2)
        for _ in range(2):
            time.sleep(rng.uniform(0.2, 1.0))
            kill_and_restart(t, rng)
            kills += 1
        ensure_serving(t)
        wait_until(lambda: not posters[-1].is_alive(), 30, lambda: "group 2 posted")
        time.sleep(1.5)  # sender rounds, audit rounds and blocks go by
        assert sim.ledger(groups[2]) == dict.fromkeys(groups[2], (0, 0))
        assert holds(t) == [stolen]

        # 4. The operator resumes; teller is killed around it, and so may be the command.
        resumes = resumes_killed = 0
        while holds(t):
            assert resumes < 6, "teller payout resume never released the hold"
            if rng.random() < 0.5:
                kill_and_restart(t, rng)
                kills += 1
            resume = teller_command(t, "payout", "resume")
            resumes += 1
            if rng.random() < 0.5:
                time.sleep(rng.uniform(0.2, 3.0))
                if resume.poll() is None:
                    resume.kill()
                    resumes_killed += 1
            resume.wait(60)
        if rng.random() < 0.5:
            time.sleep(rng.uniform(0.0, 1.0))
            kill_and_restart(t, rng)
            kills += 1
        ensure_serving(t)

        wait_until(
            lambda: paid(people) and not sim.pending(),
            40,
            lambda: f"pending {sim.pending()}; ledger {sim.ledger(people)}; want {expected}",
        )
        time.sleep(0.6)  # exactly once: nothing more arrives once the node's pool is empty
        assert sim.ledger(people) == expected
        assert sim.pending() == []
        assert sim.ledger([STRANGER]) == {STRANGER: (1, STOLEN)}
        assert holds(t) == []  # the released spend, found again each round, holds no more
        print(
            f"{3 * DEPOSITS} deposits paid exactly once, none while held, through {kills}"
            f" SIGKILLs ({t.starts} starts), {resumes} resume commands ({resumes_killed}"
            f" SIGKILLed), in {time.monotonic() - started:.1f}s"
        )
    finally:
        for poster in posters:
            poster.stop.set()
        if resume is not None and resume.poll() is None:
            resume.kill()
            resume.wait(10)
        sim.stop()
