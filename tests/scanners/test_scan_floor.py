"""The scan floor set by `teller db import-bolt`: the scanner never scans the blocks the Go
teller already scanned (its deposits there carry other ids; a rescan would pay them again)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from teller.clients.bitcoind import BitcoinClient
from teller.store.scans import last_scanned, raise_scan_floor
from tests.scanners.conftest import RPC_PASS, RPC_USER, LitecoinNode, Rig, new_key, scan_all


@pytest.fixture
async def client(ltc: LitecoinNode) -> AsyncIterator[BitcoinClient]:
    node = BitcoinClient(f"127.0.0.1:{ltc.port}", RPC_USER, RPC_PASS, tls=False, network="regtest")
    yield node
    await node.aclose()


async def test_a_fresh_scan_starts_at_the_floor_not_below(
    ltc: LitecoinNode, rig: Rig, client: BitcoinClient
) -> None:
    key = new_key()
    rig.bind("BTC", key.btc_address)
    start = ltc.height() + 1
    old_tx = ltc.pay((key.script, 1_000_000))  # in a block the "Go teller" scanned
    ltc.mine(1)
    floor = ltc.height() + 1
    with rig.db.write() as conn:
        raise_scan_floor(conn, "BTC", floor, "imported", 1)
    new_tx = ltc.pay((key.script, 2_000_000))
    ltc.mine(1)
    scanner = rig.scanner(client, confirmations_required=0, start=start)
    await scan_all(scanner)
    assert set(rig.deposits()) == {f"{new_tx}:0"}
    assert f"{old_tx}:0" not in rig.deposits()
    with rig.db.read() as conn:
        scanned = last_scanned(conn, "BTC")
    assert scanned is not None and scanned.height == floor


async def test_a_scanner_behind_a_raised_floor_jumps_to_it(
    ltc: LitecoinNode, rig: Rig, client: BitcoinClient
) -> None:
    key = new_key()
    rig.bind("BTC", key.btc_address)
    scanner = rig.scanner(client, confirmations_required=0, start=ltc.height() + 1)
    ltc.mine(1)
    await scan_all(scanner)  # a cursor exists, below what the import will set
    skipped_tx = ltc.pay((key.script, 3_000_000))
    ltc.mine(1)
    with rig.db.write() as conn:
        assert raise_scan_floor(conn, "BTC", ltc.height() + 1, "imported", 1)
        assert not raise_scan_floor(conn, "BTC", ltc.height(), "lower: ignored", 2)
    kept_tx = ltc.pay((key.script, 4_000_000))
    ltc.mine(1)
    await scan_all(scanner)
    assert set(rig.deposits()) == {f"{kept_tx}:0"}
    assert f"{skipped_tx}:0" not in rig.deposits()
