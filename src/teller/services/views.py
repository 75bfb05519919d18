"""Read-side shapes the services share: a deposit as the admin API shows it, coin decimals.

Field names and shapes are the original's (seed README), so its clients keep working.
"""

from __future__ import annotations

from typing import Any

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
            # The Go teller's record kept the scanner's deposit as it was handed to the
            # exchange, before the scanner marked it processed: always false there.
            "processed": False,
        },
    }
