"""`teller-sim demo`: run teller beside simulated peers, each its own process, for the demos.

Place: outside teller; `make run PASSTHROUGH=1` and `make run SKYNODE=1` use it. It starts the
simulators asked for (each on a free loopback port, its files in the data directory), waits
until they listen, then runs the given teller command with environment overrides that point
teller at them, exactly as an operator would point teller at a real node or exchange:

    --c2cx      TELLER_SKY_EXCHANGER__EXCHANGE_CLIENT__BASE_URL / __KEY / __SECRET
                (the simulator's demo key and secret, 10 BTC, its deep demo order book;
                account in DIR/c2cx_sim.json, port in DIR/c2cx_sim.port)
    --skynode   TELLER_DUMMY__SENDER=false, TELLER_SKY_RPC__ADDRESS, TELLER_SKY_EXCHANGER__WALLET
                (a demo hot wallet DIR/skynode_sim.wlt with 100,000,000 SKY in 10 outputs, a
                block every 5 s; chain in DIR/skynode_sim.json, port in DIR/skynode_sim.port),
                and TELLER_DUMMY__FAKE_DEPOSITS_PAY_REAL_SKY=true: the demo's deposits still
                come from the dummy API and are paid by the real sender, from the simulator's
                demo wallet (teller refuses that mix unless told, README "Dummy mode")

Ctrl-C (SIGINT) or SIGTERM stops teller first, then the simulators; if teller or a simulator
ends by itself, the others are stopped too. The children run in their own process groups, so
that a Ctrl-C in the terminal reaches this launcher only and the stops happen in that order.

    teller-sim demo --c2cx --dir data-passthrough -- .venv/bin/teller -c CONFIG -d data-passthrough
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from teller_sims.c2cx import DEMO_KEY, DEMO_SECRET
from teller_sims.process import SimProcess, SimulatorFailed, start_simulator

PREFIX = "TELLER_"
SKYNODE_BLOCK_SECONDS = "5"  # a real node makes one every 10 s; a demo need not wait that long
SKYNODE_OUTPUTS = "10"  # the demo wallet's coins start in this many outputs (parallel payouts)
TELLER_STOP_SECONDS = 30.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The launcher's options (`teller-sim demo`)."""
    parser.add_argument("--c2cx", action="store_true", help="a C2CX exchange simulator")
    parser.add_argument("--skynode", action="store_true", help="a Skycoin node simulator")
    parser.add_argument(
        "--dir", type=Path, required=True, help="where the simulators keep their files"
    )
    parser.add_argument(
        "command", nargs=argparse.REMAINDER, help="-- then the teller command to run"
    )


def start_c2cx(directory: Path) -> tuple[SimProcess, dict[str, str]]:
    sim = start_simulator(
        "c2cx",
        ["--key", DEMO_KEY, "--secret", DEMO_SECRET, "--state", str(directory / "c2cx_sim.json")],
        port_file=directory / "c2cx_sim.port",
        process_group=0,
    )
    env = {
        f"{PREFIX}SKY_EXCHANGER__EXCHANGE_CLIENT__BASE_URL": f"{sim.url}/v1/",
        f"{PREFIX}SKY_EXCHANGER__EXCHANGE_CLIENT__KEY": DEMO_KEY,
        f"{PREFIX}SKY_EXCHANGER__EXCHANGE_CLIENT__SECRET": DEMO_SECRET,
    }
    return sim, env


def start_skynode(directory: Path) -> tuple[SimProcess, dict[str, str]]:
    wallet = directory.resolve() / "skynode_sim.wlt"  # teller reads a relative path from its config
    sim = start_simulator(
        "skynode",
        [
            *("--wallet", str(wallet), "--state", str(directory / "skynode_sim.json")),
            *("--block-interval", SKYNODE_BLOCK_SECONDS, "--outputs", SKYNODE_OUTPUTS),
        ],
        port_file=directory / "skynode_sim.port",
        process_group=0,
    )
    env = {
        f"{PREFIX}DUMMY__SENDER": "false",
        # Dummy-API deposits paid by the real sender: only a simulated chain's coins are at
        # stake here, so the demo says explicitly that it means it.
        f"{PREFIX}DUMMY__FAKE_DEPOSITS_PAY_REAL_SKY": "true",
        f"{PREFIX}SKY_RPC__ADDRESS": sim.address,
        f"{PREFIX}SKY_EXCHANGER__WALLET": str(wallet),
    }
    return sim, env


class Stops:
    """Counts SIGINT/SIGTERM: the first asks for a clean stop, a second for a kill."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1


def stop_teller(teller: subprocess.Popen[bytes], stops: Stops) -> int:
    """SIGINT (teller stops cleanly), then a kill after TELLER_STOP_SECONDS or a second
    Ctrl-C. Teller's exit status."""
    if teller.poll() is None:
        teller.send_signal(signal.SIGINT)
        asked = stops.count
        deadline = time.monotonic() + TELLER_STOP_SECONDS
        while teller.poll() is None:
            if stops.count > max(asked, 1) or time.monotonic() > deadline:
                teller.kill()
            time.sleep(0.05)
    return teller.returncode


def say(text: str) -> None:
    print(f"teller-sim demo: {text}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        say("no teller command given (… -- .venv/bin/teller -c CONFIG -d DIR)")
        return 2
    if not (args.c2cx or args.skynode):
        say("no simulator asked for (--c2cx, --skynode)")
        return 2
    directory: Path = args.dir
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    stops = Stops()
    previous = {sig: signal.signal(sig, stops) for sig in (signal.SIGINT, signal.SIGTERM)}
    sims: list[SimProcess] = []
    env = dict(os.environ)
    try:
        try:
            if args.c2cx:
                sim, overrides = start_c2cx(directory)
                sims.append(sim)
                env.update(overrides)
                say(f"C2CX simulator (pid {sim.proc.pid}) at {sim.url}/v1/, controls /sim/")
            if args.skynode:
                sim, overrides = start_skynode(directory)
                sims.append(sim)
                env.update(overrides)
                say(f"Skycoin node simulator (pid {sim.proc.pid}) at {sim.url}, controls /sim/")
        except (SimulatorFailed, OSError) as exc:
            say(f"cannot start: {exc}")
            return 1
        if stops.count:
            return 130
        try:
            teller = subprocess.Popen(command, env=env, process_group=0)
        except OSError as exc:
            say(f"cannot run {command[0]}: {exc}")
            return 127
        say(f"teller (pid {teller.pid}) started; Ctrl-C stops teller, then the simulators")
        while not stops.count and teller.poll() is None and all(s.running() for s in sims):
            time.sleep(0.1)
        for sim in sims:
            if not sim.running():
                say(f"the {sim.name} simulator ended ({sim.proc.returncode}): stopping teller")
        status = stop_teller(teller, stops)
        if stops.count == 0 and status != 0:
            say(f"teller exited with status {status}")
        if any(s.proc.returncode not in (None, 0) for s in sims):
            status = status or 1
        return status
    finally:
        for sim in reversed(sims):
            sim.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="teller-sim demo", description=__doc__.splitlines()[0] if __doc__ else None
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
