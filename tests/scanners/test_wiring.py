"""A whole teller (app.py wiring, in-process) with its real ETH scanner on anvil: bind,
pay, the deposit is paid; /api/health and /api/deposit-addresses report the scanner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from teller.coins import eth
from tests.http.running_teller import SKY_A, RunningTeller, TellerLauncher, reap_stopping
from tests.scanners.conftest import AnvilNode, Rig, scan_all


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[TellerLauncher]:
    launched = TellerLauncher(tmp_path)
    yield launched
    launched.stop_all()
    problems = reap_stopping(wait=True)
    assert not problems, "\n".join(problems)


ANVIL_CHAIN_ID = 31337  # anvil's default


def eth_teller(launcher: TellerLauncher, port: int, start: int) -> RunningTeller:
    return launcher.start(
        auto_confirm=True,
        overrides={
            "dummy": {"scanner": False},
            "btc_scanner": {"enabled": False},
            "eth_rpc": {"server": "127.0.0.1", "port": str(port)},
            "eth_scanner": {
                "enabled": True,
                "scan_period": "100ms",
                "confirmations_required": 1,  # one block on top: 2 confirmations
                "initial_scan_height": start,
                "chain_id": ANVIL_CHAIN_ID,
            },
        },
    )


def test_an_eth_deposit_goes_from_the_chain_to_done(
    anvil: AnvilNode, launcher: TellerLauncher
) -> None:
    tel = eth_teller(launcher, anvil.port, anvil.height() + 1)
    address = tel.bind_ok(SKY_A, "ETH")
    assert address == eth.checksum_address(address)  # handed out in EIP-55 case
    anvil.send(address, 2 * 10**18)  # 2 ETH at 100 SKY/ETH
    anvil.mine(1)

    (entry,) = tel.wait_status(SKY_A, "done")
    assert entry["coin_type"] == "ETH"
    health = tel.http.get(tel.public + "/api/health").json()["scanners"]
    assert health["eth"]["source"] == "node" and health["eth"]["node_reachable"] is True
    assert health["eth"]["scanned_height"] == anvil.height() - 1
    assert health["btc"]["source"] == "off"
    view = tel.admin_get("/api/deposit-addresses")
    assert view["ETH"]["scanner"]["node_height"] == anvil.height()
    # As the Go teller: true where a chain is scanned, false for a coin turned off.
    assert view["ETH"]["scanning_enabled"] is True
    assert view["BTC"]["scanning_enabled"] is False
    assert [o["coins"] for b in tel.broadcasts() for o in b["outputs"]] == ["200.000000"]


def test_an_unreachable_node_is_reported_and_the_api_keeps_answering(
    launcher: TellerLauncher, refused_port: int
) -> None:
    tel = eth_teller(launcher, refused_port, 0)

    def reported() -> bool:
        scanner = tel.http.get(tel.public + "/api/health").json()["scanners"]["eth"]
        return scanner["node_reachable"] is False and scanner["error"] != ""

    tel.wait_for(reported, what="the scanner to report its node unreachable")
    # The public answer names the trouble; the node's address and answers are admin-only.
    public = tel.http.get(tel.public + "/api/health").json()["scanners"]["eth"]["error"]
    assert public == "the ETH node cannot be scanned now (details: admin API)"
    assert "127.0.0.1" not in public
    admin = tel.admin_get("/api/health")["scanners"]["eth"]["error"]
    assert "cannot reach" in admin and "127.0.0.1" in admin
    assert tel.bind(SKY_A, "ETH").status_code == 200
    assert httpx.get(tel.public + "/api/config").json()["deposits"]["eth"]["enabled"] is True


async def test_sky_deposits_through_the_block_loop(tmp_path: Path, rig: Rig) -> None:
    """scanners/sky.py (another part's client) under this block loop, on the node simulator."""
    from teller.clients.skycoin_node import SkyNodeClient
    from teller.coins import sky_tx
    from teller.scanners.sky import SkyChainClient
    from tests.skynode.conftest import SKY_B, SimNode

    sim = SimNode(tmp_path / "skynode").start()
    client = SkyNodeClient(sim.address)
    try:
        chain = SkyChainClient(client)
        rig.bind("SKY", SKY_A)
        scanner = rig.scanner(chain, confirmations_required=0, start=await chain.tip_height() + 1)
        wallet = sim.wallet
        spendable = (await client.outputs(wallet.addresses)).spendable
        unspent = [sky_tx.Unspent(o.uxid, o.address, o.droplets, o.hours) for o in spendable]
        built = sky_tx.build_transaction(
            unspent[:1], [(SKY_B, 1_000), (SKY_A, 2_500_000)], wallet.addresses[0],
            wallet.seckeys, burn_factor=10,
        )  # fmt: skip
        await client.inject(built.raw_hex)
        sim.make_block()
        await scan_all(scanner)
    finally:
        await client.aclose()
        sim.stop()
    assert {i: d.value for i, d in rig.deposits().items()} == {f"{built.txid}:1": 2_500_000}
