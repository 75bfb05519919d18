"""The block loop (scanners/base.py) on a real Bitcoin-style node: Litecoin Core in regtest.

Confirmations gating, addresses bound late, restarts mid-scan, and reorgs made with
invalidateblock both shallower and deeper than the confirmations required.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from teller.clients.bitcoind import BitcoinClient
from teller.deposits.states import DONE, WAITING_CONFIRM, WAITING_DECIDE
from teller.errors import NodeBadAnswer
from teller.scanners.base import ORPHANED_ERROR
from teller.store.scans import last_scanned
from tests.scanners.conftest import (
    RPC_PASS,
    RPC_USER,
    LitecoinNode,
    Rig,
    new_key,
    scan_all,
    watch_notices,
)


@pytest.fixture
async def client(ltc: LitecoinNode) -> AsyncIterator[BitcoinClient]:
    node = BitcoinClient(f"127.0.0.1:{ltc.port}", RPC_USER, RPC_PASS, tls=False, network="regtest")
    yield node
    await node.aclose()


async def test_a_deposit_waits_for_its_confirmations(
    ltc: LitecoinNode, rig: Rig, client: BitcoinClient
) -> None:
    key = new_key()
    rig.bind("BTC", key.btc_address)
    scanner = rig.scanner(client, confirmations_required=2, start=ltc.height() + 1)
    txid = ltc.pay((key.script, 7_000_001))

    ltc.mine(1)  # 1 confirmation (the tip)
    await scan_all(scanner)
    assert rig.deposits() == {}
    ltc.mine(1)  # 2
    await scan_all(scanner)
    assert rig.deposits() == {}
    ltc.mine(1)  # 3 confirmations (Bitcoin's count): 2 blocks on top, as required
    await scan_all(scanner)

    deposit = rig.deposits()[f"{txid}:0"]
    assert (deposit.value, deposit.status, deposit.height) == (
        7_000_001,
        WAITING_DECIDE,
        ltc.height() - 2,
    )
    assert scanner.health.scanned_height == ltc.height() - 2
    assert scanner.health.node_height == ltc.height()


async def test_confirmations_required_1_waits_for_one_block_on_top_as_the_go_teller(
    ltc: LitecoinNode, rig: Rig, client: BitcoinClient
) -> None:
    """The Go teller's key, the Go teller's meaning (teller-go.md §5.1: it waited while
    `height + confirmations_required > tip`): with 1, a deposit in the tip block is not
    recorded; one block on top of it (2 confirmations as Bitcoin counts them) and it is."""
    key = new_key()
    rig.bind("BTC", key.btc_address)
    scanner = rig.scanner(client, confirmations_required=1, start=ltc.height() + 1)
    txid = ltc.pay((key.script, 5_000_000))
    ltc.mine(1)  # the payment is in the tip block: 1 confirmation, 0 blocks on top

    await scan_all(scanner)
    assert rig.deposits() == {}
    assert scanner.health.scanned_height is None  # the tip block is not scanned yet

    ltc.mine_empty(1)  # one block on top
    await scan_all(scanner)
    deposit = rig.deposits()[f"{txid}:0"]
    assert (deposit.height, deposit.value) == (ltc.height() - 1, 5_000_000)
    assert scanner.health.scanned_height == ltc.height() - 1


async def test_an_address_bound_while_its_payment_is_unconfirmed_is_paid(
    ltc: LitecoinNode, rig: Rig, client: BitcoinClient
) -> None:
    early, late = new_key(), new_key(segwit=True)
    rig.bind("BTC", early.btc_address)
    scanner = rig.scanner(client, confirmations_required=1, start=ltc.height() + 1)
    txid = ltc.pay((late.script, 50_000), (early.script, 60_000))
    ltc.mine(1)
    await scan_all(scanner)  # the block has 1 confirmation: not scanned yet

    rig.bind("BTC", late.btc_address)  # bound after the payment was mined
    ltc.mine(1)
    await scan_all(scanner)

    found = rig.deposits()
    assert {i: d.value for i, d in found.items()} == {f"{txid}:0": 50_000, f"{txid}:1": 60_000}
    assert found[f"{txid}:0"].deposit_address == late.btc_address


async def test_a_restart_mid_scan_misses_and_repeats_nothing(
    ltc: LitecoinNode, any_rig: Rig, client: BitcoinClient, caplog: pytest.LogCaptureFixture
) -> None:
    keys = [new_key(segwit=i % 2 == 1) for i in range(4)]
    for key in keys:
        any_rig.bind("BTC", key.btc_address)
    start = ltc.height() + 1
    paid: dict[str, int] = {}
    for block in range(12):
        key = keys[block % len(keys)]
        txid = ltc.pay((key.script, 10_000 + block))
        paid[f"{txid}:0"] = 10_000 + block
        ltc.mine(1)

    first = any_rig.scanner(client, confirmations_required=0, start=start, batch=5)
    assert not await first.scan_once()  # 5 of 12 blocks, then teller stops
    assert len(any_rig.deposits()) == 5
    # A new scanner on the same store (a restarted teller) resumes from the stored cursor,
    # not from initial_scan_height and not from the tip.
    second = any_rig.scanner(client, confirmations_required=0, start=start, batch=5)
    caplog.clear()
    await scan_all(second)
    assert not any("already recorded" in r.getMessage() for r in caplog.records)
    with any_rig.db.read() as conn:
        last = last_scanned(conn, "BTC")
    assert last is not None and last.height == ltc.height()

    assert {i: d.value for i, d in any_rig.deposits().items()} == paid


async def test_a_block_scanned_again_after_a_crash_records_nothing_twice(
    ltc: LitecoinNode, rig: Rig, client: BitcoinClient, caplog: pytest.LogCaptureFixture
) -> None:
    key = new_key()
    rig.bind("BTC", key.btc_address)
    start = ltc.height() + 1
    txid = ltc.pay((key.script, 123_456), (key.script, 654_321))
    ltc.mine(1)
    await scan_all(rig.scanner(client, confirmations_required=0, start=start))
    # As if teller died after the intake committed and before the block was recorded.
    with rig.db.write() as conn:
        conn.exec_driver_sql("DELETE FROM scan_blocks")
    caplog.clear()
    await scan_all(rig.scanner(client, confirmations_required=0, start=start))

    assert {i: d.value for i, d in rig.deposits().items()} == {
        f"{txid}:0": 123_456,
        f"{txid}:1": 654_321,
    }
    assert sum("deposit already recorded" in r.getMessage() for r in caplog.records) == 2


async def test_a_reorg_shallower_than_the_confirmations_never_shows(
    ltc: LitecoinNode, rig: Rig, client: BitcoinClient, caplog: pytest.LogCaptureFixture
) -> None:
    key = new_key()
    rig.bind("BTC", key.btc_address)
    scanner = rig.scanner(client, confirmations_required=2, start=ltc.height() + 1)
    txid = ltc.pay((key.script, 99_999))
    mined = ltc.mine(2)  # the payment has 2 confirmations of 3
    await scan_all(scanner)
    ltc.rpc("invalidateblock", mined[0])  # a 2-block reorg: the payment is back in the mempool
    ltc.mine_empty(3)  # a longer chain without it
    await scan_all(scanner)
    assert rig.deposits() == {}  # not on the chain: nothing recorded

    ltc.mine(3)  # mined again, and confirmed
    await scan_all(scanner)

    assert list(rig.deposits()) == [f"{txid}:0"]
    assert rig.orphans() == {}
    assert watch_notices(caplog) == []


async def test_a_deeper_reorg_stops_an_unpaid_deposit_and_reports_it(
    ltc: LitecoinNode, any_rig: Rig, client: BitcoinClient, caplog: pytest.LogCaptureFixture
) -> None:
    key = new_key()
    any_rig.bind("BTC", key.btc_address)
    scanner = any_rig.scanner(client, confirmations_required=1, start=ltc.height() + 1)
    txid = ltc.pay((key.script, 250_000))
    mined = ltc.mine(2)
    await scan_all(scanner)
    deposit_id = f"{txid}:0"
    assert any_rig.deposits()[deposit_id].status == WAITING_DECIDE

    ltc.rpc("invalidateblock", mined[0])  # 2 blocks deep: as deep as the confirmations
    ltc.mine_empty(3)
    await scan_all(scanner)

    stopped = any_rig.deposits()[deposit_id]
    assert (stopped.status, stopped.error) == (DONE, ORPHANED_ERROR)
    orphan = any_rig.orphans()[deposit_id]
    assert (orphan.action, orphan.status_then, orphan.value) == ("stopped", WAITING_DECIDE, 250_000)
    assert orphan.fork_height == ltc.height() - 3
    assert any("stopped before it was paid" in m for m in watch_notices(caplog))

    caplog.clear()
    ltc.mine(2)  # the payment is mined again: the operator is told, nothing is paid
    await scan_all(scanner)
    assert any_rig.orphans()[deposit_id].back_height == ltc.height() - 1
    assert any_rig.deposits()[deposit_id].status == DONE
    assert any("back on the chain" in m for m in watch_notices(caplog))


async def test_a_deeper_reorg_after_the_payout_is_reported_not_undone(
    ltc: LitecoinNode, rig: Rig, client: BitcoinClient, caplog: pytest.LogCaptureFixture
) -> None:
    key = new_key()
    rig.bind("BTC", key.btc_address)
    scanner = rig.scanner(client, confirmations_required=0, start=ltc.height() + 1)
    txid = ltc.pay((key.script, 1_000_000))
    mined = ltc.mine(1)
    await scan_all(scanner)
    processor, sender = rig.stages()
    await processor.step()
    await sender.step()
    deposit_id = f"{txid}:0"
    assert rig.deposits()[deposit_id].status == WAITING_CONFIRM

    ltc.rpc("invalidateblock", mined[0])
    ltc.mine_empty(2)
    await scan_all(scanner)

    assert rig.deposits()[deposit_id].status == WAITING_CONFIRM  # its payout is out
    orphan = rig.orphans()[deposit_id]
    assert (orphan.action, orphan.status_then) == ("not_stopped", WAITING_CONFIRM)
    assert any("already being paid or paid" in m for m in watch_notices(caplog))


async def test_a_deeper_reorg_that_mines_the_payment_again_changes_nothing(
    ltc: LitecoinNode, rig: Rig, client: BitcoinClient, caplog: pytest.LogCaptureFixture
) -> None:
    key = new_key(segwit=True)
    rig.bind("BTC", key.btc_address)
    scanner = rig.scanner(client, confirmations_required=0, start=ltc.height() + 1)
    txid = ltc.pay((key.script, 31_415))
    mined = ltc.mine(1)
    await scan_all(scanner)

    ltc.rpc("invalidateblock", mined[0])
    remined = ltc.mine(2)[0]  # the new chain holds the payment again, in another block
    await scan_all(scanner)

    assert {i: d.status for i, d in rig.deposits().items()} == {f"{txid}:0": WAITING_DECIDE}
    assert rig.orphans() == {}
    assert watch_notices(caplog) == []
    assert any("chain reorganization" in r.getMessage() for r in caplog.records)
    assert any("still on the chain after the reorg" in r.getMessage() for r in caplog.records)
    # Its new block is recorded, so that a later reorg checks it there.
    assert rig.deposits()[f"{txid}:0"].block_hash == remined != mined[0]


async def test_a_reorg_onto_a_shorter_chain_is_followed_at_once(
    ltc: LitecoinNode, rig: Rig, client: BitcoinClient, caplog: pytest.LogCaptureFixture
) -> None:
    key = new_key()
    rig.bind("BTC", key.btc_address)
    scanner = rig.scanner(client, confirmations_required=0, start=ltc.height() + 1)
    txid = ltc.pay((key.script, 300_000))
    mined = ltc.mine(3)
    await scan_all(scanner)

    ltc.rpc("invalidateblock", mined[0])
    ltc.mine_empty(1)  # 2 blocks shorter than what was scanned, and another block at its tip
    await scan_all(scanner)

    assert rig.deposits()[f"{txid}:0"].status == DONE
    assert rig.orphans()[f"{txid}:0"].fork_height == ltc.height() - 1
    assert scanner.health.scanned_height == ltc.height()
    ltc.rpc("invalidateblock", ltc.rpc("getbestblockhash"))  # now only shorter: it waits
    with pytest.raises(NodeBadAnswer, match="below the scanned height"):
        await scanner.scan_once()


async def test_a_deposit_moved_by_a_reorg_into_a_shallower_block_is_not_carried_on(
    ltc: LitecoinNode, rig: Rig, client: BitcoinClient, caplog: pytest.LogCaptureFixture
) -> None:
    """confirmations_required 1 (one block on top: 2 confirmations): after the reorg the
    payment is only in the tip block (1 confirmation), so it is stopped as gone, and reported
    back once it has 2 again."""
    key = new_key()
    rig.bind("BTC", key.btc_address)
    scanner = rig.scanner(client, confirmations_required=1, start=ltc.height() + 1)
    txid = ltc.pay((key.script, 2_718_281))
    mined = ltc.mine(2)
    await scan_all(scanner)
    deposit_id = f"{txid}:0"
    assert rig.deposits()[deposit_id].status == WAITING_DECIDE

    ltc.rpc("invalidateblock", mined[0])
    ltc.mine_empty(2)
    ltc.mine(1)  # the payment again, in the new tip: 1 confirmation
    await scan_all(scanner)
    assert rig.deposits()[deposit_id].status == DONE  # stopped, not paid with 1 confirmation
    assert rig.orphans()[deposit_id].back_height is None

    ltc.mine_empty(1)  # now 2 confirmations
    await scan_all(scanner)
    assert rig.orphans()[deposit_id].back_height == ltc.height() - 1
    assert any("back" in n for n in watch_notices(caplog))
