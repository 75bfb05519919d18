"""/api/status: the deposits of one SKY address, as the buyer's page polls them.

Place in the flow: the public route hands the raw `skyaddr` here; the answer is read from the
store (store/deposits.py `status_rows`: every binding of the address with its deposits in
one statement, so one snapshot) and shaped as the original's JSON (seed README). The one
path for every backend and both routes of /api/status (the fast one and the documented one).

Payments seen before they count (store/seen.py, written by the chain scanners) are an addition:
a `seen` list on the entry of the binding they pay (its waiting_deposit entry, or its last
deposit's), only when there is one, so a client of the original sees the same entries as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from teller.coins import COIN_TYPES
from teller.deposits.binding import parse_sky_address
from teller.deposits.states import WAITING_DEPOSIT
from teller.money import format_droplets, format_units
from teller.services.parts import Services
from teller.services.views import COIN_DECIMALS
from teller.store.deposits import status_rows


async def status_of(parts: Services, skyaddr: str) -> dict[str, Any]:
    """The /api/status answer for `skyaddr` (400 with the original's messages if invalid)."""
    sky_address = parse_sky_address(skyaddr)
    needed = {coin: parts.config.scanner_for(coin).confirmations for coin in COIN_TYPES}
    return {"statuses": await parts.db.run_read(statuses_of, sky_address, needed)}


def statuses_of(
    conn: Connection, sky_address: str, needed: Mapping[str, int] | None = None
) -> list[dict[str, Any]]:
    """/api/status entries: one per deposit, or one waiting_deposit per unused binding.

    Numbered 1, 2, … in a stable order (binding order, then deposit order), not re-sorted by
    time as the original did (its numbering changed between calls for equal timestamps).
    Deposit addresses are never shown, as in the original, nor the txids of seen payments
    (they would name the address). `needed`: the confirmations each coin's deposits need, as
    Bitcoin counts them (told with each seen payment).
    """
    entries: list[dict[str, Any]] = []
    last_of_binding: dict[int, dict[str, Any]] = {}
    for row in status_rows(conn, sky_address):
        if row.confirmations is not None:
            paid = last_of_binding.get(row.binding_id)
            if paid is not None:  # always: a binding's own row comes before its seen rows
                paid.setdefault("seen", []).append(
                    {
                        "value": format_units(row.value or 0, COIN_DECIMALS[row.coin_type]),
                        "confirmations": row.confirmations,
                        "confirmations_needed": (needed or {}).get(row.coin_type, 0),
                        "seen_at": row.seen_at,
                    }
                )
            continue
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
        entry = {"seq": len(entries) + 1, **entry}
        entries.append(entry)
        last_of_binding[row.binding_id] = entry
    return entries
