"""/api/config: what the buyer's page needs to know of the configuration (no store read).

Place in the flow: built once when the public server is made (the config does not change
while teller runs); the exact rate lets the page compute the SKY for an amount as teller will.
"""

from __future__ import annotations

from typing import Any

from teller.money import AmountError, fixed_rate_display, parse_rate, plain_decimal
from teller.services.parts import Services


def public_config(parts: Services) -> dict[str, Any]:
    """The /api/config answer (seed README's fields, plus teller's exact_exchange_rate and
    confirmations, and what the page shows of [web]: explorer links and who runs it)."""
    cfg = parts.config
    exchanger = cfg.sky_exchanger
    deposits: dict[str, Any] = {}
    for coin in ("BTC", "ETH", "SKY"):
        scanner = cfg.scanner_for(coin)
        rate = exchanger.rate_for(coin)
        deposits[coin.lower()] = {
            "enabled": coin in parts.enabled_coins,
            # The config value as the Go teller answered it (blocks on top of the deposit's
            # block), and teller's addition: the same as Bitcoin counts confirmations (N + 1),
            # which the web page shows.
            "confirmations_required": scanner.confirmations_required,
            "confirmations": scanner.confirmations,
            "fixed_exchange_rate": rate
            if coin == "SKY"
            else fixed_rate_display(coin, rate, exchanger.max_decimals),
            "passthrough_minimum_volume": plain_decimal(
                exchanger.exchange_client.btc_minimum_volume
            )
            if coin == "BTC"
            else "0",
            # The configured rate itself, exact (an "a/b" rate as teller reads it): with it
            # and max_decimals the web page computes the SKY for an amount as teller will.
            "exact_exchange_rate": _exact_rate(rate),
        }
    return {
        "enabled": cfg.teller.bind_enabled,
        "buy_method": exchanger.buy_method,
        "max_bound_addrs": cfg.teller.max_bound_addrs,
        "max_decimals": exchanger.max_decimals,
        "deposits": deposits,
        # teller's own: explorer link templates by coin ("BTC": "https://…/tx/{txid}"), and
        # the operator's name, contact and terms for the page's footer ("" when unset).
        "explorer_urls": {coin.upper(): url for coin, url in cfg.web.explorer_urls.items()},
        "operator_name": cfg.web.operator_name,
        "contact": cfg.web.contact,
        "terms_url": cfg.web.terms_url,
    }


def _exact_rate(rate: str) -> str:
    try:
        return plain_decimal(parse_rate(rate))
    except AmountError:
        return ""  # the SKY rate, unset while the SKY scanner is off
