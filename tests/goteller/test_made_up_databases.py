"""What the Go teller's own database does not show: ETH in gwei, undecided and unpayable
deposits, scanner records the exchange never received, watch lists, other formats, and
inconsistent files — on made-up databases written by boltfile.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from teller.goteller.importer import ImportConflict, import_go_database
from teller.goteller.records import GoDatabaseError, read_go_database
from teller.store import tables
from teller.store.db import Database
from teller.store.scans import ScannedBlock, record_blocks, scan_floor

from .boltfile import go_json, write_bolt

SKY_A = "2Wbi4wvxC4fkTYMsS2f6HaFfW4pafDjXcQW"
SKY_B = "hs1pyuNgxDLyLaZsnqzQG9U3DKdJsbzNpn"
BTC_1 = "1MsQLz3qNceG75dKh95rzgD4Usdy5LcnK8"
BTC_2 = "1ESr2uNc5PtmfwibvuVgL3H8iYfaGBj6yy"
BTC_3 = "14F4S1MUte7jqtTj6gHCDoWUR9QuiadFwy"
ETH_1 = "0xfb2428fbbca5cdcc6c28d27d9d5291e26051f9d5"


def bound(sky: str, address: str, coin: str = "BTC") -> dict[str, str]:
    return {"SkyAddress": sky, "Address": address, "CoinType": coin, "BuyMethod": "direct"}


def scanned(coin: str, address: str, value: int, tx: str, processed: bool) -> dict[str, Any]:
    return {
        "coin_type": coin,
        "address": address,
        "value": value,
        "height": 7,
        "tx": tx,
        "n": 0,
        "processed": processed,
    }


def info(
    seq: int, status: str, coin: str, sky: str, address: str, value: int, rate: str, tx: str
) -> dict[str, Any]:
    order = {k: "" for k in ("customer_id", "order_id", "completed_amount", "price", "status")}
    return {
        "seq": seq,
        "updated_at": 1_700_000_000 + seq,
        "status": status,
        "coin_type": coin,
        "sky_address": sky,
        "buy_method": "direct",
        "deposit_address": address,
        "deposit_id": f"{tx}:0",
        "txid": "",
        "conversion_rate": rate,
        "deposit_value": value,
        "sky_sent": 0,
        "passthrough": {
            "exchange_name": "",
            "sky_bought": 0,
            "deposit_value_spent": 0,
            "requested_amount": "",
            "order": {**order, "final": False, "original": ""},
        },
        "error": "",
        "deposit": scanned(coin, address, value, tx, True),
    }


def made_up() -> dict[str, dict[str, bytes]]:
    eth_tx, decide_tx, tiny_tx, late_tx = "0x" + "e" * 64, "d" * 64, "a" * 64, "b" * 64
    deposits = [
        # 2 ETH, stored in gwei by the Go teller, at its stored rate of 100 SKY per ETH.
        info(1, "waiting_send", "ETH", SKY_A, ETH_1, 2_000_000_000, "100", eth_tx),
        # Received at 250 SKY/BTC, not yet decided: paid at 250, whatever the config says.
        info(2, "waiting_decide", "BTC", SKY_A, BTC_1, 1_000_000, "250", decide_tx),
        info(3, "waiting_send", "BTC", SKY_B, BTC_2, 1, "500", tiny_tx),  # rounds to 0 SKY
    ]
    return {
        "bind_address_btc": {
            BTC_1: go_json(bound(SKY_A, BTC_1)),
            BTC_2: go_json(bound(SKY_B, BTC_2)),
            BTC_3: go_json(bound(SKY_B, BTC_3)),
        },
        "bind_address_eth": {ETH_1: go_json(bound(SKY_A, ETH_1, "ETH"))},
        "sky_deposit_seqs_index": {
            SKY_A: go_json([bound(SKY_A, ETH_1, "ETH"), bound(SKY_A, BTC_1)]),
            SKY_B: go_json([bound(SKY_B, BTC_2), bound(SKY_B, BTC_3)]),
        },
        "deposit_info": {d["deposit_id"]: go_json(d) for d in deposits},
        "btc_txs": {
            ETH_1: go_json([f"{eth_tx}:0"]),
            BTC_1: go_json([f"{decide_tx}:0"]),
            BTC_2: go_json([f"{tiny_tx}:0"]),
        },
        "used_btc_address": {BTC_1: b"", BTC_2: b"", BTC_3: b""},
        "used_eth_address": {ETH_1: b""},
        # Seen by the scanner, never received by the exchange (a crash in between).
        "deposit_value": {
            f"{late_tx}:0": go_json(scanned("BTC", BTC_3, 3_000_000, late_tx, False))
        },
        "scan_meta_btc": {"deposit_addresses": go_json([BTC_1, BTC_2, BTC_3])},
        "exchange_meta": {},
    }


def imported(db: Database, path: Path) -> dict[str, dict[str, Any]]:
    report = import_go_database(db, read_go_database(path), max_decimals=3, now=1_800_000_000)
    assert "scan_meta_btc: 3 watched addresses" in report.render()
    with db.read() as conn:
        return {r.deposit_id: dict(r._mapping) for r in conn.execute(select(tables.deposits))}


def test_every_kind_of_waiting_deposit(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "made-up.db"
    write_bolt(path, made_up())
    found = imported(db, path)
    eth = found["0x" + "e" * 64 + ":0"]
    assert (eth["value"], eth["status"], eth["sky_due"]) == (
        2 * 10**18,
        "waiting_send",
        200_000_000,
    )
    decide = found["d" * 64 + ":0"]
    assert (decide["status"], decide["conversion_rate"], decide["sky_due"]) == (
        "waiting_send",
        "250",
        2_500_000,
    )
    tiny = found["a" * 64 + ":0"]
    assert (tiny["status"], tiny["error"]) == ("done", "Skycoin send amount is 0")
    late = found["b" * 64 + ":0"]
    assert (late["status"], late["sky_address"], late["value"]) == (
        "waiting_decide",
        SKY_B,
        3_000_000,
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("master", "old master/v1.0.0 format"),
        ("index-mismatch", "does not match bind_address_btc"),
        ("index-other-sky", "bound to 2Wbi4wvxC4fkTYMsS2f6HaFfW4pafDjXcQW, not hs1pyuNg"),
        ("unindexed", "list different bindings"),
        ("unbound-deposit", "is not bound to"),
        ("processed-without-info", "marked processed but deposit_info has no such deposit"),
        ("not-teller", "not a Go teller's"),
    ],
)
def test_inconsistent_or_foreign_files_are_refused(
    tmp_path: Path, change: str, message: str
) -> None:
    buckets = made_up()
    if change == "master":
        buckets["bind_address"] = {BTC_1: SKY_A.encode()}
    elif change == "index-mismatch":
        other_method = {**bound(SKY_B, BTC_2), "BuyMethod": "passthrough"}
        buckets["sky_deposit_seqs_index"][SKY_B] = go_json([other_method, bound(SKY_B, BTC_3)])
    elif change == "index-other-sky":
        buckets["sky_deposit_seqs_index"][SKY_B] = go_json(
            [bound(SKY_A, BTC_2), bound(SKY_B, BTC_3)]
        )
    elif change == "unindexed":
        buckets["sky_deposit_seqs_index"][SKY_B] = go_json([bound(SKY_B, BTC_2)])
    elif change == "unbound-deposit":
        del buckets["bind_address_eth"][ETH_1]
        buckets["sky_deposit_seqs_index"][SKY_A] = go_json([bound(SKY_A, BTC_1)])
    elif change == "processed-without-info":
        record = scanned("BTC", BTC_3, 3_000_000, "b" * 64, True)
        buckets["deposit_value"] = {"b" * 64 + ":0": go_json(record)}
    elif change == "not-teller":
        buckets = {"some_bucket": {"k": b"v"}}
    path = tmp_path / f"{change}.db"
    write_bolt(path, buckets)
    with pytest.raises(GoDatabaseError, match=message):
        read_go_database(path)


def test_a_paid_deposit_reset_to_waiting_send_is_watched_not_paid_again(
    db: Database, tmp_path: Path
) -> None:
    """The Go teller's bug (teller-go.md §14.4): a deposit delivered again after it was paid
    is set back to waiting_send by DirectBuy, keeping the txid and sky_sent of the payment
    already broadcast. Stopped right then, the file holds waiting_send with a txid: paying
    it after the import would pay it a second time."""
    from teller.store.deposits import unpaid_waiting_send

    paid_tx, payout = "c" * 64, "9" * 64
    buckets = made_up()
    again = info(4, "waiting_send", "BTC", SKY_B, BTC_3, 2_000_000, "500", paid_tx)
    again.update(txid=payout, sky_sent=10_000_000)
    buckets["deposit_info"][again["deposit_id"]] = go_json(again)
    path = tmp_path / "reset.db"
    write_bolt(path, buckets)
    report = import_go_database(db, read_go_database(path), max_decimals=3, now=1_800_000_000)
    with db.read() as conn:
        row = conn.execute(
            select(tables.deposits).where(tables.deposits.c.deposit_id == f"{paid_tx}:0")
        ).one()
        stored = conn.execute(select(tables.payouts).where(tables.payouts.c.txid == payout)).one()
        unpaid = [d.deposit_id for d in unpaid_waiting_send(conn, 100)]
    assert (row.status, row.payout_txid, row.sky_due, row.sky_sent) == (
        "waiting_confirm",
        payout,
        10_000_000,
        10_000_000,
    )
    assert (stored.status, stored.raw_tx) == ("broadcast", "")
    assert f"{paid_tx}:0" not in unpaid
    assert any(f"{paid_tx}:0" in note and payout in note for note in report.notes)


def test_the_scanners_never_rescan_the_go_tellers_blocks(db: Database, tmp_path: Path) -> None:
    """The Go teller named BTC deposits <tx>:0 whatever the output, ETH ones <tx>:<index of
    the transaction in its block>; teller's scanners name them <tx>:<output> and <tx>:0. A
    rescan of the Go teller's blocks would find its deposits under new ids and pay them
    again, so the import sets each coin's scan floor above its newest deposit."""
    path = tmp_path / "made-up.db"
    write_bolt(path, made_up())
    go = read_go_database(path)
    newest = {
        coin: max(d.height for d in [*go.deposits, *go.scanner_records] if d.coin_type == coin)
        for coin in ("BTC", "ETH")
    }
    report = import_go_database(db, go, max_decimals=3, now=1_800_000_000)
    with db.read() as conn:
        assert {c: scan_floor(conn, c) for c in ("BTC", "ETH", "SKY")} == {
            "BTC": newest["BTC"] + 1,
            "ETH": newest["ETH"] + 1,
            "SKY": 0,
        }
    notes = [n for n in report.notes if "scanner starts at block" in n]
    assert len(notes) == 2 and all("set now" in n for n in notes)
    again = import_go_database(db, go, max_decimals=3, now=1_800_000_001)
    assert again.new_rows == 0
    assert all("already set" in n for n in again.notes if "scanner starts at block" in n)


def test_a_store_whose_scanner_already_scanned_the_go_blocks_is_refused(
    db: Database, tmp_path: Path
) -> None:
    """teller's own scanner ran below the Go teller's newest deposit: the deposits it found
    there have teller's ids, the Go copies other ids; importing would pay them twice."""
    path = tmp_path / "made-up.db"
    write_bolt(path, made_up())
    go = read_go_database(path)
    newest_eth = max(d.height for d in [*go.deposits, *go.scanner_records] if d.coin_type == "ETH")
    with db.write() as conn:
        record_blocks(conn, "ETH", [ScannedBlock(newest_eth - 1, "ab" * 32)], 1, 1000)
    with pytest.raises(ImportConflict) as refused:
        import_go_database(db, go, max_decimals=3, now=1_800_000_000)
    [problem] = refused.value.problems
    assert f"ETH scanner already scanned block {newest_eth - 1}" in problem
    with db.read() as conn:
        assert conn.execute(select(tables.deposits)).first() is None  # nothing imported
        assert scan_floor(conn, "ETH") == 0
