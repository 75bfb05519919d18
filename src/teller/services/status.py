"""/api/status: the deposits of one SKY address, as the buyer's page polls them.

Place in the flow: the public route hands the raw `skyaddr` here; the answer is read from the
store (store/deposits.py `status_tuples`: every binding of the address with its deposits in
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
from teller.store.deposits import status_tuples


async def status_of(parts: Services, skyaddr: str) -> dict[str, Any]:
    """The /api/status answer for `skyaddr` (400 with the original's messages if invalid)."""
    sky_address = parse_sky_address(skyaddr)
    return {"statuses": await parts.db.run_read(statuses_of, sky_address)}


def statuses_of(conn: Connection, sky_address: str) -> list[dict[str, Any]]:
    """/api/status entries: one per deposit, or one waiting_deposit per unused binding.

    Numbered 1, 2, … in a stable order (binding order, then deposit order), not re-sorted by
    time as the original did (its numbering changed between calls for equal timestamps).
    Deposit addresses are never shown, as in the original. Shaped straight from the driver's
    rows (store/deposits.py `status_tuples`), no object per row: an address with thousands
    of bindings is answered in one query and one encoding (http/responses.py).
    """
    entries: list[dict[str, Any]] = []
    append = entries.append
    decimals = COIN_DECIMALS
    for seq, (coin, bound_at, dseq, status, value, sky_sent, txid, error, updated_at) in enumerate(
        status_tuples(conn, sky_address), 1
    ):
        if dseq is None or status is None or value is None:
            append(
                {
                    "seq": seq,
                    "updated_at": bound_at,
                    "status": WAITING_DEPOSIT,
                    "coin_type": coin,
                }
            )
            continue
        sent = sky_sent or 0
        append(
            {
                "seq": seq,
                "updated_at": updated_at,
                "status": status,
                "coin_type": coin,
                "deposit_value": format_units(int(value), decimals[coin]),
                "sky_sent": format_droplets(sent),
                "txid": (txid or "") if sent else "",
                "error": error or "",
            }
        )
    return entries
