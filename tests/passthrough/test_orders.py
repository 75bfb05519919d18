"""The passthrough processor (passthrough/orders.py) on a real SQLite store, buying on the
project's C2CX simulator over loopback HTTP: each deposit's BTC spent once, its fills
recorded once, through partial fills, cancels, short balances, rate limits, refusals,
failed orders, lost answers and restarts."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path

import pytest

from teller.clients.c2cx import C2CXClient
from teller.deposits import states
from teller.payout.dummy import DummyPayer
from teller.payout.sender import Sender
from teller.store import orders as order_store
from teller.store.db import Database
from teller.store.deposits import errored_deposits, update_deposit

from .rig import Rig, make_rig, passthrough_config

D = Decimal


@pytest.fixture
async def rig(sqlite_db: Database) -> AsyncIterator[Rig]:
    async with make_rig(sqlite_db, passthrough_config()) as made:
        yield made


def status_is(rig: Rig, deposit_id: str, *wanted: str) -> Callable[[], bool]:
    return lambda: rig.get(deposit_id).status in wanted


@pytest.fixture
async def rig_on_each_backend(db: Database) -> AsyncIterator[Rig]:
    """The rig on SQLite, then on PostgreSQL (the `db` fixture)."""
    async with make_rig(db, passthrough_config()) as made:
        yield made


async def test_a_deposit_is_bought_across_several_asks(rig_on_each_backend: Rig) -> None:
    rig = rig_on_each_backend
    deposit_id = rig.deposit(50_000_000, "aa")  # 0.5 BTC
    await rig.run_until(status_is(rig, deposit_id, states.WAITING_SEND))
    deposit = rig.get(deposit_id)
    # 50 at 0.002 (0.1) + 87 at 0.00201 (0.17487) + 111.45 at 0.00202 (0.225129).
    assert deposit.sky_bought == 248_450_000
    assert deposit.sky_due == 248_450_000  # already a multiple of 0.001 SKY
    assert deposit.exchange_name == "c2cx" and deposit.requested_amount == "0.5"
    assert deposit.order_final and deposit.order_status == "completed"
    assert deposit.deposit_value_spent == 49_999_900
    assert [o.client_id for o in rig.orders(deposit_id)] == [f"{deposit_id}/{n}" for n in (1, 2, 3)]
    trades = rig.trades_of(deposit_id)
    assert sum(v for v, _ in trades) == D("248.45")
    assert sum(b for _, b in trades) <= D("0.5")
    assert rig.sim.exchange.balance["btc"] == D("1") - sum(b for _, b in trades)


async def test_partial_fill_then_cancel_then_the_next_ask(rig: Rig) -> None:
    # Another trader takes 30 of the 50 SKY at 0.002 just before teller's order matches.
    await rig.control("switches", {"steal_next": "30"})
    deposit_id = rig.deposit(10_000_000, "pf")  # 0.1 BTC
    await rig.run_until(status_is(rig, deposit_id, states.WAITING_SEND))
    first, *rest = rig.orders(deposit_id)
    assert (first.volume, first.completed_amount, first.exchange_status) == (
        "50",
        "20",
        "cancelled",
    )
    assert first.btc_spent == "0.04"  # 20 × 0.002
    # 0.06 BTC left buys 29.85 at 0.00201.
    assert [(o.price, o.completed_amount) for o in rest] == [("0.00201", "29.85")]
    assert rig.get(deposit_id).sky_bought == 49_850_000
    assert sum(v for v, _ in rig.trades_of(deposit_id)) == D("49.85")


async def test_a_short_exchange_balance_waits_then_buys_once_refilled(rig: Rig) -> None:
    await rig.control("balance", {"btc": "0.1"})
    big = rig.deposit(50_000_000, "big")  # needs 0.5
    small = rig.deposit(1_000_000, "sml")  # needs 0.01: it goes first, not held back
    await rig.run_until(status_is(rig, small, states.WAITING_SEND))
    assert rig.get(big).status == states.WAITING_PASSTHROUGH
    waits = await rig.run_until(lambda: True)
    assert "exchange balance is insufficient" in waits[-1].problem
    assert rig.orders(big) == []  # nothing placed for it
    await rig.control("balance", {"btc": "5", "add": True})
    await rig.run_until(status_is(rig, big, states.WAITING_SEND))
    assert rig.board.processor_error == ""


async def test_rate_limited_requests_wait_and_place_nothing_twice(rig: Rig) -> None:
    await rig.control("fail", {"mode": "ratelimit", "count": 3, "endpoint": "createorder"})
    deposit_id = rig.deposit(20_000_000, "rl")
    waits = await rig.run_until(status_is(rig, deposit_id, states.WAITING_SEND))
    limited = [w for w in waits if "Too Many Requests" in w.problem]
    assert len(limited) >= 3 and all(w.seconds == pytest.approx(0.08) for w in limited)
    cids = [o.cid for o in rig.sim.exchange.orders.values()]
    assert len(cids) == len(set(cids)) == len(rig.orders(deposit_id))


@pytest.mark.parametrize(
    ("body", "retry_after", "seconds"),
    [("", "", 0.08), ("<html>slow down</html>", "", 0.08), ("", "5", 5.0), ("", "0", 0.08)],
    ids=["plain", "with-body", "retry-after", "retry-after-shorter"],
)
async def test_a_plain_http_429_is_a_rate_limit(
    rig: Rig, body: str, retry_after: str, seconds: float
) -> None:
    """A 429 from the exchange's front (not its JSON envelope) waits ratelimit_wait, or the
    longer Retry-After it names, and the deposit is bought once all the same."""
    await rig.control(
        "fail",
        {"mode": "http429", "count": 2, "endpoint": "createorder", "body": body}
        | ({"retry_after": retry_after} if retry_after else {}),
    )
    deposit_id = rig.deposit(20_000_000, "429")
    waits = await rig.run_until(status_is(rig, deposit_id, states.WAITING_SEND))
    limited = [w for w in waits if "code=429 message=Too Many Requests" in w.problem]
    assert len(limited) == 2
    assert all(w.seconds == pytest.approx(seconds) for w in limited)
    cids = [o.cid for o in rig.sim.exchange.orders.values()]
    assert len(cids) == len(set(cids)) == len(rig.orders(deposit_id))


async def test_an_answer_lost_after_the_order_was_placed(rig: Rig) -> None:
    """createorder is carried out but its answer never arrives: the order is found by its
    client id, never placed a second time."""
    await rig.control("fail", {"mode": "http500", "endpoint": "createorder", "after": True})
    deposit_id = rig.deposit(5_000_000, "lost")
    await rig.run_until(status_is(rig, deposit_id, states.WAITING_SEND))
    placed = [o.cid for o in rig.sim.exchange.orders.values()]
    assert placed == [f"{deposit_id}/1"]
    assert rig.get(deposit_id).sky_bought == 25_000_000  # 0.05 BTC at 0.002


async def test_a_restart_between_storing_and_placing_places_the_order_once(rig: Rig) -> None:
    """What a crash right after the order's commit and before its request leaves behind: an
    order stored as placing that the exchange has never seen. The restarted processor looks
    it up by its client id, does not find it, and places it, once."""
    deposit_id = rig.deposit(5_000_000, "crash")
    rig.processor._decide_batch()
    rig.processor._store_new_order(rig.get(deposit_id), 1, D("0.002"), D("10"))
    assert rig.sim.exchange.orders == {}
    rig.restarted()
    await rig.run_until(status_is(rig, deposit_id, states.WAITING_SEND))
    cids = [o.cid for o in rig.sim.exchange.orders.values()]
    assert cids == [f"{deposit_id}/1", f"{deposit_id}/2"]  # 10 SKY, then the 15 left
    assert rig.sim.requests["getorderbystatus"] == 1  # looked up once, after the restart
    assert rig.get(deposit_id).sky_bought == 25_000_000


async def test_below_the_minimum_volume_never_reaches_the_exchange(rig: Rig) -> None:
    deposit_id = rig.deposit(499_999, "tiny")  # 0.00499999 BTC < 0.005
    await rig.run_until(status_is(rig, deposit_id, states.DONE))
    deposit = rig.get(deposit_id)
    assert "below the passthrough minimum of 0.005 BTC" in deposit.error
    assert rig.sim.exchange.orders == {} and rig.sim.requests.get("createorder") is None
    with rig.db.read() as conn:
        assert [d.deposit_id for d in errored_deposits(conn)] == [deposit_id]


async def test_the_exchange_minimum_refuses_an_order(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    await rig.control("switches", {"min_btc": "1"})  # C2CX's minimum is variable
    deposit_id = rig.deposit(5_000_000, "min")
    with caplog.at_level(logging.WARNING):
        await rig.run_until(status_is(rig, deposit_id, states.DONE))
    deposit = rig.get(deposit_id)
    assert "limit value: 1" in deposit.error and deposit.sky_due == 0
    assert rig.orders(deposit_id)[0].state == order_store.REFUSED
    assert any(getattr(r, "notice", "") == "WATCH" for r in caplog.records)


async def test_a_refusal_after_some_fills_pays_what_was_bought(rig: Rig) -> None:
    deposit_id = rig.deposit(20_000_000, "part")  # 0.2 BTC: 50 at 0.002, then the next ask
    await rig.run_until(
        lambda: (
            len(rig.orders(deposit_id)) == 1
            and rig.get(deposit_id).status == states.WAITING_PASSTHROUGH
        )
    )
    await rig.control("switches", {"min_btc": "5"})
    await rig.run_until(status_is(rig, deposit_id, states.WAITING_SEND))
    deposit = rig.get(deposit_id)
    assert deposit.sky_due == deposit.sky_bought == 50_000_000
    assert rig.orders(deposit_id)[-1].state == order_store.REFUSED


async def test_an_expired_order_stops_the_deposit_with_what_was_bought(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    deposit_id = rig.deposit(20_000_000, "exp")
    await rig.run_until(
        lambda: (
            len(rig.orders(deposit_id)) == 1
            and rig.get(deposit_id).status == states.WAITING_PASSTHROUGH
        )
    )
    await rig.control("switches", {"expire_next": 1})
    with caplog.at_level(logging.WARNING):
        await rig.run_until(status_is(rig, deposit_id, states.DONE))
    [watch] = [r for r in caplog.records if getattr(r, "notice", "") == "WATCH"]
    assert watch.getMessage() == "exchange order failed: deposit stopped"
    deposit = rig.get(deposit_id)
    assert "expired" in deposit.error and deposit.sky_bought == 50_000_000
    assert deposit.sky_due == 0 and deposit.order_final
    assert [o.state for o in rig.orders(deposit_id)] == [order_store.FILLED, order_store.FAILED]


async def test_refused_credentials_halt_buying_and_touch_nothing(sqlite_db: Database) -> None:
    async with make_rig(sqlite_db, passthrough_config()) as rig:
        rig.processor.market = C2CXClient("k", "wrong", f"http://127.0.0.1:{rig.sim.port}/v1/")
        deposit_id = rig.deposit(5_000_000, "cred")
        wait = await rig.processor.step()
        assert "Invalid apiKey or sign" in wait.problem and wait.seconds >= 60
        assert rig.get(deposit_id).status == states.WAITING_PASSTHROUGH
        await rig.processor.market.aclose()


async def test_garbage_and_outages_change_nothing_stored(rig: Rig) -> None:
    deposit_id = rig.deposit(5_000_000, "junk")
    for mode in ("garbage", "http500", "bad_shape"):
        await rig.control("fail", {"mode": mode, "count": 1})
    waits = await rig.run_until(status_is(rig, deposit_id, states.WAITING_SEND))
    assert any("unexpected answer" in w.problem for w in waits)
    assert rig.get(deposit_id).sky_bought == 25_000_000


async def test_the_originals_example_end_to_end(sqlite_db: Database) -> None:
    """0.01 BTC against 3.45 SKY at 0.00201 and nothing affordable after it: the deposit's
    fields are those of the original's test (vectors passthrough_calc.json). The original had
    no price limit (max_price_rise 0); with teller's default see the tests below."""
    async with make_rig(sqlite_db, passthrough_config(max_price_rise="0")) as rig:
        await rig.control("book", {"asks": [["0.00201", "3.45"], ["1", "100"]]})
        deposit_id = rig.deposit(1_000_000, "e2e")
        await rig.run_until(status_is(rig, deposit_id, states.WAITING_SEND))
        deposit = rig.get(deposit_id)
        assert deposit.sky_bought == 3_450_000
        assert deposit.deposit_value_spent == 693_450
        assert (deposit.order_price, deposit.order_completed_amount) == ("0.00201", "3.45")
        assert (deposit.order_status, deposit.order_final) == ("completed", True)


async def test_a_fee_in_sky_is_not_paid_out(sqlite_db: Database) -> None:
    async with make_rig(sqlite_db, passthrough_config()) as rig:
        await rig.control("switches", {"fee_rate": "0.002"})
        deposit_id = rig.deposit(10_000_000, "fee")  # 50 SKY at 0.002
        await rig.run_until(status_is(rig, deposit_id, states.WAITING_SEND))
        deposit = rig.get(deposit_id)
        assert deposit.sky_bought == 49_900_000  # 50 − 0.1 fee
        assert rig.orders(deposit_id)[0].fee == "0.1"


async def test_an_empty_book_waits(rig: Rig) -> None:
    await rig.control("book", {"asks": []})
    deposit_id = rig.deposit(5_000_000, "empty")
    waits = await rig.run_until(lambda: True)
    assert "no asks" in waits[-1].problem
    assert rig.get(deposit_id).status == states.WAITING_PASSTHROUGH
    await rig.control("book", {"asks": [["0.002", "100"]]})
    await rig.run_until(status_is(rig, deposit_id, states.WAITING_SEND))


async def test_an_imported_go_teller_order_is_looked_up_first(rig: Rig) -> None:
    """The Go teller placed a market buy under the bare deposit id: teller books its fills
    and never buys that deposit's BTC again."""
    deposit_id = rig.deposit(2_000_000, "go")
    rig.processor._decide_batch()
    rig.sim.exchange.place(
        price_type="market", price=D(0), quantity=D("0.02"), cid=deposit_id, now=0
    )
    with rig.db.write() as conn:
        update_deposit(
            conn, deposit_id, states.WAITING_PASSTHROUGH, 2, order_customer_id=deposit_id
        )
    await rig.run_until(status_is(rig, deposit_id, states.WAITING_SEND))
    orders = rig.orders(deposit_id)
    assert [(o.kind, o.state) for o in orders] == [(order_store.IMPORTED, order_store.FILLED)]
    assert len(rig.sim.exchange.orders) == 1
    assert rig.get(deposit_id).sky_bought == 10_000_000  # 0.02 BTC at 0.002


async def test_an_imported_order_waiting_to_complete_is_followed(rig: Rig) -> None:
    """The Go teller recorded its order's id (waiting_passthrough_order_complete)."""
    deposit_id = rig.deposit(2_000_000, "go3")
    rig.processor._decide_batch()
    placed = rig.sim.exchange.place(
        price_type="market", price=D(0), quantity=D("0.02"), cid=deposit_id, now=0
    )
    with rig.db.write() as conn:
        update_deposit(
            conn,
            deposit_id,
            states.WAITING_PASSTHROUGH,
            2,
            status=states.WAITING_PASSTHROUGH_ORDER_COMPLETE,
            order_customer_id=deposit_id,
            order_id=str(placed.order_id),
        )
    await rig.run_until(status_is(rig, deposit_id, states.WAITING_SEND))
    [order] = rig.orders(deposit_id)
    assert (order.kind, order.state, order.order_id) == (
        order_store.IMPORTED,
        order_store.FILLED,
        str(placed.order_id),
    )
    assert rig.get(deposit_id).sky_bought == 10_000_000
    assert rig.sim.requests.get("getorderbystatus") is None  # its id was known: no look-up


async def test_an_imported_order_the_exchange_does_not_list_stops_the_deposit(rig: Rig) -> None:
    """Not found may mean never placed or not listed: buying again under another client id
    could spend the BTC twice, so the operator decides."""
    deposit_id = rig.deposit(2_000_000, "go2")
    rig.processor._decide_batch()
    with rig.db.write() as conn:
        update_deposit(
            conn, deposit_id, states.WAITING_PASSTHROUGH, 2, order_customer_id=deposit_id
        )
    await rig.run_until(status_is(rig, deposit_id, states.DONE))
    assert [o.state for o in rig.orders(deposit_id)] == [order_store.ABSENT]
    assert "not bought again, not paid" in rig.get(deposit_id).error
    assert rig.sim.exchange.orders == {}


async def test_a_cancel_that_does_not_end_the_order_is_sent_again_and_shown(
    sqlite_db: Database,
) -> None:
    async with make_rig(sqlite_db, passthrough_config()) as rig:
        await rig.control("switches", {"steal_next": "30", "cancel_delay": 1000})
        deposit_id = rig.deposit(10_000_000, "stuck")
        waits = await rig.run_until(
            lambda: "not cancelled yet" in rig.board.processor_error, steps=100
        )
        assert rig.sim.requests["cancelorder"] >= 2
        assert rig.get(deposit_id).status == states.WAITING_PASSTHROUGH_ORDER_COMPLETE
        assert waits[-1].seconds == pytest.approx(0.05)
        # The exchange ends the cancel at last: the fills are booked, the rest bought.
        for order in rig.sim.exchange.orders.values():
            order.cancel_at = 0
        await rig.run_until(status_is(rig, deposit_id, states.WAITING_SEND))
        assert rig.get(deposit_id).sky_bought == 49_850_000


async def test_an_order_reported_unlike_the_one_placed_is_not_recorded(rig: Rig) -> None:
    """More filled than teller asked for, or another volume: not this order's fills."""
    deposit_id = rig.deposit(5_000_000, "over")
    await rig.run_until(lambda: bool(rig.orders(deposit_id)))
    order = rig.orders(deposit_id)[0]
    with rig.db.write() as conn:  # as if teller had asked for less than the exchange filled
        order_store.update_order(conn, order.client_id, order.state, 3, volume="1")
    with rig.db.write() as conn:
        update_deposit(
            conn,
            deposit_id,
            rig.get(deposit_id).status,
            3,
            status=states.WAITING_PASSTHROUGH_ORDER_COMPLETE,
        )
        order_store.update_order(conn, order.client_id, order.state, 3, state=order_store.OPEN)
    wait = await rig.processor.step()
    assert wait.problem.endswith(f"not the 1 at {order.price} placed as {order.client_id}")
    assert rig.orders(deposit_id)[0].state == order_store.OPEN


async def test_bought_deposits_are_paid_by_the_sender(rig: Rig, tmp_path: Path) -> None:
    payer = DummyPayer(tmp_path / "ledger.jsonl", 10_000 * 1_000_000, auto_confirm=True)
    sender = Sender(rig.db, payer, rig.board, send_enabled=True)
    deposit_id = rig.deposit(50_000_000, "pay")
    await rig.run_until(status_is(rig, deposit_id, states.WAITING_SEND))
    for _ in range(3):
        await sender.step()
    deposit = rig.get(deposit_id)
    assert deposit.status == states.DONE and deposit.sky_sent == 248_450_000
    assert [d for b in payer.broadcasts() for _, d in b.outputs] == [248_450_000]


# -- a thin book: no walking up it at any price ------------------------------------------------


async def test_a_part_bought_deposit_waits_rather_than_buy_far_above_its_first_fill(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    """0.1 BTC, 5 SKY at 0.0002 then asks 250 times dearer: the deposit buys the 5 SKY and
    waits (WATCH, shown) instead of buying 2 SKY with 0.099 BTC; cheaper asks finish it."""
    await rig.control("book", {"asks": [["0.0002", "5"], ["0.05", "1000"]], "replace": True})
    deposit_id = rig.deposit(10_000_000, "thin")
    with caplog.at_level(logging.WARNING):
        waits = await rig.run_until(
            lambda: (
                bool(rig.trades_of(deposit_id))
                and rig.get(deposit_id).status == states.WAITING_PASSTHROUGH
                and "above the limit" in rig.board.processor_error
            )
        )
    assert "0.05 BTC/SKY" in waits[-1].problem and "0.00022" in waits[-1].problem
    for _ in range(5):  # it stays waiting: nothing more is bought, nothing ends
        await rig.processor.step()
    assert rig.trades_of(deposit_id) == [(D("5"), D("0.001"))]
    assert rig.get(deposit_id).status == states.WAITING_PASSTHROUGH
    warned = [r for r in caplog.records if "price limit" in r.getMessage()]
    assert len(warned) == 1 and getattr(warned[0], "notice", "") == "WATCH"

    await rig.control("book", {"asks": [["0.00021", "10000"]], "replace": True})
    await rig.run_until(status_is(rig, deposit_id, states.WAITING_SEND))
    bought = rig.trades_of(deposit_id)
    assert sum(btc for _, btc in bought) <= D("0.1")
    assert bought[1:] == [(D("471.42"), D("0.0989982"))]  # 0.099 BTC at 0.00021, truncated
    assert rig.get(deposit_id).sky_bought == 476_420_000  # 5 + 471.42 SKY


async def test_dust_below_the_minimum_at_the_limit_still_finishes_the_deposit(rig: Rig) -> None:
    """What is left cannot buy 1 SKY even at the price limit: the deposit is bought."""
    await rig.control("book", {"asks": [["0.002", "4.9"], ["1", "100"]], "replace": True})
    deposit_id = rig.deposit(1_000_000, "dust")  # 4.9 SKY cost 0.0098; 0.0002 BTC is left
    await rig.run_until(status_is(rig, deposit_id, states.WAITING_SEND))
    assert rig.get(deposit_id).sky_bought == 4_900_000
    assert rig.trades_of(deposit_id) == [(D("4.9"), D("0.0098"))]


async def test_without_a_limit_the_book_is_walked_as_the_original_did(sqlite_db: Database) -> None:
    async with make_rig(sqlite_db, passthrough_config(max_price_rise="0")) as rig:
        await rig.control("book", {"asks": [["0.0002", "5"], ["0.05", "1000"]], "replace": True})
        deposit_id = rig.deposit(10_000_000, "walk")
        await rig.run_until(status_is(rig, deposit_id, states.WAITING_SEND))
        assert rig.trades_of(deposit_id) == [(D("5"), D("0.001")), (D("1.98"), D("0.099"))]


async def test_an_order_below_the_exchanges_minimum_is_followed_by_a_larger_one(
    rig: Rig,
) -> None:
    """The cheapest ask is 1 SKY worth 0.00005 BTC, below the exchange's minimum order of
    0.0001 BTC: that order is refused, and the deposit buys on through the next ask (the
    original ended the deposit, its BTC kept and nothing paid)."""
    await rig.control("book", {"asks": [["0.00005", "1"], ["0.00006", "100000"]], "replace": True})
    deposit_id = rig.deposit(1_000_000, "tiny-ask")
    await rig.run_until(status_is(rig, deposit_id, states.WAITING_SEND))
    first, second = rig.orders(deposit_id)
    assert (first.state, first.volume) == (order_store.REFUSED, "1")
    assert "limit value: 0.0001" in first.error
    assert (second.price, second.volume) == ("0.00006", "166.66")
    assert rig.trades_of(deposit_id) == [(D("1"), D("0.00005")), (D("165.66"), D("0.0099396"))]
    deposit = rig.get(deposit_id)
    assert (deposit.sky_bought, deposit.error) == (166_660_000, "")


async def test_an_ask_finer_than_the_exchanges_price_precision_is_still_bought(rig: Rig) -> None:
    """The exchange refuses a limit price of 6 decimals ("price precision error"): teller
    places 0.00021 for an ask at 0.000201, which fills at the ask's price."""
    await rig.control("book", {"asks": [["0.000201", "100"]], "replace": True})
    deposit_id = rig.deposit(1_000_000, "fine-price")
    await rig.run_until(status_is(rig, deposit_id, states.WAITING_SEND))
    [order] = rig.orders(deposit_id)
    assert (order.price, order.volume) == ("0.00021", "47.61")
    assert rig.trades_of(deposit_id) == [(D("47.61"), D("0.00956961"))]
    assert rig.get(deposit_id).sky_bought == 47_610_000


async def test_a_restart_before_a_minimum_refusal_is_recorded_buys_on_once(rig: Rig) -> None:
    """A crash after the small order was stored, before its refusal was recorded: the
    restarted processor looks it up (absent), sends it again, records the refusal and buys
    through the next ask, under new client ids."""
    await rig.control("book", {"asks": [["0.00005", "1"], ["0.00006", "100000"]], "replace": True})
    deposit_id = rig.deposit(1_000_000, "tiny-crash")
    rig.processor._decide_batch()
    rig.processor._store_new_order(rig.get(deposit_id), 1, D("0.00005"), D("1"))
    rig.restarted()
    await rig.run_until(status_is(rig, deposit_id, states.WAITING_SEND))
    states_by_cid = {o.client_id: o.state for o in rig.orders(deposit_id)}
    assert states_by_cid == {
        f"{deposit_id}/1": order_store.REFUSED,
        f"{deposit_id}/2": order_store.FILLED,
    }
    assert sum(btc for _, btc in rig.trades_of(deposit_id)) <= D("0.01")
    assert rig.get(deposit_id).sky_bought == 166_660_000
