"""Binding: handing a buyer's SKY address a deposit address (POST /api/bind).

Checks run in the original's order with its messages; the address is taken from the pool
and the binding written in one transaction, so a failed bind never burns an address.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Connection

from teller.coins import COIN_TYPES, eth, sky
from teller.coins.xpub import HdChain
from teller.deposits import events
from teller.errors import BadRequest, BindError, Forbidden
from teller.logs import log_event
from teller.store.bindings import count_bindings, insert_binding, lock_sky_address
from teller.store.db import Database
from teller.store.group_commit import GroupCommit
from teller.store.hd_chains import lock_chains, take_hd_address
from teller.store.pool import free_count_up_to, take_free_address

log = logging.getLogger("teller.bind")

ERR_POOL_EMPTY = "Deposit address pool is empty"
# The default of teller.<coin>_pool_low_warning: below this many free addresses the operator
# is told (once per crossing, WATCH) to refill the pool.
POOL_LOW = 100
ERR_MAX_BOUND = "The maximum number of addresses have been assigned to this SKY address"


@dataclass(frozen=True, slots=True)
class BindRequest:
    """A bind that passed every check that needs no database."""

    sky_address: str
    coin_type: str


@dataclass(frozen=True, slots=True)
class BindResult:
    deposit_address: str
    coin_type: str
    buy_method: str
    bound_addrs_left: int  # more addresses this SKY address may get (-1: no limit)


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
        hd_chains: Mapping[str, HdChain] | None = None,
        pool_low_warning: Mapping[str, int] | None = None,
    ) -> None:
        self.db = db
        self.enabled_coins = enabled_coins
        self.bind_enabled = bind_enabled
        self.max_bound_addrs = max_bound_addrs
        self.buy_method = buy_method
        # Coins whose addresses are derived from an extended public key (deposits/hd.py), not
        # read from a file.
        self.hd_chains: Mapping[str, HdChain] = hd_chains or {}
        # Per coin: warn once fewer free addresses than this are left (0: never).
        self.pool_low_warning: Mapping[str, int] = pool_low_warning or {}
        # Coins whose "running low" line was logged and whose pool has not been seen back at
        # or above the threshold since: the line is written once per crossing, not per bind.
        # In memory: a pool only grows by a restart (the files are read at start-up), so a
        # restart is also when a refilled pool starts a new crossing.
        self._low_warned: set[str] = set()
        self._low_lock = threading.Lock()  # binds are answered from several threads
        self._group: GroupCommit[BindRequest, tuple[BindResult, int]] = GroupCommit(
            db, self._bind_in, refusals=(BindError,)
        )

    def check_coin_type(self, coin_type: str) -> str:
        if coin_type == "":
            raise BadRequest("Missing coin_type")
        if coin_type not in COIN_TYPES:
            raise BadRequest("Invalid coin_type")
        if coin_type not in self.enabled_coins:
            raise BadRequest(f"{coin_type} not enabled")
        return coin_type

    def check(self, raw_sky_address: str, raw_coin_type: str) -> BindRequest:
        """The checks that need no database, in the original's order: missing skyaddr, then
        coin_type, then the address itself, then whether binding is enabled."""
        sky_address = require_sky_address(raw_sky_address)
        coin_type = self.check_coin_type(raw_coin_type)
        sky_address = validate_sky_address(sky_address)
        if not self.bind_enabled:
            raise Forbidden("Address binding is disabled")
        return BindRequest(sky_address, coin_type)

    def bind(self, raw_sky_address: str, raw_coin_type: str) -> BindResult:
        """Check and bind one request (from a worker thread)."""
        return self.bind_checked(self.check(raw_sky_address, raw_coin_type))

    async def bind_async(self, raw_sky_address: str, raw_coin_type: str) -> BindResult:
        """Check, then bind together with whatever other binds are waiting (group commit)."""
        request = self.check(raw_sky_address, raw_coin_type)
        return self._bound(request, *await self._group.submit_async(request))

    def bind_checked(self, request: BindRequest) -> BindResult:
        """Bind a checked request; it shares its transaction with concurrent binds and is
        answered only once that transaction has committed."""
        return self._bound(request, *self._group.submit(request))

    def _bound(self, request: BindRequest, result: BindResult, free_left: int) -> BindResult:
        log_event(
            log,
            logging.INFO,
            "address bound",
            coin_type=result.coin_type,
            deposit_address=result.deposit_address,
            sky_address=request.sky_address,
        )
        if not self._crossed_low(result.coin_type, free_left):
            return result
        log_event(
            log,
            logging.WARNING,
            "deposit address pool running low",
            watch=True,
            coin_type=result.coin_type,
            remaining=free_left,
            threshold=self.low_threshold(result.coin_type),
        )
        return result

    def low_threshold(self, coin_type: str) -> int:
        """The free addresses of `coin_type` below which its pool is low (0: never low)."""
        if coin_type in self.hd_chains:
            return 0  # derived from an xpub: never runs out
        return self.pool_low_warning.get(coin_type, POOL_LOW)

    def _crossed_low(self, coin_type: str, free_left: int) -> bool:
        """True once when `coin_type`'s pool goes below its threshold; again only after it
        has been seen at or above it (after a refill and restart)."""
        with self._low_lock:
            if free_left >= self.low_threshold(coin_type):
                self._low_warned.discard(coin_type)
                return False
            if coin_type in self._low_warned:
                return False
            self._low_warned.add(coin_type)
            return True

    def _bind_in(self, conn: Connection, request: BindRequest, now: int) -> tuple[BindResult, int]:
        """Take a free address and record the binding; also how many free ones are left.

        Refuses (BindError) only before writing anything, as GroupCommit requires.
        """
        if self.hd_chains:  # first: see lock_chains (PostgreSQL lock order)
            lock_chains(conn, [c.key_id for c in self.hd_chains.values()])
        lock_sky_address(conn, request.sky_address)
        bound = count_bindings(conn, request.sky_address) if self.max_bound_addrs > 0 else 0
        if self.max_bound_addrs > 0 and bound >= self.max_bound_addrs:
            raise BindError(ERR_MAX_BOUND)
        chain = self.hd_chains.get(request.coin_type)
        if chain is not None:
            # The next index is taken in this transaction: rolled back with a failed bind.
            deposit_address = take_hd_address(
                conn, chain.key_id, request.coin_type, chain.address, now
            )
        else:
            deposit_address = take_free_address(conn, request.coin_type, now)
        if deposit_address is None:
            log_event(
                log,
                logging.ERROR,
                "deposit address pool is empty: add addresses",
                watch=True,
                coin_type=request.coin_type,
            )
            raise BindError(ERR_POOL_EMPTY)
        binding = insert_binding(
            conn,
            coin_type=request.coin_type,
            deposit_address=deposit_address,
            sky_address=request.sky_address,
            buy_method=self.buy_method,
            now=now,
        )
        threshold = self.low_threshold(request.coin_type)
        if chain is not None or threshold <= 0:
            free_left = threshold  # an HD chain never runs low; 0: no warning asked for
        else:
            free_left = free_count_up_to(conn, request.coin_type, threshold)
        handed_out = handed_out_address(request.coin_type, deposit_address)
        events.binding_created(conn, binding, handed_out, now)
        # Counted under the SKY address's lock, with this binding: exact when answered.
        left = self.max_bound_addrs - bound - 1 if self.max_bound_addrs > 0 else -1
        return BindResult(handed_out, request.coin_type, self.buy_method, left), free_left


def handed_out_address(coin_type: str, stored: str) -> str:
    """The form of a deposit address given to the buyer: ETH in EIP-55 mixed case.

    The store keeps ETH addresses lower-cased, as the ETH scanner reports recipients, so
    deposits match whatever case the buyer's wallet sends to. The buyer gets the checksummed
    form: an entry written in EIP-55 case comes back exactly as written, and an all-lower or
    all-upper entry gains the checksum, so the buyer's wallet can catch a mistyped address.
    """
    if coin_type == "ETH":
        return eth.checksum_address(stored)
    return stored
