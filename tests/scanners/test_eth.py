"""The ETH node client (clients/ethereum.py) and the block loop on a real Ethereum node: anvil."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from teller.clients.ethereum import EthereumClient, parse_block, quantity
from teller.coins.eth import checksum_address
from teller.deposits.states import DONE, WAITING_DECIDE
from teller.errors import NodeBadAnswer
from teller.scanners.base import ORPHANED_ERROR
from tests.scanners.conftest import AnvilNode, Rig, scan_all, watch_notices
from tests.vectors import load_json

WEI_PER_ETH = 10**18


def fresh_address(anvil: AnvilNode, tag: int) -> str:
    """A lower-case address no test has paid yet (anvil keeps its chain for the module)."""
    return f"0x{anvil.height():08x}{tag:04x}" + "5e" * 14


@pytest.fixture
async def client(anvil: AnvilNode) -> AsyncIterator[EthereumClient]:
    node = EthereumClient("127.0.0.1", str(anvil.port))
    yield node
    await node.aclose()


async def test_value_transfers_to_watched_addresses_are_deposits_in_exact_wei(
    anvil: AnvilNode, rig: Rig, client: EthereumClient
) -> None:
    watched, other = fresh_address(anvil, 1), fresh_address(anvil, 2)
    rig.bind("ETH", watched)
    start = anvil.height() + 1
    # The node is given (and answers with) the EIP-55 mixed-case form; the pool holds lower case.
    first = anvil.send(checksum_address(watched), WEI_PER_ETH + 1)
    second = anvil.send(watched, 3 * WEI_PER_ETH // 7)  # a second deposit to the same address
    anvil.send(other, 5)

    await scan_all(rig.scanner(client, confirmations_required=0, start=start))

    found = {i: (d.deposit_address, d.value, d.tx, d.n) for i, d in rig.deposits().items()}
    assert found == {
        f"{first}:0": (watched, 1_000_000_000_000_000_001, first, 0),
        f"{second}:0": (watched, 428_571_428_571_428_571, second, 0),
    }


async def test_an_eth_deposit_waits_for_its_confirmations(
    anvil: AnvilNode, rig: Rig, client: EthereumClient
) -> None:
    watched = fresh_address(anvil, 3)
    rig.bind("ETH", watched)
    scanner = rig.scanner(client, confirmations_required=2, start=anvil.height() + 1)
    tx = anvil.send(watched, 12_345)  # mined at once: 1 confirmation
    await scan_all(scanner)
    anvil.mine(1)
    await scan_all(scanner)
    assert rig.deposits() == {}

    anvil.mine(1)
    await scan_all(scanner)

    assert [(d.deposit_id, d.value) for d in rig.deposits().values()] == [(f"{tx}:0", 12_345)]


async def test_an_anvil_reorg_deeper_than_the_confirmations_stops_the_deposit(
    anvil: AnvilNode, rig: Rig, client: EthereumClient, caplog: pytest.LogCaptureFixture
) -> None:
    watched = fresh_address(anvil, 4)
    rig.bind("ETH", watched)
    scanner = rig.scanner(client, confirmations_required=1, start=anvil.height() + 1)
    tx = anvil.send(watched, 7 * WEI_PER_ETH)
    anvil.mine(1)
    await scan_all(scanner)
    assert rig.deposits()[f"{tx}:0"].status == WAITING_DECIDE

    anvil.rpc("anvil_reorg", 2, [])  # the last 2 blocks replaced by empty ones
    await scan_all(scanner)

    deposit = rig.deposits()[f"{tx}:0"]
    assert (deposit.status, deposit.error) == (DONE, ORPHANED_ERROR)
    assert rig.orphans()[f"{tx}:0"].action == "stopped"
    assert any("stopped before it was paid" in m for m in watch_notices(caplog))


async def test_an_anvil_reorg_shallower_than_the_confirmations_records_nothing(
    anvil: AnvilNode, rig: Rig, client: EthereumClient, caplog: pytest.LogCaptureFixture
) -> None:
    watched = fresh_address(anvil, 5)
    rig.bind("ETH", watched)
    scanner = rig.scanner(client, confirmations_required=2, start=anvil.height() + 1)
    anvil.send(watched, 10**15)
    anvil.mine(1)  # 2 confirmations of 3
    await scan_all(scanner)
    anvil.rpc("anvil_reorg", 2, [])  # the payment is gone from the chain
    anvil.mine(3)
    await scan_all(scanner)

    assert rig.deposits() == {}
    assert rig.orphans() == {}
    assert watch_notices(caplog) == []


def test_the_original_fixture_blocks_are_read_with_hash_ids() -> None:
    """Deposit ids are "<tx hash>:0", not the original's tx index (teller-go.md §5.3)."""
    fixture = load_json("teller/eth_scanner_fixture.json")
    deposits = [d for b in fixture["blocks"] for d in b["deposits_for_watched_addresses"] or []]
    document = {
        "number": hex(deposits[0]["height"]),
        "hash": "0x" + "11" * 32,
        "parentHash": "0x" + "22" * 32,
        "transactions": [
            {
                "hash": d["tx"],
                "to": checksum_address(d["address"]),
                "value": hex(d["value"] * 10**9),
            }
            for d in deposits
            if d["height"] == deposits[0]["height"]
        ]
        + [{"hash": "0x" + "33" * 32, "to": None, "value": "0x1"}],  # a contract creation
    }
    block = parse_block(document, deposits[0]["height"])
    assert [(o.txid, o.n, o.watch_key) for o in block.outputs] == [
        (d["tx"], 0, d["address"]) for d in deposits if d["height"] == deposits[0]["height"]
    ]


@pytest.mark.parametrize("value", ["12", "0xzz", 12, None, "0x" + "f" * 65])
def test_a_quantity_that_is_no_hex_number_is_garbage(value: object) -> None:
    with pytest.raises(NodeBadAnswer):
        quantity(value, "value")


async def test_a_block_the_node_does_not_have_is_a_bad_answer(
    anvil: AnvilNode, client: EthereumClient
) -> None:
    with pytest.raises(NodeBadAnswer, match="has no block"):
        await client.block(anvil.height() + 100)


def test_a_transaction_hash_is_read_in_lower_case_and_checked() -> None:
    document = {
        "number": "0x7",
        "hash": "0x" + "AB" * 32,
        "parentHash": "0x" + "22" * 32,
        "transactions": [{"hash": "0x" + "CD" * 32, "to": "0x" + "11" * 20, "value": "0x1"}],
    }
    block = parse_block(document, 7)
    assert (block.hash, block.outputs[0].txid) == ("0x" + "ab" * 32, "0x" + "cd" * 32)
    for garbage in ["0x12", 12, "0x" + "zz" * 32, "0x" + "cd" * 33]:
        document["transactions"][0]["hash"] = garbage
        with pytest.raises(NodeBadAnswer):
            parse_block(document, 7)


@pytest.mark.parametrize("value", ["0x_1", "0x1 ", "0x", "0x-1"])
def test_a_quantity_with_other_characters_is_garbage(value: str) -> None:
    with pytest.raises(NodeBadAnswer):
        quantity(value, "value")


async def test_a_failed_transaction_with_a_value_is_no_deposit(
    anvil: AnvilNode, rig: Rig, client: EthereumClient, caplog: pytest.LogCaptureFixture
) -> None:
    reverting, plain = fresh_address(anvil, 6), fresh_address(anvil, 7)
    rig.bind("ETH", reverting)
    rig.bind("ETH", plain)
    start = anvil.height() + 1
    # Code at the address that reverts every call (PUSH1 0 PUSH1 0 REVERT): a value sent
    # there stays in the block's transaction list, with status 0x0, and moves nothing.
    anvil.rpc("anvil_setCode", reverting, "0x60006000fd")
    tx = {"from": anvil.accounts[0], "to": reverting, "value": hex(10**18), "gas": hex(100_000)}
    failed = anvil.rpc("eth_sendTransaction", tx)
    assert anvil.rpc("eth_getTransactionReceipt", failed)["status"] == "0x0"
    paid = anvil.send(plain, 5 * 10**17)

    await scan_all(rig.scanner(client, confirmations_required=0, start=start))

    assert {i: d.value for i, d in rig.deposits().items()} == {f"{paid}:0": 5 * 10**17}
    assert any("failed: no deposit" in r.getMessage() for r in caplog.records)


async def test_a_node_of_another_chain_id_halts_the_scanner(anvil: AnvilNode, rig: Rig) -> None:
    from teller.errors import ScanHalted

    address = checksum_address("0x" + "5e" * 20)
    rig.bind("ETH", address.lower())
    start = anvil.height() + 1
    tx = anvil.send(address, 10**18)
    mainnet = EthereumClient("127.0.0.1", str(anvil.port), chain_id=1)
    try:
        scanner = rig.scanner(mainnet, confirmations_required=0, start=start)
        with pytest.raises(ScanHalted, match=r"on chain id 31337 but eth_scanner\.chain_id is 1"):
            await scanner.scan_once()
        assert rig.deposits() == {}
    finally:
        await mainnet.aclose()
    local = EthereumClient("127.0.0.1", str(anvil.port), chain_id=31337)
    try:
        await scan_all(rig.scanner(local, confirmations_required=0, start=start))
    finally:
        await local.aclose()
    assert set(rig.deposits()) == {f"{tx}:0"}
