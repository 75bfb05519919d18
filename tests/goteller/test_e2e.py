"""Switching from the Go teller, as an operator does it: `teller db import-bolt`, then `teller`.

The database is one the Go teller wrote (test vectors go-teller-db, whose README tells what
happened in it). After the import the real teller process must answer /api/status and the
admin API as the original did, then finish the deposits the original left waiting, each
paid exactly once — checked on the dummy network's ledger, not on teller's own records.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from teller.goteller.boltfile import BoltFile

from ..e2e.conftest import EXAMPLE_CONFIG, TellerProcess, teller_process  # noqa: F401
from ..e2e.test_dummy_mode import broadcasts, statuses, wait_for
from .conftest import fingerprint

pytestmark = pytest.mark.e2e

# The README of go-teller-db: who was bound, and what happened to each deposit.
SKY_THREE = "2Niqzo12tZ9ioZq5vwPHMVR4g7UVpp9TCmP"  # 3 bindings: done, done (error), confirm
SKY_SEND_BIG = "2UDzBKnxZf4d9pdrBJAqbtoeH641RFLYKxd"  # 20,000,000 sat waiting_send
SKY_SEND_SMALL = "8LbGZ9Z9r7ELNKyrQmAbhLhLvrmLJjfotm"  # 1,000,000 sat waiting_send
SKY_NEVER_PAID = "7KU683yzoPE9rVuuFRQMZVhGwBBtwqTKT2"  # bound, no deposit
SKY_PASSTHROUGH = "gwgdez9f3BLvQyNE5tMFS75p69zs2i3mRq"  # waiting_passthrough
SKY_UNBOUND = "aSEqXrooiycfyXDc2aLYLGSmjrozJh3jCn"
# The Go teller's broadcast that was never confirmed (its waiting_confirm deposit).
UNCONFIRMED_TXID = "bf67bc0b8bb341aefe1d5fe02b349b692e153bbdc818afce54c254e772cec97c"


def go_records(path: Path) -> dict[str, dict[str, Any]]:
    """The Go teller's DepositInfo JSON, as stored (for field-by-field comparison)."""
    with BoltFile(path) as bolt:
        bucket = bolt.root.bucket(b"deposit_info")
        assert bucket is not None
        return {k.decode(): json.loads(v) for k, v in bucket.items() if isinstance(v, bytes)}


def cli(t: TellerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "teller.cli",
            *args,
            "-c",
            str(EXAMPLE_CONFIG),
            "-d",
            str(t.datadir),
        ],
        env=t.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def admin(t: TellerProcess, path: str) -> Any:
    response = httpx.get(t.admin + path, headers=t.admin_headers)
    assert response.status_code == 200, response.text
    return response.json()


def outputs_to(t: TellerProcess, sky: str) -> list[str]:
    return [o["coins"] for b in broadcasts(t) for o in b["outputs"] if o["address"] == sky]


def test_import_then_teller_carries_on(
    teller_process: TellerProcess,  # noqa: F811
    go_db: Path,
    go_pool: list[str],
) -> None:
    t = teller_process
    # The operator's config: the Go teller's address file (teller reads its JSON form).
    t.env["TELLER_BTC_ADDRESSES"] = str(go_db.parent / "btc_addresses.json")
    before = fingerprint(go_db)

    first = cli(t, "db", "import-bolt", str(go_db))  # the dry run: test_import.py
    assert first.returncode == 0, first.stderr
    assert (
        "deposit_info: 6 deposits, 6 new (done 2, waiting_confirm 1, waiting_passthrough 1,"
        " waiting_send 2)"
    ) in first.stdout
    assert "used_btc_address: 7 used pool addresses, 7 new" in first.stdout
    assert fingerprint(go_db) == before  # never written, not even its mtime

    # The Go teller's unconfirmed payment is on the (dummy) network, as a real one would be:
    # the same hot wallet paid it before the switch.
    t.datadir.joinpath("dummy_sender.jsonl").write_text(
        json.dumps(
            {"event": "broadcast", "txid": UNCONFIRMED_TXID, "outputs": [[SKY_THREE, 25_000_000]]}
        )
        + "\n"
    )
    t.start()

    # -- /api/status for every SKY address in the database (and one never bound) --------
    three = statuses(t, SKY_THREE)
    assert [(s["status"], s.get("sky_sent"), s.get("error")) for s in three] == [
        ("done", "61.728000", ""),
        ("done", "0.000000", "Skycoin send amount is 0"),
        ("waiting_confirm", "25.000000", ""),
        ("waiting_deposit", None, None),
    ]
    assert [s["seq"] for s in three] == [1, 2, 3, 4]
    assert three[2]["txid"] == UNCONFIRMED_TXID
    assert [s["status"] for s in statuses(t, SKY_NEVER_PAID)] == ["waiting_deposit"]
    assert [s["status"] for s in statuses(t, SKY_PASSTHROUGH)] == ["waiting_passthrough"]
    assert httpx.get(f"{t.public}/api/status", params={"skyaddr": SKY_UNBOUND}).json() in (
        {},
        {"statuses": []},
    )

    # -- the admin API agrees with the Go teller's records, field by field ---------------
    go = go_records(go_db)
    listed = {d["deposit_id"]: d for d in admin(t, "/api/deposits")["deposits"]}
    assert listed.keys() == go.keys()
    for deposit_id, record in go.items():
        mine = listed[deposit_id]
        if record["status"] == "waiting_send":  # the sender may have moved it on already
            assert mine["status"] in ("waiting_send", "waiting_confirm", "done")
            mine = {**mine, "status": "waiting_send", "txid": "", "sky_sent": 0}
            mine["updated_at"] = record["updated_at"]
        # The dummy scanner of the original never marked its records processed.
        assert {**mine, "deposit": {**mine["deposit"], "processed": False}} == record
    errored = admin(t, "/api/deposits/errored")["deposits"]
    assert [d["deposit_id"] for d in errored] == [
        "acee240f9a281b012353cca27eb1c4068a15cc67138da3dbc39cc4464d128448:1"
    ]
    accounting = admin(t, "/api/accounting")
    assert accounting["received"] == {
        "BTC": "0.39345828",  # 12,345,678 + 150 + 5,000,000 + 20,000,000 + 2 × 1,000,000 sat
        "ETH": "0.000000000000000000",
        "SKY": "0.000000",
    }
    addresses = admin(t, "/api/deposit-addresses")["BTC"]
    assert addresses["remaining_addresses"] == 13  # 20 in the pool, 7 handed out by Go
    assert sorted(addresses["scanning_addresses"]) == sorted(
        [go_pool[i] for i in range(7)]  # the Go teller handed them out in file order
    )

    # -- the waiting deposits finish: waiting_send paid once, waiting_confirm only watched
    wait_for(
        lambda: bool(outputs_to(t, SKY_SEND_BIG) and outputs_to(t, SKY_SEND_SMALL)),
        "the two waiting_send deposits paid",
        20,
    )
    for entry in broadcasts(t):
        confirmed = httpx.get(f"{t.dummy}/dummy/sender/confirm", params={"txid": entry["txid"]})
        assert confirmed.status_code == 200
    for sky in (SKY_THREE, SKY_SEND_BIG, SKY_SEND_SMALL):
        wait_for(
            lambda sky=sky: all(  # type: ignore[misc]
                s["status"] in ("done", "waiting_deposit") for s in statuses(t, sky)
            ),
            f"{sky} done",
        )
    assert outputs_to(t, SKY_SEND_BIG) == ["100.000000"]  # 0.2 BTC at 500
    assert outputs_to(t, SKY_SEND_SMALL) == ["5.000000"]
    assert outputs_to(t, SKY_THREE) == ["25.000000"]  # only the Go teller's own payment
    assert admin(t, "/api/accounting")["sent"] == "191.728000"  # 61.728 + 25 + 100 + 5
    assert [s["status"] for s in statuses(t, SKY_PASSTHROUGH)] == ["waiting_passthrough"]
    assert len(admin(t, "/api/deposits/errored")["deposits"]) == 1

    # A restart pays nobody again, and a late re-import finds nothing to do.
    before_restart = broadcasts(t)
    assert t.stop() == 0
    t.start()
    time.sleep(0.5)  # five sender rounds (tx_confirmation_check_wait = 100ms)
    paid = broadcasts(t)
    assert paid == before_restart
    assert len(paid) == len({b["txid"] for b in paid}) and all(b["confirmed"] for b in paid)
    assert t.stop() == 0
    late = cli(t, "db", "import-bolt", str(go_db))
    assert late.returncode == 0, late.stderr
    assert "nothing to import" in late.stdout
    assert fingerprint(go_db) == before
