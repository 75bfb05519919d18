"""Binding: handing a buyer's SKY address a deposit address (POST /api/bind).

Checks run in the original's order with its messages; the address is taken from the pool
and the binding written in one transaction, so a failed bind never burns an address.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

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
# Below this many free addresses every bind tells the operator to refill the pool (WATCH).
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
        self._batcher = BindBatcher(self)

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
        """Check and bind one request in a transaction of its own."""
        [outcome] = self.bind_checked([self.check(raw_sky_address, raw_coin_type)])
        if isinstance(outcome, BindError):
            raise outcome
        return outcome

    async def bind_async(self, raw_sky_address: str, raw_coin_type: str) -> BindResult:
        """Check, then bind together with whatever other binds are waiting (group commit)."""
        request = self.check(raw_sky_address, raw_coin_type)
        return await self._batcher.submit(request)

    def bind_checked(self, requests: Sequence[BindRequest]) -> list[BindResult | BindError]:
        """Bind checked requests in ONE transaction: one commit (one fsync) for all of them.

        Each request runs in its own savepoint, so a refused one (pool empty, too many
        addresses) is rolled back alone; no answer is given before the commit, so an
        answered bind is durable, and a failed commit fails every request of the batch
        with nothing bound.
        """
        outcomes: list[BindResult | BindError] = []
        remaining: dict[str, int] = {}
        with self.db.write() as conn:
            now = unix_now()
            for request in requests:
                try:
                    with conn.begin_nested():
                        outcomes.append(self._bind_in(conn, request, now))
                except BindError as exc:
                    outcomes.append(exc)
            for coin_type in {r.coin_type for r in outcomes if isinstance(r, BindResult)}:
                remaining[coin_type] = free_count_up_to(conn, coin_type, POOL_LOW)
        for request, outcome in zip(requests, outcomes, strict=True):
            if isinstance(outcome, BindResult):
                log_event(
                    log,
                    logging.INFO,
                    "address bound",
                    coin_type=outcome.coin_type,
                    deposit_address=outcome.deposit_address,
                    sky_address=request.sky_address,
                )
        for coin_type, left in remaining.items():
            if left < POOL_LOW:
                log_event(
                    log,
                    logging.WARNING,
                    "deposit address pool running low",
                    watch=True,
                    coin_type=coin_type,
                    remaining=left,
                )
        return outcomes

    def _bind_in(self, conn: Connection, request: BindRequest, now: int) -> BindResult:
        lock_sky_address(conn, request.sky_address)
        if self.max_bound_addrs > 0 and (
            count_bindings(conn, request.sky_address) >= self.max_bound_addrs
        ):
            raise BindError(ERR_MAX_BOUND)
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
        insert_binding(
            conn,
            coin_type=request.coin_type,
            deposit_address=deposit_address,
            sky_address=request.sky_address,
            buy_method=self.buy_method,
            now=now,
        )
        return BindResult(deposit_address, request.coin_type, self.buy_method)


class BindBatcher:
    """Binds that arrive while a batch is being written wait for the next batch.

    No timer: a lone bind is written at once; under load each transaction carries every bind
    that arrived during the previous one, so one fsync serves many buyers.
    """

    def __init__(self, service: BindService, max_batch: int = 64) -> None:
        self.service = service
        self.max_batch = max_batch
        self._waiting: list[tuple[BindRequest, asyncio.Future[BindResult]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, request: BindRequest) -> BindResult:
        future: asyncio.Future[BindResult] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all(), name="bind writer")
        return await future

    async def _write_all(self) -> None:
        while self._waiting:
            batch = self._waiting[: self.max_batch]
            del self._waiting[: self.max_batch]
            try:
                outcomes = await asyncio.to_thread(
                    self.service.bind_checked, [request for request, _ in batch]
                )
            except Exception as exc:  # the commit failed: nothing of this batch is bound
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():
                    continue  # the client went away; its binding stands, like any other
                if isinstance(outcome, BindError):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
