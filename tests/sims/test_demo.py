"""`teller-sim demo` (what `make run PASSTHROUGH=1` / `SKYNODE=1` run): the simulators as their
own processes beside the real `teller` command, teller pointed at them by its environment, and
one Ctrl-C stopping teller and then every simulator."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx

from ..e2e.conftest import ANY_PORT, EXAMPLE_CONFIG, ready_addresses

T = TypeVar("T")
PIDS = re.compile(r"teller-sim demo: (C2CX simulator|Skycoin node simulator|teller) \(pid (\d+)\)")


def _wait(check: Callable[[], T | None], what: str, log: Path, timeout: float = 60) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no {what} in {timeout} s:\n{log.read_text(errors='replace')[-3000:]}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _get(url: str) -> Any:
    try:
        answer = httpx.get(url, timeout=5)
    except httpx.TransportError:
        return None
    return answer.json() if answer.status_code == 200 else None


def test_teller_runs_beside_both_simulators_and_one_ctrl_c_stops_all(tmp_path: Path) -> None:
    data = tmp_path / "data"
    log = tmp_path / "demo.log"
    env = {
        **os.environ,
        **ANY_PORT,
        "TELLER_SKY_EXCHANGER__BUY_METHOD": "passthrough",  # as make run PASSTHROUGH=1
        "TELLER_ETH_SCANNER__ENABLED": "false",
    }
    teller = [sys.executable, "-m", "teller.cli", "-c", str(EXAMPLE_CONFIG), "-d", str(data)]
    demo = [sys.executable, "-m", "teller_sims.cli", "demo", "--c2cx", "--skynode"]
    with log.open("ab") as out:
        launcher = subprocess.Popen(
            [*demo, "--dir", str(data), "--", *teller], env=env, stdout=out, stderr=out
        )
    pids: dict[str, str] = {}
    try:

        def started() -> dict[str, str] | None:
            found = dict(PIDS.findall(log.read_text()))
            return found if len(found) == 3 else None

        pids = _wait(started, "three processes", log)
        teller_pid = int(pids["teller"])
        addresses = _wait(lambda: ready_addresses(log.read_text(), teller_pid), "teller", log)
        public = f"http://{addresses['web.http_addr']}"
        assert _get(f"{public}/api/config")["buy_method"] == "passthrough"
        # Dummy-API deposits, the real sender: allowed only because the demo says so
        # (dummy.fake_deposits_pay_real_sky), and logged for the operator.
        assert "dummy scanner feeds the real SKY sender" in log.read_text()
        # Paying from the node simulator's demo wallet, buying on the exchange simulator's book.
        health = _wait(lambda: _get(f"{public}/api/health"), "health", log)
        assert health["exchange"]["balance"]["coins"] == "100000000.000000"
        quote = _wait(lambda: _get(f"{public}/api/quote?coin_type=BTC&amount=0.5"), "quote", log)
        assert quote["buy_method"] == "passthrough" and Decimal(quote["sky"]) > 200
        assert sorted(p.name for p in data.glob("*_sim.*")) == [
            "c2cx_sim.json",
            "c2cx_sim.port",
            "skynode_sim.json",
            "skynode_sim.port",
            "skynode_sim.wlt",
        ]

        launcher.send_signal(signal.SIGINT)
        assert launcher.wait(60) == 0, log.read_text()[-3000:]
        assert [name for name, pid in pids.items() if _alive(int(pid))] == []
        assert "stopped" in log.read_text()  # teller's own clean stop
    finally:
        for pid in pids.values():
            if _alive(int(pid)):
                os.kill(int(pid), signal.SIGKILL)
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
