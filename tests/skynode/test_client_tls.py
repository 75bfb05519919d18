"""The Skycoin node over HTTPS (clients/skycoin_node.py, sky_rpc.address = "https://..."): the
node simulator serves TLS on 127.0.0.1 with certificates made in the test; the client trusts
the node's pinned certificate or a CA file given as sky_rpc.cert, and refuses any other.
A whole teller pays a deposit through such a node."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from teller.clients.skycoin_node import SkyNodeClient, SkyNodeError

from ..http.running_teller import StartTeller
from ..tls_certs import ServerFiles, ca_and_leaf, self_signed
from .conftest import SKY_A, SimNode

SKY = 1_000_000


@pytest.fixture(params=["pinned self-signed certificate", "CA file"])
def tls_node(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SimNode]:
    make = self_signed if request.param.startswith("pinned") else ca_and_leaf
    node = SimNode(tmp_path / "sim", tls=make(tmp_path / "tls")).start()
    yield node
    node.stop()


def tls_files(node: SimNode) -> ServerFiles:
    assert node.tls is not None
    return node.tls


async def test_the_client_speaks_https_and_verifies_the_node(tls_node: SimNode) -> None:
    client = SkyNodeClient(f"https://{tls_node.address}", cert=str(tls_files(tls_node).trust))
    try:
        assert client.base_url.startswith("https://")
        assert (await client.node_info()).version == "0.27.1"
        head = await client.head()
        outputs = await client.outputs(tls_node.wallet.addresses)  # with its CSRF-free GET
        assert outputs.head_seq == head.seq and outputs.confirmed
    finally:
        await client.aclose()


@pytest.mark.parametrize("trust", ["another self-signed certificate", "the system's CAs"])
async def test_an_unknown_certificate_is_refused(
    tls_node: SimNode, tmp_path: Path, trust: str
) -> None:
    cert = str(self_signed(tmp_path / "other", "impostor").trust) if "another" in trust else ""
    client = SkyNodeClient(f"https://{tls_node.address}", cert=cert)
    try:
        with pytest.raises(SkyNodeError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.node_info()
    finally:
        await client.aclose()


async def test_plain_http_is_not_quietly_used_for_an_https_node(tls_node: SimNode) -> None:
    """The scheme is kept (the client used to drop https:// and speak HTTP)."""
    client = SkyNodeClient(tls_node.address)  # no scheme: plain HTTP, which the node refuses
    try:
        with pytest.raises(SkyNodeError):
            await client.node_info()
    finally:
        await client.aclose()


def test_teller_pays_through_a_node_over_https(start_teller: StartTeller, tmp_path: Path) -> None:
    node = SimNode(tmp_path / "sim", tls=ca_and_leaf(tmp_path / "tls")).start()
    try:
        overrides: dict[str, Any] = {
            "sky_rpc": {"address": f"https://{node.address}", "cert": str(tls_files(node).trust)},
            "sky_exchanger": {
                "wallet": str(node.wallet_path),
                "tx_confirmation_check_wait": "100ms",
            },
            "dummy": {"sender": False, "fake_deposits_pay_real_sky": True},
        }
        tel = start_teller(overrides=overrides)
        address = tel.bind_ok(SKY_A)
        tel.deposit_ok(coin="BTC", addr=address, value=1_000_000, height=1, tx="aa" * 32, n=0)
        [waiting] = tel.wait_status(SKY_A, "waiting_confirm")
        assert node.pending() == [waiting["txid"]]
        node.make_block()
        tel.wait_status(SKY_A, "done")
        assert node.ledger(SKY_A) == {SKY_A: (1, 5 * SKY)}
    finally:
        node.stop()
