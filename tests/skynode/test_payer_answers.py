"""The SKY payer against node answers the simulator never gives (a scripted node on loopback):
whatever the node lists, the payer neither spends an output twice nor lets an unexpected
error escape the sender's round."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from teller.clients.skycoin_node import U64_MAX, SkyNodeClient
from teller.coins.sky_wallet import Wallet, write_wallet
from teller.errors import InsufficientBalance, SendTemporary
from teller.payout.base import PayoutOutput
from teller.payout.skycoin_node import SkyNodePayer

from .conftest import SKY_A
from .scripted import ScriptedNode, serve_scripted

SKY = 1_000_000
HEALTH = {
    "version": {"version": "0.27.1"},
    "user_verify_transaction": {
        "burn_factor": 10,
        "max_transaction_size": 32768,
        "max_decimals": 3,
    },
}


@pytest.fixture
def node() -> Iterator[ScriptedNode]:
    yield from serve_scripted()


@pytest.fixture
def wallet(tmp_path: Path) -> Wallet:
    return write_wallet(tmp_path / "hot.wlt", "payer answers test seed", 1)


def _outputs(wallet: Wallet, *outputs: tuple[str, int]) -> dict[str, Any]:
    """An /api/v1/outputs answer: (uxid, calculated_hours) outputs of 2 SKY each."""
    return {
        "head": {"seq": 5, "block_hash": "cd" * 32, "timestamp": 1_700_000_000},
        "head_outputs": [
            {
                "hash": uxid,
                "block_seq": 3,
                "time": 1_699_999_000,
                "src_tx": "ee" * 32,
                "address": wallet.addresses[0],
                "coins": "2.000000",
                "hours": 1,
                "calculated_hours": hours,
            }
            for uxid, hours in outputs
        ],
        "outgoing_outputs": [],
        "incoming_outputs": [],
    }


async def test_an_output_the_node_lists_twice_is_counted_and_spent_once(
    node: ScriptedNode, wallet: Wallet
) -> None:
    node.on("GET", "/api/v1/health", (200, HEALTH))
    node.on("GET", "/api/v1/outputs", (200, _outputs(wallet, ("01" * 32, 100), ("01" * 32, 100))))
    payer = SkyNodePayer(SkyNodeClient(node.address), wallet)
    assert await payer.spendable([]) == 2 * SKY
    # 3 SKY would need the same output twice: "Duplicate spend", a ValueError out of the
    # builder that ended the sender's round (confirmations unchecked) every time.
    with pytest.raises(InsufficientBalance):
        await payer.build_payout([PayoutOutput(SKY_A, 3 * SKY, "d:0")], [])
    signed = await payer.build_payout([PayoutOutput(SKY_A, 1 * SKY, "d:0")], [])
    assert signed.inputs == ("01" * 32,)


async def test_a_payout_the_builder_cannot_encode_is_a_temporary_send_error(
    node: ScriptedNode, wallet: Wallet
) -> None:
    # Hours the node claims (each within uint64) that add up past uint64 in one output:
    # struct.error while encoding, which is not even a ValueError.
    node.on("GET", "/api/v1/health", (200, HEALTH))
    listed = _outputs(wallet, ("01" * 32, U64_MAX), ("02" * 32, U64_MAX))
    node.on("GET", "/api/v1/outputs", (200, listed))
    payer = SkyNodePayer(SkyNodeClient(node.address), wallet)
    with pytest.raises(SendTemporary, match="cannot build the payout"):
        await payer.build_payout([PayoutOutput(SKY_A, 4 * SKY, "d:0")], [])


def test_the_payer_does_not_show_its_wallet_secrets(node: ScriptedNode, wallet: Wallet) -> None:
    payer = SkyNodePayer(SkyNodeClient(node.address), wallet)
    entry = wallet.entries[0]
    for shown in (repr(payer), repr(wallet), str(wallet)):
        assert entry.seckey.hex() not in shown and repr(entry.seckey) not in shown
        assert "payer answers test seed" not in shown
