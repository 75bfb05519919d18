"""Prometheus metrics for the admin server (/metrics): the store's figures in text format.

Place in the flow: services/metrics.py reads the figures from the store at scrape time
(nothing is counted in memory, so they are right after a restart and agree with the admin
API); this module only renders them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from teller.services.metrics import StoreFigures


class FiguresCollector(Collector):
    def __init__(self, figures: StoreFigures) -> None:
        self.figures = figures

    def collect(self) -> Iterator[Metric]:
        figures = self.figures
        deposits = GaugeMetricFamily("teller_deposits", "Deposits by status", labels=["status"])
        for status, count in figures.deposits_by_status:
            deposits.add_metric([status], count)
        yield deposits
        yield GaugeMetricFamily(
            "teller_deposits_errored", "Deposits stopped with an error", value=figures.errored
        )
        remaining = GaugeMetricFamily(
            "teller_deposit_addresses_remaining",
            "Deposit addresses not handed out yet",
            labels=["coin_type"],
        )
        for coin, left in figures.addresses_remaining:
            remaining.add_metric([coin], left)
        yield remaining
        yield GaugeMetricFamily(
            "teller_sender_error",
            "1 while the sender reports an error (e.g. sold out)",
            value=1 if figures.sender_error else 0,
        )
        yield GaugeMetricFamily(
            "teller_processor_error",
            "1 while the processor reports an error",
            value=1 if figures.processor_error else 0,
        )
        yield GaugeMetricFamily(
            "teller_payouts_held",
            "1 while the audit holds new payouts (someone else spent from the hot wallet)",
            value=1 if figures.payouts_held else 0,
        )
        if figures.audit_findings is not None:
            yield _by_label(
                "teller_audit_findings",
                "Differences the last audit round found between teller's books and the"
                " chain nodes or the exchange, by kind",
                "kind",
                figures.audit_findings,
            )
        if figures.webhook_deliveries is not None:
            yield _by_label(
                "teller_webhook_deliveries",
                "Webhook events per webhook and event, by status: pending, delivered, dead"
                " (gave up after max_attempts), failing (pending after a failed attempt)",
                "status",
                figures.webhook_deliveries,
            )
        if figures.audit_ran_at is not None:
            yield GaugeMetricFamily(
                "teller_audit_last_run_timestamp_seconds",
                "When the last audit round ran (unix time)",
                value=figures.audit_ran_at,
            )


def render_metrics(figures: StoreFigures) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FiguresCollector(figures))
    return generate_latest(registry)


def _by_label(
    name: str, documentation: str, label: str, counts: Iterable[tuple[str, int]]
) -> GaugeMetricFamily:
    """A gauge with one sample per value of `label`."""
    gauge = GaugeMetricFamily(name, documentation, labels=[label])
    for value, count in counts:
        gauge.add_metric([value], count)
    return gauge
