"""`teller run` with web.processes = 2: the public API served by two API processes sharing
the port, each bind answered once with an address of its own, a killed API process replaced,
every API process gone when teller stops or is killed (tests/e2e/conftest.py starts the real
command; which process answered is read from the log's `process="api N"` field)."""

from __future__ import annotations

import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from teller.coins.sky import address_from_key_hash

from .conftest import TellerProcess

_STARTED = re.compile(r'API process started process="api (\d+)" pid=(\d+)')
_BOUND = re.compile(r"address bound .*deposit_address=(\S+) .*process=\"api (\d+)\"")


def _started(log: Path) -> list[tuple[int, int]]:
    """(index, pid) of every API process start in the log, in order."""
    return [(int(i), int(p)) for i, p in _STARTED.findall(log.read_text(errors="replace"))]


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _wait(condition: str, check: object, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"not so after {seconds} s: {condition}")


def _bind(public: str, sky_address: str) -> tuple[int, str]:
    # A new connection per request: the kernel shares connections, not requests, out.
    with httpx.Client(timeout=30) as client:
        answer = client.post(
            f"{public}/api/bind", json={"skyaddr": sky_address, "coin_type": "BTC"}
        )
    return answer.status_code, answer.json()["deposit_address"] if answer.is_success else ""


def test_two_api_processes_bind_concurrently_each_address_once(
    teller_process: TellerProcess,
) -> None:
    teller_process.env["TELLER_WEB__PROCESSES"] = "2"
    teller_process.start()
    assert [i for i, _ in _started(teller_process.log_path)] == [1, 2]
    buyers = [address_from_key_hash(os.urandom(20)) for _ in range(60)]
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda sky: _bind(teller_process.public, sky), buyers))
    assert [status for status, _ in answers] == [200] * 60
    addresses = [address for _, address in answers]
    assert len(set(addresses)) == 60  # no deposit address handed out twice
    bound = dict(_BOUND.findall(teller_process.log_path.read_text(errors="replace")))
    assert set(bound) == set(addresses)
    assert set(bound.values()) == {"1", "2"}  # both API processes answered binds
    # Every bind is in the store once, as the admin API (the parent's) lists them.
    listed = httpx.get(
        f"{teller_process.admin}/api/deposit-addresses",
        headers=teller_process.admin_headers,
        timeout=30,
    ).json()["BTC"]["scanning_addresses"]
    assert sorted(listed) == sorted(addresses)
    assert teller_process.stop() == 0
    assert not any(_running(pid) for _, pid in _started(teller_process.log_path))


def test_a_killed_api_process_is_replaced_and_all_die_with_teller(
    teller_process: TellerProcess,
) -> None:
    teller_process.env["TELLER_WEB__PROCESSES"] = "2"
    teller_process.start()
    first = dict(_started(teller_process.log_path))
    os.kill(first[1], signal.SIGKILL)
    _wait("API process 1 started again", lambda: len(_started(teller_process.log_path)) == 3)
    index, new_pid = _started(teller_process.log_path)[-1]
    assert index == 1 and new_pid != first[1]
    _wait(
        "the new API process serves",
        lambda: "API process ready" in teller_process.log_path.read_text(errors="replace"),
    )
    for _ in range(10):  # whichever process each new connection lands on answers
        status, _address = _bind(teller_process.public, address_from_key_hash(os.urandom(20)))
        assert status == 200
    pids = [new_pid, first[2]]
    assert all(_running(pid) for pid in pids)
    teller_process.kill()  # SIGKILL of the process the operator started
    _wait("every API process exited", lambda: not any(_running(pid) for pid in pids))
