"""TLS to every peer that is not on loopback (preflight.py): plain HTTP to a remote Skycoin
node, BTC or ETH node is refused unless the operator writes the key that says the path is
trusted; C2CX is https:// only, except to a loopback simulator. Every refusal names its key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from teller.config.admin_auth import is_loopback_host
from teller.config.preflight import sky_node_address
from tests.config.test_config import (
    BTC_RPC_OK,
    REAL_SCANNER,
    REAL_SENDER,
    config_dir,
    load,
    problems_of,
)
from tests.tls_certs import self_signed

__all__ = ["config_dir"]  # the fixture, shared with test_config.py

ETH_ON = {"eth_scanner": {"enabled": True}}


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("", True),
        ("10.0.0.5", False),
        ("node.example", False),
        ("localhost.example", False),
        ("::ffff:10.0.0.1", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_sky_node_addresses_keep_their_scheme() -> None:
    assert sky_node_address("127.0.0.1:6430") == ("http", "127.0.0.1:6430")
    assert sky_node_address("HTTPS://node.example:6430/") == ("https", "node.example:6430")
    assert sky_node_address("ftp://node.example:6430") == ("", "ftp://node.example:6430")


def test_plain_http_to_a_remote_skycoin_node_is_refused_naming_the_key(config_dir: Path) -> None:
    for address in ("node.example:6430", "http://10.1.2.3:6430"):
        (problem,) = problems_of(config_dir, REAL_SENDER, {"sky_rpc": {"address": address}})
        assert problem.startswith(f"sky_rpc.address {address} is plain HTTP to a host that is")
        assert "https://host:port" in problem and "sky_rpc.allow_plaintext_remote" in problem
    allowed = {"sky_rpc": {"address": "node.example:6430", "allow_plaintext_remote": True}}
    assert load(config_dir, REAL_SENDER, allowed).sky_rpc.allow_plaintext_remote
    # Loopback, HTTPS, or a node teller does not use (dummy sender, no SKY scanner): accepted.
    load(config_dir, REAL_SENDER, {"sky_rpc": {"address": "http://localhost:6430"}})
    load(config_dir, REAL_SENDER, {"sky_rpc": {"address": "https://node.example:6430"}})
    load(config_dir, {"sky_rpc": {"address": "node.example:6430"}})


def test_sky_rpc_cert_is_checked(config_dir: Path) -> None:
    files = self_signed(config_dir / "tls")
    https = {"sky_rpc": {"address": "https://node.example:6430", "cert": "tls/node.crt"}}
    config = load(config_dir, REAL_SENDER, https)
    assert config.sky_rpc.cert == str(files.cert)  # relative to the config file
    plain = {"sky_rpc": {"address": "127.0.0.1:6430", "cert": "tls/node.crt"}}
    assert problems_of(config_dir, REAL_SENDER, plain) == [
        "sky_rpc.cert is set but sky_rpc.address is not https://host:port"
    ]
    missing = {"sky_rpc": {"address": "https://n.example:1", "cert": "nope.crt"}}
    assert problems_of(config_dir, REAL_SENDER, missing) == [
        f"sky_rpc.cert file {config_dir}/nope.crt does not exist"
    ]
    (config_dir / "junk.crt").write_text("not a certificate")
    junk = {"sky_rpc": {"address": "https://n.example:1", "cert": "junk.crt"}}
    (problem,) = problems_of(config_dir, REAL_SENDER, junk)
    assert problem.startswith(f"sky_rpc.cert file {config_dir}/junk.crt is not a PEM certificate")
    bad = {"sky_rpc": {"address": "ftp://n.example:1"}}
    assert problems_of(config_dir, REAL_SENDER, bad) == [
        "sky_rpc.address must be host:port, http://host:port or https://host:port, got"
        " 'ftp://n.example:1'"
    ]


def test_btc_rpc_without_tls_to_a_remote_host_is_refused_naming_the_key(config_dir: Path) -> None:
    plain: dict[str, Any] = {"btc_rpc": {"server": "btc.example:8332", "tls": False}}
    (problem,) = problems_of(config_dir, REAL_SCANNER, BTC_RPC_OK, plain)
    assert problem.startswith(
        "btc_rpc.tls = false sends btc_rpc.user and btc_rpc.pass in the clear to btc.example:8332"
    )
    assert "btc_rpc.allow_plaintext_remote = true" in problem
    plain["btc_rpc"]["allow_plaintext_remote"] = True
    load(config_dir, REAL_SCANNER, BTC_RPC_OK, plain)
    local = {"btc_rpc": {"server": "127.0.0.1:18443", "tls": False}}
    load(config_dir, REAL_SCANNER, BTC_RPC_OK, local)
    load(config_dir, REAL_SCANNER, BTC_RPC_OK, {"btc_rpc": {"server": "btc.example:8334"}})


def test_eth_rpc_over_plain_http_to_a_remote_host_is_refused_naming_the_key(
    config_dir: Path,
) -> None:
    for server in ("geth.example", "http://user:pw@10.0.0.7"):
        remote: dict[str, Any] = {"eth_rpc": {"server": server, "port": "8545"}}
        (problem,) = problems_of(config_dir, REAL_SCANNER, BTC_RPC_OK, ETH_ON, remote)
        assert problem.startswith(f"eth_rpc.server {server} is plain HTTP to a host that is not")
        assert "eth_rpc.allow_plaintext_remote = true" in problem
        remote["eth_rpc"]["allow_plaintext_remote"] = True
        load(config_dir, REAL_SCANNER, BTC_RPC_OK, ETH_ON, remote)
    for server in ("127.0.0.1", "http://localhost", "https://geth.example"):
        load(
            config_dir, REAL_SCANNER, BTC_RPC_OK, ETH_ON, {"eth_rpc": {"server": server, "port": 1}}
        )
    wrong = {"eth_rpc": {"server": "ws://geth.example", "port": "8546"}}
    assert problems_of(config_dir, REAL_SCANNER, BTC_RPC_OK, ETH_ON, wrong) == [
        "eth_rpc.server must be a host, http://host or https://host, got 'ws://geth.example'"
    ]


def test_c2cx_is_https_only_except_on_loopback(config_dir: Path) -> None:
    def client(url: str) -> dict[str, Any]:
        return {"sky_exchanger": {"exchange_client": {"base_url": url}}}

    (problem,) = problems_of(config_dir, client("http://api.c2cx.com/v1/"))
    assert problem.startswith("sky_exchanger.exchange_client.base_url must be https://")
    assert "'http://api.c2cx.com/v1/'" in problem
    load(config_dir, client("https://api.c2cx.com/v1/"))
    load(config_dir, client("http://127.0.0.1:8090/v1/"))  # the simulator
