"""goteller/importer.py: what the Go teller's database becomes in the store (SQLite and PostgreSQL),
idempotence, the dry run, conflicts, and damaged files that must import nothing."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from teller.config.load import parse_config
from teller.goteller.importer import ImportConflict, import_go_database, run_import
from teller.goteller.records import GoDatabaseError, read_go_database
from teller.store import tables
from teller.store.bindings import insert_binding
from teller.store.db import Database
from teller.store.deposits import HOLD_CHECK_EARLIER_PAYMENT
from teller.store.pool import pool_usage, sync_pool

from .conftest import fingerprint

NOW = 1_800_000_000
SKY_THREE = "2Niqzo12tZ9ioZq5vwPHMVR4g7UVpp9TCmP"
OTHER_SKY = "2Wbi4wvxC4fkTYMsS2f6HaFfW4pafDjXcQW"
FIRST_ADDRESS = "1MsQLz3qNceG75dKh95rzgD4Usdy5LcnK8"  # the Go pool's first, SKY_THREE's first
CONFIRM_ID = "2c3a4249d77070058649dbd822dcaf7957586fce428cfb2ca88b94741eda8b07:2"
CONFIRM_TXID = "bf67bc0b8bb341aefe1d5fe02b349b692e153bbdc818afce54c254e772cec97c"


def counts(db: Database) -> dict[str, int]:
    names = ("bindings", "deposits", "payouts", "deposit_addresses", "bolt_imports")
    with db.read() as conn:
        return {
            name: conn.execute(
                select(func.count()).select_from(tables.metadata.tables[name])
            ).scalar_one()
            for name in names
        }


def rows(db: Database, table: str, order: str) -> list[dict[str, Any]]:
    t = tables.metadata.tables[table]
    with db.read() as conn:
        return [dict(r._mapping) for r in conn.execute(select(t).order_by(t.c[order]))]


def test_everything_is_imported_once(db: Database, go_db: Path) -> None:
    go = read_go_database(go_db)
    report = import_go_database(db, go, max_decimals=3, now=NOW)
    assert report.new_rows == 20  # 7 bindings + 7 used addresses + 6 deposits
    deposits = {d["deposit_id"]: d for d in rows(db, "deposits", "seq")}
    assert [d["seq"] for d in rows(db, "deposits", "seq")] == [1, 2, 3, 4, 5, 6]  # Go's seqs
    by_status = sorted(
        (d["seq"], d["status"], d["sky_due"], d["sky_sent"]) for d in deposits.values()
    )
    assert by_status == [
        (1, "done", 61_728_000, 61_728_000),
        (2, "done", 0, 0),
        (3, "waiting_confirm", 25_000_000, 25_000_000),
        (4, "waiting_send", 100_000_000, 0),  # 20,000,000 sat at 500, 3 decimals
        (5, "waiting_send", 5_000_000, 0),
        (6, "waiting_passthrough", 0, 0),
    ]
    # The Go teller's waiting_send ones (no txid) may have been paid right before a crash: held
    # until the sender has searched the chain (tests/skynode/test_earlier_payment.py).
    assert {d["seq"]: d["hold_reason"] for d in deposits.values()} == {
        1: None,
        2: None,
        3: None,
        4: HOLD_CHECK_EARLIER_PAYMENT,
        5: HOLD_CHECK_EARLIER_PAYMENT,
        6: None,
    }
    confirm = deposits[CONFIRM_ID]
    assert confirm["payout_txid"] == CONFIRM_TXID and confirm["value"] == 5_000_000
    passthrough = next(d for d in deposits.values() if d["status"] == "waiting_passthrough")
    assert (passthrough["requested_amount"], passthrough["order_customer_id"]) == (
        "0.01",
        passthrough["deposit_id"],
    )
    assert passthrough["buy_method"] == "passthrough" and passthrough["exchange_name"] == "c2cx"
    payouts = {p["txid"]: p for p in rows(db, "payouts", "txid")}
    assert payouts[CONFIRM_TXID]["status"] == "broadcast"
    assert payouts[CONFIRM_TXID]["raw_tx"] == ""  # never signed here: only watched
    assert sorted(p["status"] for p in payouts.values()) == ["broadcast", "confirmed"]
    bindings = [(b["sky_address"], b["deposit_address"]) for b in rows(db, "bindings", "id")]
    assert [a for s, a in bindings if s == SKY_THREE] == [
        FIRST_ADDRESS,
        "1ESr2uNc5PtmfwibvuVgL3H8iYfaGBj6yy",
        "14F4S1MUte7jqtTj6gHCDoWUR9QuiadFwy",
    ]  # the order SKY_THREE got them (sky_deposit_seqs_index)
    with db.read() as conn:
        assert pool_usage(conn)["BTC"].remaining == 0  # all 7 recorded used, none free

    before = counts(db)
    again = import_go_database(db, read_go_database(go_db), max_decimals=3, now=NOW + 1)
    assert again.new_rows == 0 and "nothing to import" in again.render()
    assert counts(db) == before
    assert before["bolt_imports"] == 1


def test_the_pool_file_keeps_the_used_addresses_out(
    db: Database, go_db: Path, go_pool: list[str]
) -> None:
    import_go_database(db, read_go_database(go_db), max_decimals=3, now=NOW)
    with db.write() as conn:
        assert sync_pool(conn, "BTC", go_pool) == 13
        assert pool_usage(conn)["BTC"].remaining == 13


def test_dry_run_writes_nothing_and_counts_per_bucket(db: Database, go_db: Path) -> None:
    before = counts(db)
    report = import_go_database(db, read_go_database(go_db), max_decimals=3, now=NOW, dry_run=True)
    assert counts(db) == before
    text = report.render()
    for line in (
        "bind_address_btc: 7 bindings, 7 new (direct 6, passthrough 1)",
        "deposit_info: 6 deposits, 6 new (done 2, waiting_confirm 1, waiting_passthrough 1,"
        " waiting_send 2)",
        "used_btc_address: 7 used pool addresses, 7 new",
        "deposit_value: 0 scanner deposit records, 0 new",
        "dry run: nothing was written",
    ):
        assert line in text


def test_an_address_bound_to_someone_else_is_a_conflict(db: Database, go_db: Path) -> None:
    with db.write() as conn:
        insert_binding(
            conn,
            coin_type="BTC",
            deposit_address=FIRST_ADDRESS,
            sky_address=OTHER_SKY,
            buy_method="direct",
            now=NOW,
        )
    before = counts(db)
    with pytest.raises(ImportConflict) as caught:
        import_go_database(db, read_go_database(go_db), max_decimals=3, now=NOW)
    assert caught.value.problems == [
        f"BTC address {FIRST_ADDRESS} is bound to {SKY_THREE} (direct) in the Go database but"
        f" to {OTHER_SKY} (direct) in the store"
    ]
    assert counts(db) == before  # nothing else went in


def test_a_deposit_paid_differently_is_a_conflict(db: Database, go_db: Path) -> None:
    import_go_database(db, read_go_database(go_db), max_decimals=3, now=NOW)
    with db.write() as conn:  # as if the store had paid it again, by a payout of its own
        conn.execute(
            update(tables.deposits)
            .where(tables.deposits.c.deposit_id == CONFIRM_ID)
            .values(payout_txid=None, status="waiting_send")
        )
    with pytest.raises(ImportConflict) as caught:
        import_go_database(db, read_go_database(go_db), max_decimals=3, now=NOW)
    assert caught.value.problems == [
        f"deposit {CONFIRM_ID}: the Go teller paid it in {CONFIRM_TXID}, the store has it unpaid"
        " (waiting_send): importing would pay it twice"
    ]


def replace_value(path: Path, old: bytes, new: bytes) -> None:
    data = path.read_bytes()  # every copy: bolt's freed pages keep old versions of a value
    assert data.count(old) >= 1 and len(old) == len(new)
    path.write_bytes(data.replace(old, new))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (b'"status":"waiting_send"', b'"status":"waiting_zend"', "is not a stored deposit status"),
        (b'"deposit_value":20000000', b'"deposit_value":2000000"', "not valid JSON"),
        (b'"deposit_value":20000000', b'"deposit_value":"2000000', "not valid JSON"),
        (
            b'"conversion_rate":"500","deposit_value":150',
            b'"conversion_rate":"500","deposit_value":1.5',
            "must be an integer",
        ),
        (
            b'"SkyAddress":"7KU683yzoPE9rVuuFRQMZVhGwBBtwqTKT2"',
            b'"SkyAddress":"7KU683yzoPE9rVuuFRQMZVhGwBBtwqTKT3"',
            "invalid SKY address",
        ),
    ],
)
def test_a_damaged_record_imports_nothing(
    sqlite_db: Database, go_db_copy: Path, old: bytes, new: bytes, message: str
) -> None:
    replace_value(go_db_copy, old, new)
    with pytest.raises(GoDatabaseError, match=message):
        read_go_database(go_db_copy)


def config(tmp_path: Path) -> Any:
    (tmp_path / "btc.txt").write_text("1MsQLz3qNceG75dKh95rzgD4Usdy5LcnK8\n")
    data = {
        "btc_addresses": "btc.txt",
        "eth_addresses": "btc.txt",
        "dummy": {"sender": True, "scanner": True},
        "eth_scanner": {"enabled": False},
        "sky_exchanger": {"sky_btc_exchange_rate": "500", "sky_eth_exchange_rate": "100"},
    }
    return parse_config(data, base_dir=tmp_path, check_network=False, env={})


def run(
    tmp_path: Path, source: Path, *, dry_run: bool = False, tty: bool = False
) -> tuple[int, str, str]:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return tty

    out, err = io.StringIO(), Terminal()
    code = run_import(
        config(tmp_path), tmp_path / "data", source, dry_run=dry_run, out=out, err=err
    )
    return code, out.getvalue(), err.getvalue()


def test_a_truncated_file_imports_nothing(tmp_path: Path, go_db: Path) -> None:
    cut = tmp_path / "cut.db"
    cut.write_bytes(go_db.read_bytes()[: 9 * 4096])
    code, out, err = run(tmp_path, cut)
    assert code == 1 and out == ""
    assert "is truncated" in err and "nothing was imported" in err
    assert not (tmp_path / "data" / "teller.db").exists()  # not even an empty store


def test_a_file_damaged_past_its_first_buckets_imports_nothing(
    tmp_path: Path, go_db_copy: Path
) -> None:
    # A valid start (bindings) and a broken page later on: the reader reads everything
    # before the store is touched, so no binding may go in either.
    data = bytearray(go_db_copy.read_bytes())
    page = 9  # the root page of sky_deposit_seqs_index, read after the bind_address_* buckets
    data[page * 4096 + 8 : page * 4096 + 10] = struct.pack("<H", 0x10)
    go_db_copy.write_bytes(bytes(data))
    code, _out, err = run(tmp_path, go_db_copy)
    assert code == 1 and "neither branch nor leaf" in err and "nothing was imported" in err
    assert not (tmp_path / "data" / "teller.db").exists()


def test_the_command_shows_progress_on_a_terminal_only(tmp_path: Path, go_db: Path) -> None:
    before = fingerprint(go_db)
    code, out, err = run(tmp_path, go_db, dry_run=True, tty=True)
    assert code == 0 and "dry run: nothing was written" in out
    assert "importing [" in err and "20/20" in err
    code, out, err = run(tmp_path, go_db)
    assert code == 0 and err == "" and "imported 20 records" in out
    code, out, _err = run(tmp_path, go_db)
    assert code == 0 and out.endswith(f"the store already holds everything in {go_db}\n")
    assert fingerprint(go_db) == before


def test_a_running_teller_is_not_imported_into(tmp_path: Path, go_db: Path) -> None:
    from teller.store.worker_lock import SqliteProcessLock

    (tmp_path / "data").mkdir()
    lock = SqliteProcessLock(tmp_path / "data" / "teller.db")  # what `teller run` holds
    lock.acquire()
    try:
        code, _out, err = run(tmp_path, go_db)
    finally:
        lock.release()
    assert code == 1 and "stop teller before importing" in err


def test_records_match_the_json_the_go_teller_wrote(go_db: Path) -> None:
    """Every DepositInfo field is carried (amounts exact), checked against the raw JSON."""
    from teller.goteller.boltfile import BoltFile

    with BoltFile(go_db) as bolt:
        bucket = bolt.root.bucket(b"deposit_info")
        assert bucket is not None
        raw = {k.decode(): json.loads(v) for k, v in bucket.items() if isinstance(v, bytes)}
    for deposit in read_go_database(go_db).deposits:
        record = raw[deposit.deposit_id]
        assert (deposit.seq, deposit.status, deposit.txid, deposit.sky_sent) == (
            record["seq"],
            record["status"],
            record["txid"],
            record["sky_sent"],
        )
        assert deposit.value == record["deposit_value"] == record["deposit"]["value"]
        assert (deposit.tx, deposit.n, deposit.height) == (
            record["deposit"]["tx"],
            record["deposit"]["n"],
            record["deposit"]["height"],
        )
        assert deposit.requested_amount == record["passthrough"]["requested_amount"]
        assert deposit.error == record["error"]


def _store_deposit(db: Database, address: str, tx: str) -> int:
    """A deposit teller itself recorded (a binding of its own to `address`)."""
    from teller.store.bindings import find_binding
    from teller.store.deposits import insert_deposit_if_new
    from teller.store.models import IncomingDeposit

    with db.write() as conn:
        binding = find_binding(conn, "BTC", address) or insert_binding(
            conn,
            coin_type="BTC",
            deposit_address=address,
            sky_address=OTHER_SKY,
            buy_method="direct",
            now=NOW,
        )
        row, _ = insert_deposit_if_new(
            conn, IncomingDeposit("BTC", address, 1000, 1, tx, 0), binding, NOW
        )
    return row.seq


def test_seqs_the_store_already_used_are_renumbered(
    db: Database, go_db: Path, go_pool: list[str]
) -> None:
    unused_by_go = go_pool[10]
    assert _store_deposit(db, unused_by_go, "f1" * 32) == 1
    import_go_database(db, read_go_database(go_db), max_decimals=3, now=NOW)
    seqs = {d["deposit_id"]: d["seq"] for d in rows(db, "deposits", "seq")}
    go_first = "f55ff16f66f43360266b95db6f8fec01d76031054306ae4a4b380598f6cfd114:0"
    assert seqs[go_first] == 7  # its seq 1 was taken; 2..6 kept
    assert sorted(seqs.values()) == [1, 2, 3, 4, 5, 6, 7]
    assert _store_deposit(db, unused_by_go, "f2" * 32) == 8  # the counter moved past them


def test_a_dry_run_leaves_the_seq_counter_alone(
    db: Database, go_db: Path, go_pool: list[str]
) -> None:
    import_go_database(db, read_go_database(go_db), max_decimals=3, now=NOW, dry_run=True)
    assert _store_deposit(db, go_pool[10], "f3" * 32) == 1


def test_a_dry_run_creates_no_store(tmp_path: Path, go_db: Path) -> None:
    """ "It writes nothing" (README): not even an empty store in a data directory of its own."""
    code, out, _err = run(tmp_path, go_db, dry_run=True)
    assert code == 0 and "dry run: nothing was written" in out
    assert "deposit_info: 6 deposits, 6 new" in out
    assert not (tmp_path / "data").exists()


def test_a_teller_running_on_postgresql_is_not_imported_into(
    tmp_path: Path, go_db: Path, pg_url: str
) -> None:
    """On PostgreSQL there is no file lock: a running teller holds the worker role (its lease
    row), and the import refuses while it does."""
    from teller.store.db import Database, create_store_engine
    from teller.store.migrate import upgrade
    from teller.store.worker_role import release, try_acquire

    cfg = config(tmp_path).model_copy(update={"database_url": pg_url})
    engine = create_store_engine(pg_url)
    upgrade(engine)
    db = Database(engine)
    with db.write() as conn:
        epoch = try_acquire(conn, "a teller", 60_000)
    assert epoch is not None
    try:
        out, err = io.StringIO(), io.StringIO()
        code = run_import(cfg, tmp_path / "data", go_db, dry_run=False, out=out, err=err)
        assert code == 1 and out.getvalue() == ""
        assert "a teller is running on this database" in err.getvalue()
        assert "nothing was imported" in err.getvalue()
    finally:
        with db.write() as conn:
            release(conn, epoch)
        engine.dispose()
    out, err = io.StringIO(), io.StringIO()
    code = run_import(cfg, tmp_path / "data", go_db, dry_run=False, out=out, err=err)
    assert code == 0 and "imported 20 records" in out.getvalue()
