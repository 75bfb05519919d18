"""POST /api/bind: hand a buyer's SKY address a deposit address.

Place in the flow: the public route parses the JSON body and calls `bind`; the checks, the
address taken from the pool (or derived from an xpub) and the binding written in one
transaction are deposits/binding.py's BindService.
"""

from __future__ import annotations

from typing import Any

from teller.services.parts import Services


async def bind(parts: Services, sky_address: str, coin_type: str) -> dict[str, Any]:
    """The /api/bind answer: the deposit address to pay to (BindError/RequestError if not),
    and teller's own `bound_addrs_left`: how many more this SKY address can get (-1: no
    limit), counted in the bind's own transaction, so that the page can tell the buyer before
    asking again."""
    result = await parts.bind.bind_async(sky_address, coin_type)
    return {
        "deposit_address": result.deposit_address,
        "coin_type": result.coin_type,
        "buy_method": result.buy_method,
        "bound_addrs_left": result.bound_addrs_left,
    }
