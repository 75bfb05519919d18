"""GET /api/config and GET /api/health: what the web page shows before a buyer binds.

Contract: seed README "Config" and "Health", teller-go.md §8.2. The page shows "sold out"
whenever exchange.sender_error is non-empty, so it must be set while a deposit cannot be
paid, and a deposit too big for the wallet must not stop smaller ones being paid (§14.5).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .running_teller import SKY_A, SKY_B, RunningTeller, StartTeller

GO_DURATION = re.compile(r"^(\d+h\d+m\d+s|\d+m\d+s|\d+\.\d+s)$")


def test_config_reports_the_configured_exchange(tel: RunningTeller) -> None:
    response = tel.http.get(tel.public + "/api/config")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.text == json.dumps(response.json(), indent=4)
    assert response.json() == {
        "enabled": True,
        "buy_method": "direct",
        "max_bound_addrs": 5,
        "max_decimals": 3,
        "deposits": {
            "btc": {
                "enabled": True,
                "confirmations_required": 1,  # the config key: blocks on top (Go meaning)
                "confirmations": 2,  # as Bitcoin counts them (README "Confirmations")
                "fixed_exchange_rate": "500.000000",
                "passthrough_minimum_volume": "0.005",
                "exact_exchange_rate": "500",
            },
            "eth": {
                "enabled": True,
                "confirmations_required": 1,
                "confirmations": 2,
                "fixed_exchange_rate": "100.000000",
                "passthrough_minimum_volume": "0",
                "exact_exchange_rate": "100",
            },
            "sky": {
                "enabled": False,
                "confirmations_required": 0,
                "confirmations": 1,  # the tip block
                "fixed_exchange_rate": "1",
                "passthrough_minimum_volume": "0",
                "exact_exchange_rate": "1",
            },
        },
        # teller's additions for the buyer's page: none set here
        "explorer_urls": {},
        "operator_name": "",
        "contact": "",
        "terms_url": "",
    }


def test_config_follows_the_config_file(start_teller: StartTeller) -> None:
    tel = start_teller(
        bind_enabled=False,
        max_bound_addrs=2,
        eth_enabled=False,
        overrides={
            "sky_exchanger": {
                "sky_btc_exchange_rate": "2/3",
                "sky_eth_exchange_rate": "0.0001",
                "max_decimals": 2,
            },
            "btc_scanner": {"confirmations_required": 3},
        },
    )

    config = tel.http.get(tel.public + "/api/config").json()

    assert config["enabled"] is False
    assert config["max_bound_addrs"] == 2
    assert config["max_decimals"] == 2
    btc, eth = config["deposits"]["btc"], config["deposits"]["eth"]
    # SKY for exactly 1 coin, truncated to max_decimals as a payout would be.
    assert btc == {
        "enabled": True,
        "confirmations_required": 3,
        "confirmations": 4,
        "fixed_exchange_rate": "0.660000",
        "passthrough_minimum_volume": "0.005",
        "exact_exchange_rate": "0.66666667",
    }
    assert eth["enabled"] is False
    assert eth["fixed_exchange_rate"] == "0.000000"


def test_passthrough_minimum_volume_is_a_plain_decimal(start_teller: StartTeller) -> None:
    tel = start_teller(
        overrides={"sky_exchanger": {"exchange_client": {"btc_minimum_volume": "1E-7"}}}
    )
    config = tel.http.get(tel.public + "/api/config").json()
    assert config["deposits"]["btc"]["passthrough_minimum_volume"] == "0.0000001"


def test_health_shape_on_a_fresh_teller(tel: RunningTeller) -> None:
    response = tel.http.get(tel.public + "/api/health")

    assert response.status_code == 200
    assert response.text == json.dumps(response.json(), indent=4)
    health = response.json()
    worker = health.pop("worker")  # teller's own: the worker role (no holder on the public side)
    assert set(worker) == {"held", "epoch", "since", "lease_until", "this_process"}
    assert health == {
        "status": "OK",
        "application": "teller",
        "version": health["version"],
        "uptime": health["uptime"],
        "exchange": {
            "buy_method": "direct",
            "processor_error": "",
            "sender_error": "",
            "deposit_error_count": 0,
            "payouts_held": False,
            "balance": {"coins": "1000000.000000", "hours": "1000000"},
        },
        "scanners": {
            coin: {
                "enabled": source != "off",
                "source": source,
                "node_reachable": None,
                "node_height": None,
                "scanned_height": None,
                # The config value, and the same as Bitcoin counts it (sky's default is 0).
                "confirmations_required": required,
                "confirmations": required + 1,
                "error": "",
            }
            for coin, source, required in (
                ("btc", "dummy", 1),
                ("eth", "dummy", 1),
                ("sky", "off", 0),
            )
        },
        # teller's own: each enabled coin's pool (5 addresses here, below the default 100).
        "pools": {
            coin: {"source": "file", "remaining": 5, "low_warning": 100, "low": True}
            for coin in ("btc", "eth")
        },
    }
    assert isinstance(health["version"], str)
    assert GO_DURATION.match(health["uptime"]), health["uptime"]


def test_health_names_the_worker_role_holder_on_the_admin_server(tel: RunningTeller) -> None:
    """A lone teller takes the worker role; the admin side names it (host, pid), the public
    side only says it is this process."""

    def held(base: str) -> dict[str, Any] | None:
        worker: dict[str, Any] = tel.http.get(base + "/api/health").json()["worker"]
        return worker if worker["held"] else None

    admin = tel.wait_for(lambda: held(tel.admin), what="the worker role held")
    assert admin["this_process"] is True and admin["epoch"] >= 1
    assert f"pid {os.getpid()} " in admin["holder"]  # the teller runs in this test's process
    assert admin["since"] < admin["lease_until"]
    public = tel.wait_for(lambda: held(tel.public), what="the worker role held")
    assert "holder" not in public and public["this_process"] is True


def test_health_balance_goes_down_as_deposits_are_paid(start_teller: StartTeller) -> None:
    tel = start_teller(balance="1000", auto_confirm=True)
    address = tel.bind_ok(SKY_A, "BTC")

    tel.deposit_ok(addr=address, value=12_345_678, tx="ab" * 32)  # 61.728 SKY at 500/BTC
    tel.wait_status(SKY_A, "done")

    exchange = tel.http.get(tel.public + "/api/health").json()["exchange"]
    assert exchange["balance"] == {"coins": "938.272000", "hours": "938"}
    assert exchange["sender_error"] == ""


def test_sold_out_shows_in_health_but_does_not_block_smaller_deposits(
    start_teller: StartTeller,
) -> None:
    tel = start_teller(balance="600", auto_confirm=True)
    big = tel.bind_ok(SKY_A, "BTC")
    small = tel.bind_ok(SKY_B, "BTC")

    tel.deposit_ok(addr=big, value=200_000_000, tx="b1" * 32)  # 1000 SKY > 600 in the wallet
    tel.wait_for(
        lambda: tel.http.get(tel.public + "/api/health").json()["exchange"]["sender_error"],
        what="sender_error",
    )
    assert tel.statuses(SKY_A)[0]["status"] == "waiting_send"

    tel.deposit_ok(addr=small, value=10_000_000, tx="b2" * 32)  # 50 SKY: affordable
    tel.wait_status(SKY_B, "done")

    assert [b["outputs"] for b in tel.broadcasts()] == [[{"address": SKY_B, "coins": "50.000000"}]]
    # /api/health is at most a second old: its balance follows within that.
    exchange = tel.wait_for(
        lambda: (
            (e := tel.http.get(tel.public + "/api/health").json()["exchange"])["balance"]
            != {"coins": "600.000000", "hours": "600"}
            and e
        ),
        what="the balance after the payout",
    )
    assert exchange["sender_error"] != ""  # still sold out for the big one
    assert exchange["balance"] == {"coins": "550.000000", "hours": "550"}
    assert exchange["deposit_error_count"] == 0
    assert tel.statuses(SKY_A)[0]["status"] == "waiting_send"


def test_deposit_error_count_counts_deposits_too_small_to_pay(tel: RunningTeller) -> None:
    address = tel.bind_ok(SKY_A, "BTC")

    tel.deposit_ok(addr=address, value=1, tx="c1" * 32)
    tel.wait_status(SKY_A, "done")

    exchange = tel.http.get(tel.public + "/api/health").json()["exchange"]
    assert exchange["deposit_error_count"] == 1
    assert exchange["sender_error"] == ""
    assert tel.broadcasts() == []


def test_passthrough_deposits_wait_while_the_exchange_is_unreachable(
    start_teller: StartTeller,
) -> None:
    tel = start_teller(
        eth_enabled=False,
        overrides={
            "sky_exchanger": {
                "buy_method": "passthrough",
                "exchange_client": {
                    "key": "k",
                    "secret": "s",
                    "base_url": "http://127.0.0.1:1/v1/",  # nothing listens there
                    "request_failure_wait": "100ms",
                },
            }
        },
    )
    bound = tel.bind(SKY_A, "BTC")
    assert bound.json()["buy_method"] == "passthrough"

    tel.deposit_ok(addr=bound.json()["deposit_address"], value=1_000_000, tx="d1" * 32)

    health = tel.wait_for(
        lambda: (
            (h := tel.http.get(tel.public + "/api/health").json())["exchange"]["processor_error"]
            and h
        ),
        what="processor_error",
    )
    assert health["exchange"]["buy_method"] == "passthrough"
    assert "unreachable" in health["exchange"]["processor_error"]
    assert tel.statuses(SKY_A)[0]["status"] == "waiting_passthrough"


def test_config_and_health_refuse_other_methods(tel: RunningTeller) -> None:
    for path in ("/api/config", "/api/health"):
        response = tel.http.post(tel.public + path)
        assert response.status_code == 405
        assert response.text == "Invalid request method\n"
        assert response.headers["allow"] == "GET"


class GatedBalance:
    """The teller's own payer, whose balance() (the node call of /api/health) counts its
    calls and waits until the test opens the gate."""

    def __init__(self, payer: Any) -> None:
        self.payer = payer
        self.calls = 0
        self.gate = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.payer, name)

    async def balance(self) -> Any:
        self.calls += 1
        while not self.gate.is_set():
            await asyncio.sleep(0.01)
        return await self.payer.balance()


def _public_server(tel: RunningTeller) -> Any:
    names = [listener.name for listener in tel.teller.listeners]
    return tel.teller.servers[names.index("web.http_addr")]


def test_health_is_made_once_for_a_burst_and_again_after_a_second(tel: RunningTeller) -> None:
    """/api/health counts errored deposits and asks the node: a burst of clients costs one
    of each, and the answer is at most a second old."""
    gated = GatedBalance(tel.teller.services.payer)
    tel.teller.services.payer = gated
    server = _public_server(tel)

    with ThreadPoolExecutor(10) as pool:
        answers = [pool.submit(tel.http.get, tel.public + "/api/health") for _ in range(10)]
        tel.wait_for(lambda: len(server.server_state.tasks) == 10, what="10 requests in teller")
        calls_while_waiting = gated.calls
        gated.gate.set()
        bodies = [future.result().json() for future in answers]

    assert calls_while_waiting == 1
    assert all(body == bodies[0] for body in bodies)
    time.sleep(1.1)
    assert tel.http.get(tel.public + "/api/health").status_code == 200
    assert gated.calls == 2


def test_config_is_answered_alike_every_time_and_with_cors_for_an_origin(
    start_teller: StartTeller,
) -> None:
    """The second and later answers (replayed without the middleware: http/public.py) carry
    the first one's status, headers and body; one asked with an Origin still gets CORS."""
    tel = start_teller(cors_allowed=["https://shop.example"])
    answers = [tel.http.get(tel.public + "/api/config") for _ in range(3)]
    first = answers[0]
    assert first.status_code == 200 and "x-content-type-options" in first.headers
    for later in answers[1:]:
        assert (later.status_code, later.headers.multi_items(), later.content) == (
            first.status_code,
            first.headers.multi_items(),
            first.content,
        )
    cors = tel.http.get(tel.public + "/api/config", headers={"Origin": "https://shop.example"})
    assert cors.headers["access-control-allow-origin"] == "https://shop.example"
    assert cors.content == first.content
    assert "access-control-allow-origin" not in tel.http.get(tel.public + "/api/config").headers
