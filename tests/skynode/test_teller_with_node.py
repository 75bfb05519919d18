"""A whole teller (HTTP servers, workers) paying through the node simulator: dummy.sender off.

The simulator makes a block only when told; teller's own loops run at their own pace, so
every check waits for a state (never for a time).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from teller_sims.demo import start_skynode
from teller_sims.process import SimProcess

from teller.config.preflight import validation_problems
from teller.config.schema import Config, ConfigError

from ..http.running_teller import RunningTeller, StartTeller
from ..sim_peers import env_overrides
from .conftest import SKY_A, SKY_B, SimNode

SKY = 1_000_000


def _real_sender(sim: SimNode, **extra: Any) -> dict[str, Any]:
    overrides: dict[str, Any] = {
        "sky_rpc": {"address": sim.address},
        "sky_exchanger": {
            "wallet": str(sim.wallet_path),
            "tx_confirmation_check_wait": "100ms",
        },
        # Dummy-API deposits paid by the real sender on the simulator: said explicitly.
        "dummy": {"sender": False, "fake_deposits_pay_real_sky": True},
    }
    overrides.update(extra)
    return overrides


def _health(tel: RunningTeller) -> dict[str, Any]:
    response = tel.http.get(tel.public + "/api/health")
    assert response.status_code == 200, response.text
    exchange = response.json()["exchange"]
    assert isinstance(exchange, dict)
    return exchange


def _deposit(tel: RunningTeller, sky: str, satoshis: int, tx: str) -> None:
    address = tel.bind_ok(sky)
    tel.deposit_ok(coin="BTC", addr=address, value=satoshis, height=1, tx=tx, n=0)


def test_a_deposit_is_paid_on_the_node_and_health_shows_the_wallet(
    start_teller: StartTeller, sim: SimNode
) -> None:
    tel = start_teller(overrides=_real_sender(sim))
    assert _health(tel)["balance"]["coins"] == "100000000.000000"
    _deposit(tel, SKY_A, 1_000_000, "aa" * 32)  # 0.01 BTC = 5 SKY
    [waiting] = tel.wait_status(SKY_A, "waiting_confirm")
    assert sim.pending() == [waiting["txid"]]
    sim.make_block()
    [done] = tel.wait_status(SKY_A, "done")
    assert (done["txid"], done["sky_sent"]) == (waiting["txid"], "5.000000")
    assert sim.ledger(SKY_A) == {SKY_A: (1, 5 * SKY)}
    tel.wait_for(lambda: _health(tel)["balance"]["coins"] == "99999995.000000", what="balance")
    assert _health(tel)["sender_error"] == ""
    # The dummy sender's API is gone with the dummy sender.
    assert tel.http.get(tel.dummy + "/dummy/sender/broadcasts").status_code == 404


def test_health_shows_sold_out_while_a_deposit_cannot_be_covered(
    start_teller: StartTeller, make_sim: Any
) -> None:
    sim: SimNode = make_sim(outputs=2, droplets=100 * SKY)
    tel = start_teller(overrides=_real_sender(sim))
    _deposit(tel, SKY_A, 100_000_000, "b1" * 32)  # 500 SKY
    _deposit(tel, SKY_B, 1_000_000, "b2" * 32)  # 5 SKY
    tel.wait_status(SKY_B, "waiting_confirm")
    health = tel.wait_for(
        lambda: (h := _health(tel))["sender_error"] and h, what="sold out in /api/health"
    )
    assert "not enough coins" in health["sender_error"]
    assert health["balance"]["coins"] == "100.000000"
    sim.make_block()
    tel.wait_status(SKY_B, "done")
    assert tel.statuses(SKY_A)[0]["status"] == "waiting_send"
    assert sim.ledger(SKY_A, SKY_B) == {SKY_A: (0, 0), SKY_B: (1, 5 * SKY)}


def test_an_encrypted_wallet_without_its_password_is_a_clear_config_error(
    start_teller: StartTeller, sim: SimNode, tmp_path: Any
) -> None:
    wallet = tmp_path / "encrypted.wlt"
    wallet.write_text(
        '{"meta": {"encrypted": "true", "cryptoType": "scrypt-chacha20poly1305"},'
        ' "entries": [{"address": "x", "public_key": "", "secret_key": ""}]}'
    )
    overrides = _real_sender(sim)
    overrides["sky_exchanger"]["wallet"] = str(wallet)
    with pytest.raises(ConfigError, match=r"is encrypted \(scrypt-chacha20poly1305\): name a"):
        start_teller(overrides=overrides)


@pytest.fixture
def demo_node(tmp_path: Path) -> Iterator[tuple[SimProcess, dict[str, str]]]:
    """What `make run SKYNODE=1` starts beside teller: `teller-sim skynode` as its own process,
    with the demo wallet it writes and funds, and the environment that points teller at it."""
    node, env = start_skynode(tmp_path / "demo")
    yield node, env
    node.stop()


def test_the_demo_node_is_a_simulator_process_teller_pays_through(
    demo_node: tuple[SimProcess, dict[str, str]], start_teller: StartTeller, tmp_path: Path
) -> None:
    """Real signed transactions, no node installed, one key; nothing of the simulator in
    teller: it is configured with the node's address and wallet file like any node's."""
    node, env = demo_node
    assert set(env) == {
        "TELLER_DUMMY__SENDER",
        "TELLER_DUMMY__FAKE_DEPOSITS_PAY_REAL_SKY",
        "TELLER_SKY_RPC__ADDRESS",
        "TELLER_SKY_EXCHANGER__WALLET",
    }
    overrides = env_overrides(env)
    overrides["sky_exchanger"]["tx_confirmation_check_wait"] = "100ms"
    tel = start_teller(overrides=overrides)
    assert tel.config.sky_rpc.address == node.address and tel.config.dummy.sender is False
    assert Path(tel.config.sky_exchanger.wallet) == tmp_path / "demo" / "skynode_sim.wlt"
    assert _health(tel)["balance"]["coins"] == "100000000.000000"
    _deposit(tel, SKY_A, 1_000_000, "aa" * 32)
    [waiting] = tel.wait_status(SKY_A, "waiting_confirm")
    status = httpx.get(f"{node.url}/sim/status", timeout=10).json()
    assert waiting["txid"] in status["pending"] or status["pending"] == []  # a block came
    assert httpx.post(f"{node.url}/sim/block", timeout=10).status_code == 200
    [done] = tel.wait_status(SKY_A, "done")
    assert done["txid"] == waiting["txid"]
    ledger = httpx.get(f"{node.url}/sim/ledger", params={"addrs": SKY_A}, timeout=10).json()
    paid = ledger["addresses"][SKY_A]
    assert (paid["count"], paid["droplets"]) == (1, 5 * SKY)
    assert not [p.name for p in (tel.dir / "data").iterdir() if "sim" in p.name]


def test_a_real_sender_needs_a_wallet_and_a_node_address() -> None:
    base = {
        "btc_addresses": __file__,
        "eth_addresses": __file__,
        "sky_exchanger": {"sky_btc_exchange_rate": "500", "sky_eth_exchange_rate": "100"},
        "sky_rpc": {"address": ""},
    }
    real = Config.model_validate({**base, "dummy": {"sender": False, "scanner": True}})
    assert {"sky_exchanger.wallet missing", "sky_rpc.address missing"} <= set(
        validation_problems(real)
    )


async def _pay_from_wallet(sim: SimNode, address: str, droplets: int) -> str:
    """Pay `address` from the simulator's funded wallet (as a buyer would); the txid."""
    from teller.clients.skycoin_node import SkyNodeClient
    from teller.coins import sky_tx

    wallet = sim.wallet
    client = SkyNodeClient(sim.address)
    try:
        outputs = (await client.outputs(wallet.addresses)).spendable
        unspent = [sky_tx.Unspent(o.uxid, o.address, o.droplets, o.hours) for o in outputs]
        built = sky_tx.build_transaction(
            unspent[-1:], [(address, droplets)], wallet.addresses[-1], wallet.seckeys,
            burn_factor=10,
        )  # fmt: skip
        await client.inject(built.raw_hex)
    finally:
        await client.aclose()
    return built.txid


def test_a_sky_deposit_is_found_on_the_node_and_paid_back_in_sky(
    start_teller: StartTeller, sim: SimNode
) -> None:
    """SKY deposits (sky_scanner, sky_sky_exchange_rate): the block loop finds the payment to
    the SKY deposit address on the node, and the sender pays the buyer from the hot wallet."""
    tel = start_teller(
        sky_enabled=True,
        eth_enabled=False,
        overrides=_real_sender(
            sim,
            btc_scanner={"enabled": False},
            sky_scanner={
                "enabled": True,
                "scan_period": "100ms",
                "initial_scan_height": 1,
                "confirmations_required": 0,  # the tip block: scanned once it is made
            },
            sky_exchanger={
                "wallet": str(sim.wallet_path),
                "tx_confirmation_check_wait": "100ms",
                "sky_sky_exchange_rate": "2",
            },
            dummy={"sender": False, "scanner": False},
        ),
    )
    deposit_address = tel.bind_ok(SKY_A, "SKY")
    txid = asyncio.run(_pay_from_wallet(sim, deposit_address, 3 * SKY))
    sim.make_block()
    [waiting] = tel.wait_status(SKY_A, "waiting_confirm")
    deposits = tel.admin_get("/api/deposits")["deposits"]
    assert [d["deposit_id"] for d in deposits] == [f"{txid}:0"]
    sim.make_block()
    [done] = tel.wait_status(SKY_A, "done")
    assert done["txid"] == waiting["txid"] and done["sky_sent"] == "6.000000"  # 3 SKY × 2
    assert sim.ledger(SKY_A) == {SKY_A: (1, 6 * SKY)}
