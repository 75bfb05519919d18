"""/api/status: the deposits of one SKY address, as the buyer's page polls them.

Place in the flow: the public route hands the raw `skyaddr` here; the answer is read from the
store (store/deposits.py `status_rows`: every binding of the address with its deposits in
one statement, so one snapshot) and shaped as the original's JSON (seed README). The one
path for every backend and both routes of /api/status (the fast one and the documented one).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from teller.deposits.binding import parse_sky_address
from teller.deposits.states import WAITING_DEPOSIT
from teller.money import format_droplets, format_units
from teller.services.parts import Services
from teller.services.views import COIN_DECIMALS
from teller.store.deposits import status_rows


async def status_of(parts: Services, skyaddr: str) -> dict[str, Any]:
    """The /api/status answer for `skyaddr` (400 with the original's messages if invalid)."""
    sky_address = parse_sky_address(skyaddr)
    return {"statuses": await parts.db.run_read(statuses_of, sky_address)}


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
