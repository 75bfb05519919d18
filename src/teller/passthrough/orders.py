"""The passthrough processor: buys the SKY for each BTC deposit on the exchange, then hands it
to the sender (DESIGN.md §3, seeds/passthrough-design.txt).

    waiting_decide ─► waiting_passthrough ⇄ waiting_passthrough_order_complete ─► waiting_send
                            └──────────── done (too small, refused, failed) ◄────┘

1. decide: a BTC deposit below `btc_minimum_volume` ends `done` with the reason (never sent to
   the exchange); the others get `requested_amount` and go to waiting_passthrough.
2. buy, one order at a time for the whole account: check the spendable BTC (a deposit that
   needs more waits, logged and shown in /api/health, without holding back a smaller one),
   read the book and plan an order on the cheapest ask (passthrough/plan.py), then
3. place it: the order's row, with a client id derived from the deposit id, is committed
   (and the deposit moved to waiting_passthrough_order_complete) BEFORE the order is sent.
   After a crash at any point the order is looked up on the exchange by that client id
   before anything is placed again, and a client id can never be used twice on the exchange,
   so no order is ever placed twice;
4. follow it: once it has had `check_order_wait` to fill, what has not filled is cancelled;
   when the exchange reports it final, its fills are recorded in the transaction that adds
   them to the deposit (a compare-and-set on the order's state: fills are recorded once)
   and the deposit goes back to waiting_passthrough, to buy with what is left;
5. finish: when what is left cannot buy the exchange's minimum, the deposit moves to
   waiting_send, owed the SKY bought (`sky_due`), which the sender pays exactly once.

An order the exchange reports expired or errored ends the deposit `done` with an error and
notice=WATCH, what it bought so far recorded; an order the exchange refuses (below its
minimum) ends the buying: the SKY bought so far is paid, or, if none, the deposit ends `done`.
Temporary trouble (network, 5xx, garbage, rate limit, short balance, empty book) changes
nothing stored; it is shown in /api/health as processor_error and retried after
`request_failure_wait` (`ratelimit_wait` when rate limited). Refused credentials halt the
buying with notice=WATCH until the operator fixes the key; no deposit is touched.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, localcontext
from typing import Any

from sqlalchemy import Connection

from teller.clients.market import Market, OrderBook, OrderInfo, OrderState
from teller.clock import unix_now
from teller.config.schema import Config
from teller.deposits import states
from teller.deposits.health import StatusBoard
from teller.errors import (
    BelowExchangeMinimum,
    ClientIdTaken,
    CredentialsRefused,
    InternalError,
    MarketError,
    MarketRateLimited,
    MarketRefused,
    MarketTemporary,
)
from teller.logs import log_event, log_once
from teller.money import format_droplets, plain_decimal
from teller.passthrough.plan import (
    budget_charge,
    buying_price,
    is_dust,
    next_order,
    payable_droplets,
    price_cap,
    requested_btc,
    satoshis_spent,
    sky_bought_droplets,
)
from teller.store import orders as order_store
from teller.store.db import Database
from teller.store.deposits import deposits_by_status, get_deposit, update_deposit
from teller.store.models import Deposit, ExchangeOrder
from teller.store.worker_role import Fenced
from teller.worker import Waker

log = logging.getLogger("teller.passthrough")

BATCH = 200
IDLE_SECONDS = 5.0
CREDENTIALS_WAIT_SECONDS = 60.0
_IN_PROGRESS = (states.WAITING_PASSTHROUGH_ORDER_COMPLETE, states.WAITING_PASSTHROUGH)


@dataclass(frozen=True)
class Wait:
    """How long the processor waits before its next step, and why (shown in /api/health)."""

    seconds: float
    problem: str = ""


def client_id_for(deposit_id: str, number: int) -> str:
    """The client id of a deposit's `number`-th order: unique per order, derived from the
    deposit id (the Go teller used the bare deposit id for its one order)."""
    return f"{deposit_id}/{number}"


def below_minimum_error(satoshis: int, minimum: Decimal) -> str:
    btc = plain_decimal(Decimal(satoshis).scaleb(-8))
    return (
        f"deposit of {btc} BTC is below the passthrough minimum of {plain_decimal(minimum)} BTC"
        " (sky_exchanger.exchange_client.btc_minimum_volume): not sent to the exchange, not paid"
    )


def _exact() -> Any:
    return localcontext(prec=80)


class PassthroughProcessor:
    def __init__(
        self,
        db: Database,
        config: Config,
        board: StatusBoard,
        market: Market,
        sender_waker: Waker,
        waker: Waker | None = None,
    ) -> None:
        self.db = db
        self.config = config
        self.board = board
        self.market = market
        self.sender_waker = sender_waker
        self.waker = waker or Waker()
        client = config.sky_exchanger.exchange_client
        self.check_order_wait = client.check_order_wait.total_seconds()
        self.failure_wait = client.request_failure_wait.total_seconds()
        self.ratelimit_wait = client.ratelimit_wait.total_seconds()
        self.minimum = client.btc_minimum_volume
        self._seen_open: dict[str, float] = {}  # client id → when this process saw it open
        self._cancel_sent: dict[str, float] = {}  # client id → when its cancel was first sent
        self._cancel_resent: dict[str, float] = {}  # … and last sent
        # A cancel the exchange accepted but that has not ended the order is sent again.
        self.recancel_after = max(10 * self.check_order_wait, 1.0)
        self._reported: set[str] = set()  # warnings already logged (once each, not per round)
        # The least BTC an order must cost, as the exchange's last "limit value: <min>" refusal
        # told (C2CX's minimum is variable and not published); 0 until then, and after a start.
        self._min_cost = Decimal(0)

    async def run(self) -> None:
        """Step until cancelled. A step never raises for exchange trouble: it says how long
        to wait; anything else (a bug, the store down) is logged and retried."""
        while True:
            try:
                wait = await self.step()
            except (asyncio.CancelledError, Fenced):
                raise  # Fenced: the worker role is lost, the stages stop
            except Exception:
                log.exception("passthrough step failed; retrying in %.1fs", self.failure_wait)
                wait = Wait(self.failure_wait, "passthrough step failed (see the log)")
            self.board.processor_error = wait.problem
            if wait.seconds > 0:
                await self.waker.wait(wait.seconds)

    async def step(self) -> Wait:
        """Decide new deposits, then take one buying step for the account."""
        await asyncio.to_thread(self._decide_batch)
        try:
            wait = await self._buy_step()
        except MarketRateLimited as exc:
            log_once(
                self._reported,
                "ratelimit",
                log,
                logging.WARNING,
                "exchange rate limit: waiting",
                error=exc,
            )
            return Wait(exc.wait_seconds(self.ratelimit_wait), f"exchange: {exc}")
        except CredentialsRefused as exc:
            log_once(
                self._reported,
                "credentials",
                log,
                logging.WARNING,
                "the exchange refuses teller's API key or signature: buying halted; check"
                " sky_exchanger.exchange_client.key and .secret",
                error=exc,
                watch=True,
            )
            return Wait(max(CREDENTIALS_WAIT_SECONDS, self.failure_wait), f"exchange: {exc}")
        except MarketError as exc:
            # Temporary, or a refusal where none is expected (e.g. "limit value" from
            # getorderinfo): nothing was changed; retried.
            log_event(log, logging.WARNING, "exchange unavailable; will retry", error=exc)
            return Wait(self.failure_wait, f"exchange: {exc}")
        self._reported -= {"ratelimit", "credentials"}  # the next outage is reported again
        return wait

    # -- 1. decide ------------------------------------------------------------------------

    def _decide_batch(self) -> int:
        """waiting_decide → waiting_passthrough (or done when too small), in one transaction."""
        moves: list[tuple[Deposit, str, dict[str, Any]]] = []
        with self.db.write() as conn:
            waiting = deposits_by_status(
                conn, states.WAITING_DECIDE, BATCH, buy_method=states.BUY_PASSTHROUGH
            )
            rate = self.config.sky_exchanger.rate_for("BTC")
            for deposit in waiting:
                values: dict[str, Any] = {"conversion_rate": rate}
                if deposit.coin_type != "BTC":
                    values["error"] = (
                        f"passthrough buys with BTC only: this {deposit.coin_type} deposit is"
                        " not bought and not paid"
                    )
                    moves.append((deposit, states.DONE, values))
                    continue
                requested = requested_btc(deposit.value, self.market.rules)
                if Decimal(deposit.value).scaleb(-8) < self.minimum or requested <= 0:
                    values["error"] = below_minimum_error(
                        deposit.value, max(self.minimum, _smallest_btc(self.market))
                    )
                    moves.append((deposit, states.DONE, values))
                    continue
                values.update(
                    exchange_name=self.market.name, requested_amount=plain_decimal(requested)
                )
                moves.append((deposit, states.WAITING_PASSTHROUGH, values))
            states.move_each(conn, moves, unix_now())
        for deposit, new_status, values in moves:
            if new_status == states.DONE:
                log_event(
                    log,
                    logging.WARNING,
                    "deposit will not be bought",
                    watch=True,
                    deposit_id=deposit.deposit_id,
                    error=values["error"],
                )
            else:
                log_event(
                    log,
                    logging.INFO,
                    "deposit decided: passthrough",
                    deposit_id=deposit.deposit_id,
                    requested_btc=values["requested_amount"],
                )
        return len(moves)

    # -- 2. one buying step ---------------------------------------------------------------

    def _read_in_progress(self) -> list[tuple[Deposit, list[ExchangeOrder]]]:
        with self.db.read() as conn:
            found: list[Deposit] = []
            for status in _IN_PROGRESS:
                found += deposits_by_status(conn, status, BATCH, buy_method=states.BUY_PASSTHROUGH)
            orders = order_store.orders_in(conn, [d.deposit_id for d in found])
        return [(d, orders[d.deposit_id]) for d in found]

    async def _buy_step(self) -> Wait:
        work = await asyncio.to_thread(self._read_in_progress)
        if not work:
            return Wait(IDLE_SECONDS)
        # A Go teller's order (a client id, no order row yet) is recorded before anything.
        for deposit, orders in work:
            if deposit.order_customer_id and not orders:
                return await self._adopt_imported(deposit)
        # An order already on its way comes next: one order at a time for the account.
        for deposit, orders in work:
            if deposit.status == states.WAITING_PASSTHROUGH_ORDER_COMPLETE:
                return await self._follow(deposit, orders)
        return await self._start_next_order(work)

    async def _start_next_order(self, work: list[tuple[Deposit, list[ExchangeOrder]]]) -> Wait:
        book = await self.market.order_book()
        spendable: Decimal | None = None
        short: list[tuple[Deposit, Decimal]] = []
        # Deposits already part-bought first (the BTC they still need was there for them),
        # then the rest oldest first.
        ordered = sorted(work, key=lambda item: (not item[1], item[0].seq))
        for deposit, orders in ordered:
            left = self._budget_left(deposit, orders)
            dearer = self._above_price_cap(deposit, orders, book, left)
            if dearer is not None:
                # Every deposit waits: another one would buy those dear asks in its place.
                return dearer
            rules, min_cost = self.market.rules, self._min_cost
            order = next_order(book.asks, left, rules, min_cost)
            if order is None:
                if left >= min_cost and buying_price(book.asks, rules, min_cost) is None:
                    return Wait(self.failure_wait, "exchange: the order book has no asks to buy")
                await asyncio.to_thread(self._finish, deposit, left)
                return Wait(0)
            if spendable is None:
                spendable = await self.market.spendable_btc()
            # The whole of what the deposit still needs must be there, not only this
            # order's cost: a deposit is not started on BTC that cannot finish it.
            if left > spendable:
                short.append((deposit, left))
                continue
            await self._place_new(deposit, orders, order.price, order.volume)
            return Wait(0)
        deposit, left = short[0]
        log_once(
            self._reported,
            deposit.deposit_id,
            log,
            logging.WARNING,
            "deposit waits: exchange balance too low",
            deposit_id=deposit.deposit_id,
            needs_btc=plain_decimal(left),
            spendable_btc=plain_decimal(spendable or Decimal(0)),
        )
        # Public (/api/health): the amount waited for; the account's balance goes to the log.
        return Wait(
            self.failure_wait,
            f"exchange balance is insufficient: a waiting deposit needs {plain_decimal(left)} BTC",
        )

    def _above_price_cap(
        self, deposit: Deposit, orders: list[ExchangeOrder], book: OrderBook, left: Decimal
    ) -> Wait | None:
        """A wait when a part-bought deposit's next order would cost more per SKY than its
        first fill raised by max_price_rise (a thin book walked up), else None. What is left
        is dust (kept, as ever) only if it could not buy the minimum even at that cap."""
        first = _first_fill_price(orders)
        if first is None:
            return None
        cap = price_cap(first, self.config.sky_exchanger.exchange_client.max_price_rise)
        price = buying_price(book.asks, self.market.rules, self._min_cost)
        if cap is None or price is None or price <= cap:
            return None
        if is_dust(left, cap, self.market.rules, self._min_cost):
            return None  # next_order finds nothing it can buy here: the deposit is finished
        log_once(
            self._reported,
            f"price:{deposit.deposit_id}",
            log,
            logging.WARNING,
            "deposit waits: the cheapest ask is above its price limit",
            watch=True,
            deposit_id=deposit.deposit_id,
            ask=plain_decimal(price),
            first_fill=plain_decimal(first),
            limit=plain_decimal(cap),
            btc_left=plain_decimal(left),
        )
        return Wait(
            self.failure_wait,
            f"exchange: the cheapest ask ({plain_decimal(price)} BTC/SKY) is above the limit"
            f" of {plain_decimal(cap)} (first fill {plain_decimal(first)} + max_price_rise)"
            f" for a deposit with {plain_decimal(left)} BTC left to buy: waiting for cheaper asks",
        )

    def _budget_left(self, deposit: Deposit, orders: list[ExchangeOrder]) -> Decimal:
        """The deposit's BTC not yet charged to a final order."""
        requested = Decimal(deposit.requested_amount or "0")
        with _exact():
            charged = sum((Decimal(o.btc_spent) for o in orders if o.btc_spent), Decimal(0))
            return requested - charged

    # -- 3. place ---------------------------------------------------------------------------

    async def _place_new(
        self, deposit: Deposit, orders: list[ExchangeOrder], price: Decimal, volume: Decimal
    ) -> None:
        number = max((o.number for o in orders), default=0) + 1
        order = await asyncio.to_thread(self._store_new_order, deposit, number, price, volume)
        log_event(
            log,
            logging.INFO,
            "placing exchange order",
            deposit_id=deposit.deposit_id,
            client_id=order.client_id,
            price=order.price,
            volume=order.volume,
        )
        await self._place(deposit.deposit_id, order)

    def _store_new_order(
        self, deposit: Deposit, number: int, price: Decimal, volume: Decimal
    ) -> ExchangeOrder:
        """Commit the order (state placing) and move its deposit, BEFORE anything is sent:
        after a crash from here on, the order is looked up by its client id first."""
        client_id = client_id_for(deposit.deposit_id, number)
        with self.db.write() as conn:
            now = unix_now()
            order = order_store.insert_order(
                conn,
                client_id=client_id,
                deposit_id=deposit.deposit_id,
                number=number,
                exchange=self.market.name,
                kind=order_store.LIMIT_BUY,
                price=plain_decimal(price),
                volume=plain_decimal(volume),
                now=now,
            )
            states.move(
                conn,
                deposit,
                states.WAITING_PASSTHROUGH_ORDER_COMPLETE,
                now,
                order_customer_id=client_id,
                order_id="",
                order_status="",
            )
        return order

    async def _place(self, deposit_id: str, order: ExchangeOrder, *, resend: bool = False) -> None:
        """Send a stored order. A failure that may have placed it leaves it `placing`: the
        next step looks it up by its client id before sending it again (`resend`)."""
        try:
            order_id = await self.market.place_limit_buy(
                Decimal(order.price), Decimal(order.volume), order.client_id
            )
        except ClientIdTaken:
            # Placed before (its answer lost): find it under its client id.
            found = await self.market.find_by_client_id(order.client_id)
            if found is None:
                raise MarketTemporary(
                    f"the exchange says client id {order.client_id} was used, but lists no"
                    " order under it yet"
                ) from None
            order_id = found.order_id
        except CredentialsRefused:
            raise
        except MarketRefused as exc:
            found = await self.market.find_by_client_id(order.client_id) if resend else None
            if found is None:
                minimum = exc.minimum if isinstance(exc, BelowExchangeMinimum) else None
                if await asyncio.to_thread(self._refused, deposit_id, order, str(exc), minimum):
                    assert minimum is not None
                    self._min_cost = max(self._min_cost, minimum)
                return
            # Refused now, but an earlier send of it is on the exchange (its answer was
            # lost and the look-up before this send missed it): that order is followed.
            order_id = found.order_id
        await asyncio.to_thread(self._record_open, deposit_id, order, order_id)
        log_event(
            log,
            logging.INFO,
            "exchange order placed",
            deposit_id=deposit_id,
            client_id=order.client_id,
            order_id=order_id,
        )

    def _record_open(self, deposit_id: str, order: ExchangeOrder, order_id: str) -> ExchangeOrder:
        """The exchange's id of a placed order, on the order and its deposit."""
        with self.db.write() as conn:
            now = unix_now()
            order_store.update_order(
                conn,
                order.client_id,
                order_store.PLACING,
                now,
                order_id=order_id,
                state=order_store.OPEN,
            )
            deposit = get_deposit(conn, deposit_id)
            assert deposit is not None
            # No status change: the deposit stays waiting_passthrough_order_complete.
            update_deposit(conn, deposit_id, deposit.status, now, order_id=order_id)
            opened = order_store.get_order(conn, order.client_id)
        assert opened is not None
        return opened

    def _refused(
        self, deposit_id: str, order: ExchangeOrder, error: str, minimum: Decimal | None
    ) -> bool:
        """The exchange will never take this order. Below its variable minimum of `minimum`
        BTC (more than the order cost) with at least that left: the order is refused and the
        deposit buys on with larger orders (True). Otherwise the buying of this deposit is
        over: the SKY bought so far is paid; if none, it ends (False)."""
        with self.db.write() as conn:
            now = unix_now()
            order_store.update_order(
                conn, order.client_id, order.state, now, state=order_store.REFUSED, error=error
            )
            deposit = get_deposit(conn, deposit_id)
            assert deposit is not None
            orders = order_store.orders_of(conn, deposit_id)
            # One transaction: the order refused and its deposit moved on together.
            buys_on = minimum is not None and self._buys_on_above(minimum, deposit, orders, order)
            due = 0
            if buys_on:
                # Nothing was bought by the refused order: the deposit plans its next one.
                states.move(conn, deposit, states.WAITING_PASSTHROUGH, now)
            else:
                due = self._stop_buying(conn, deposit, orders, error, now)
        if buys_on:
            log_event(
                log,
                logging.WARNING,
                "order below the exchange's minimum: planning larger orders",
                deposit_id=deposit_id,
                client_id=order.client_id,
                minimum_btc=plain_decimal(minimum or Decimal(0)),
            )
            return True
        log_event(
            log,
            logging.WARNING,
            "exchange refused an order: buying of this deposit stops",
            watch=True,
            deposit_id=deposit_id,
            client_id=order.client_id,
            error=error,
            paying_droplets=due,
        )
        if due > 0:
            self.sender_waker.wake()
        return False

    def _stop_buying(
        self, conn: Connection, deposit: Deposit, orders: list[ExchangeOrder], error: str, now: int
    ) -> int:
        """After a refusal, in its transaction: the deposit is owed what it bought (its
        droplets, returned), or ends if that is nothing (0 returned)."""
        bought = sum(o.sky_bought for o in orders)
        due = payable_droplets(bought, self.config.sky_exchanger.max_decimals)
        if due > 0:
            states.move(
                conn,
                deposit,
                states.WAITING_SEND,
                now,
                sky_due=due,
                order_final=True,
                order_status="refused",
            )
        else:
            message = f"the exchange refused to buy for this deposit: {error}; not paid"
            states.move(
                conn,
                deposit,
                states.DONE,
                now,
                error=message,
                order_final=True,
                order_status="refused",
            )
        return due

    def _buys_on_above(
        self,
        minimum: Decimal,
        deposit: Deposit,
        orders: list[ExchangeOrder],
        refused: ExchangeOrder,
    ) -> bool:
        """The refused order cost less than the exchange's stated minimum (so a larger order
        may be taken; one costing as much was refused for another reason) and the deposit
        still has that minimum to spend."""
        with _exact():
            cost = Decimal(refused.price) * Decimal(refused.volume)
        return cost < minimum <= self._budget_left(deposit, orders)

    # -- 4. follow ------------------------------------------------------------------------

    async def _follow(self, deposit: Deposit, orders: list[ExchangeOrder]) -> Wait:
        unresolved = [o for o in orders if o.state in order_store.UNRESOLVED]
        if not unresolved:
            # The deposit was moved with its order, so this cannot happen but by hand.
            raise InternalError(f"deposit {deposit.deposit_id} waits for an order it has not")
        order = unresolved[0]
        if order.state == order_store.PLACING:
            found = await self.market.find_by_client_id(order.client_id)
            if found is None:
                if order.kind == order_store.IMPORTED:
                    await asyncio.to_thread(self._imported_absent, deposit, order)
                    return Wait(0)
                log_event(
                    log,
                    logging.INFO,
                    "exchange order not found under its client id: placing it",
                    deposit_id=deposit.deposit_id,
                    client_id=order.client_id,
                )
                await self._place(deposit.deposit_id, order, resend=True)
                return Wait(0)
            log_event(
                log,
                logging.INFO,
                "exchange order found under its client id",
                deposit_id=deposit.deposit_id,
                client_id=order.client_id,
                order_id=found.order_id,
            )
            opened = await asyncio.to_thread(
                self._record_open, deposit.deposit_id, order, found.order_id
            )
            return await self._judge(deposit.deposit_id, opened, found)
        info = await self.market.order(order.order_id)
        if info.client_id is not None and info.client_id != order.client_id:
            raise MarketTemporary(
                f"the exchange's order {order.order_id} carries client id {info.client_id},"
                f" not {order.client_id}"
            )
        if order.kind == order_store.LIMIT_BUY and (
            info.price != Decimal(order.price) or info.amount != Decimal(order.volume)
        ):
            # Without a client id in the answer, the price and volume say whose order it is:
            # another order's fills (one placed by hand, say) are never booked as this one's.
            raise MarketTemporary(
                f"the exchange's order {order.order_id} is {plain_decimal(info.amount)} SKY at"
                f" {plain_decimal(info.price)}, not the {order.volume} at {order.price} placed"
                f" as {order.client_id}"
            )
        return await self._judge(deposit.deposit_id, order, info)

    async def _judge(self, deposit_id: str, order: ExchangeOrder, info: OrderInfo) -> Wait:
        if info.state is OrderState.OPEN:
            now = time.monotonic()
            first_seen = self._seen_open.setdefault(order.client_id, now)
            if now - first_seen < self.check_order_wait:
                return Wait(self.check_order_wait)
            first = self._cancel_sent.get(order.client_id)
            if order.state == order_store.CANCELLING and first is None:
                first = self._cancel_sent[order.client_id] = now  # cancelled before a restart
            last = self._cancel_resent.get(order.client_id, first)
            refusal = ""
            if last is None or now - last >= self.recancel_after:
                # Not filled in time: cancel the rest. A cancel the exchange accepted but
                # that has not ended the order is sent again.
                refusal = await self._cancel(deposit_id, order)
                self._cancel_sent.setdefault(order.client_id, now)
                self._cancel_resent[order.client_id] = now
            if first is not None and now - first >= self.recancel_after:
                problem = (
                    f"exchange: order {order.order_id} is not cancelled yet"
                    f" ({int(now - first)} s after the cancel was sent)"
                )
                return Wait(self.check_order_wait, problem + (f": {refusal}" if refusal else ""))
            return Wait(self.check_order_wait)
        for times in (self._seen_open, self._cancel_sent, self._cancel_resent):
            times.pop(order.client_id, None)
        await asyncio.to_thread(self._record_final, deposit_id, order.client_id, info)
        return Wait(0)

    async def _cancel(self, deposit_id: str, order: ExchangeOrder) -> str:
        """Ask the exchange to cancel `order`; "" once accepted, else its refusal."""
        try:
            await self.market.cancel(order.order_id)
        except (MarketRateLimited, CredentialsRefused):
            raise
        except MarketError as exc:
            # Refused or not answered (it may have completed meanwhile): the next look at
            # the order tells; the cancel is sent again after recancel_after.
            log_event(log, logging.INFO, "cancel refused", client_id=order.client_id, error=exc)
            return str(exc)
        await asyncio.to_thread(self._record_cancelling, order)
        log_event(
            log,
            logging.INFO,
            "exchange order not filled in time: cancelled the rest",
            deposit_id=deposit_id,
            client_id=order.client_id,
            order_id=order.order_id,
        )
        return ""

    def _record_cancelling(self, order: ExchangeOrder) -> None:
        with self.db.write() as conn:
            current = order_store.get_order(conn, order.client_id)
            if current is not None and current.state == order_store.OPEN:
                order_store.update_order(
                    conn,
                    order.client_id,
                    order_store.OPEN,
                    unix_now(),
                    state=order_store.CANCELLING,
                )

    def _record_final(self, deposit_id: str, client_id: str, info: OrderInfo) -> None:
        """Book a final order's fills on the order and its deposit, in one transaction.

        The compare-and-set on the order's state makes this happen once: a second look at
        the same final order (a crash before this commit, then a restart) finds it recorded
        or records it now, never twice. The deposit goes back to waiting_passthrough to buy
        with what is left, or ends when the exchange failed the order.
        """
        failed = info.state is OrderState.FAILED
        with self.db.write() as conn:
            now = unix_now()
            order = order_store.get_order(conn, client_id)
            if order is None or order.state not in order_store.UNRESOLVED:
                return  # recorded by an earlier round
            if order.volume and info.completed_amount > Decimal(order.volume):
                raise MarketTemporary(
                    f"the exchange reports {plain_decimal(info.completed_amount)} SKY filled on"
                    f" order {info.order_id}, which asked for {order.volume}: not recorded"
                )
            deposit = get_deposit(conn, deposit_id)
            assert deposit is not None
            if order.kind == order_store.IMPORTED:
                # The Go teller's market buy spent the deposit's whole requested amount.
                charge = Decimal(deposit.requested_amount or "0")
            else:
                limit = Decimal(order.price)
                charge = budget_charge(info.completed_amount, limit, info.avg_price)
                if info.avg_price > limit:
                    # A limit buy cannot fill dearer: charged at the average all the same, so
                    # the deposit never spends more than it brought; the operator is told.
                    log_event(
                        log,
                        logging.WARNING,
                        "exchange reports fills dearer than the order's limit",
                        watch=True,
                        deposit_id=deposit_id,
                        client_id=client_id,
                        limit=plain_decimal(limit),
                        avg_price=plain_decimal(info.avg_price),
                    )
            bought = sky_bought_droplets(info.completed_amount, info.fee)
            order_store.update_order(
                conn,
                client_id,
                order.state,
                now,
                order_id=info.order_id,
                state=order_store.FAILED if failed else order_store.FILLED,
                exchange_status=info.status_name,
                completed_amount=plain_decimal(info.completed_amount),
                avg_price=plain_decimal(info.avg_price),
                fee=plain_decimal(info.fee),
                btc_spent=plain_decimal(charge),
                sky_bought=bought,
                original=info.original,
            )
            orders = order_store.orders_of(conn, deposit_id)
            values = deposit_totals(orders)
            values.update(order_status=info.status_name, order_original=info.original)
            if failed:
                values["order_final"] = True
                values["error"] = (
                    f"exchange order {info.order_id} ({client_id}) {info.status_name}: bought"
                    f" {values['order_completed_amount']} SKY for this deposit so far; not paid"
                    " (settle it by hand)"
                )
                states.move(conn, deposit, states.DONE, now, **values)
            else:
                states.move(conn, deposit, states.WAITING_PASSTHROUGH, now, **values)
        log_event(
            log,
            logging.ERROR if failed else logging.INFO,
            "exchange order failed: deposit stopped" if failed else "exchange order recorded",
            watch=failed,
            deposit_id=deposit_id,
            client_id=client_id,
            order_id=info.order_id,
            status=info.status_name,
            completed=plain_decimal(info.completed_amount),
            sky_droplets=bought,
        )

    # -- 5. finish --------------------------------------------------------------------------

    def _finish(self, deposit: Deposit, left: Decimal) -> None:
        """What is left cannot buy the exchange's minimum: the deposit is bought."""
        max_decimals = self.config.sky_exchanger.max_decimals
        due = payable_droplets(deposit.sky_bought, max_decimals)
        with self.db.write() as conn:
            now = unix_now()
            if due > 0:
                states.move(conn, deposit, states.WAITING_SEND, now, sky_due=due, order_final=True)
            else:
                error = (
                    states.ERR_SEND_AMOUNT_ZERO
                    if deposit.sky_bought
                    else f"{deposit.requested_amount} BTC cannot buy the exchange's minimum"
                    f" order of {plain_decimal(self.market.rules.min_volume)} SKY; not paid"
                )
                states.move(conn, deposit, states.DONE, now, error=error, order_final=True)
        if due > 0:
            log_event(
                log,
                logging.INFO,
                "deposit bought: to be paid",
                deposit_id=deposit.deposit_id,
                sky=format_droplets(due),
                btc_left=plain_decimal(left),
            )
            self.sender_waker.wake()
        else:
            log_event(
                log,
                logging.WARNING,
                "deposit bought nothing payable",
                watch=True,
                deposit_id=deposit.deposit_id,
                btc_left=plain_decimal(left),
            )

    # -- deposits of the Go teller ----------------------------------------------------------

    async def _adopt_imported(self, deposit: Deposit) -> Wait:
        """A passthrough deposit imported from the Go teller, which used the bare deposit id
        as the client id of its one market order: record that order so that it is looked up
        (and its fills booked) before teller places any order of its own."""
        await asyncio.to_thread(self._store_imported_order, deposit)
        return Wait(0)

    def _store_imported_order(self, deposit: Deposit) -> None:
        with self.db.write() as conn:
            now = unix_now()
            state = order_store.OPEN if deposit.order_id else order_store.PLACING
            order_store.insert_order(
                conn,
                client_id=deposit.order_customer_id,
                deposit_id=deposit.deposit_id,
                number=0,
                exchange=deposit.exchange_name or self.market.name,
                kind=order_store.IMPORTED,
                price="",
                volume="",
                now=now,
                order_id=deposit.order_id,
                state=state,
            )
            if deposit.status == states.WAITING_PASSTHROUGH:
                states.move(conn, deposit, states.WAITING_PASSTHROUGH_ORDER_COMPLETE, now)

    def _imported_absent(self, deposit: Deposit, order: ExchangeOrder) -> None:
        """The Go teller's order is not on the exchange's list. It may never have been
        placed, or the list may not show it: buying again under another client id could
        spend the deposit's BTC a second time, so the deposit stops for the operator."""
        error = (
            f"the Go teller's exchange order (client id {order.client_id}) is not on the"
            " exchange's order list: not bought again, not paid (check the exchange and"
            " settle it by hand)"
        )
        with self.db.write() as conn:
            now = unix_now()
            order_store.update_order(
                conn, order.client_id, order_store.PLACING, now, state=order_store.ABSENT
            )
            states.move(conn, deposit, states.DONE, now, error=error, order_final=True)
        log_event(
            log,
            logging.WARNING,
            "the Go teller's order is not on the exchange: deposit stopped",
            watch=True,
            deposit_id=deposit.deposit_id,
            client_id=order.client_id,
        )


def _smallest_btc(market: Market) -> Decimal:
    """The least BTC an order can spend: one unit of the pair's price precision."""
    return Decimal(1).scaleb(-market.rules.price_decimals)


def _first_fill_price(orders: list[ExchangeOrder]) -> Decimal | None:
    """The limit price of the deposit's first order that bought anything (None: none yet)."""
    for o in sorted(orders, key=lambda o: o.number):
        if o.state == order_store.FILLED and o.price and Decimal(o.completed_amount or "0") > 0:
            price = Decimal(o.price)
            if price > 0:
                return price
    return None


def deposit_totals(orders: list[ExchangeOrder]) -> dict[str, Any]:
    """The deposit's passthrough fields from its final orders (DepositInfo.passthrough)."""
    completed, paid, bought = Decimal(0), Decimal(0), 0
    with _exact():
        for o in orders:
            if o.state in (order_store.FILLED, order_store.FAILED):
                amount = Decimal(o.completed_amount or "0")
                completed += amount
                paid += amount * Decimal(o.avg_price or "0")
                bought += o.sky_bought
        price = (
            (paid / completed).quantize(Decimal("1e-8"), rounding=ROUND_DOWN)
            if completed
            else Decimal(0)
        )
    return {
        "sky_bought": bought,
        "deposit_value_spent": max(satoshis_spent(paid, Decimal(1)), 0),
        "order_completed_amount": plain_decimal(completed),
        "order_price": plain_decimal(price),
    }
