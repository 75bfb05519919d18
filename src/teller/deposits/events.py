"""Webhook events of the deposit path: what each reports, queued with the change it reports.

Place in the flow: deposits/binding.py calls `binding_created` in the bind's transaction,
deposits/intake.py `deposit_recorded` in the transaction recording the deposit, and
deposits/states.py `deposits_moved` in the transaction of every status change: to
waiting_confirm (sky.sent: the payout was broadcast), to done (deposit.done, or
deposit.errored when the deposit stopped with an error; a deposit paid straight from
waiting_send reports sky.sent first). `payment_seen` is for a scanner that sees a payment
before it has its confirmations (issue 16, item 3): queued once per output whatever the
number of calls. store/webhooks.py writes the rows; with no webhook taking an event nothing
is built or written.

Every event of one deposit address has that address as its ordering key, so a receiver gets
a binding before its deposits, and a deposit's events in the order they happened.
Amounts are exact decimal strings in the coin's unit ("0.00100000" BTC, "1.000000" SKY).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

from sqlalchemy import Connection

from teller.money import BTC_DECIMALS, ETH_DECIMALS, SKY_DECIMALS, format_droplets, format_units
from teller.store.models import Binding, Deposit
from teller.store.webhooks import add_event, add_events, wants

BINDING_CREATED: Final = "binding.created"
PAYMENT_SEEN: Final = "payment.seen"
DEPOSIT_RECORDED: Final = "deposit.recorded"
SKY_SENT: Final = "sky.sent"
DEPOSIT_DONE: Final = "deposit.done"
DEPOSIT_ERRORED: Final = "deposit.errored"

_DECIMALS: Final = {"BTC": BTC_DECIMALS, "ETH": ETH_DECIMALS, "SKY": SKY_DECIMALS}


def ordering_key(coin_type: str, deposit_address: str) -> str:
    return f"{coin_type}:{deposit_address}"


def coin_amount(coin_type: str, value: int) -> str:
    """Base units of `coin_type` as an exact decimal string in the coin's unit."""
    return format_units(value, _DECIMALS[coin_type])


def deposit_data(d: Deposit) -> dict[str, Any]:
    """A deposit as events carry it: the admin API's fields, amounts as decimal strings."""
    return {
        "deposit_id": d.deposit_id,
        "seq": d.seq,
        "status": d.status,
        "coin_type": d.coin_type,
        "deposit_address": d.deposit_address,
        "sky_address": d.sky_address,
        "buy_method": d.buy_method,
        "tx": d.tx,
        "n": d.n,
        "height": d.height,
        "deposit_value": coin_amount(d.coin_type, d.value),
        "conversion_rate": d.conversion_rate,
        "sky_due": format_droplets(d.sky_due),
        "sky_sent": format_droplets(d.sky_sent),
        "txid": d.payout_txid or "",
        "error": d.error,
        "created_at": d.created_at,
        "updated_at": d.updated_at,
    }


def binding_created(conn: Connection, binding: Binding, handed_out: str, now: int) -> None:
    """A deposit address was bound to a SKY address (`handed_out`: as the buyer got it)."""
    if not wants(conn, BINDING_CREATED):
        return
    data = {
        "coin_type": binding.coin_type,
        "deposit_address": handed_out,
        "sky_address": binding.sky_address,
        "buy_method": binding.buy_method,
        "bound_at": binding.bound_at,
    }
    add_event(
        conn, BINDING_CREATED, ordering_key(binding.coin_type, binding.deposit_address), data, now
    )


def deposit_recorded(conn: Connection, deposit: Deposit, now: int) -> None:
    if wants(conn, DEPOSIT_RECORDED):
        key = ordering_key(deposit.coin_type, deposit.deposit_address)
        add_event(conn, DEPOSIT_RECORDED, key, {"deposit": deposit_data(deposit)}, now)


def payment_seen(
    conn: Connection,
    *,
    coin_type: str,
    deposit_address: str,
    sky_address: str,
    tx: str,
    n: int,
    value: int,
    confirmations: int,
    confirmations_required: int,
    now: int,
) -> None:
    """A payment to a bound address was seen before it has its confirmations. Queued once per
    output ("txid:n"): calling this again every scan round adds nothing."""
    if not wants(conn, PAYMENT_SEEN):
        return
    deposit_id = f"{tx}:{n}"
    data = {
        "deposit_id": deposit_id,
        "coin_type": coin_type,
        "deposit_address": deposit_address,
        "sky_address": sky_address,
        "tx": tx,
        "n": n,
        "value": coin_amount(coin_type, value),
        "confirmations": confirmations,
        "confirmations_required": confirmations_required,
    }
    add_event(
        conn,
        PAYMENT_SEEN,
        ordering_key(coin_type, deposit_address),
        data,
        now,
        event_id=f"{coin_type}:{deposit_id}:{PAYMENT_SEEN}",
    )


def events_of_move(old_status: str, deposit: Deposit) -> list[str]:
    """The events a deposit's move from `old_status` to where it is now reports, in order."""
    if deposit.status == "waiting_confirm":
        return [SKY_SENT]
    if deposit.status != "done":
        return []
    if deposit.error:
        return [DEPOSIT_ERRORED]
    if old_status == "waiting_send" and deposit.sky_sent > 0:
        return [SKY_SENT, DEPOSIT_DONE]  # paid and confirmed in one step (dummy auto_confirm)
    return [DEPOSIT_DONE]


def announces_moves(conn: Connection) -> bool:
    """Whether a webhook of this transaction takes any event a status change reports (the
    caller skips re-reading the moved deposits otherwise)."""
    return any(wants(conn, e) for e in (SKY_SENT, DEPOSIT_DONE, DEPOSIT_ERRORED))


def deposits_moved(conn: Connection, moved: list[tuple[str, Deposit]], now: int) -> None:
    """Queue what each deposit (as it is after the move) moving from its old status reports:
    (old status, deposit) each, in one statement."""
    queued: list[tuple[str, str, Mapping[str, Any], str | None]] = []
    for old_status, deposit in moved:
        key = ordering_key(deposit.coin_type, deposit.deposit_address)
        for event_type in events_of_move(old_status, deposit):
            if wants(conn, event_type):
                queued.append((event_type, key, {"deposit": deposit_data(deposit)}, None))
    add_events(conn, queued, now)


def paid_after_all(conn: Connection, settled: list[Deposit], now: int) -> None:
    """Queue sky.sent and deposit.done for deposits stopped as unpaid (reported errored then)
    whose payout confirmed after all (store/payouts.py settle_deposits_paid_after_all, which
    returns them as they were read before): each is paid its sky_due now."""
    deposits_moved(
        conn,
        [("waiting_send", replace(d, sky_sent=d.sky_due, error="")) for d in settled],
        now,
    )
