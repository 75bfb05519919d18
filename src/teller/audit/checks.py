"""The audit's comparisons: teller's books against what the outside world says. Pure.

Place in the flow: audit/loop.py reads the store and asks the peers (Skycoin node, exchange,
ETH node), then hands both to the functions here; each returns the differences as `Finding`s
(kind, subject, expected, found) plus the figures it compared. Nothing here does I/O or
changes anything: loop.py decides what is done with the findings (it tells the operator, and
holds the sender for an unknown spend).

Why two store snapshots (`before` and `after`) for the hot wallet and the exchange: teller
stores a payout before it broadcasts it, and an exchange order before it places it. So
- anything on the chain or the exchange when the peer was asked is already in a store read
  taken *after* asking (`after`): a spend missing from it is really unknown;
- anything teller had recorded as confirmed / final in a read taken *before* asking
  (`before`) must be visible at the peer: missing there is really missing.
With one snapshot, a payout broadcast (or an order placed and filled) between the two reads
would look like a difference.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from teller.clients.market import OrderInfo
from teller.clients.skycoin_node import AddressTransaction
from teller.money import format_droplets, format_wei
from teller.store import orders as order_store
from teller.store import payouts as payout_store
from teller.store.models import ExchangeOrder, Payout

# Every kind of finding, and what it means (the metrics list each, the README explains each).
KINDS: dict[str, str] = {
    "unknown_spend": "a transaction spends from the hot wallet that is no payout teller stored",
    "payout_not_on_chain": "a payout teller marked confirmed is not confirmed on the chain",
    "payout_amount_differs": "a confirmed payout sent another amount than teller recorded",
    "payouts_sum_differs": "the SKY sent by confirmed payouts differs from the chain's",
    "conflicted_payout_confirmed": "a payout teller marked conflicted confirmed on the chain",
    "hot_wallet_short": "the hot wallet cannot pay the deposits waiting to be paid",
    "hot_wallet_low": "the hot wallet runs out within a day at the recent payout rate",
    "exchange_order_unknown": "the exchange lists an order of the account teller never stored",
    "exchange_order_missing": "an order teller recorded as final is not on the exchange",
    "exchange_order_differs": "an order's fills or status differ between teller and exchange",
    "deposit_excess": "a deposit address holds more than teller recorded (a missed deposit)",
    "deposit_shortfall": "a deposit address holds less than teller recorded, never spent from",
}

UNKNOWN_SPEND = "unknown_spend"  # the one finding that holds the sender (audit/loop.py)
PAYOUT_KIND = "payout"  # store/tables.py payouts.kind: teller's own (not a void or manual one)
LOW_HOURS = 24  # hot_wallet_low: less than this many hours of payouts left at the recent rate
RATE_WINDOW_HOURS = 24  # the recent rate: SKY paid over this many hours


@dataclass(frozen=True, slots=True)
class Finding:
    """One difference: `kind` (KINDS), what it is about, what teller's books say should be
    there (`expected`) and what the outside world says (`found`)."""

    kind: str
    subject: str
    expected: str
    found: str
    detail: str = ""

    @property
    def key(self) -> tuple[str, str]:
        """A finding is the same one round after round while kind and subject stay."""
        return (self.kind, self.subject)

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


OK = "ok"
DIFFERENCES = "differences"
NOT_CHECKED = "not_checked"
FAILED = "failed"  # the peer could not be asked this round


@dataclass(frozen=True)
class CheckResult:
    """One check of one round: its state (ok, differences, not_checked, failed), a line
    saying what it compared or why it could not, its findings and figures."""

    name: str
    state: str
    note: str
    findings: tuple[Finding, ...] = ()
    figures: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "note": self.note,
            "findings": len(self.findings),
            "figures": self.figures,
        }


def result(name: str, findings: Sequence[Finding], note: str, **figures: Any) -> CheckResult:
    return CheckResult(name, DIFFERENCES if findings else OK, note, tuple(findings), figures)


def _sky(droplets: int) -> str:
    return f"{format_droplets(droplets)} SKY"


# -- the hot wallet's transactions ----------------------------------------------------------


def _sent_out(tx: AddressTransaction, hot: Collection[str]) -> int:
    """Droplets a transaction pays to addresses outside the hot wallet (its change excluded)."""
    return sum(o.droplets for o in tx.tx.outputs if o.address not in hot)


def hot_wallet_spends(
    before: Sequence[Payout],
    after: Sequence[Payout],
    history: Sequence[AddressTransaction],
    hot: Collection[str],
) -> CheckResult:
    """Every transaction spending the hot wallet's outputs is a stored payout, and every
    payout teller marked confirmed is confirmed on the chain sending what teller recorded.

    `history` is every transaction of the hot wallet's addresses (the node's
    /api/v1/transactions): a transaction spends from the wallet when one of its inputs is an
    output that some transaction of the history paid to a wallet address.
    """
    hot = frozenset(hot)
    wallet_outputs = {o.uxid for t in history for o in t.tx.outputs if o.address in hot}
    spends = [t for t in history if any(i in wallet_outputs for i in t.tx.inputs)]
    known = {p.txid for p in after}
    findings: list[Finding] = []
    internal = 0
    for spend in spends:
        if spend.tx.txid in known:
            continue
        if _sent_out(spend, hot) == 0:
            # Coins moved between the wallet's own addresses (the operator splitting or
            # merging outputs): nothing left the wallet, so no key was misused to take it.
            internal += 1
            continue
        receivers = sorted({o.address for o in spend.tx.outputs if o.address not in hot})
        state = f"confirmed in block {spend.block_seq}" if spend.confirmed else "pending"
        findings.append(
            Finding(
                UNKNOWN_SPEND,
                spend.tx.txid,
                "only payouts teller stored spend from the hot wallet",
                f"{state}: sends {_sky(_sent_out(spend, hot))} to {', '.join(receivers)}",
                "a leaked hot-wallet key, or a second teller paying from the same wallet",
            )
        )
    on_chain = {t.tx.txid: t for t in history}
    recorded_total = chain_total = 0
    confirmed_payouts = 0
    for payout in before:
        tx = on_chain.get(payout.txid)
        if payout.status == payout_store.CONFLICTED and tx is not None and tx.confirmed:
            findings.append(
                Finding(
                    "conflicted_payout_confirmed",
                    payout.txid,
                    "never confirms (teller stopped its deposits as conflicted)",
                    f"confirmed in block {tx.block_seq}, sending {_sky(_sent_out(tx, hot))}",
                    "its deposits were paid after all: do not pay them again by hand",
                )
            )
        if payout.status != payout_store.CONFIRMED or payout.kind != PAYOUT_KIND:
            continue
        confirmed_payouts += 1
        recorded_total += payout.total_droplets
        if tx is None or not tx.confirmed:
            findings.append(
                Finding(
                    "payout_not_on_chain",
                    payout.txid,
                    f"confirmed, sending {_sky(payout.total_droplets)}",
                    "pending on the node" if tx else "not among the hot wallet's transactions",
                )
            )
            continue
        sent = _sent_out(tx, hot)
        chain_total += sent
        if sent != payout.total_droplets:
            findings.append(
                Finding(
                    "payout_amount_differs",
                    payout.txid,
                    _sky(payout.total_droplets),
                    _sky(sent),
                )
            )
    if recorded_total != chain_total:
        findings.append(
            Finding(
                "payouts_sum_differs",
                "confirmed payouts",
                _sky(recorded_total),
                _sky(chain_total),
                f"over {confirmed_payouts} payouts teller marked confirmed",
            )
        )
    note = (
        f"{len(history)} transactions of the hot wallet, {len(spends)} spending from it"
        f" ({internal} only between its own addresses);"
        f" {confirmed_payouts} confirmed payouts sent {_sky(recorded_total)} in teller's"
        f" books and {_sky(chain_total)} on the chain"
    )
    return result(
        "hot_wallet_spends",
        findings,
        note,
        transactions=len(history),
        spends=len(spends),
        internal_transfers=internal,
        confirmed_payouts=confirmed_payouts,
        sky_sent_recorded=format_droplets(recorded_total),
        sky_sent_on_chain=format_droplets(chain_total),
    )


# -- the hot wallet's balance ---------------------------------------------------------------


def hot_wallet_balance(
    *, balance: int, signed_unbroadcast: int, owed: int, paid_recently: int
) -> CheckResult:
    """The hot wallet against what it still has to pay.

    `balance`: droplets the node predicts the wallet holds once its pending transactions
    confirm; `signed_unbroadcast`: payouts stored but not yet accepted by the node (not in
    that prediction); `owed`: deposits waiting to be paid that no payout covers yet;
    `paid_recently`: droplets of payouts made in the last RATE_WINDOW_HOURS hours.
    """
    available = balance - signed_unbroadcast
    left = available - owed
    per_hour = Decimal(paid_recently) / RATE_WINDOW_HOURS
    hours_left: Decimal | None = None
    if per_hour > 0 and left >= 0:
        hours_left = (Decimal(left) / per_hour).quantize(Decimal("0.1"))
    findings: list[Finding] = []
    if left < 0:
        findings.append(
            Finding(
                "hot_wallet_short",
                "hot wallet",
                f"at least {_sky(owed)} for the deposits waiting to be paid",
                f"{_sky(available)} available",
                f"{_sky(-left)} short: refill the hot wallet",
            )
        )
    elif hours_left is not None and hours_left < LOW_HOURS:
        findings.append(
            Finding(
                "hot_wallet_low",
                "hot wallet",
                f"SKY for at least {LOW_HOURS} hours of payouts at the recent rate",
                f"{_sky(left)} left after the waiting deposits: {hours_left} hours",
                f"paid {_sky(paid_recently)} in the last {RATE_WINDOW_HOURS} hours: refill soon",
            )
        )
    when = "no payouts in the last day" if hours_left is None else f"{hours_left} hours left"
    note = f"{_sky(available)} available, {_sky(owed)} owed to waiting deposits; {when}"
    return result(
        "hot_wallet_balance",
        findings,
        note,
        available=format_droplets(available),
        owed=format_droplets(owed),
        paid_last_24h=format_droplets(paid_recently),
        hours_left=None if hours_left is None else str(hours_left),
    )


# -- the exchange ---------------------------------------------------------------------------


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text) if text else None
    except InvalidOperation:
        return None


def _describe(order: OrderInfo) -> str:
    return (
        f"order {order.order_id} ({order.status_name}), client id"
        f" {order.client_id or '(none)'}: {order.completed_amount} of {order.amount} SKY"
        f" at {order.price}"
    )


def exchange_orders(
    before: Sequence[ExchangeOrder],
    after: Sequence[ExchangeOrder],
    listed: Sequence[OrderInfo],
) -> CheckResult:
    """The exchange's order history of the account against teller's exchange_orders: every
    listed order is one teller stored; every order teller recorded as final is listed with
    the same fills; one teller recorded as refused or absent is not listed."""
    stored_ids = {o.client_id for o in after} | {o.order_id for o in after if o.order_id}
    by_order_id = {o.order_id: o for o in listed}
    by_client_id = {o.client_id: o for o in listed if o.client_id}
    findings: list[Finding] = []
    for order in listed:
        if order.order_id in stored_ids or (order.client_id or "") in stored_ids:
            continue
        findings.append(
            Finding(
                "exchange_order_unknown",
                f"order {order.order_id}",
                "only orders teller stored for passthrough deposits",
                _describe(order),
                "someone else trades on the account, or a second teller uses its key",
            )
        )
    final = (order_store.FILLED, order_store.FAILED)
    never_placed = (order_store.REFUSED, order_store.ABSENT)
    for stored in before:
        there = by_order_id.get(stored.order_id) if stored.order_id else None
        there = there or by_client_id.get(stored.client_id)
        if stored.state in never_placed:
            if there is not None:
                findings.append(
                    Finding(
                        "exchange_order_differs",
                        stored.client_id,
                        f"not on the exchange ({stored.state} in teller)",
                        _describe(there),
                    )
                )
            continue
        if stored.state not in final:
            continue  # still followed by the passthrough processor
        if there is None:
            findings.append(
                Finding(
                    "exchange_order_missing",
                    stored.client_id,
                    f"order {stored.order_id or '(no id)'} {stored.state},"
                    f" {stored.completed_amount or '0'} SKY bought",
                    "not in the exchange's order history",
                )
            )
            continue
        recorded = (_decimal(stored.completed_amount), _decimal(stored.fee))
        reported = (there.completed_amount, there.fee)
        if any(r is not None and r != e for r, e in zip(recorded, reported, strict=True)):
            findings.append(
                Finding(
                    "exchange_order_differs",
                    stored.client_id,
                    f"{stored.completed_amount} SKY bought, fee {stored.fee or '0'}",
                    f"{there.completed_amount} SKY bought, fee {there.fee} ({there.status_name})",
                )
            )
    note = f"{len(listed)} orders on the exchange, {len(after)} in teller's books"
    return result(
        "exchange_orders", findings, note, exchange_orders=len(listed), stored_orders=len(after)
    )


# -- deposit addresses ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AddressOnChain:
    """A deposit address at the audited height: its balance and how many transactions it
    has sent (0: nothing ever left it, so its balance is everything it received)."""

    balance: int
    sent: int


def deposit_addresses(
    coin_type: str,
    height: int,
    recorded: Mapping[str, int],
    on_chain: Mapping[str, AddressOnChain],
) -> CheckResult:
    """Each bound address's received total against Σ its recorded deposits, at `height` (the
    last block the scanner scanned, so both sides count the same blocks). The received total
    is known only for an address that never sent anything: its balance. An address the
    operator swept cannot be checked this way and is only counted."""
    findings: list[Finding] = []
    swept = 0
    for address, chain in sorted(on_chain.items()):
        if chain.sent:
            swept += 1
            continue
        books = recorded.get(address, 0)
        if chain.balance == books:
            continue
        subject = f"{coin_type} {address}"
        if chain.balance > books:
            findings.append(
                Finding(
                    "deposit_excess",
                    subject,
                    f"{format_wei(books)} {coin_type} of recorded deposits",
                    f"{format_wei(chain.balance)} {coin_type} at block {height}",
                    f"{format_wei(chain.balance - books)} {coin_type} never recorded as a"
                    " deposit: an internal transfer (a contract paying it), or a payment"
                    " made before the address was bound",
                )
            )
        else:
            findings.append(
                Finding(
                    "deposit_shortfall",
                    subject,
                    f"{format_wei(books)} {coin_type} of recorded deposits",
                    f"{format_wei(chain.balance)} {coin_type} at block {height}",
                    "teller recorded deposits this address never received",
                )
            )
    checked = len(on_chain) - swept
    note = (
        f"{checked} bound {coin_type} addresses compared at block {height};"
        f" {swept} sent coins away (swept) and cannot be checked by their balance"
    )
    return result(
        f"{coin_type.lower()}_deposit_addresses",
        findings,
        note,
        height=height,
        checked=checked,
        swept=swept,
    )


def not_checked(name: str, why: str) -> CheckResult:
    return CheckResult(name, NOT_CHECKED, why)


def failed(name: str, why: str) -> CheckResult:
    return CheckResult(name, FAILED, why)
