"""Crash test of passthrough: SIGKILL at random moments while deposits are bought on the
exchange; every deposit's BTC spent at most once, its SKY bought once and paid once.

The C2CX simulator runs as its own process (it outlives every teller), with its demo order
book. Fifty deposits arrive through the dummy scanner while the real `teller` process is
killed with SIGKILL at random moments — while storing an order, placing it, following it,
cancelling it, recording its fills, paying — and started again each time. Meanwhile the
exchange is made awkward: answers to createorder lost after the order was placed, other
traders taking the cheapest asks (partial fills, then cancels).

The check is made on the simulator's trade log, not on teller's records: per deposit (its
orders' client ids start with its id), the BTC its fills cost is at most the deposit's, and
the SKY the fills bought is what teller recorded as sky_bought and what the dummy sender
paid its buyer, once.

Seeded: the seed is printed (pytest -s) and can be set with TELLER_CRASH_SEED.
"""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from teller.coins.sky import address_from_pubkey, deterministic_keypairs

from .conftest import TellerProcess
from .crash import DepositPoster, SimulatorProcess, bind_btc, seeded_rng, start_unwaited

pytestmark = pytest.mark.e2e

DEPOSITS = 50
KILLS = 8
KEY, SECRET = "crash-key", "crash-secret"


class ExchangeProcess(SimulatorProcess):
    """`python -m teller_sims.c2cx` with 100 BTC and its demo book, as its own process."""

    def __init__(self, directory: Path) -> None:
        super().__init__(
            directory, "teller_sims.c2cx", "--key", KEY, "--secret", SECRET, "--btc", "100"
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def control(self, path: str, document: dict[str, Any]) -> None:
        answer = httpx.post(f"{self.url}/sim/{path}", json=document, timeout=10)
        assert answer.status_code == 200, answer.text

    def trades(self) -> list[dict[str, Any]]:
        return list(httpx.get(f"{self.url}/sim/trades", timeout=10).json())

    def orders(self) -> list[dict[str, Any]]:
        return list(httpx.get(f"{self.url}/sim/orders", timeout=10).json())


def _deposits(t: TellerProcess) -> dict[str, dict[str, Any]]:
    found = httpx.get(f"{t.admin}/api/deposits", headers=t.admin_headers, timeout=10).json()[
        "deposits"
    ]
    return {d["deposit_id"]: d for d in found}


def _payable(droplets: int) -> int:
    return droplets - droplets % 1000  # max_decimals 3


def test_sigkill_during_passthrough_buys_each_deposit_once(
    teller_process: TellerProcess, tmp_path: Path
) -> None:
    rng = seeded_rng("passthrough crash test")
    started = time.monotonic()
    exchange = ExchangeProcess(tmp_path / "c2cx")
    t = teller_process
    t.env.update(
        {
            "TELLER_DEBUG": "false",
            "TELLER_ETH_SCANNER__ENABLED": "false",
            "TELLER_DUMMY__AUTO_CONFIRM": "true",
            "TELLER_SKY_EXCHANGER__BUY_METHOD": "passthrough",
            "TELLER_SKY_EXCHANGER__EXCHANGE_CLIENT__KEY": KEY,
            "TELLER_SKY_EXCHANGER__EXCHANGE_CLIENT__SECRET": SECRET,
            "TELLER_SKY_EXCHANGER__EXCHANGE_CLIENT__BASE_URL": f"{exchange.url}/v1/",
            "TELLER_SKY_EXCHANGER__EXCHANGE_CLIENT__CHECK_ORDER_WAIT": "50ms",
            "TELLER_SKY_EXCHANGER__EXCHANGE_CLIENT__REQUEST_FAILURE_WAIT": "100ms",
            "TELLER_SKY_EXCHANGER__EXCHANGE_CLIENT__RATELIMIT_WAIT": "100ms",
            "TELLER_SKY_EXCHANGER__TX_CONFIRMATION_CHECK_WAIT": "100ms",
        }
    )
    poster: DepositPoster | None = None
    try:
        t.start()
        buyers = [address_from_pubkey(p) for _, p in deterministic_keypairs(b"pt", DEPOSITS)]
        addresses = [bind_btc(t, buyer) for buyer in buyers]
        satoshis = [rng.randrange(500, 5_000) * 1_000 for _ in range(DEPOSITS)]  # 0.005–0.05
        txids = [f"{i:064x}" for i in range(DEPOSITS)]
        # Spread over the kills, so that they hit deposits in the middle of their buying.
        deposits = list(zip(addresses, satoshis, txids, strict=True))
        poster = DepositPoster(t.dummy, deposits, interval=0.15)
        poster.start()

        for _ in range(KILLS):
            time.sleep(rng.uniform(0.2, 0.8))
            # The exchange misbehaves now and then: a placed order's answer lost, or the
            # cheapest ask partly taken by someone else (a partial fill, then a cancel).
            if rng.random() < 0.4:
                lost = {"mode": "http500", "endpoint": "createorder", "after": True}
                exchange.control("fail", lost)
            # Slow order placements (before or after the order is made): a kill then often
            # lands while teller waits for createorder's answer.
            slow = {"mode": "slow", "endpoint": "createorder", "count": 3}
            exchange.control("fail", {**slow, "seconds": 0.4, "after": rng.random() < 0.5})
            if rng.random() < 0.4:
                exchange.control("switches", {"steal_next": str(rng.randrange(5, 60))})
            t.kill()
            if rng.random() < 0.3:
                start_unwaited(t)  # killed again during start-up
                time.sleep(rng.uniform(0.1, 0.8))
                t.kill()
            t.start()

        deadline = time.monotonic() + 90
        while True:
            recorded = _deposits(t)
            if (
                not poster.is_alive()
                and len(recorded) == DEPOSITS
                and all(d["status"] == "done" for d in recorded.values())
            ):
                break
            assert time.monotonic() < deadline, _progress(recorded, poster)
            time.sleep(0.25)

        trades = exchange.trades()
        payouts = httpx.get(f"{t.dummy}/dummy/sender/broadcasts", timeout=10).json()
        paid: dict[str, list[str]] = {}
        for payout in payouts:
            for output in payout["outputs"]:
                paid.setdefault(output["address"], []).append(output["coins"])
        cids = [o["cid"] for o in exchange.orders()]
        assert len(cids) == len(set(cids))
        for buyer, txid, value in zip(buyers, txids, satoshis, strict=True):
            deposit_id = f"{txid}:0"
            fills = [x for x in trades if x["cid"].rsplit("/", 1)[0] == deposit_id]
            btc = sum((Decimal(x["btc"]) for x in fills), Decimal(0))
            sky = sum((Decimal(x["volume"]) - Decimal(x["fee"]) for x in fills), Decimal(0))
            record = recorded[deposit_id]
            assert record["error"] == "", record
            # Spent at most once: the fills cost no more than the deposit brought.
            assert btc <= Decimal(value).scaleb(-8), (deposit_id, btc, value)
            # Bought once: teller recorded exactly what the exchange filled.
            assert record["passthrough"]["sky_bought"] == int(sky * 1_000_000), deposit_id
            # Paid once, that amount (truncated to 3 decimals).
            due = _payable(int(sky * 1_000_000))
            assert paid.get(buyer) == [f"{due // 1_000_000}.{due % 1_000_000:06d}"], buyer
            assert record["sky_sent"] == due
        log = t.log_path.read_text()
        print(
            "resumed after a kill: orders found under their client id"
            f" {log.count('exchange order found under its client id')}, placed again under it"
            f" {log.count('not found under its client id')}"
        )
        print(
            f"{DEPOSITS} deposits bought in {len(cids)} orders ({len(trades)} fills) and paid"
            f" once through {KILLS} SIGKILLs, {t.starts} starts, in"
            f" {time.monotonic() - started:.1f}s"
        )
    finally:
        if poster is not None:
            poster.stop.set()
        exchange.stop()


def _progress(recorded: dict[str, dict[str, Any]], poster: DepositPoster) -> str:
    counts: dict[str, int] = {}
    for d in recorded.values():
        counts[d["status"]] = counts.get(d["status"], 0) + 1
    return f"posted {poster.posted}/{DEPOSITS}; statuses {counts}"
