"""Prometheus metrics for the admin server (/metrics), read from the store at scrape time.

Nothing is counted in memory: each scrape reports what the store holds, so the figures are
right after a restart and agree with the admin API.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from teller.deposits.hd import hd_admin_view
from teller.deposits.states import ALL_STATUSES, COIN_TYPES, WAITING_DEPOSIT
from teller.services.parts import Services
from teller.store.deposits import count_by_status, count_errored
from teller.store.pool import pool_usage


class StoreCollector(Collector):
    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterator[Metric]:
        with self.services.db.read() as conn:
            by_status = count_by_status(conn)
            errored = count_errored(conn)
            usage = pool_usage(conn)
        deposits = GaugeMetricFamily("teller_deposits", "Deposits by status", labels=["status"])
        for status in ALL_STATUSES:
            if status != WAITING_DEPOSIT:
                deposits.add_metric([status], by_status.get(status, 0))
        yield deposits
        yield GaugeMetricFamily(
            "teller_deposits_errored", "Deposits stopped with an error", value=errored
        )
        remaining = GaugeMetricFamily(
            "teller_deposit_addresses_remaining",
            "Deposit addresses not handed out yet",
            labels=["coin_type"],
        )
        hd = hd_admin_view(self.services.db, self.services.bind.hd_chains)  # never run dry
        for coin in COIN_TYPES:
            pool = usage.get(coin)
            left = pool.remaining if pool else 0
            remaining.add_metric([coin], hd[coin]["remaining_addresses"] if coin in hd else left)
        yield remaining
        board = self.services.board
        yield GaugeMetricFamily(
            "teller_sender_error",
            "1 while the sender reports an error (e.g. sold out)",
            value=1 if board.sender_error else 0,
        )
        yield GaugeMetricFamily(
            "teller_processor_error",
            "1 while the processor reports an error",
            value=1 if board.processor_error else 0,
        )


def render_metrics(services: Services) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(services))
    return generate_latest(registry)
