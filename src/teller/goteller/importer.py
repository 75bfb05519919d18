"""Importing a Go teller's BoltDB into teller's store (`teller db import-bolt PATH`).

Place in the flow: an operator switching from the Go teller stops it, runs this once, and
starts teller on the same address files; every binding, deposit and used pool address of
the old database is then in the store, and the stages carry on from each deposit's status:

- waiting_send, and direct waiting_decide (whose next step in the Go teller only set
  waiting_send): paid once by teller, the amount the Go teller would have sent: its stored
  rate at the configured max_decimals, or the passthrough's sky_bought. One that rounds to
  nothing is imported `done` with the original's "Skycoin send amount is 0". A waiting_send
  one (no txid) is imported held (hold_reason): the Go teller broadcast inside its Bolt
  transaction, so a crash after the broadcast left it just so, paid. The sender searches the
  chain for that payment before paying it (payout/sender.py); a waiting_decide one was never
  handed to the Go teller's sender, so it is not held;
- waiting_confirm: the Go teller already broadcast its payment. Its txid becomes a payouts
  row with no raw bytes (teller never signed it, so it has nothing it could re-broadcast),
  status `broadcast`, and the deposit points at it: the sender only asks the node about it
  until it is confirmed, and never pays that deposit again;
- any other status with a txid (a paid deposit the Go teller set back to waiting_send,
  teller-go.md §14.4): as waiting_confirm, watching that payment, never paid again;
- done (with its txid, or its error) and the passthrough statuses stay as they are.

Two phases, so a bad file never leaves half an import behind: records.read_go_database reads
and checks the whole file (goteller/boltfile.py, read-only) into plain records, raising
GoDatabaseError on anything that does not look like what the Go teller writes; then
`import_go_database` writes everything in ONE store transaction, after checking that the
store holds nothing that contradicts it (ImportConflict lists every contradiction). A
second import of the same file finds everything present and writes nothing.

Shapes and buckets: the Go teller's reference, teller-go.md §4. Amounts stay exact integers; the Go
teller kept ETH in gwei, teller keeps wei (× 10^9).
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from sqlalchemy import Connection, func, insert, select, text, tuple_
from sqlalchemy.engine import make_url

from teller.clock import unix_now
from teller.coins import COIN_TYPES
from teller.deposits import states
from teller.errors import GoTellerError, TellerError
from teller.goteller.records import (
    GoBinding,
    GoDatabase,
    GoDatabaseError,
    GoDeposit,
    GoScanRecord,
    read_go_database,
)
from teller.money import AmountError, sky_droplets_for_satoshis, sky_droplets_for_wei
from teller.progress import Progress
from teller.store import payouts as payout_store
from teller.store.db import Database, create_store_engine, sqlite_url, store_url
from teller.store.deposits import HOLD_CHECK_EARLIER_PAYMENT
from teller.store.migrate import upgrade
from teller.store.pool import mark_address_used
from teller.store.scans import lowest_scanned, raise_scan_floor
from teller.store.tables import bindings as bindings_t
from teller.store.tables import bolt_imports as imports_t
from teller.store.tables import deposit_addresses as pool_t
from teller.store.tables import deposits as deposits_t
from teller.store.tables import payouts as payouts_t
from teller.store.worker_lock import DatabaseInUse, SqliteProcessLock
from teller.store.worker_role import release as release_role
from teller.store.worker_role import try_acquire

if TYPE_CHECKING:
    from teller.config.schema import Config

# How long the import holds the worker role on PostgreSQL at most (it releases it when it
# ends; a killed import keeps tellers from taking the role until the lease runs out).
IMPORT_LEASE_MS = 3_600_000


class ImportConflict(GoTellerError):
    """The store holds data that contradicts the Go database; `problems`, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class BucketLine:
    bucket: str
    found: int
    new: int
    what: str
    detail: str = ""

    def render(self) -> str:
        tail = f" ({self.detail})" if self.detail else ""
        return f"{self.bucket}: {self.found} {self.what}, {self.new} new{tail}"


@dataclass
class ImportReport:
    source: str
    lines: list[BucketLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def new_rows(self) -> int:
        return sum(line.new for line in self.lines)

    def render(self) -> str:
        out = [line.render() for line in self.lines]
        out += [f"note: {note}" for note in self.notes]
        if self.dry_run:
            out.append("dry run: nothing was written")
        elif self.new_rows == 0:
            out.append(f"nothing to import: the store already holds everything in {self.source}")
        else:
            out.append(f"imported {self.new_rows} records from {self.source}")
        return "\n".join(out)


class _DryRunRollback(TellerError):
    pass


@dataclass(frozen=True, slots=True)
class _Planned:
    """What a Go deposit becomes in the store."""

    status: str
    sky_due: int
    error: str
    payout_txid: str | None
    hold_reason: str | None = None


def _plan(d: GoDeposit, max_decimals: int) -> tuple[_Planned, str | None]:
    """The deposit's status, amount due and payout in the store, and a note if it changed."""
    payout = d.txid or None
    if payout is not None and d.status not in (states.WAITING_CONFIRM, states.DONE):
        # Paid already, then set back (the Go teller's DirectBuy resets a deposit delivered
        # again to waiting_send, keeping the txid: teller-go.md §14.4). Paying it now would
        # pay it twice: watch the payment it already has instead.
        note = (
            f"deposit {d.deposit_id} ({d.status}) was already paid in {payout}:"
            " waiting_confirm on that payment, never paid again"
        )
        return _Planned(states.WAITING_CONFIRM, d.sky_sent, d.error, payout), note
    direct_undecided = d.status == states.WAITING_DECIDE and d.buy_method == states.BUY_DIRECT
    if d.status == states.WAITING_SEND or direct_undecided:
        # A direct deposit the Go teller received but had not decided yet: its next step
        # (DirectBuy) only sets waiting_send; the amount comes from the rate it stored.
        if d.buy_method == states.BUY_PASSTHROUGH:
            due = d.sky_bought
            problem = None if due > 0 else states.ERR_SEND_AMOUNT_ZERO
        else:
            # What the Go teller would have sent: its stored rate, the configured max_decimals.
            try:
                due = _owed(d, max_decimals)
                problem = None if due > 0 else states.ERR_SEND_AMOUNT_ZERO
            except AmountError as exc:
                due, problem = 0, str(exc)
        if problem is not None:
            note = f"deposit {d.deposit_id} ({d.status}) can never be paid: done, {problem!r}"
            return _Planned(states.DONE, 0, problem, None), note
        if direct_undecided:
            note = (
                f"deposit {d.deposit_id} (waiting_decide, direct): waiting_send at its stored rate"
            )
            return _Planned(states.WAITING_SEND, due, d.error, None), note
        # waiting_send without a txid: maybe paid just before a crash of the Go teller.
        note = (
            f"deposit {d.deposit_id} (waiting_send, no txid): held until the chain is searched"
            " for a payment the Go teller may have made; paid only if there is none"
        )
        return _Planned(states.WAITING_SEND, due, d.error, None, HOLD_CHECK_EARLIER_PAYMENT), note
    if d.status in (states.WAITING_CONFIRM, states.DONE):
        return _Planned(d.status, d.sky_sent, d.error, payout), None
    return _Planned(d.status, 0, d.error, None), None


def _owed(d: GoDeposit, max_decimals: int) -> int:
    if d.coin_type == "BTC":
        return sky_droplets_for_satoshis(d.value, d.conversion_rate, max_decimals)
    if d.coin_type == "ETH":
        return sky_droplets_for_wei(d.value, d.conversion_rate, max_decimals)
    # SKY deposits: droplets × 100 are the same amount in 1e-8 units (as the processor does).
    return sky_droplets_for_satoshis(d.value * 100, d.conversion_rate, max_decimals)


def import_go_database(
    db: Database,
    go: GoDatabase,
    *,
    max_decimals: int,
    now: int,
    dry_run: bool = False,
    advance: Callable[[int], None] = lambda n: None,
) -> ImportReport:
    """Write `go` into the store in one transaction (rolled back for a dry run).

    Raises ImportConflict, before anything stands, if the store contradicts the file.
    """
    report = ImportReport(source=go.source, dry_run=dry_run)
    try:
        with db.write() as conn:
            _import(
                conn,
                go,
                report,
                max_decimals=max_decimals,
                now=now,
                advance=advance,
                dry_run=dry_run,
            )
            if dry_run:
                raise _DryRunRollback("dry run: nothing is kept")
    except _DryRunRollback:
        pass
    return report


def _import(
    conn: Connection,
    go: GoDatabase,
    report: ImportReport,
    *,
    max_decimals: int,
    now: int,
    advance: Callable[[int], None],
    dry_run: bool,
) -> None:
    plans = {d.deposit_id: _plan(d, max_decimals) for d in go.deposits}
    report.notes += [note for _, note in plans.values() if note]
    existing_bindings = _existing_bindings(conn, go.bindings)
    existing_deposits = _existing_deposits(conn, [d.deposit_id for d in go.deposits])
    existing_deposits.update(_existing_deposits(conn, [r.deposit_id for r in go.scanner_records]))
    problems = _binding_conflicts(go.bindings, existing_bindings)
    problems += _deposit_conflicts(go.deposits, existing_deposits)
    problems += _scanned_below_floor(conn, go)
    if problems:
        raise ImportConflict(problems)

    # 1. Bindings, in each SKY address's order, then the pool: every bound or used address
    #    is marked handed out, so it is never given to anyone else.
    new_bindings = [
        b for b in go.bindings if (b.coin_type, b.deposit_address) not in existing_bindings
    ]
    for b in new_bindings:
        conn.execute(
            insert(bindings_t).values(
                coin_type=b.coin_type,
                deposit_address=b.deposit_address,
                sky_address=b.sky_address,
                buy_method=b.buy_method,
                bound_at=now,
            )
        )
    advance(len(go.bindings))
    used = {coin: list(addresses) for coin, addresses in go.used.items()}
    for b in go.bindings:
        used.setdefault(b.coin_type, []).append(b.deposit_address)
    newly_used: Counter[str] = Counter()
    for coin, addresses in sorted(used.items()):
        unique = list(dict.fromkeys(addresses))
        already = _used_in_store(conn, coin, unique)
        for address in unique:
            if address not in already:
                mark_address_used(conn, coin, address, now)
                newly_used[coin] += 1
    advance(sum(len(v) for v in go.used.values()))
    binding_ids = _binding_ids(conn, go.bindings)

    # 2. Payouts the Go teller broadcast: txid only, no bytes (never re-broadcast, only
    #    watched). A deposit in waiting_confirm points at a `broadcast` one, a done deposit
    #    at a `confirmed` one, so the admin API shows their txids as the original did.
    new_payouts = _insert_payouts(conn, go.deposits, plans)

    # 3. Deposits, with the Go teller's seq where the store has not used it.
    new_deposits = [d for d in go.deposits if d.deposit_id not in existing_deposits]
    taken_seqs = _taken_seqs(conn, [d.seq for d in new_deposits])
    kept = {d.deposit_id: d.seq for d in new_deposits if d.seq not in taken_seqs}
    # Every row gets its seq here, none from the database's counter: on PostgreSQL the
    # sequence is moved past them once, at the end, and not at all by a dry run (setval is
    # not undone by a rollback).
    next_seq = max([_max_seq(conn), *kept.values()]) + 1
    for d in new_deposits:
        plan, _note = plans[d.deposit_id]
        row = _deposit_row(d, plan, binding_ids[(d.coin_type, d.deposit_address)])
        if d.deposit_id in kept:
            row["seq"] = kept[d.deposit_id]
        else:
            row["seq"], next_seq = next_seq, next_seq + 1
        conn.execute(insert(deposits_t).values(**row))
    advance(len(go.deposits))

    # 4. Scanner records the Go exchange never received (crash between the scanner's save and
    #    the exchange's): recorded as new deposits, to be decided and paid by teller.
    known_ids = {d.deposit_id for d in go.deposits} | existing_deposits.keys()
    unreceived = [r for r in go.scanner_records if r.deposit_id not in known_ids]
    bound = {(b.coin_type, b.deposit_address): b for b in go.bindings}
    for r in unreceived:
        key = (r.coin_type, r.address)
        row = _unreceived_row(r, bound[key], binding_ids[key], now)
        row["seq"], next_seq = next_seq, next_seq + 1
        conn.execute(insert(deposits_t).values(**row))
    advance(len(go.scanner_records))
    if conn.dialect.name == "postgresql" and (new_deposits or unreceived) and not dry_run:
        conn.execute(
            text(
                "SELECT setval(pg_get_serial_sequence('deposits', 'seq'),"
                " (SELECT MAX(seq) FROM deposits))"
            )
        )
    # 5. The scanners never go back below the Go teller's deposits (see `_scan_floors`).
    _raise_scan_floors(conn, go, report, now)
    _report_lines(report, go, plans, new_bindings, newly_used, new_deposits, unreceived)
    if new_payouts:
        report.notes.append(
            f"{new_payouts} payout(s) the Go teller broadcast are watched by txid, never re-sent"
        )
    if report.new_rows:
        conn.execute(
            insert(imports_t).values(
                source=go.source,
                source_txid=go.txid,
                imported_at=now,
                summary="\n".join(line.render() for line in report.lines),
            )
        )


def _report_lines(
    report: ImportReport,
    go: GoDatabase,
    plans: Mapping[str, tuple[_Planned, str | None]],
    new_bindings: list[GoBinding],
    newly_used: Mapping[str, int],
    new_deposits: list[GoDeposit],
    unreceived: list[GoScanRecord],
) -> None:
    for coin in COIN_TYPES:
        name = f"bind_address_{coin.lower()}"
        if name in go.bucket_sizes:
            found = sum(1 for b in go.bindings if b.coin_type == coin)
            new = sum(1 for b in new_bindings if b.coin_type == coin)
            by_method = Counter(b.buy_method for b in go.bindings if b.coin_type == coin)
            detail = ", ".join(f"{m} {n}" for m, n in sorted(by_method.items()))
            report.lines.append(BucketLine(name, found, new, "bindings", detail))
    statuses = Counter(plans[d.deposit_id][0].status for d in go.deposits)
    report.lines.append(
        BucketLine(
            "deposit_info",
            len(go.deposits),
            len(new_deposits),
            "deposits",
            ", ".join(f"{s} {n}" for s, n in sorted(statuses.items())),
        )
    )
    for coin in COIN_TYPES:
        name = f"used_{coin.lower()}_address"
        if name in go.bucket_sizes or newly_used.get(coin):
            found = len(go.used.get(coin, []))
            # Bound addresses count too: a binding without its used mark is still handed out.
            report.lines.append(
                BucketLine(name, found, newly_used.get(coin, 0), "used pool addresses")
            )
    report.lines.append(
        BucketLine(
            "deposit_value",
            len(go.scanner_records),
            len(unreceived),
            "scanner deposit records",
            "the others are the deposits above" if go.scanner_records else "",
        )
    )
    for name in ("sky_deposit_seqs_index", "btc_txs"):
        if name in go.bucket_sizes:
            report.notes.append(f"{name}: {go.bucket_sizes[name]} entries, checked")
    for coin, addresses in go.watched.items():
        report.notes.append(f"scan_meta_{coin.lower()}: {len(addresses)} watched addresses")
    if go.ignored_buckets:
        report.notes.append("buckets not read: " + ", ".join(go.ignored_buckets))


# How the Go teller's scanners numbered a deposit's output, unlike teller's (scanner/*.py).
_GO_OUTPUT_NUMBER = {
    "BTC": "always :0 (its btcd scanner never copied the output index)",
    "ETH": ":<the transaction's index in its block> (teller uses :0)",
}


def _scan_floors(go: GoDatabase) -> dict[str, int]:
    """Per coin, the first block teller's scanner may scan: above the Go teller's newest
    deposit. Every block up to it was scanned by the Go teller, which numbered outputs
    unlike teller's scanners do (`_GO_OUTPUT_NUMBER`): a rescan would find its deposits again
    under other ids, record them as new deposits and pay them a second time."""
    heights: dict[str, int] = {}
    for height, coin in [(d.height, d.coin_type) for d in go.deposits] + [
        (r.height, r.coin_type) for r in go.scanner_records
    ]:
        if coin in _GO_OUTPUT_NUMBER:
            heights[coin] = max(height + 1, heights.get(coin, 0))
    return heights


def _scanned_below_floor(conn: Connection, go: GoDatabase) -> list[str]:
    """This teller's own scanner already scanned blocks the Go teller scanned: the deposits
    it recorded there carry teller's ids, the Go teller's copies other ids, so importing them
    would make one payment two deposits, paid twice. Refused, for the operator to sort out."""
    return [
        f"teller's {coin} scanner already scanned block {height}, below block {floor} where the"
        f" Go teller's {coin} deposits end: its deposits there would be recorded twice under"
        " different ids (import into a store whose scanner has not run yet)"
        for coin, floor in sorted(_scan_floors(go).items())
        if (height := lowest_scanned(conn, coin)) is not None and height < floor
    ]


def _raise_scan_floors(conn: Connection, go: GoDatabase, report: ImportReport, now: int) -> None:
    for coin, floor in sorted(_scan_floors(go).items()):
        reason = (
            f"imported Go teller database {go.source}: its newest {coin} deposit is in block"
            f" {floor - 1}, and it numbered {coin} outputs {_GO_OUTPUT_NUMBER[coin]}"
        )
        moved = raise_scan_floor(conn, coin, floor, reason, now)
        report.notes.append(
            f"teller's {coin} scanner starts at block {floor} or later"
            f" ({'set now' if moved else 'already set'}): the blocks below were scanned by the"
            f" Go teller, which numbered {coin} outputs {_GO_OUTPUT_NUMBER[coin]}; scanning"
            " them again would record its deposits a second time"
        )


def _existing_bindings(
    conn: Connection, bindings: Iterable[GoBinding]
) -> dict[tuple[str, str], GoBinding]:
    wanted = {(b.coin_type, b.deposit_address) for b in bindings}
    found: dict[tuple[str, str], GoBinding] = {}
    for chunk in _chunks(sorted(wanted)):
        rows = conn.execute(
            select(bindings_t).where(
                tuple_(bindings_t.c.coin_type, bindings_t.c.deposit_address).in_(chunk)
            )
        )
        for r in rows:
            found[(r.coin_type, r.deposit_address)] = GoBinding(
                r.coin_type, r.deposit_address, r.sky_address, r.buy_method
            )
    return found


def _binding_ids(conn: Connection, bindings: Iterable[GoBinding]) -> dict[tuple[str, str], int]:
    wanted = sorted({(b.coin_type, b.deposit_address) for b in bindings})
    ids: dict[tuple[str, str], int] = {}
    for chunk in _chunks(wanted):
        rows = conn.execute(
            select(bindings_t.c.id, bindings_t.c.coin_type, bindings_t.c.deposit_address).where(
                tuple_(bindings_t.c.coin_type, bindings_t.c.deposit_address).in_(chunk)
            )
        )
        ids.update({(r.coin_type, r.deposit_address): r.id for r in rows})
    return ids


def _existing_deposits(conn: Connection, deposit_ids: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for chunk in _chunks(deposit_ids):
        for row in conn.execute(select(deposits_t).where(deposits_t.c.deposit_id.in_(chunk))):
            found[row.deposit_id] = row
    return found


def _used_in_store(conn: Connection, coin: str, addresses: list[str]) -> set[str]:
    used: set[str] = set()
    for chunk in _chunks(addresses):
        rows = conn.execute(
            select(pool_t.c.address).where(
                pool_t.c.coin_type == coin,
                pool_t.c.address.in_(chunk),
                pool_t.c.bound_at.is_not(None),
            )
        )
        used.update(rows.scalars())
    return used


def _max_seq(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(deposits_t.c.seq), 0))).scalar_one())


def _taken_seqs(conn: Connection, seqs: list[int]) -> set[int]:
    taken: set[int] = set()
    for chunk in _chunks(seqs):
        taken.update(
            conn.execute(select(deposits_t.c.seq).where(deposits_t.c.seq.in_(chunk))).scalars()
        )
    return taken


def _chunks(items: list[Any], size: int = 500) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _binding_conflicts(
    bindings: list[GoBinding], existing: Mapping[tuple[str, str], GoBinding]
) -> list[str]:
    problems = []
    for b in bindings:
        have = existing.get((b.coin_type, b.deposit_address))
        if have is not None and have != b:
            problems.append(
                f"{b.coin_type} address {b.deposit_address} is bound to {b.sky_address}"
                f" ({b.buy_method}) in the Go database but to {have.sky_address}"
                f" ({have.buy_method}) in the store"
            )
    return problems


_PAID = (states.WAITING_CONFIRM, states.DONE)


def _deposit_conflicts(deposits: list[GoDeposit], existing: Mapping[str, Any]) -> list[str]:
    """A deposit the store already has must be the same output, and must not have been (or
    be about to be) paid differently: that would pay it twice."""
    problems = []
    for d in deposits:
        row = existing.get(d.deposit_id)
        if row is None:
            continue
        same_output = (row.coin_type, row.deposit_address, row.sky_address, row.value) == (
            d.coin_type,
            d.deposit_address,
            d.sky_address,
            d.value,
        )
        if not same_output:
            problems.append(
                f"deposit {d.deposit_id}: the store has it for {row.sky_address}"
                f" ({row.value} to {row.deposit_address}), the Go database for {d.sky_address}"
                f" ({d.value} to {d.deposit_address})"
            )
        elif d.txid and row.payout_txid != d.txid:
            problems.append(
                f"deposit {d.deposit_id}: the Go teller paid it in {d.txid}, the store has"
                f" {'payout ' + row.payout_txid if row.payout_txid else 'it unpaid'}"
                f" ({row.status}): importing would pay it twice"
            )
        elif d.status == states.DONE and row.status != states.DONE:
            problems.append(
                f"deposit {d.deposit_id}: done in the Go database ({d.error or 'paid'}),"
                f" {row.status} in the store"
            )
    return problems


def _insert_payouts(
    conn: Connection, deposits: list[GoDeposit], plans: Mapping[str, tuple[_Planned, str | None]]
) -> int:
    by_txid: dict[str, list[GoDeposit]] = defaultdict(list)
    status_of: dict[str, str] = {}
    for d in deposits:
        plan = plans[d.deposit_id][0]
        if plan.payout_txid:
            by_txid[plan.payout_txid].append(d)
            status_of[d.deposit_id] = plan.status
    known: set[str] = set()
    for chunk in _chunks(sorted(by_txid)):
        known.update(
            conn.execute(select(payouts_t.c.txid).where(payouts_t.c.txid.in_(chunk))).scalars()
        )
    added = 0
    for txid, paid in sorted(by_txid.items()):
        statuses = {status_of[d.deposit_id] for d in paid}
        if len(statuses) != 1:
            raise GoDatabaseError(f"payout {txid} pays deposits in different statuses")
        if txid in known:
            continue
        stamp = min(d.updated_at for d in paid)
        status = (
            payout_store.BROADCAST
            if statuses == {states.WAITING_CONFIRM}
            else (payout_store.CONFIRMED)
        )
        conn.execute(
            insert(payouts_t).values(
                txid=txid,
                raw_tx="",  # not signed by teller: nothing to broadcast, only to watch
                inputs="[]",
                total_droplets=sum(d.sky_sent for d in paid),
                status=status,
                created_at=stamp,
                updated_at=stamp,
            )
        )
        added += 1
    return added


def _deposit_row(d: GoDeposit, plan: _Planned, binding_id: int) -> dict[str, Any]:
    return {
        "deposit_id": d.deposit_id,
        "coin_type": d.coin_type,
        "deposit_address": d.deposit_address,
        "sky_address": d.sky_address,
        "binding_id": binding_id,
        "tx": d.tx,
        "n": d.n,
        "value": d.value,
        "height": d.height,
        "block_hash": "",
        "status": plan.status,
        "buy_method": d.buy_method,
        "conversion_rate": d.conversion_rate,
        "sky_due": plan.sky_due,
        "sky_sent": d.sky_sent,
        "payout_txid": plan.payout_txid,
        "error": plan.error,
        "exchange_name": d.exchange_name,
        "requested_amount": d.requested_amount,
        "sky_bought": d.sky_bought,
        "deposit_value_spent": d.deposit_value_spent,
        "order_customer_id": d.order_customer_id,
        "order_id": d.order_id,
        "order_completed_amount": d.order_completed_amount,
        "order_price": d.order_price,
        "order_status": d.order_status,
        "order_final": d.order_final,
        "order_original": d.order_original,
        "created_at": d.updated_at,  # the Go teller kept no creation time
        "updated_at": d.updated_at,
        "hold_reason": plan.hold_reason,
    }


def _unreceived_row(
    r: GoScanRecord, binding: GoBinding, binding_id: int, now: int
) -> dict[str, Any]:
    return {
        "deposit_id": r.deposit_id,
        "coin_type": r.coin_type,
        "deposit_address": r.address,
        "sky_address": binding.sky_address,
        "binding_id": binding_id,
        "tx": r.tx,
        "n": r.n,
        "value": r.value,
        "height": r.height,
        "status": states.WAITING_DECIDE,
        "buy_method": binding.buy_method,
        "created_at": now,
        "updated_at": now,
    }


def run_import(
    config: Config, appdir: Path, source: Path, *, dry_run: bool, out: TextIO, err: TextIO
) -> int:
    """`teller db import-bolt`: read, check, import (or dry-run); the exit status."""
    try:
        go = read_go_database(source)
    except GoDatabaseError as exc:
        print(f"cannot import {source}: {exc}\nnothing was imported", file=err)
        return 1
    url = make_url(store_url(config.database_url, appdir, config.dbfile))
    scratch = None
    if dry_run and url.get_backend_name() == "sqlite" and not _store_exists(url.database):
        # No store yet, so nothing to conflict with: count against an empty one that goes
        # away afterwards, instead of creating the data directory and a store (a dry run
        # writes nothing).
        scratch = tempfile.TemporaryDirectory(prefix="teller-dry-run-")
        url = make_url(sqlite_url(Path(scratch.name) / "dry-run.db"))
    else:
        appdir.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock = None
    if scratch is None and url.get_backend_name() == "sqlite" and url.database:
        lock = SqliteProcessLock(Path(url.database), exclusive=True)
        try:
            lock.acquire()
        except DatabaseInUse as exc:
            print(f"{exc}: stop teller before importing\nnothing was imported", file=err)
            return 1
    engine = create_store_engine(url.render_as_string(hide_password=False))
    upgrade(engine)
    db = Database(engine)
    epoch = None
    if url.get_backend_name() == "postgresql":
        # The import takes the worker role (store/worker_role.py) for its run: while a teller
        # holds it, its scanners and stages write deposits while the import gives rows the Go
        # teller's seqs; and no teller takes it while the import runs. (On SQLite the file
        # lock above does both.)
        with db.write() as conn:
            epoch = try_acquire(conn, f"teller import-go pid {os.getpid()}", IMPORT_LEASE_MS)
        if epoch is None:
            engine.dispose()
            print(
                "a teller is running on this database (it holds the worker role): stop every"
                " teller before importing\nnothing was imported",
                file=err,
            )
            return 1
    try:
        with Progress(go.record_count, "importing", err) as progress:
            report = import_go_database(
                db,
                go,
                max_decimals=config.sky_exchanger.max_decimals,
                now=unix_now(),
                dry_run=dry_run,
                advance=progress.advance,
            )
    except ImportConflict as exc:
        lines = "\n".join(f"  - {p}" for p in exc.problems)
        print(
            f"the store already holds data that contradicts {source}; nothing was imported:\n"
            f"{lines}",
            file=err,
        )
        return 1
    except GoDatabaseError as exc:
        print(f"cannot import {source}: {exc}\nnothing was imported", file=err)
        return 1
    finally:
        if epoch is not None:
            with db.write() as conn:
                release_role(conn, epoch)
        engine.dispose()
        if lock is not None:
            lock.release()
        if scratch is not None:
            scratch.cleanup()
    print(report.render(), file=out)
    return 0


def _store_exists(database: str | None) -> bool:
    """Whether a SQLite store file is there (an in-memory URL counts as there: it is empty
    and gone afterwards anyway)."""
    if not database or database == ":memory:":
        return True
    return Path(database).exists()
