"""Payments seen before they count (store/seen.py) and how /api/status shows them, on SQLite
and PostgreSQL: the scanner's rows are exactly what it saw last, recorded deposits drop out,
and the status entries a client of the original reads stay as they were."""

from __future__ import annotations

from teller.money import format_units
from teller.services.status import statuses_of
from teller.store.bindings import insert_binding
from teller.store.db import Database
from teller.store.deposits import insert_deposit_if_new
from teller.store.models import Binding, IncomingDeposit
from teller.store.seen import SeenOutput, seen_payments, sync_seen

SKY = "2Wbi4wvxC4fkTYMsS2f6HaFfW4pafDjXcQW"
BIG_WEI = 2**200 + 7  # beyond 64 bits: kept exact
NEEDED = {"BTC": 2, "ETH": 13, "SKY": 1}


def bind(db: Database, coin: str, address: str, now: int = 100) -> Binding:
    with db.write() as conn:
        return insert_binding(
            conn,
            coin_type=coin,
            deposit_address=address,
            sky_address=SKY,
            buy_method="direct",
            now=now,
        )


def sync(db: Database, coin: str, outputs: list[SeenOutput], now: int) -> list[str]:
    with db.write() as conn:
        return [p.deposit_id for p in sync_seen(conn, coin, outputs, now)]


def rows(db: Database, coin: str | None = None) -> list[tuple[str, int, int, int, int]]:
    with db.read() as conn:
        return [
            (p.deposit_id, p.value, p.confirmations, p.seen_at, p.updated_at)
            for p in seen_payments(conn, coin)
        ]


def test_rows_follow_what_the_scanner_saw_last(db: Database) -> None:
    a, b = "aa" * 32 + ":0", "bb" * 32 + ":1"
    assert sync(db, "BTC", [SeenOutput(a, "addr1", 5000, 0)], now=10) == [a]
    # Seen again, now in a block: the same row, seen_at kept, confirmations and updated_at move.
    assert sync(db, "BTC", [SeenOutput(a, "addr1", 5000, 1), SeenOutput(b, "a2", 7, 0)], 20) == [b]
    assert rows(db) == [(a, 5000, 1, 10, 20), (b, 7, 0, 20, 20)]
    assert sync(db, "BTC", [SeenOutput(a, "addr1", 5000, 1), SeenOutput(b, "a2", 7, 0)], 30) == []
    assert rows(db) == [(a, 5000, 1, 10, 20), (b, 7, 0, 20, 20)]  # unchanged: not touched
    # Another coin's rows are its own.
    eth = "0x" + "cc" * 32 + ":0"
    assert sync(db, "ETH", [SeenOutput(eth, "0xabc", BIG_WEI, 0)], 40) == [eth]
    # b left the mempool (dropped, or its block was reorganized away): its row goes.
    assert sync(db, "BTC", [SeenOutput(a, "addr1", 5000, 2)], 50) == []
    assert rows(db, "BTC") == [(a, 5000, 2, 10, 50)]
    assert rows(db, "ETH") == [(eth, BIG_WEI, 0, 40, 40)]
    # Back again later: new again (the payment.seen call point runs again).
    assert sync(db, "BTC", [SeenOutput(a, "addr1", 5000, 2), SeenOutput(b, "a2", 7, 0)], 60) == [b]
    assert sync(db, "BTC", [], 70) == []
    assert rows(db, "BTC") == []


def test_a_payment_recorded_as_a_deposit_is_no_longer_seen(db: Database) -> None:
    binding = bind(db, "BTC", "addr1")
    txid = "dd" * 32
    with db.write() as conn:
        insert_deposit_if_new(conn, IncomingDeposit("BTC", "addr1", 900, 5, txid, 0), binding, 9)
    assert sync(db, "BTC", [SeenOutput(f"{txid}:0", "addr1", 900, 2)], 10) == []
    assert rows(db) == []


def test_status_shows_seen_payments_on_the_entry_of_their_binding(db: Database) -> None:
    unused = bind(db, "BTC", "addr1", now=100)
    used = bind(db, "ETH", "0xeth1", now=101)
    bind(db, "BTC", "addr3", now=102)  # nothing seen, nothing paid
    paid = "ee" * 32
    with db.write() as conn:
        insert_deposit_if_new(
            conn, IncomingDeposit("ETH", "0xeth1", 10**18, 7, "0x" + paid, 0), used, 150
        )
    with db.read() as conn:
        before = statuses_of(conn, SKY, NEEDED)
    sync(db, "BTC", [SeenOutput("ab" * 32 + ":1", "addr1", 12_345_678, 0)], now=200)
    sync(db, "ETH", [SeenOutput("0x" + "ef" * 32 + ":0", "0xeth1", BIG_WEI, 3)], now=210)
    with db.read() as conn:
        after = statuses_of(conn, SKY, NEEDED)
    # The same entries as without seen payments, a `seen` list added where there are some.
    assert [{k: v for k, v in e.items() if k != "seen"} for e in after] == before
    assert [e.get("seen") for e in after] == [
        [{"value": "0.12345678", "confirmations": 0, "confirmations_needed": 2, "seen_at": 200}],
        [
            {
                "value": format_units(BIG_WEI, 18),
                "confirmations": 3,
                "confirmations_needed": 13,
                "seen_at": 210,
            }
        ],
        None,
    ]
    assert after[0]["status"] == "waiting_deposit" and after[0]["seq"] == 1
    assert after[1]["status"] == "waiting_decide" and "seen" in after[1]
    assert "seen" not in after[2]
    # Recorded as a deposit (before the scanner's next round removes its row): shown once,
    # as the deposit.
    with db.write() as conn:
        insert_deposit_if_new(
            conn, IncomingDeposit("BTC", "addr1", 12_345_678, 8, "ab" * 32, 1), unused, 300
        )
    with db.read() as conn:
        recorded = statuses_of(conn, SKY, NEEDED)
    assert recorded[0]["status"] == "waiting_decide" and "seen" not in recorded[0]
    assert recorded[0]["deposit_value"] == "0.12345678"
