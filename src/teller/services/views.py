"""Read-side views of deposits: the JSON shapes of /api/status and the admin API.

Field names and shapes are the original's (seed README), so its clients keep working.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from teller.deposits.states import WAITING_DEPOSIT
from teller.money import format_droplets, format_units
from teller.store.deposits import status_rows
from teller.store.models import Deposit

COIN_DECIMALS = {"BTC": 8, "ETH": 18, "SKY": 6}


def deposit_info(d: Deposit) -> dict[str, Any]:
    """A deposit as the original's DepositInfo JSON (admin API)."""
    return {
        "seq": d.seq,
        "updated_at": d.updated_at,
        "status": d.status,
        "coin_type": d.coin_type,
        "sky_address": d.sky_address,
        "buy_method": d.buy_method,
        "deposit_address": d.deposit_address,
        "deposit_id": d.deposit_id,
        "txid": d.payout_txid or "",
        "conversion_rate": d.conversion_rate,
        "deposit_value": d.value,
        "sky_sent": d.sky_sent,
        "passthrough": {
            "exchange_name": d.exchange_name,
            "sky_bought": d.sky_bought,
            "deposit_value_spent": d.deposit_value_spent,
            "requested_amount": d.requested_amount,
            "order": {
                "customer_id": d.order_customer_id,
                "order_id": d.order_id,
                "completed_amount": d.order_completed_amount,
                "price": d.order_price,
                "status": d.order_status,
                "final": d.order_final,
                "original": d.order_original,
            },
        },
        "error": d.error,
        "deposit": {
            "coin_type": d.coin_type,
            "address": d.deposit_address,
            "value": d.value,
            "height": d.height,
            "tx": d.tx,
            "n": d.n,
            "processed": True,
        },
    }


def statuses_of(conn: Connection, sky_address: str) -> list[dict[str, Any]]:
    """/api/status entries: one per deposit, or one waiting_deposit per unused binding.

    Numbered 1, 2, … in a stable order (binding order, then deposit order), not re-sorted by
    time as the original did (its numbering changed between calls for equal timestamps).
    Deposit addresses are never shown, as in the original.
    """
    entries: list[dict[str, Any]] = []
    for row in status_rows(conn, sky_address):
        if row.seq is None or row.status is None or row.value is None:
            entry: dict[str, Any] = {
                "updated_at": row.bound_at,
                "status": WAITING_DEPOSIT,
                "coin_type": row.coin_type,
            }
        else:
            entry = {
                "updated_at": row.updated_at,
                "status": row.status,
                "coin_type": row.coin_type,
                "deposit_value": format_units(row.value, COIN_DECIMALS[row.coin_type]),
                "sky_sent": format_droplets(row.sky_sent),
                "txid": (row.payout_txid or "") if row.sky_sent else "",
                "error": row.error,
            }
        entries.append({"seq": len(entries) + 1, **entry})
    return entries
