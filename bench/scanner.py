"""Scanner catch-up: N blocks of 2,000 transactions served by the btcd simulator.

The simulator runs as its own process (`python -m teller_sims.btcd --no-tls`), so its work
is not counted as teller's. Teller's BTC scanner (clients/bitcoind.py client, scanners/base.py
loop, a SQLite store with a few bound addresses, the intake) runs in this process, alone,
and scans the blocks from the first to the tip: its CPU time (`time.process_time`, every
thread) per block is set beside the limit, the CPU time of `json.loads` of the same block
JSON (the bytes the node sends for `getblock <hash> 2`), measured with the garbage collector
off: the decode alone. Aim: teller's CPU per block at most 1.5 times that. A first block,
not counted, warms the scanner up. Blocks/s is wall time, the simulator's serving included.
"""

from __future__ import annotations

import asyncio
import gc
import json
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.procs import http_post

AIM_RATIO = 1.5


@dataclass
class ScannerResult:
    blocks: int
    transactions_per_block: int
    block_bytes: int  # size of one block's JSON answer
    wall_seconds: float
    teller_cpu_per_block: float  # seconds
    decode_cpu_per_block: float  # seconds: json.loads of the block JSON (the limit)
    decimal_decode_cpu_per_block: float  # json.loads(parse_float=Decimal), for information
    deposits_found: int

    @property
    def blocks_per_second(self) -> float:
        return self.blocks / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def ratio(self) -> float:
        return self.teller_cpu_per_block / self.decode_cpu_per_block

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            blocks_per_second=round(self.blocks_per_second, 2),
            ratio=round(self.ratio, 3),
            aim_ratio=AIM_RATIO,
            met=self.ratio <= AIM_RATIO,
        )
        return data


def render_scanner(result: ScannerResult) -> str:
    ms = 1000.0
    verdict = "met" if result.ratio <= AIM_RATIO else "NOT met"
    return "\n".join(
        [
            f"scanner catch-up: {result.blocks} blocks of {result.transactions_per_block:,}"
            f" transactions ({result.block_bytes / 1e6:.1f} MB of JSON each), btcd simulator",
            f"  blocks/s (wall)                   {result.blocks_per_second:8.2f}",
            f"  teller CPU per block              {result.teller_cpu_per_block * ms:8.1f} ms",
            f"  json.loads of the block (limit)   {result.decode_cpu_per_block * ms:8.1f} ms",
            f"  json.loads, Decimal amounts       {result.decimal_decode_cpu_per_block * ms:8.1f}"
            " ms",
            f"  ratio teller / decode             {result.ratio:8.2f}   aim <= {AIM_RATIO}:"
            f" {verdict}",
            f"  deposits found                    {result.deposits_found:8d}",
        ]
    )


class Simulator:
    """`python -m teller_sims.btcd` on free ports, plain HTTP, stopped on exit."""

    def __init__(self, workdir: Path) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "teller_sims.btcd",
                "--no-tls",
                "--rpc",
                "127.0.0.1:0",
                "--api",
                "127.0.0.1:0",
                "--network",
                "mainnet",
            ],
            stdout=subprocess.PIPE,
            cwd=workdir,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        match = re.search(r"rpc=http://(\S+) api=(\S+)", line)
        if match is None:
            self.proc.kill()
            raise RuntimeError(f"btcd simulator did not start: {line!r}")
        self.rpc_address, self.api = match.groups()

    def post(self, path: str, body: Any, timeout: float = 600.0) -> Any:
        status, answer = http_post(
            self.api + path, json.dumps(body).encode(), "application/json", timeout
        )
        if status != 200:
            raise RuntimeError(f"simulator {path}: {status} {answer[:200]!r}")
        return json.loads(answer)

    def rpc(self, method: str, *params: Any) -> bytes:
        body = json.dumps({"method": method, "params": list(params), "id": 1}).encode()
        status, answer = http_post(f"http://{self.rpc_address}", body, "application/json", 60)
        assert status == 200, answer[:200]
        return answer

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def measure_scanner(workdir: Path, blocks: int, transactions: int) -> ScannerResult:
    sim = Simulator(workdir)
    try:
        # The first block warms the scanner up (connections, statements); it is not counted.
        first = sim.post("/api/generate", {"blocks": 1, "transactions": 0})["height"] + 2
        for _ in range(blocks + 1):  # one call per block: each answer stays small
            tip = sim.post("/api/generate", {"blocks": 1, "transactions": transactions})
        # Watch the addresses of one block's first outputs, so the matching finds deposits.
        sample = json.loads(sim.rpc("getblock", tip["hash"], 2), parse_float=Decimal)
        watched = [
            tx["vout"][0]["scriptPubKey"]["addresses"][0] for tx in sample["result"]["tx"][1:6]
        ]
        bodies = [sim.rpc("getblock", json.loads(sim.rpc("getblockhash", h))["result"], 2)
                  for h in range(first, first + blocks)]  # fmt: skip
        decode = _cpu_per_call(lambda b: json.loads(b), bodies)
        decimal_decode = _cpu_per_call(lambda b: json.loads(b, parse_float=Decimal), bodies)
        # Like the decode, the least disturbed of three passes (each on a fresh store).
        passes = [
            asyncio.run(_scan(workdir / f"pass{n}.db", sim.rpc_address, first, watched))
            for n in range(3)
        ]
        wall = min(p[0] for p in passes)
        cpu = min(p[1] for p in passes)
        found = passes[0][2]
    finally:
        sim.stop()
    return ScannerResult(
        blocks=blocks,
        transactions_per_block=transactions,
        block_bytes=len(bodies[0]),
        wall_seconds=wall,
        teller_cpu_per_block=cpu / blocks,
        decode_cpu_per_block=decode,
        decimal_decode_cpu_per_block=decimal_decode,
        deposits_found=found,
    )


def _cpu_per_call(function: Any, bodies: list[bytes], rounds: int = 3) -> float:
    """The least CPU time per body over `rounds` passes (the least disturbed pass), with
    the garbage collector off: the decode alone, whatever else lives in the process."""
    passes = []
    for _ in range(rounds):
        gc.disable()
        try:
            started = time.process_time()
            for body in bodies:
                function(body)
            passes.append((time.process_time() - started) / len(bodies))
        finally:
            gc.enable()
    return min(passes)


async def _scan(
    database: Path, rpc: str, first: int, watched: list[str]
) -> tuple[float, float, int]:
    from teller.clients.bitcoind import BitcoinClient
    from teller.deposits.health import ScannerHealth
    from teller.deposits.intake import DepositIntake
    from teller.scanners.base import BlockScanner, ScanSettings
    from teller.store.bindings import insert_binding
    from teller.store.db import Database, create_store_engine, sqlite_url
    from teller.store.deposits import deposits_by_status
    from teller.store.migrate import upgrade
    from teller.worker import Waker

    engine = create_store_engine(sqlite_url(database))
    upgrade(engine)
    db = Database(engine)
    with db.write() as conn:
        for address in watched:
            insert_binding(
                conn,
                coin_type="BTC",
                deposit_address=address,
                sky_address="2Wbi4wvxC4fkTYMsS2f6HaFfW4pafDjXcQW",
                buy_method="direct",
                now=1,
            )
    client = BitcoinClient(rpc, "", "", tls=False)
    # confirmations_required 0: no block needed on top, so every block up to the tip is read.
    settings = ScanSettings(1.0, initial_scan_height=first - 1, confirmations_required=0)
    scanner = BlockScanner(
        client,
        db,
        DepositIntake(db, Waker()),
        replace(settings, batch_blocks=1),
        ScannerHealth("BTC", "node"),
    )
    await scanner.scan_once()  # the warm-up block
    scanner.settings = settings
    wall, cpu = time.perf_counter(), time.process_time()
    while not await scanner.scan_once():
        pass
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    await client.aclose()
    with db.read() as conn:
        found = len(deposits_by_status(conn))
    db.dispose()
    return wall, cpu, found


def main() -> None:
    """`python -m bench.scanner [BLOCKS]`: this measurement alone."""
    import tempfile

    blocks = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    with tempfile.TemporaryDirectory(prefix="teller-bench-scanner-") as folder:
        result = measure_scanner(Path(folder), blocks, 2000)
    print(render_scanner(result))
    print(json.dumps(result.as_json(), indent=2))


if __name__ == "__main__":
    main()
