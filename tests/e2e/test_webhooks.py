"""Webhooks end to end: the real `teller` in dummy mode posting to the README's receiver
(docs/webhook_receiver.py) as a separate process, through a receiver that is down, killed
teller, answers 500 and answers too slowly.

What must hold whatever happened: every event delivered, each signature checked by the
receiver, nothing lost, a duplicate only ever with the same event id (and the same body), and
the events of one deposit address in the order they happened.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import EXAMPLE_CONFIG, TellerProcess
from .crash import store_rows, wait_until

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "webhook_receiver.py"
FLAKY = ROOT / "tests" / "webhooks" / "flaky_receiver.py"
SECRET = "e2e-webhook-secret"
BUYER_1 = "2Wbi4wvxC4fkTYMsS2f6HaFfW4pafDjXcQW"
BUYER_2 = "hs1pyuNgxDLyLaZsnqzQG9U3DKdJsbzNpn"
DEPOSIT_EVENTS = ["deposit.recorded", "sky.sent", "deposit.done"]


class ReceiverProcess:
    """A receiver script run as its own process; `port` 0 lets it pick (read from its output)."""

    def __init__(self, directory: Path, script: Path, port: int, *args: str) -> None:
        self.events_file = directory / "events.jsonl"
        self.requests_file = directory / "requests.jsonl"
        command = [
            sys.executable,
            str(script),
            "--port",
            str(port),
            "--events",
            str(self.events_file),
        ]
        if script == FLAKY:
            command += ["--requests", str(self.requests_file), *args]
        env = {**os.environ, "TELLER_WEBHOOK_SECRET": SECRET}
        self.proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("listening on "), line
        self.port = int(line.rsplit(":", 1)[1])

    def events(self) -> list[dict[str, Any]]:
        if not self.events_file.exists():
            return []
        return [json.loads(line) for line in self.events_file.read_text().splitlines()]

    def requests(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.requests_file.read_text().splitlines()]

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def receivers() -> Iterator[list[ReceiverProcess]]:
    started: list[ReceiverProcess] = []
    yield started
    for receiver in started:
        receiver.stop()


def configure(t: TellerProcess, port: int, **settings: str) -> None:
    # The deposit path's events (alert.watch has its own test: tests/webhooks/test_alerts.py).
    events = ["binding.created", "deposit.recorded", "sky.sent", "deposit.done"]
    hook = {"url": f"http://127.0.0.1:{port}/hook", "secret": SECRET, "events": events}
    hook.update(settings)
    t.env["TELLER_WEBHOOKS"] = json.dumps([hook])
    t.env["TELLER_DUMMY__AUTO_CONFIRM"] = "true"


def bind(t: TellerProcess, sky: str) -> str:
    response = httpx.post(f"{t.public}/api/bind", json={"skyaddr": sky, "coin_type": "BTC"})
    assert response.status_code == 200, response.text
    return str(response.json()["deposit_address"])


def deposit(t: TellerProcess, address: str, value: int, tx: str) -> None:
    params = {"coin": "BTC", "addr": address, "value": value, "height": 1, "tx": tx, "n": 0}
    response = httpx.get(f"{t.dummy}/dummy/scanner/deposit", params=params)
    assert response.status_code == 200, response.text


def outbox(t: TellerProcess) -> list[tuple[Any, ...]]:
    return store_rows(
        t, "SELECT id, event_id, event_type, ordering_key, status, attempts FROM webhook_deliveries"
        " ORDER BY id",
    )  # fmt: skip


def all_delivered(t: TellerProcess, count: int) -> bool:
    rows = outbox(t)
    return len(rows) == count and all(row[4] == "delivered" for row in rows)


def teller_cli(t: TellerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "teller.cli", *args, "-c", str(EXAMPLE_CONFIG),
               "-d", str(t.datadir)]  # fmt: skip
    return subprocess.run(command, env=t.env, capture_output=True, text=True, timeout=60)


def check_received(t: TellerProcess, receiver: ReceiverProcess, deposits: dict[str, int]) -> None:
    """Every queued event received once, in order per deposit address, as `deposits` says
    (deposit address → deposits made to it)."""
    rows = outbox(t)
    received = receiver.events()
    assert sorted(e["id"] for e in received) == sorted(row[1] for row in rows)  # each once
    for address, count in deposits.items():
        mine = [e for e in received if e["data"].get("deposit_address") == address
                or e["data"].get("deposit", {}).get("deposit_address") == address]  # fmt: skip
        assert mine[0]["type"] == "binding.created"
        by_deposit: dict[str, list[str]] = {}
        for event in mine[1:]:
            by_deposit.setdefault(event["data"]["deposit"]["deposit_id"], []).append(event["type"])
        assert list(by_deposit.values()) == [DEPOSIT_EVENTS] * count
        queued = [row[1] for row in rows if row[3] == f"BTC:{address}"]
        assert [e["id"] for e in mine] == queued  # in the order they were written
    done = [e for e in received if e["type"] == "deposit.done"]
    assert {e["data"]["deposit"]["status"] for e in done} == {"done"}


def test_events_survive_a_receiver_down_and_sigkill_before_delivery(
    teller_process: TellerProcess, receivers: list[ReceiverProcess], tmp_path: Path
) -> None:
    # The receiver's port is held, bound but not listening: teller's posts are refused.
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    t = teller_process
    configure(t, port, timeout="2s", retry_wait="1s", retry_wait_max="1s", max_attempts="1000")
    try:
        t.start()
        address_1, address_2 = bind(t, BUYER_1), bind(t, BUYER_2)
        deposit(t, address_1, 100_000, "a1" * 32)
        deposit(t, address_1, 200_000, "a2" * 32)
        deposit(t, address_2, 300_000, "b1" * 32)
        # Every change committed, none of its 11 events delivered; the first of each address
        # (its binding) tried and failed, the others waiting behind it.
        wait_until(
            lambda: len(outbox(t)) == 11 and all(row[5] >= 1 for row in outbox(t)[:2]),
            30,
            lambda: f"outbox: {outbox(t)}",
        )
        assert all(row[4] == "pending" for row in outbox(t))
        assert all(row[5] == 0 for row in outbox(t)[2:])
        t.kill()
        t.start()
        receivers.append(ReceiverProcess(tmp_path, EXAMPLE, port))
    finally:
        holder.close()
    # Killed again while it delivers: an event posted but not yet recorded as delivered is
    # posted again after the restart (the receiver drops it by its id).
    rng = random.Random(16)
    for _ in range(2):
        time.sleep(rng.uniform(0.2, 1.0))
        t.kill()
        t.start()
    wait_until(lambda: all_delivered(t, 11), 30, lambda: f"outbox: {outbox(t)}")
    check_received(t, receivers[0], {address_1: 2, address_2: 1})
    assert t.stop() == 0
    assert SECRET not in t.log_path.read_text()


def test_events_get_through_errors_and_a_slow_receiver_and_can_be_sent_again(
    teller_process: TellerProcess, receivers: list[ReceiverProcess], tmp_path: Path
) -> None:
    # 500 to the first 3 posts; the next 2 answered only after teller's 1 s timeout.
    receiver = ReceiverProcess(tmp_path, FLAKY, 0, "--fail", "3", "--slow", "2", "--delay", "2")
    receivers.append(receiver)
    t = teller_process
    configure(
        t, receiver.port, timeout="1s", retry_wait="1s", retry_wait_max="1s", max_attempts="1000"
    )
    t.start()
    address = bind(t, BUYER_1)
    deposit(t, address, 150_000, "c1" * 32)
    wait_until(lambda: all_delivered(t, 4), 40, lambda: f"outbox: {outbox(t)}")
    check_received(t, receiver, {address: 1})

    requests = receiver.requests()
    assert [r["status"] for r in requests[:3]] == [500, 500, 500]
    # A slow answer's event was handled by the receiver after teller gave up: teller posted it
    # again, with the same id and body, and the receiver took it for the duplicate it was.
    bodies: dict[str, set[str]] = {}
    for request in requests[3:]:
        bodies.setdefault(request["event_id"], set()).add(request["sha256"])
    assert all(len(hashes) == 1 for hashes in bodies.values())
    assert any(r["status"] == 200 for r in requests[3:])
    assert len(requests) > 4 + 3  # the failures were retried

    # The admin API lists them, with their attempts; a re-send posts the same event again.
    api = f"{t.admin}/api/webhooks/deliveries"
    listed = httpx.get(api, headers=t.admin_headers).json()
    assert listed["counts"]["delivered"] == 4
    assert max(d["attempts"] for d in listed["deliveries"]) > 1
    assert all(SECRET not in json.dumps(d) for d in listed["deliveries"])
    first = listed["deliveries"][-1]
    seen = len(receiver.requests())
    answer = httpx.post(f"{api}/{first['id']}/resend", headers=t.admin_headers)
    assert answer.status_code == 200, answer.text
    wait_until(lambda: len(receiver.requests()) > seen, 10, lambda: "the re-send")
    again = receiver.requests()[-1]
    assert again["event_id"] == first["event_id"] and again["status"] == 200
    assert len(receiver.events()) == 4  # a duplicate, dropped by its id
    missing = httpx.post(f"{api}/999999/resend", headers=t.admin_headers)
    assert missing.status_code == 404
    metrics = httpx.get(f"{t.admin}/metrics", headers=t.admin_headers).text
    assert 'teller_webhook_deliveries{status="delivered"} 4.0' in metrics

    # The same from the command line.
    listed_cli = teller_cli(t, "webhooks", "list", "--status", "delivered")
    assert listed_cli.returncode == 0, listed_cli.stderr
    assert "delivered=4" in listed_cli.stdout
    assert first["event_id"] in listed_cli.stdout
    assert SECRET not in listed_cli.stdout
    refused = teller_cli(t, "webhooks", "resend", "999999")
    assert refused.returncode == 1 and "no webhook delivery 999999" in refused.stderr
    assert t.stop() == 0
