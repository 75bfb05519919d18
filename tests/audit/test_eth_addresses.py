"""The audit's deposit-address check on a real Ethereum node (anvil) and a real store: at the
last scanned block, an address that never sent anything holds exactly its recorded deposits;
more is a missed deposit (listed), less is a deposit the chain does not have."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from teller.audit.loop import Auditor, AuditPeers
from teller.clients.ethereum import EthereumClient
from teller.store.models import IncomingDeposit
from tests.scanners.conftest import AnvilNode, Rig, scan_all


@pytest.fixture
async def client(anvil: AnvilNode) -> AsyncIterator[EthereumClient]:
    node = EthereumClient("127.0.0.1", str(anvil.port))
    yield node
    await node.aclose()


def fresh_address(anvil: AnvilNode, tag: int) -> str:
    return f"0x{anvil.height():08x}{tag:04x}" + "a7" * 14


async def test_eth_sent_to_an_address_outside_a_deposit_is_listed(
    anvil: AnvilNode, rig: Rig, client: EthereumClient
) -> None:
    early, clean = fresh_address(anvil, 1), fresh_address(anvil, 2)
    swept = anvil.accounts[3].lower()  # holds anvil's 10,000 ETH and sends one transaction
    anvil.send(early, 5)  # paid before it was bound: no deposit, but on the address
    start = anvil.height() + 1
    for address in (early, clean, swept):
        rig.bind("ETH", address)
    anvil.send(early, 7)
    deposit = anvil.send(clean, 11)
    anvil.send(swept, 13)
    anvil.send(anvil.accounts[0], 1, sender=3)
    await scan_all(rig.scanner(client, confirmations_required=0, start=start))
    assert len(rig.deposits()) == 3
    audit = Auditor(rig.db, AuditPeers(eth=client), interval_seconds=60)

    report = await audit.run_once()

    [excess] = report.findings
    assert (excess.kind, excess.subject) == ("deposit_excess", f"ETH {early}")
    assert excess.expected == "0.000000000000000007 ETH of recorded deposits"
    assert excess.found.startswith("0.000000000000000012 ETH at block ")
    assert excess.detail.startswith("0.000000000000000005 ETH never recorded as a deposit")
    [result] = report.checks
    assert (result.figures["checked"], result.figures["swept"]) == (2, 1)

    # A deposit recorded that the chain never made: the address holds less than the books.
    rig.intake.receive(IncomingDeposit("ETH", clean, 100, start, "0x" + "9d" * 32, 0))
    again = await audit.run_once()

    assert {(f.kind, f.subject) for f in again.findings} == {
        ("deposit_excess", f"ETH {early}"),
        ("deposit_shortfall", f"ETH {clean}"),
    }
    assert deposit  # the real deposit to `clean` (11 wei) is not the difference
