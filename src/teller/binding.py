"""Binding: handing a buyer's SKY address a deposit address (POST /api/bind).

Checks run in the original's order with its messages; the address is taken from the pool
and the binding written in one transaction, so a failed bind never burns an address.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from teller.clock import unix_now
from teller.coins import sky
from teller.errors import BadRequest, BindError, Forbidden
from teller.exchange.states import COIN_TYPES
from teller.logs import log_event
from teller.store.bindings import count_bindings, insert_binding, lock_sky_address
from teller.store.db import Database
from teller.store.pool import free_count_up_to, take_free_address

log = logging.getLogger("teller.bind")

ERR_POOL_EMPTY = "Deposit address pool is empty"
# Remaining free addresses at which the operator is told to refill the pool (notice=WATCH).
POOL_LOW_MARKS = frozenset({100, 10, 1, 0})
ERR_MAX_BOUND = "The maximum number of addresses have been assigned to this SKY address"


@dataclass(frozen=True, slots=True)
class BindResult:
    deposit_address: str
    coin_type: str
    buy_method: str


def require_sky_address(raw: str) -> str:
    """The buyer's SKY address trimmed of white space; 400 "Missing skyaddr" if empty."""
    address = raw.strip(" \t\r\n")
    if not address:
        raise BadRequest("Missing skyaddr")
    return address


def validate_sky_address(address: str) -> str:
    """`address` if it is a valid SKY address, else 400 with the original's message."""
    try:
        return sky.validate_address(address)
    except sky.AddressError as exc:
        raise BadRequest(f"Invalid skycoin address: {exc}") from exc


def parse_sky_address(raw: str) -> str:
    """Trim and validate a buyer's SKY address (400 with the original's messages)."""
    return validate_sky_address(require_sky_address(raw))


class BindService:
    def __init__(
        self,
        db: Database,
        *,
        enabled_coins: frozenset[str],
        bind_enabled: bool,
        max_bound_addrs: int,
        buy_method: str,
    ) -> None:
        self.db = db
        self.enabled_coins = enabled_coins
        self.bind_enabled = bind_enabled
        self.max_bound_addrs = max_bound_addrs
        self.buy_method = buy_method

    def check_coin_type(self, coin_type: str) -> str:
        if coin_type == "":
            raise BadRequest("Missing coin_type")
        if coin_type not in COIN_TYPES:
            raise BadRequest("Invalid coin_type")
        if coin_type not in self.enabled_coins:
            raise BadRequest(f"{coin_type} not enabled")
        return coin_type

    def bind(self, raw_sky_address: str, raw_coin_type: str) -> BindResult:
        # The original's order: missing skyaddr, then coin_type, then the address itself.
        sky_address = require_sky_address(raw_sky_address)
        coin_type = self.check_coin_type(raw_coin_type)
        sky_address = validate_sky_address(sky_address)
        if not self.bind_enabled:
            raise Forbidden("Address binding is disabled")
        with self.db.write() as conn:
            lock_sky_address(conn, sky_address)
            if self.max_bound_addrs > 0 and (
                count_bindings(conn, sky_address) >= self.max_bound_addrs
            ):
                raise BindError(ERR_MAX_BOUND)
            now = unix_now()
            deposit_address = take_free_address(conn, coin_type, now)
            if deposit_address is None:
                log_event(
                    log,
                    logging.ERROR,
                    "deposit address pool is empty: add addresses",
                    watch=True,
                    coin_type=coin_type,
                )
                raise BindError(ERR_POOL_EMPTY)
            remaining = free_count_up_to(conn, coin_type, max(POOL_LOW_MARKS) + 1)
            insert_binding(
                conn,
                coin_type=coin_type,
                deposit_address=deposit_address,
                sky_address=sky_address,
                buy_method=self.buy_method,
                now=now,
            )
        log_event(
            log,
            logging.INFO,
            "address bound",
            coin_type=coin_type,
            deposit_address=deposit_address,
            sky_address=sky_address,
        )
        if remaining in POOL_LOW_MARKS:
            log_event(
                log,
                logging.WARNING,
                "deposit address pool running low",
                watch=True,
                coin_type=coin_type,
                remaining=remaining,
            )
        return BindResult(deposit_address, coin_type, self.buy_method)
