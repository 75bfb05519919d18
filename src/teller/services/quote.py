"""GET /api/quote: the SKY teller would pay now for an amount (passthrough/quote.py)."""

from __future__ import annotations

from typing import Any

from teller.services.parts import Services


def quote(parts: Services, coin_type: str, amount: str) -> dict[str, Any]:
    """The /api/quote answer (BadRequest for a bad coin or amount, Unavailable without a
    fresh order book)."""
    return parts.quote.quote(coin_type, amount)
