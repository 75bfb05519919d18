"""The sender on an imported store: the Go teller's unconfirmed payment is watched by its
txid and never paid again; the waiting_send deposits are paid once."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from teller.deposits.health import StatusBoard
from teller.goteller.importer import import_go_database
from teller.goteller.records import read_go_database
from teller.payout.dummy import DummyPayer
from teller.payout.sender import Sender
from teller.store.db import Database
from teller.store.deposits import deposits_by_status
from teller.store.payouts import get_payout

GO_TXID = "bf67bc0b8bb341aefe1d5fe02b349b692e153bbdc818afce54c254e772cec97c"
SKY_THREE = "2Niqzo12tZ9ioZq5vwPHMVR4g7UVpp9TCmP"


def statuses(db: Database) -> dict[str, str]:
    with db.read() as conn:
        return {d.deposit_id[:6]: d.status for d in deposits_by_status(conn)}


async def test_an_unknown_imported_payout_is_never_resent(
    sqlite_db: Database, go_db: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import_go_database(sqlite_db, read_go_database(go_db), max_decimals=3, now=1_800_000_000)
    ledger = tmp_path / "ledger.jsonl"
    payer = DummyPayer(ledger, 1_000_000_000)
    sender = Sender(sqlite_db, payer, StatusBoard(), send_enabled=True)
    with caplog.at_level(logging.WARNING, logger="teller.sender"):
        for _ in range(3):
            await sender.step()
    # The node (the dummy network) has never heard of the Go teller's transaction: teller
    # has no bytes to send and must not pay again, so the deposit just waits, said once.
    warned = [r for r in caplog.records if "imported payout" in r.getMessage()]
    assert len(warned) == 1
    assert statuses(sqlite_db)["2c3a42"] == "waiting_confirm"
    with sqlite_db.read() as conn:
        payout = get_payout(conn, GO_TXID)
    assert payout is not None and payout.status == "broadcast"
    paid = [b for b in payer.broadcasts()]
    assert len(paid) == 1  # the two waiting_send deposits, in one transaction
    assert sorted(paid[0].outputs) == [
        ("2UDzBKnxZf4d9pdrBJAqbtoeH641RFLYKxd", 100_000_000),
        ("8LbGZ9Z9r7ELNKyrQmAbhLhLvrmLJjfotm", 5_000_000),
    ]
    assert all(address != SKY_THREE for b in paid for address, _ in b.outputs)

    # Once the network reports it confirmed, the deposit is done, still paid once.
    events = [
        {"event": "broadcast", "txid": GO_TXID, "outputs": [[SKY_THREE, 25_000_000]]},
        {"event": "confirm", "txid": GO_TXID},
    ]
    with ledger.open("a") as fh:
        fh.writelines(json.dumps(e) + "\n" for e in events)
    sender.payer = DummyPayer(ledger, 1_000_000_000)  # the network, restarted with it known
    await sender.step()
    assert statuses(sqlite_db)["2c3a42"] == "done"
    with sqlite_db.read() as conn:
        confirmed = get_payout(conn, GO_TXID)
    assert confirmed is not None and confirmed.status == "confirmed"
