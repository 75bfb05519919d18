"""The real sender's throughput: deposits to `done` through the Skycoin node simulator.

teller runs as a separate process with dummy.sender off: it signs every payout with a hot
wallet and injects it into the node simulator (`python -m teller_sims.skynode`, its own
process), which makes a block every second while transactions are pending, as a node does
(every 10 s on mainnet). Deposits arrive through the dummy scanner API as fast as wrk posts
them (the same deposit.lua as the dummy-sender run), each to its own bound BTC address.

Two figures:
- deposits/s to `done`: from the first post until every deposit is done (its payout
  confirmed in a block);
- deposits paid per block: payout outputs per block, read back from the simulator's blocks
  (the chain, not teller's records); the mean over the blocks that carried payouts, and
  the largest.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.addresses import sky_addresses, write_lines
from bench.procs import get_json, stop_process
from bench.scenarios import (
    Bench,
    DepositRun,
    bound_btc_addresses,
    measure_binds,
    measure_deposits,
)
from bench.teller_proc import TellerProcess, clean_env

REPO = Path(__file__).resolve().parent.parent
BLOCK_SECONDS = 1.0
WALLET_OUTPUTS = 10  # the hot wallet's coins start in this many confirmed outputs
AIM_PER_BLOCK = 100.0


class SimProcess:
    """The node simulator as its own process, with a funded hot wallet in `directory`."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.wallet = directory / "hot.wlt"
        port_file = directory / "port"
        self.log_path = directory / "sim.log"
        command = [
            sys.executable, "-m", "teller_sims.skynode", "--port", "0",
            "--port-file", str(port_file), "--block-interval", str(BLOCK_SECONDS),
            "--wallet", str(self.wallet), "--outputs", str(WALLET_OUTPUTS),
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, env=clean_env(),
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the node simulator did not start (see {self.log_path})")
            time.sleep(0.05)
        self.address = f"127.0.0.1:{int(port_file.read_text())}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def head_seq(self) -> int:
        return int(get_json(f"{self.url}/sim/status")["head_seq"])

    def payouts_per_block(self, first: int, last: int, wallet: set[str]) -> list[int]:
        """Outputs not going back to the wallet, per block in first..last that has any."""
        counts = []
        for seq in range(first, last + 1):
            block = get_json(f"{self.url}/api/v1/block?seq={seq}")
            paid = sum(
                1
                for tx in block["body"]["txns"]
                for out in tx["outputs"]
                if out["dst"] not in wallet
            )
            if paid:
                counts.append(paid)
        return counts

    def stop(self) -> None:
        stop_process(self.process)


class SkyTellerProcess(TellerProcess):
    """The bench's teller config with the real sender against the simulator."""

    sky_rpc: str = ""
    wallet: Path | None = None

    def write_config(self) -> None:
        super().write_config()
        text = self.config_path.read_text()
        # Dummy-API deposits paid by the real sender (the simulator's demo coins): said
        # explicitly, or teller refuses to start.
        text = text.replace(
            "[dummy]\nsender = true\n",
            "[dummy]\nsender = false\nfake_deposits_pay_real_sky = true\n",
        )
        text = text.replace(
            "send_enabled = true\n", f'send_enabled = true\nwallet = "{self.wallet}"\n'
        )
        text = text.replace("[teller]\n", f'[sky_rpc]\naddress = "{self.sky_rpc}"\n\n[teller]\n')
        self.config_path.write_text(text)


@dataclass
class SkyNodeRun:
    deposits: DepositRun
    per_block: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def per_block_mean(self) -> float:
        return sum(self.per_block) / len(self.per_block) if self.per_block else 0.0

    @property
    def per_block_max(self) -> int:
        return max(self.per_block, default=0)


def measure_skynode(bench: Bench, btc_file: Path, count: int, timeout: float) -> SkyNodeRun:
    """Bind `count` BTC addresses, post one deposit to each, time them to done."""
    workdir = bench.workdir / "skynode"
    workdir.mkdir(exist_ok=True)
    sim = SimProcess(workdir / "sim")
    try:
        wallet_doc = json.loads(sim.wallet.read_text())
        wallet = {entry["address"] for entry in wallet_doc["entries"]}
        teller = SkyTellerProcess(workdir, btc_file)
        teller.sky_rpc, teller.wallet = sim.address, sim.wallet
        with teller:
            teller.start()
            sky_file = write_lines(workdir / "bind-sky.txt", sky_addresses(count + 100))
            measure_binds(bench, teller, sky_file, count)
            bound = bound_btc_addresses(teller)[:count]
            first = sim.head_seq() + 1
            deposits = measure_deposits(bench, teller, bound, timeout)
            # The last payouts' block may still be on its way when the last poll saw done.
            per_block = sim.payouts_per_block(first, sim.head_seq(), wallet)
        run = SkyNodeRun(deposits=deposits, per_block=per_block)
        if len(bound) < count:
            run.notes.append(f"only {len(bound)} of {count} binds succeeded")
        return run
    finally:
        sim.stop()


def render_skynode(run: SkyNodeRun) -> str:
    d = run.deposits
    aim = "met" if run.per_block_mean >= AIM_PER_BLOCK else "NOT met"
    lines = [
        f"real sender through the node simulator (a block every {BLOCK_SECONDS:g} s, hot"
        f" wallet in {WALLET_OUTPUTS} outputs):",
        f"  deposits to done: {d.done}/{d.count} in {d.seconds:.2f} s = {d.rate:.1f} deposits/s"
        + (" (timed out)" if d.timed_out else ""),
        f"  deposits paid per block: mean {run.per_block_mean:.1f}, max {run.per_block_max}"
        f" over {len(run.per_block)} blocks (aim >= {AIM_PER_BLOCK:.0f}: {aim})",
    ]
    lines += [f"  note: {n}" for n in run.notes + d.notes]
    return "\n".join(lines)


def skynode_json(run: SkyNodeRun) -> dict[str, Any]:
    d = run.deposits
    return {
        "block_seconds": BLOCK_SECONDS,
        "wallet_outputs": WALLET_OUTPUTS,
        "count": d.count,
        "done": d.done,
        "seconds": d.seconds,
        "deposits_per_s": d.rate,
        "timed_out": d.timed_out,
        "per_block": run.per_block,
        "per_block_mean": run.per_block_mean,
        "per_block_max": run.per_block_max,
        "aim_per_block": AIM_PER_BLOCK,
        "notes": run.notes + d.notes,
    }
