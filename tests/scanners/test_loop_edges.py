"""The block loop (scanners/base.py) on a made-up chain held in memory: binding ids committed
out of order, a node whose answers do not fit together, orphans seen again by a later reorg.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import insert

from teller.clients.chain import Block, ChainOutput
from teller.deposits.states import DONE
from teller.errors import NodeBadAnswer
from teller.scanners.base import ORPHANED_ERROR, BlockScanner
from teller.store.bindings import insert_binding
from teller.store.db import Database, create_store_engine
from teller.store.migrate import upgrade
from teller.store.tables import bindings
from tests.scanners.conftest import SKY_A, Rig, scan_all, watch_notices


def block_hash(height: int, fork: int = 0) -> str:
    return f"{fork:08x}{height:056x}"


class FakeChain:
    """A node client over a list of blocks; `blocks[h]` is the block at height h."""

    coin_type = "BTC"

    def __init__(self, length: int = 5) -> None:
        self.blocks: list[Block] = []
        for _ in range(length):
            self.mine()

    def mine(self, *outputs: ChainOutput, fork: int = 0) -> Block:
        height = len(self.blocks)
        prev = self.blocks[-1].hash if self.blocks else ""
        block = Block(height, block_hash(height, fork), prev, tuple(outputs))
        self.blocks.append(block)
        return block

    def reorg(self, depth: int, fork: int) -> None:
        """Drop the last `depth` blocks and mine as many empty ones on a new branch."""
        del self.blocks[-depth:]
        for _ in range(depth):
            self.mine(fork=fork)

    async def tip_height(self) -> int:
        return len(self.blocks) - 1

    async def block_hash(self, height: int) -> str:
        if height >= len(self.blocks):
            raise NodeBadAnswer(f"no block {height}")
        return self.blocks[height].hash

    async def block(self, height: int) -> Block:
        if height >= len(self.blocks):
            raise NodeBadAnswer(f"no block {height}")
        return self.blocks[height]

    def watch_key(self, address: str) -> str:
        return address


def scanner(rig: Rig, chain: FakeChain) -> BlockScanner:
    # confirmations_required 0: the tip block is scanned (1 confirmation).
    return rig.scanner(chain, confirmations_required=0, start=1)  # type: ignore[arg-type]


def bind_with_id(rig: Rig, binding_id: int, address: str) -> None:
    """A binding with the id a sequence handed out earlier (see the test below)."""
    with rig.db.write() as conn:
        conn.execute(
            insert(bindings).values(
                id=binding_id,
                coin_type="BTC",
                deposit_address=address,
                sky_address=SKY_A,
                buy_method="direct",
                bound_at=1,
            )
        )


async def test_a_binding_committed_after_a_higher_id_was_read_is_watched(any_rig: Rig) -> None:
    # On PostgreSQL, bind 1 takes id 2 from the sequence, bind 2 takes id 3 and commits first;
    # the scanner reads ids up to 3; then bind 1 commits with id 2, and its address is paid.
    chain = FakeChain()
    bind_with_id(any_rig, 1, "addr-1")
    bind_with_id(any_rig, 3, "addr-3")
    scan = scanner(any_rig, chain)
    await scan_all(scan)
    bind_with_id(any_rig, 2, "addr-2")  # the late commit
    chain.mine(ChainOutput("aa" * 32, 0, "addr-2", 5_000), ChainOutput("bb" * 32, 1, "addr-3", 7))
    await scan_all(scan)

    assert {i: d.value for i, d in any_rig.deposits().items()} == {
        f"{'aa' * 32}:0": 5_000,
        f"{'bb' * 32}:1": 7,
    }


@pytest.mark.postgres
async def test_on_postgresql_a_bind_committing_after_a_later_one_is_watched(
    pg_url: str, tmp_path: Path
) -> None:
    engine = create_store_engine(pg_url)
    upgrade(engine)
    rig = Rig(Database(engine), tmp_path)
    try:
        chain = FakeChain()
        scan = scanner(rig, chain)
        with rig.db.write() as slow:  # takes its id from the sequence first, commits last
            insert_binding(
                slow,
                coin_type="BTC",
                deposit_address="late",
                sky_address=SKY_A,
                buy_method="direct",
                now=1,
            )
            rig.bind("BTC", "early")  # the next id, committed at once
            await scan_all(scan)
        chain.mine(ChainOutput("aa" * 32, 0, "late", 9))
        await scan_all(scan)
        assert [(d.deposit_address, d.value) for d in rig.deposits().values()] == [("late", 9)]
    finally:
        rig.db.dispose()


async def test_a_block_whose_parent_does_not_fit_is_a_bad_answer_not_a_spin(rig: Rig) -> None:
    chain = FakeChain()
    rig.bind("BTC", "addr")
    scan = scanner(rig, chain)
    await scan_all(scan)
    # The node names block 4 as before, but gives block 5 a parent that is not it (a node
    # or proxy that leaves previousblockhash out or garbles it).
    bad = chain.mine(ChainOutput("aa" * 32, 0, "addr", 1_000))
    chain.blocks[5] = Block(5, bad.hash, "ff" * 32, bad.outputs)

    with pytest.raises(NodeBadAnswer, match="parent"):
        await scan.scan_once()  # before: False (a reorg) at once, round after round
    assert rig.deposits() == {}


async def test_a_later_deeper_reorg_leaves_an_orphan_stopped_as_it_was(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    chain = FakeChain()
    rig.bind("BTC", "addr")
    scan = scanner(rig, chain)
    chain.mine(ChainOutput("aa" * 32, 0, "addr", 1_000))  # height 5
    await scan_all(scan)
    chain.reorg(2, fork=1)  # blocks 4 and 5 replaced
    await scan_all(scan)
    deposit_id = f"{'aa' * 32}:0"
    assert rig.orphans()[deposit_id].action == "stopped"

    caplog.clear()
    chain.reorg(4, fork=2)  # a deeper one: blocks 2..5 replaced
    await scan_all(scan)

    orphan = rig.orphans()[deposit_id]
    assert (orphan.action, orphan.status_then, orphan.fork_height) == (
        "stopped",
        "waiting_decide",
        3,
    )
    assert (rig.deposits()[deposit_id].status, rig.deposits()[deposit_id].error) == (
        DONE,
        ORPHANED_ERROR,
    )
    assert not any("already being paid" in m for m in watch_notices(caplog))


async def test_an_orphan_back_on_the_chain_and_gone_again_is_reported_again(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    chain = FakeChain()
    rig.bind("BTC", "addr")
    scan = scanner(rig, chain)
    payment = ChainOutput("aa" * 32, 0, "addr", 1_000)
    chain.mine(payment)  # height 5
    await scan_all(scan)
    chain.reorg(1, fork=1)  # block 5 replaced: orphaned, stopped
    await scan_all(scan)
    chain.mine()
    back = chain.mine(payment)  # height 7: back on the chain
    await scan_all(scan)
    deposit_id = f"{'aa' * 32}:0"
    assert rig.orphans()[deposit_id].back_height == 7
    assert (rig.deposits()[deposit_id].height, rig.deposits()[deposit_id].block_hash) == (
        7,
        back.hash,
    )

    caplog.clear()
    chain.reorg(1, fork=2)  # block 7 replaced: gone again (before: not noticed)
    await scan_all(scan)

    orphan = rig.orphans()[deposit_id]
    assert (orphan.back_height, orphan.fork_height, orphan.action) == (None, 6, "stopped")
    assert any("removed from the chain by a reorg" in m for m in watch_notices(caplog))
