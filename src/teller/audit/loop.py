"""The audit loop: every `audit.interval`, teller's books against the outside world.

Place in the flow: off the money path. It runs beside the stages in the worker role
(app.py `run_workers`), reads the store, asks the Skycoin node, the exchange and the ETH
node, compares (audit/checks.py) and keeps the latest report in memory, where
services/audit.py (`/api/audit`, `/metrics`, the dashboard) reads it. A difference is for the
operator, logged once with `notice=WATCH` when it first appears (and once at INFO when it is
gone), not every round.

One finding, and only one, makes the audit write: `unknown_spend`, a transaction spending from
the hot wallet that is no payout, void or recorded payment of teller's. It means the wallet is
not teller's alone (a leaked key, or a second teller paying from it), so every payout teller
signs may race a stranger for the same coins. The audit then holds the sender
(store/holds.py): no new payout is signed until the operator runs `teller payout resume`.
Why this one reaction is safe:
- it can only stop money, never move it: a hold signs, sends and re-pays nothing; payouts
  already stored are still broadcast and confirmed (payout/sender.py), so nothing in flight is
  lost, and the deposits wait in waiting_send, paid once, after the release;
- it cannot be a false alarm made by timing: teller stores every transaction it signs before
  it is broadcast, and the store is read after the node (audit/checks.py, two snapshots), so a
  spend missing from that read was never teller's;
- it is idempotent and crash-safe: one row per spend, keyed by its txid, written in one
  transaction; a crash before the commit just finds the spend again next round, a second
  write of it changes nothing, and a spend the operator released never holds again;
- its notice=WATCH is tied to that row (logged when the row is new), so it is raised once per
  spend, also across restarts, instead of once per process as the other findings.
Every other check stays read-only: a wrong count or a missing order is the operator's to
judge, and stopping payouts for it would hold buyers back on what may be a peer's error.

The report lives in this process's memory (there is no table for it): after a restart the
audit starts again from nothing, and on PostgreSQL with several replicas only the process
holding the worker role has one; the others' /api/audit says the audit has not run there.

A peer that cannot be asked fails only its own check for that round (state `failed`); the
findings logged before are kept until a round that could check says otherwise. Any other
exception is logged and the loop goes on: the audit must never stop the stages it runs with.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from teller.audit import checks
from teller.audit.checks import AddressOnChain, CheckResult, Finding
from teller.clients.market import OrderInfo
from teller.clients.skycoin_node import SkyNodeClient
from teller.clock import unix_now
from teller.errors import TellerError
from teller.logs import log_event
from teller.store import audit as audit_store
from teller.store import holds as hold_store
from teller.store import payouts as payout_store
from teller.store.bindings import bound_addresses
from teller.store.db import Database
from teller.store.models import ExchangeOrder, Payout
from teller.store.scans import last_scanned
from teller.store.worker_role import Fenced
from teller.worker import run_every

log = logging.getLogger("teller.audit")

HOUR = 3600


class OrderHistory(Protocol):
    """The exchange as the audit asks it (clients/c2cx.py C2CXClient)."""

    async def order_history(self) -> list[OrderInfo]: ...


class DepositChain(Protocol):
    """A chain node that tells an address's balance and sent count at a height
    (clients/ethereum.py EthereumClient)."""

    async def balance_at(self, address: str, height: int) -> int: ...

    async def sent_count_at(self, address: str, height: int) -> int: ...

    async def aclose(self) -> None: ...


@dataclass
class AuditPeers:
    """What the audit may ask; None = that check cannot run here (`unchecked` says why)."""

    sky: SkyNodeClient | None = None
    hot_addresses: tuple[str, ...] = ()
    exchange: OrderHistory | None = None
    eth: DepositChain | None = None
    owns_eth: bool = False  # the audit made `eth` and closes it
    unchecked: dict[str, str] = field(default_factory=dict)  # check name -> why not


@dataclass(frozen=True)
class AuditReport:
    ran_at: int
    checks: tuple[CheckResult, ...]

    @property
    def findings(self) -> list[Finding]:
        return [f for c in self.checks for f in c.findings]

    def findings_by_kind(self) -> dict[str, int]:
        counts = dict.fromkeys(checks.KINDS, 0)
        for finding in self.findings:
            counts[finding.kind] = counts.get(finding.kind, 0) + 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        findings = self.findings
        return {
            "ran_at": self.ran_at,
            "clean": not findings,
            "findings": [f.as_dict() for f in findings],
            "checks": [c.as_dict() for c in self.checks],
        }


class Auditor:
    def __init__(
        self,
        db: Database,
        peers: AuditPeers,
        *,
        interval_seconds: float,
        clock: Callable[[], int] = unix_now,
    ) -> None:
        self.db = db
        self.peers = peers
        self.interval_seconds = interval_seconds
        self.clock = clock
        self.last: AuditReport | None = None
        self._reported: dict[str, dict[tuple[str, str], Finding]] = {}  # per check

    # -- the loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Audit now, then every interval, until cancelled (Fenced: the worker role is lost,
        the stages stop)."""
        await run_every(log, "audit round", self.run_once, self.interval_seconds, (Fenced,))

    async def run_once(self) -> AuditReport:
        results: list[CheckResult] = []
        for name, check in self._checks():
            try:
                results.append(await check())
            except TellerError as exc:
                results.append(checks.failed(name, f"could not ask: {exc}"))
        for name, why in sorted(self.peers.unchecked.items()):
            results.append(checks.not_checked(name, why))
        report = AuditReport(self.clock(), tuple(results))
        self._log_changes(report)
        self.last = report
        log_event(
            log,
            logging.INFO,
            "audit round done",
            findings=len(report.findings),
            checks=" ".join(f"{c.name}={c.state}" for c in report.checks),
        )
        return report

    def _checks(self) -> list[tuple[str, Callable[[], Awaitable[CheckResult]]]]:
        found: list[tuple[str, Callable[[], Awaitable[CheckResult]]]] = []
        if self.peers.sky is not None and self.peers.hot_addresses:
            found.append(("hot_wallet_spends", self._hot_wallet_spends))
            found.append(("hot_wallet_balance", self._hot_wallet_balance))
        if self.peers.exchange is not None:
            found.append(("exchange_orders", self._exchange_orders))
        if self.peers.eth is not None:
            found.append(("eth_deposit_addresses", self._eth_deposit_addresses))
        return found

    def _log_changes(self, report: AuditReport) -> None:
        """notice=WATCH once per new finding; INFO once when one is gone. A check that could
        not run this round keeps what it reported before."""
        for result in report.checks:
            if result.state in (checks.FAILED, checks.NOT_CHECKED):
                continue
            before = self._reported.get(result.name, {})
            now = {f.key: f for f in result.findings}
            for key, finding in now.items():
                if key not in before and finding.kind != checks.UNKNOWN_SPEND:
                    # (an unknown spend's WATCH is the hold's, logged once in `_hold`)
                    log_event(
                        log,
                        logging.WARNING,
                        "audit: teller's books and the outside world differ",
                        watch=True,
                        kind=finding.kind,
                        subject=finding.subject,
                        expected=finding.expected,
                        found=finding.found,
                        detail=finding.detail,
                    )
            for key, finding in before.items():
                if key not in now:
                    log_event(
                        log,
                        logging.INFO,
                        "audit: difference gone",
                        kind=finding.kind,
                        subject=finding.subject,
                    )
            self._reported[result.name] = now

    async def aclose(self) -> None:
        if self.peers.owns_eth and self.peers.eth is not None:
            await self.peers.eth.aclose()

    # -- store reads (read-only snapshots, in a worker thread) --------------------------------

    def _payouts(self) -> list[Payout]:
        with self.db.read() as conn:
            return audit_store.all_payouts(conn)

    def _orders(self) -> list[ExchangeOrder]:
        with self.db.read() as conn:
            return audit_store.all_orders(conn)

    # -- the checks -----------------------------------------------------------------------

    async def _hot_wallet_spends(self) -> CheckResult:
        sky, hot = self.peers.sky, self.peers.hot_addresses
        assert sky is not None
        # Store, node, store: see audit/checks.py on the two snapshots.
        before = await asyncio.to_thread(self._payouts)
        history = await sky.address_history(hot)
        after = await asyncio.to_thread(self._payouts)
        result = checks.hot_wallet_spends(before, after, history, hot)
        unknown = [f for f in result.findings if f.kind == checks.UNKNOWN_SPEND]
        if unknown:
            await asyncio.to_thread(self._hold, unknown)
        return result

    def _hold(self, spends: Sequence[Finding]) -> None:
        """Hold the sender for each unknown spend (see the module docstring): one transaction;
        notice=WATCH for each spend not recorded before."""
        with self.db.write() as conn:
            now = self.clock()
            new = [
                f
                for f in spends
                if hold_store.hold_for_spend(conn, f.subject, f"{f.found} ({f.detail})", now)
            ]
        for finding in new:
            log_event(
                log,
                logging.WARNING,
                "audit: a transaction teller did not make spent from the hot wallet; payouts"
                " held: no new payout is signed until the operator checks the wallet and runs"
                " `teller payout resume`",
                watch=True,
                kind=finding.kind,
                subject=finding.subject,
                found=finding.found,
                detail=finding.detail,
            )

    async def _hot_wallet_balance(self) -> CheckResult:
        sky = self.peers.sky
        assert sky is not None
        balance = await sky.balance(self.peers.hot_addresses)
        since = self.clock() - checks.RATE_WINDOW_HOURS * HOUR

        def read() -> tuple[int, int, int]:
            with self.db.read() as conn:
                payouts = audit_store.all_payouts(conn)
                owed = audit_store.unpaid_sky_due(conn)
            signed = sum(p.total_droplets for p in payouts if p.status == payout_store.SIGNED)
            recent = sum(
                p.total_droplets
                for p in payouts
                if p.kind == checks.PAYOUT_KIND
                and p.created_at >= since
                and p.status != payout_store.CONFLICTED
            )
            return signed, owed, recent

        signed, owed, recent = await asyncio.to_thread(read)
        return checks.hot_wallet_balance(
            balance=balance.predicted_droplets,
            signed_unbroadcast=signed,
            owed=owed,
            paid_recently=recent,
        )

    async def _exchange_orders(self) -> CheckResult:
        exchange = self.peers.exchange
        assert exchange is not None
        before = await asyncio.to_thread(self._orders)
        listed = await exchange.order_history()
        after = await asyncio.to_thread(self._orders)
        return checks.exchange_orders(before, after, listed)

    async def _eth_deposit_addresses(self) -> CheckResult:
        eth = self.peers.eth
        assert eth is not None

        def read() -> tuple[int | None, dict[str, int], list[str]]:
            with self.db.read() as conn:
                scanned = last_scanned(conn, "ETH")
                if scanned is None:
                    return None, {}, []
                recorded = audit_store.recorded_by_address(conn, "ETH", scanned.height)
                return scanned.height, recorded, bound_addresses(conn, "ETH")

        height, recorded, addresses = await asyncio.to_thread(read)
        if height is None:
            return checks.not_checked(
                "eth_deposit_addresses", "the ETH scanner has not scanned a block yet"
            )
        # At the last scanned block: the store holds every deposit up to it (deposits are
        # recorded before their block is marked scanned), and nothing later counts.
        on_chain = await _addresses_at(eth, addresses, height)
        return checks.deposit_addresses("ETH", height, recorded, on_chain)


async def _addresses_at(
    eth: DepositChain, addresses: Sequence[str], height: int
) -> dict[str, AddressOnChain]:
    found: dict[str, AddressOnChain] = {}
    for address in addresses:
        sent = await eth.sent_count_at(address, height)
        found[address] = AddressOnChain(await eth.balance_at(address, height), sent)
    return found
