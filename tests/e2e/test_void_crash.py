"""Crash test of `teller payout void`: SIGKILL at random moments of a void's life, every deposit
paid exactly once.

The node simulator runs as its own process and makes a block every half second. Deposits are
paid through kills; then the node refuses every broadcast, so a payout teller signed and
stored is stuck. One run in three is the race: blocks stop, the node broadcasts again and the
payout reaches its pool before the void is asked for, so payout and void compete for the same
coins (the payout wins, and its deposits must not be paid again). `teller payout void TXID`
runs as its own process — itself SIGKILLed at a random moment half the time, then run again
while the payout is unvoided — while the `teller` process is SIGKILLed again and again: before
the void is stored, after, while the void waits to be broadcast (the node broadcasts again, or
makes blocks again in the race, at a random moment after the void is stored), once it is
broadcast and confirmed, and while the payout's deposits are paid anew. At the end the check
is made on the simulator's ledger, what the chain confirmed: for every buyer exactly as many
outputs and droplets as deposits it made.

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

BUYERS = 6
BEFORE = 12  # deposits paid before the node refuses broadcasts
STUCK = 6  # deposits arriving while it refuses them
KILLS = 6  # SIGKILLs of teller during the void's life, at least
SETTLED = ("voided", "confirmed")  # the payout's status once its void is decided


def payout_status(t: TellerProcess, txid: str) -> str:
    rows = store_rows(t, "SELECT status FROM payouts WHERE txid = ?", txid)
    return str(rows[0][0]) if rows else ""


def stuck_payout(t: TellerProcess) -> str | None:
    """A payout of teller's whose broadcast failed: signed and stored, never sent."""
    rows = store_rows(
        t,
        "SELECT txid FROM payouts WHERE kind = 'payout' AND status = 'signed' AND attempts > 0"
        " ORDER BY created_at, txid LIMIT 1",
    )
    return str(rows[0][0]) if rows else None


def test_sigkill_during_a_payout_void_every_deposit_paid_exactly_once(
    teller_process: TellerProcess, tmp_path: Path
) -> None:
    rng = seeded_rng("void crash test")
    started = time.monotonic()

    def phase(name: str) -> None:  # shown with pytest -s: where the time goes
        print(f"  {time.monotonic() - started:5.1f}s {name}")

    # A double spend's loser (the void, in the race) is forgotten by the node 2 s after the
    # block that took the winner, so that "nothing pending" means nothing more can be paid.
    sim = SkyNodeProcess(tmp_path / "sim", "--conflict-ttl", "2")
    t = teller_process
    t.env.update(sim.env())
    posters: list[DepositPoster] = []
    void: subprocess.Popen[bytes] | None = None
    try:
        t.start()
        people = buyers(b"void crash", BUYERS)
        addresses = [bind_btc(t, b) for b in people]
        buyer_of = dict(zip(addresses, people, strict=True))
        first, owed = plan_deposits(rng, addresses, buyer_of, BEFORE, "a")
        later, owed_later = plan_deposits(rng, addresses, buyer_of, STUCK, "b")
        expected = {
            b: tuple(x + y for x, y in zip(owed[b], owed_later.get(b, (0, 0)), strict=True))
            for b in people
        }

        posters.append(DepositPoster(t.dummy, first))
        posters[-1].start()
        time.sleep(rng.uniform(0.2, 1.0))  # paid through a kill, as in test_skynode_crash.py
        kill_and_restart(t, rng)
        ensure_serving(t)
        wait_until(lambda: not posters[0].is_alive(), 30, lambda: "the first deposits posted")

        phase("first deposits posted")
        # A payout made stuck: the node refuses every broadcast from now on.
        sim.fail_broadcasts(True)
        posters.append(DepositPoster(t.dummy, later))
        posters[-1].start()
        txid = wait_until(lambda: stuck_payout(t), 30, lambda: "no payout got stuck")
        phase(f"payout {txid[:12]}… stuck")
        race = rng.random() < 1 / 3
        if race:  # the payout reaches the node's pool before the void is asked for
            sim.pause_blocks(True)
            sim.fail_broadcasts(False)
            wait_until(lambda: txid in sim.pending(), 30, lambda: "the payout never broadcast")

        phase("the void's life begins" + (": the race, payout in the pool" if race else ""))
        kills = voids = voids_killed = 0
        void_kill_at = None
        void_started = 0.0
        stored_at: float | None = None
        resume_after = rng.uniform(0.0, 2.0)  # seconds after the void is stored
        broadcasting = False
        while kills < KILLS or payout_status(t, txid) not in SETTLED:
            assert kills < 4 * KILLS, f"the void of {txid} never settled: {payout_status(t, txid)}"
            status = payout_status(t, txid)
            if (
                void is not None
                and void_kill_at is not None
                and void.poll() is None
                and time.monotonic() - void_started >= void_kill_at
            ):
                void.kill()  # the void command itself, anywhere in its life
                void.wait(10)
                voids_killed += 1
                void = None
            if (void is None or void.poll() is not None) and status in ("signed", "broadcast"):
                void = teller_command(t, "payout", "void", txid, "--timeout", "90")
                phase("teller payout void started")
                voids += 1
                void_started = time.monotonic()
                void_kill_at = rng.uniform(0.2, 3.0) if rng.random() < 0.5 else None
            if stored_at is None and status not in ("", "signed", "broadcast"):
                stored_at = time.monotonic()
                phase(f"void stored ({status})")
            if (
                not broadcasting
                and stored_at is not None
                and time.monotonic() - stored_at >= resume_after
            ):
                if race:
                    sim.pause_blocks(False)  # one block takes the payout; the void loses
                else:
                    sim.fail_broadcasts(False)
                broadcasting = True
                phase("blocks again" if race else "broadcasts again")
            time.sleep(rng.uniform(0.1, 0.9))
            kill_and_restart(t, rng)
            kills += 1
        ensure_serving(t)
        phase(f"void settled: {payout_status(t, txid)}; {kills} kills")

        def all_paid() -> bool:
            done = all(not p.is_alive() for p in posters)
            return done and sim.ledger(people) == expected and not sim.pending()

        wait_until(all_paid, 40, lambda: _progress(sim, people, expected, posters))
        # Exactly once: nothing more arrives once the node's pool is empty.
        time.sleep(0.6)
        assert sim.ledger(people) == expected
        assert sim.pending() == []
        # Never broadcast, the payout lost to its void; in the race it was first in the pool.
        assert payout_status(t, txid) == ("confirmed" if race else "voided")
        if void is not None and void_kill_at is None:  # the last void command ran to the end
            assert void.wait(30) == (1 if race else 0)  # 1: "the void failed"
        print(
            f"{BEFORE + STUCK} deposits paid exactly once; payout {txid[:12]}…"
            f" {payout_status(t, txid)}{' (the race)' if race else ''} through"
            f" {kills} SIGKILLs of teller ({t.starts} starts), {voids} void commands"
            f" ({voids_killed} SIGKILLed), in {time.monotonic() - started:.1f}s"
        )
    finally:
        for poster in posters:
            poster.stop.set()
        if void is not None and void.poll() is None:
            void.kill()
            void.wait(10)
        sim.stop()


def _progress(
    sim: SkyNodeProcess,
    people: list[str],
    expected: dict[str, tuple[int, ...]],
    posters: list[DepositPoster],
) -> str:
    ledger = sim.ledger(people)
    wrong = {b: (ledger.get(b), expected[b]) for b in people if ledger.get(b) != expected[b]}
    posted = sum(p.posted for p in posters)
    return f"posted {posted}; pending {sim.pending()}; not as expected: {wrong}"
