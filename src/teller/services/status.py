"""/api/status: the deposits of one SKY address, as the buyer's page polls them.

Place in the flow: the public route hands the raw `skyaddr` here; the answer is read from the
store (store/deposits.py `status_tuples`: every binding of the address with its deposits in
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
from teller.store.deposits import status_tuples


async def status_of(parts: Services, skyaddr: str) -> dict[str, Any]:
    """The /api/status answer for `skyaddr` (400 with the original's messages if invalid)."""
    sky_address = parse_sky_address(skyaddr)
    needed = {coin: parts.config.scanner_for(coin).confirmations for coin in COIN_TYPES}
    return {"statuses": await parts.db.run_read(statuses_of, sky_address, needed)}


def change_count(parts: Services) -> int | None:
    """The store's change counter (store/db.py `change_count`): an answer of status_of stays
    true while it has not moved (None: not known, build every answer)."""
    return parts.db.change_count()


def statuses_of(
    conn: Connection, sky_address: str, needed: Mapping[str, int] | None = None
) -> list[dict[str, Any]]:
    """/api/status entries: one per deposit, or one waiting_deposit per unused binding.

    Numbered 1, 2, … in a stable order (binding order, then deposit order), not re-sorted by
    time as the original did (its numbering changed between calls for equal timestamps).
    Deposit addresses are never shown, as in the original, nor the txids of seen payments
    (they would name the address). `needed`: the confirmations each coin's deposits need, as
    Bitcoin counts them (told with each seen payment). Shaped straight from the driver's rows
    (store/deposits.py `status_tuples`), no object per row: an address with thousands of
    bindings is answered in one query and one encoding (http/responses.py).
    """
    entries: list[dict[str, Any]] = []
    append = entries.append
    decimals = COIN_DECIMALS
    last_of_binding: dict[int, dict[str, Any]] = {}
    for (
        coin,
        bound_at,
        dseq,
        status,
        value,
        sky_sent,
        txid,
        error,
        updated_at,
        binding_id,
        _kind,
        confirmations,
        seen_at,
        _seen_id,
    ) in status_tuples(conn, sky_address):
        if confirmations is not None:  # a payment seen before it counts (seen_payments)
            paid = last_of_binding.get(binding_id)
            if paid is not None:  # always: a binding's own rows come before its seen rows
                paid.setdefault("seen", []).append(
                    {
                        "value": format_units(int(value or 0), decimals[coin]),
                        "confirmations": confirmations,
                        "confirmations_needed": (needed or {}).get(coin, 0),
                        "seen_at": seen_at,
                    }
                )
            continue
        if dseq is None or status is None or value is None:
            entry: dict[str, Any] = {
                "seq": len(entries) + 1,
                "updated_at": bound_at,
                "status": WAITING_DEPOSIT,
                "coin_type": coin,
            }
        else:
            sent = sky_sent or 0
            entry = {
                "seq": len(entries) + 1,
                "updated_at": updated_at,
                "status": status,
                "coin_type": coin,
                "deposit_value": format_units(int(value), decimals[coin]),
                "sky_sent": format_droplets(sent),
                "txid": (txid or "") if sent else "",
                "error": error or "",
            }
        append(entry)
        last_of_binding[binding_id] = entry
    return entries
