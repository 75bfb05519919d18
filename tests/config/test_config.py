"""teller.config (schema, load, go_compat, preflight): the original's config files, defaults,
every validation rule and message, environment overrides (pydantic-settings), the c2cx table
name, redaction of secrets, and config file lookup."""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Iterator, Mapping
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import teller
from teller.config.load import find_config_file, load_config
from teller.config.preflight import split_host_port, validation_problems
from teller.config.schema import Config, ConfigError, redact_url_password
from tests.peers import closed_port
from tests.vectors import GO_TELLER_FILES

EXAMPLE_CONFIG = Path(teller.__file__).resolve().parent / "examples" / "config.toml"


# ---------------------------------------------------------------------------------------------
# Helpers: write a config as TOML next to the files it names, then load it.


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, Mapping):  # an inline table (a [[webhooks]] entry)
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def toml_text(data: Mapping[str, Any], prefix: str = "") -> str:
    scalars = [
        f"{key} = {toml_value(value)}"
        for key, value in data.items()
        if not isinstance(value, Mapping)
    ]
    text = "\n".join(scalars) + "\n"
    for key, value in data.items():
        if isinstance(value, Mapping):
            name = f"{prefix}{key}"
            text += f"\n[{name}]\n" + toml_text(value, prefix=f"{name}.")
    return text


def merged(*layers: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if isinstance(value, Mapping) and isinstance(result.get(key), dict):
                result[key] = merged(result[key], value)
            elif isinstance(value, Mapping):
                result[key] = merged(value)
            else:
                result[key] = value
    return result


# A valid dummy-mode config: both dummies on, so no node, wallet or cert is needed.
BASE = {
    "btc_addresses": "btc.json",
    "eth_addresses": "eth.json",
    "sky_exchanger": {
        "sky_btc_exchange_rate": "500",
        "sky_eth_exchange_rate": "100",
        "sky_sky_exchange_rate": "1",
    },
    "dummy": {"sender": True, "scanner": True},
}
# The real sender, still fed by the dummy scanner (BASE): a test setup, so it says so with
# dummy.fake_deposits_pay_real_sky (without it that mix is refused, see test_dummy_* below).
REAL_SENDER = {
    "dummy": {"sender": False, "fake_deposits_pay_real_sky": True},
    "sky_exchanger": {"wallet": "hot.wlt"},
}
REAL_SCANNER = {"dummy": {"scanner": False}}
BTC_RPC_OK = {"btc_rpc": {"user": "u", "pass": "p", "cert": "btcd.cert"}}
PASSTHROUGH = {
    "sky_exchanger": {"buy_method": "passthrough", "exchange_client": {"key": "k", "secret": "s"}}
}
WALLET = {"meta": {"coin": "skycoin", "type": "deterministic"}, "entries": []}


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A directory holding every file the test configs name."""
    for name in ("btc.json", "eth.json", "sky.json"):
        (tmp_path / name).write_text('{"addresses": []}')
    (tmp_path / "hot.wlt").write_text(json.dumps(WALLET))
    (tmp_path / "broken.wlt").write_text("{not json")
    (tmp_path / "nometa.wlt").write_text('{"entries": []}')
    (tmp_path / "noentries.wlt").write_text('{"meta": {}}')
    for name in ("btcd.cert", "tls.crt", "tls.key"):
        (tmp_path / name).write_text("x")
    return tmp_path


def write_config(directory: Path, data: Mapping[str, Any], name: str = "config.toml") -> Path:
    path = directory / name
    path.write_text(toml_text(data))
    return path


def load(
    directory: Path,
    *layers: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
    check_network: bool = False,
) -> Config:
    path = write_config(directory, merged(BASE, *layers))
    return load_config(path, check_network=check_network, env=env or {})


def problems_of(
    directory: Path, *layers: Mapping[str, Any], env: Mapping[str, str] | None = None
) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(directory, *layers, env=env)
    return caught.value.problems


# ---------------------------------------------------------------------------------------------
# The original's shipped configs, unchanged


@pytest.mark.parametrize("name", ["config.toml", "config.passthrough.toml"])
def test_original_configs_load(name: str) -> None:
    config = load_config(GO_TELLER_FILES / name, check_network=False, env={})
    assert config.dummy.sender and config.dummy.scanner
    assert config.btc_addresses == str(GO_TELLER_FILES / "example_btc_addresses.json")
    assert config.sky_exchanger.wallet == str(GO_TELLER_FILES / "example.wlt")
    assert config.sky_exchanger.rate_for("BTC") == "500"
    assert config.teller.max_bound_addrs == 5
    assert config.sky_exchanger.send_enabled is True


def test_original_config_toml_values() -> None:
    config = load_config(GO_TELLER_FILES / "config.toml", check_network=False, env={})
    assert config.sky_addresses == str(GO_TELLER_FILES / "example_sky_addresses.json")
    assert config.sky_exchanger.rate_for("SKY") == "1"
    assert config.sky_exchanger.buy_method == "direct"
    assert config.web.http_addr == "127.0.0.1:7071"


def test_original_passthrough_config_values() -> None:
    config = load_config(GO_TELLER_FILES / "config.passthrough.toml", check_network=False, env={})
    exchanger = config.sky_exchanger
    assert exchanger.buy_method == "passthrough"
    client = exchanger.exchange_client
    assert client.key.get_secret_value() == "AB26F5A7-12B0-433B-8620-993F763E5795"
    assert client.secret.get_secret_value() == "A91BBA1B-5710-4A85-8330-85B41E557AEF"
    assert exchanger.rate_for("SKY") == ""  # the file predates SKY deposits
    assert config.dbfile == "teller-passthrough-test.db"


def test_original_simulated_btcd_config_lacks_its_cert() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(GO_TELLER_FILES / "config.simulated-btcd.toml", check_network=False, env={})
    assert caught.value.problems == ["btc_rpc.cert file does not exist"]


def test_original_https_reverse_proxy_config_loads_in_dummy_mode() -> None:
    # eth_rpc.server/port are "" but no real ETH scanner runs; auto_tls_host covers https_addr.
    config = load_config(
        GO_TELLER_FILES / "config.https-reverse-proxy.toml", check_network=False, env={}
    )
    assert config.web.behind_proxy is True
    assert config.web.https_addr == "127.0.0.1:7072"
    assert config.web.auto_tls_host == "otc.skycoin.net"
    assert config.eth_rpc.server == "" and not config.eth_scanner.enabled


def test_original_https_reverse_proxy_config_without_dummy_scanner_needs_rpc_settings() -> None:
    env = {"TELLER_DUMMY__SCANNER": "false", "TELLER_ETH_SCANNER__ENABLED": "true"}
    with pytest.raises(ConfigError) as caught:
        load_config(
            GO_TELLER_FILES / "config.https-reverse-proxy.toml", check_network=False, env=env
        )
    assert caught.value.problems == [
        "btc_rpc.user missing",
        "btc_rpc.pass missing",
        "btc_rpc.cert missing",
        "eth_rpc.server missing",
        "eth_rpc.port missing",
    ]


# ---------------------------------------------------------------------------------------------
# Defaults


def test_defaults(config_dir: Path) -> None:
    config = load(config_dir)
    assert config.debug is True and config.profile is False
    assert (config.logfile, config.dbfile, config.database_url, config.pidfile) == (
        "./teller.log",
        "teller.db",
        "",
        "",
    )
    assert config.sky_addresses == ""
    assert (config.teller.max_bound_addrs, config.teller.bind_enabled) == (5, True)
    assert config.sky_rpc.address == "127.0.0.1:6430"
    assert config.btc_rpc.server == "127.0.0.1:8334"
    assert config.btc_rpc.user.get_secret_value() == ""
    assert config.btc_rpc.pass_.get_secret_value() == ""
    assert config.btc_rpc.cert == ""
    assert (config.eth_rpc.server, config.eth_rpc.port) == ("", "")
    scanners = [
        (s.enabled, s.scan_period, s.initial_scan_height, s.confirmations_required)
        for s in (config.btc_scanner, config.eth_scanner, config.sky_scanner)
    ]
    assert scanners == [
        (True, timedelta(seconds=20), 492478, 1),
        (False, timedelta(seconds=5), 4654259, 1),
        (False, timedelta(seconds=5), 17000, 0),
    ]
    exchanger = config.sky_exchanger
    assert exchanger.max_decimals == 3
    assert exchanger.tx_confirmation_check_wait == timedelta(seconds=5)
    assert (exchanger.wallet, exchanger.send_enabled, exchanger.buy_method) == ("", True, "direct")
    client = exchanger.exchange_client
    assert (client.key.get_secret_value(), client.secret.get_secret_value()) == ("", "")
    assert (client.request_failure_wait, client.ratelimit_wait, client.check_order_wait) == (
        timedelta(seconds=10),
        timedelta(seconds=30),
        timedelta(seconds=2),
    )
    assert client.btc_minimum_volume == Decimal("0.005")
    web = config.web
    assert (web.behind_proxy, web.http_addr, web.https_addr, web.static_dir) == (
        False,
        "127.0.0.1:7071",
        "",
        "",
    )
    assert (web.throttle_max, web.throttle_duration) == (60, timedelta(seconds=60))
    assert (web.auto_tls_host, web.tls_cert, web.tls_key) == ("", "", "")
    assert (web.cors_allowed, web.max_body_bytes) == ([], 4096)
    limits = config.http
    assert (limits.max_header_bytes, limits.max_connections_per_client) == (16384, 64)
    assert (limits.header_timeout, limits.body_timeout, limits.keep_alive_timeout) == (
        timedelta(seconds=10),
        timedelta(seconds=10),
        timedelta(seconds=15),
    )
    assert config.admin_panel.host == "127.0.0.1:7711"
    assert config.dummy.http_addr == "127.0.0.1:4121"
    assert (config.dummy.balance, config.dummy.auto_confirm) == ("100", False)


def test_config_is_constructible_without_a_file() -> None:
    config = Config()
    assert config.teller.max_bound_addrs == 5
    assert config.btc_scanner.enabled and not config.eth_scanner.enabled


# ---------------------------------------------------------------------------------------------
# Every validation rule and its message. "{dir}" stands for the config file's directory.

RULE_CASES: list[tuple[str, list[Mapping[str, Any]], list[str]]] = [
    # the original's rules (teller-go.md §2.2), its messages
    ("btc addresses empty", [{"btc_addresses": ""}], ["btc_addresses missing"]),
    ("btc addresses absent", [{"btc_addresses": "no.json"}], ["btc_addresses file does not exist"]),
    (
        "eth addresses empty",
        [{"eth_scanner": {"enabled": True}, "eth_addresses": ""}],
        ["eth_addresses missing"],
    ),
    (
        "eth addresses absent",
        [{"eth_scanner": {"enabled": True}, "eth_addresses": "no.json"}],
        ["eth_addresses file does not exist"],
    ),
    (
        "eth rate empty",
        [{"eth_scanner": {"enabled": True}, "sky_exchanger": {"sky_eth_exchange_rate": ""}}],
        ["sky_exchanger.sky_eth_exchange_rate invalid: can't convert  to decimal"],
    ),
    ("sky addresses empty", [{"sky_scanner": {"enabled": True}}], ["sky_addresses missing"]),
    (
        "sky addresses absent",
        [{"sky_scanner": {"enabled": True}, "sky_addresses": "no.json"}],
        ["sky_addresses file does not exist"],
    ),
    (
        "sky rpc empty, real sender",
        [REAL_SENDER, {"sky_rpc": {"address": ""}}],
        ["sky_rpc.address missing"],
    ),
    (
        "btc rpc server",
        [REAL_SCANNER, BTC_RPC_OK, {"btc_rpc": {"server": ""}}],
        ["btc_rpc.server missing"],
    ),
    (
        "btc rpc credentials",
        [REAL_SCANNER],
        ["btc_rpc.user missing", "btc_rpc.pass missing", "btc_rpc.cert missing"],
    ),
    (
        "btc rpc cert absent",
        [REAL_SCANNER, BTC_RPC_OK, {"btc_rpc": {"cert": "no.cert"}}],
        ["btc_rpc.cert file does not exist"],
    ),
    (
        "eth rpc server",
        [REAL_SCANNER, BTC_RPC_OK, {"eth_scanner": {"enabled": True}, "eth_rpc": {"port": "8545"}}],
        ["eth_rpc.server missing"],
    ),
    (
        "eth rpc port",
        [
            REAL_SCANNER,
            BTC_RPC_OK,
            {"eth_scanner": {"enabled": True}, "eth_rpc": {"server": "localhost"}},
        ],
        ["eth_rpc.port missing"],
    ),
    (
        "sky rpc empty, real sky scanner",
        [
            REAL_SCANNER,
            BTC_RPC_OK,
            {
                "sky_scanner": {"enabled": True},
                "sky_addresses": "sky.json",
                "sky_rpc": {"address": ""},
            },
        ],
        ["sky_rpc.address missing"],
    ),
    (
        "btc confirmations",
        [{"btc_scanner": {"confirmations_required": -1}}],
        ["btc_scanner.confirmations_required must be >= 0"],
    ),
    (
        "btc height",
        [{"btc_scanner": {"initial_scan_height": -1}}],
        ["btc_scanner.initial_scan_height must be >= 0"],
    ),
    (
        "eth confirmations",
        [{"eth_scanner": {"confirmations_required": -1}}],
        ["eth_scanner.confirmations_required must be >= 0"],
    ),
    (
        "eth height",
        [{"eth_scanner": {"initial_scan_height": -1}}],
        ["eth_scanner.initial_scan_height must be >= 0"],
    ),
    (
        "sky height",
        [{"sky_scanner": {"initial_scan_height": -1}}],
        ["sky_scanner.initial_scan_height must be >= 0"],
    ),
    (
        "sky confirmations",
        [{"sky_scanner": {"confirmations_required": -1}}],
        ["sky_scanner.confirmations_required must be >= 0"],
    ),
    (
        "passthrough with eth",
        [PASSTHROUGH, {"eth_scanner": {"enabled": True}}],
        ["eth_scanner must be disabled for buy_method passthrough"],
    ),
    (
        "passthrough with sky",
        [PASSTHROUGH, {"sky_scanner": {"enabled": True}, "sky_addresses": "sky.json"}],
        ["sky_scanner must be disabled for buy_method passthrough"],
    ),
    (
        "btc rate garbage",
        [{"sky_exchanger": {"sky_btc_exchange_rate": "abc"}}],
        ["sky_exchanger.sky_btc_exchange_rate invalid: can't convert abc to decimal"],
    ),
    (
        "btc rate empty",
        [{"sky_exchanger": {"sky_btc_exchange_rate": ""}}],
        ["sky_exchanger.sky_btc_exchange_rate invalid: can't convert  to decimal"],
    ),
    (
        "eth rate zero",
        [{"sky_exchanger": {"sky_eth_exchange_rate": "0"}}],
        ["sky_exchanger.sky_eth_exchange_rate invalid: rate must be greater than zero"],
    ),
    (
        "sky rate negative",
        [{"sky_exchanger": {"sky_sky_exchange_rate": "-1"}}],
        ["sky_exchanger.sky_sky_exchange_rate invalid: rate must be greater than zero"],
    ),
    (
        "sky rate empty, sky scanner on",
        [
            {
                "sky_scanner": {"enabled": True},
                "sky_addresses": "sky.json",
                "sky_exchanger": {"sky_sky_exchange_rate": ""},
            }
        ],
        ["sky_exchanger.sky_sky_exchange_rate invalid: can't convert  to decimal"],
    ),
    (
        "max decimals negative",
        [{"sky_exchanger": {"max_decimals": -1}}],
        ["sky_exchanger.max_decimals can't be negative"],
    ),
    (
        "max decimals too many",
        [{"sky_exchanger": {"max_decimals": 4}}],
        ["sky_exchanger.max_decimals is larger than visor.MaxDropletPrecision=3"],
    ),
    (
        "buy method",
        [{"sky_exchanger": {"buy_method": "magic"}}],
        ['sky_exchanger.buy_method must be "direct" or "passthrough"'],
    ),
    (
        "passthrough key",
        [PASSTHROUGH, {"sky_exchanger": {"exchange_client": {"key": ""}}}],
        ["c2cx.key must be set for buy_method passthrough"],
    ),
    (
        "passthrough secret",
        [PASSTHROUGH, {"sky_exchanger": {"exchange_client": {"secret": ""}}}],
        ["c2cx.secret must be set for buy_method passthrough"],
    ),
    (
        "wallet empty",
        [REAL_SENDER, {"sky_exchanger": {"wallet": ""}}],
        ["sky_exchanger.wallet missing"],
    ),
    (
        "wallet absent",
        [REAL_SENDER, {"sky_exchanger": {"wallet": "no.wlt"}}],
        ["sky_exchanger.wallet file {dir}/no.wlt does not exist"],
    ),
    (
        "wallet without meta",
        [REAL_SENDER, {"sky_exchanger": {"wallet": "nometa.wlt"}}],
        ["sky_exchanger.wallet file {dir}/nometa.wlt is invalid: no meta object"],
    ),
    (
        "wallet without entries",
        [REAL_SENDER, {"sky_exchanger": {"wallet": "noentries.wlt"}}],
        ["sky_exchanger.wallet file {dir}/noentries.wlt is invalid: no entries list"],
    ),
    (
        "no listener",
        [{"web": {"http_addr": ""}}],
        ["at least one of web.http_addr, web.https_addr must be set"],
    ),
    (
        "https without tls",
        [{"web": {"https_addr": "127.0.0.1:7072"}}],
        [
            "when using web.https_addr, either web.auto_tls_host or both web.tls_cert and "
            "web.tls_key must be set"
        ],
    ),
    (
        "tls cert alone",
        [
            {
                "web": {
                    "https_addr": "127.0.0.1:7072",
                    "auto_tls_host": "example.org",
                    "tls_cert": "tls.crt",
                }
            }
        ],
        [
            "web.tls_cert and web.tls_key must be set or unset together",
            "either use web.auto_tls_host or both web.tls_key and web.tls_cert",
        ],
    ),
    (
        "auto tls with cert and key",
        [
            {
                "web": {
                    "https_addr": "127.0.0.1:7072",
                    "auto_tls_host": "example.org",
                    "tls_cert": "tls.crt",
                    "tls_key": "tls.key",
                }
            }
        ],
        ["either use web.auto_tls_host or both web.tls_key and web.tls_cert"],
    ),
    (
        "tls without https",
        [{"web": {"auto_tls_host": "example.org"}}],
        [
            "web.auto_tls_host or web.tls_key or web.tls_cert is set but web.https_addr is not "
            "enabled"
        ],
    ),
    # teller's own rules
    (
        "tls files absent",
        [{"web": {"https_addr": "127.0.0.1:7072", "tls_cert": "no.crt", "tls_key": "tls.key"}}],
        ["web.tls_cert file {dir}/no.crt does not exist"],
    ),
    (
        "auto tls host that is no DNS name",
        [{"web": {"https_addr": "127.0.0.1:7072", "auto_tls_host": "127.0.0.1"}}],
        ["web.auto_tls_host must be a DNS name such as otc.example.com, got '127.0.0.1'"],
    ),
    (
        "auto tls without http",
        [{"web": {"http_addr": "", "https_addr": ":443", "auto_tls_host": "otc.example.org"}}],
        [
            "web.auto_tls_host needs web.http_addr: the CA's HTTP-01 challenge is answered"
            " there (on port 80 of web.auto_tls_host)"
        ],
    ),
    (
        "acme settings out of range",
        [
            {
                "web": {
                    "https_addr": ":443",
                    "auto_tls_host": "otc.example.org",
                    "acme_directory": "http://ca.example/dir",
                    "acme_renew_left": "1",
                    "acme_ca_file": "no-ca.pem",
                }
            }
        ],
        [
            "web.acme_directory must be an https:// URL, got 'http://ca.example/dir'",
            "web.acme_renew_left must be between 0 and 1 (the part of a certificate's lifetime"
            " left when it is renewed), got 1",
            "web.acme_ca_file file {dir}/no-ca.pem does not exist",
        ],
    ),
    (
        "buyer page links and texts",
        [
            {
                "web": {
                    "explorer_urls": {
                        "btc": "http://blockstream.info/tx/{txid}",
                        "eth": "https://etherscan.io/tx/",
                        "doge": "https://dogechain.info/tx/{txid}",
                    },
                    "operator_name": "Example\nOTC",
                    "contact": "x" * 201,
                    "terms_url": "javascript:alert(1)",
                }
            }
        ],
        [
            "web.explorer_urls.btc must be an https:// URL, got"
            " 'http://blockstream.info/tx/{{txid}}'",
            "web.explorer_urls.eth must contain {{txid}} (where the transaction id goes), got"
            " 'https://etherscan.io/tx/'",
            "web.explorer_urls: unknown coin 'doge' (one of btc, eth, sky)",
            "web.operator_name must be at most 200 printable characters (no line breaks)",
            "web.contact must be at most 200 printable characters (no line breaks)",
            "web.terms_url must be an https:// URL, got 'javascript:alert(1)'",
        ],
    ),
    (
        "static dir absent",
        [{"web": {"static_dir": "nodir"}}],
        ["web.static_dir {dir}/nodir is not a directory"],
    ),
    (
        "max bound negative",
        [{"teller": {"max_bound_addrs": -1}}],
        ["teller.max_bound_addrs must be >= 0 (0 means unlimited)"],
    ),
    ("throttle max", [{"web": {"throttle_max": 0}}], ["web.throttle_max must be >= 1, got 0"]),
    (
        "throttle duration",
        [{"web": {"throttle_duration": "0s"}}],
        ["web.throttle_duration must be greater than 0, got 0s"],
    ),
    ("max body", [{"web": {"max_body_bytes": 0}}], ["web.max_body_bytes must be >= 1, got 0"]),
    (
        "http limits",
        [
            {
                "http": {
                    "max_header_bytes": 100,
                    "header_timeout": "0s",
                    "body_timeout": "-1s",
                    "keep_alive_timeout": 0,
                    "max_connections_per_client": -1,
                }
            }
        ],
        [
            "http.max_header_bytes must be >= 1024, got 100",
            "http.max_connections_per_client must be >= 0 (0 means no cap), got -1",
            "http.header_timeout must be greater than 0, got 0s",
            "http.body_timeout must be greater than 0, got -1s",
            "http.keep_alive_timeout must be greater than 0, got 0s",
        ],
    ),
    (
        "worker lease",
        [{"worker": {"lease": "0s"}}],
        ["worker.lease must be greater than 0, got 0s"],
    ),
    (
        "worker renew longer than half the lease",
        [{"worker": {"lease": "10s", "renew": "6s"}}],
        ["worker.renew must be at most half of worker.lease, got 6s and 10s"],
    ),
    (
        "scan period negative",
        [{"btc_scanner": {"scan_period": "-5s"}}],
        ["btc_scanner.scan_period must be greater than 0, got -5s"],
    ),
    (
        "scan period zero",
        [{"eth_scanner": {"scan_period": 0}}],
        ["eth_scanner.scan_period must be greater than 0, got 0s"],
    ),
    (
        "sky scan period zero",
        [{"sky_scanner": {"scan_period": "0"}}],
        ["sky_scanner.scan_period must be greater than 0, got 0s"],
    ),
    (
        "confirmation wait",
        [{"sky_exchanger": {"tx_confirmation_check_wait": "0ms"}}],
        ["sky_exchanger.tx_confirmation_check_wait must be greater than 0, got 0s"],
    ),
    (
        "exchange waits",
        [
            {
                "sky_exchanger": {
                    "exchange_client": {
                        "request_failure_wait": "0s",
                        "ratelimit_wait": 0,
                        "check_order_wait": "-1ms",
                    }
                }
            }
        ],
        [
            "sky_exchanger.exchange_client.request_failure_wait must be greater than 0, got 0s",
            "sky_exchanger.exchange_client.ratelimit_wait must be greater than 0, got 0s",
            "sky_exchanger.exchange_client.check_order_wait must be greater than 0, got -1ms",
        ],
    ),
    (
        "minimum volume",
        [{"sky_exchanger": {"exchange_client": {"btc_minimum_volume": "-0.1"}}}],
        ["sky_exchanger.exchange_client.btc_minimum_volume must be >= 0"],
    ),
    (
        "http addr",
        [{"web": {"http_addr": "localhost"}}],
        ["web.http_addr must be host:port, got 'localhost'"],
    ),
    (
        "https addr",
        [{"web": {"https_addr": "127.0.0.1:99999", "auto_tls_host": "example.org"}}],
        ["web.https_addr must be host:port, got '127.0.0.1:99999'"],
    ),
    ("admin host empty", [{"admin_panel": {"host": ""}}], ["admin_panel.host missing"]),
    (
        "admin host",
        [{"admin_panel": {"host": "::1:7711"}}],
        ["admin_panel.host must be host:port, got '::1:7711'"],
    ),
    ("dummy addr empty", [{"dummy": {"http_addr": ""}}], ["dummy.http_addr missing"]),
    (
        "dummy addr",
        [{"dummy": {"http_addr": "127.0.0.1:port"}}],
        ["dummy.http_addr must be host:port, got '127.0.0.1:port'"],
    ),
    (
        "sky rpc port zero",
        [{"sky_rpc": {"address": "127.0.0.1:0"}}],
        ["sky_rpc.address must have a port between 1 and 65535, got '127.0.0.1:0'"],
    ),
    (
        "btc rpc server form",
        [{"btc_rpc": {"server": "btcd"}}],
        ["btc_rpc.server must be host:port, got 'btcd'"],
    ),
    (
        "database url scheme",
        [{"database_url": "mysql://teller@db/teller"}],
        [
            "database_url must be a sqlite:// or postgresql:// URL (optionally with a driver, e.g. "
            "postgresql+psycopg://), got scheme 'mysql'"
        ],
    ),
    (
        "database url form",
        [{"database_url": "teller.sqlite"}],
        [
            "database_url must be a sqlite:// or postgresql:// URL (optionally with a driver, e.g. "
            "postgresql+psycopg://), got no scheme"
        ],
    ),
    (
        "dummy balance negative",
        [{"dummy": {"balance": "-1"}}],
        ["dummy.balance must be a non-negative SKY amount with at most 6 decimals, got '-1'"],
    ),
    (
        "dummy balance decimals",
        [{"dummy": {"balance": "1.1234567"}}],
        [
            "dummy.balance must be a non-negative SKY amount with at most 6 decimals, "
            "got '1.1234567'"
        ],
    ),
    (
        "dummy balance garbage",
        [{"dummy": {"balance": "lots"}}],
        ["dummy.balance must be a non-negative SKY amount with at most 6 decimals, got 'lots'"],
    ),
    # values of the wrong type
    (
        "int type",
        [{"teller": {"max_bound_addrs": "five"}}],
        ["teller.max_bound_addrs: expected an integer, got 'five'"],
    ),
    (
        "int from float",
        [{"sky_exchanger": {"max_decimals": 2.5}}],
        ["sky_exchanger.max_decimals: expected an integer, got 2.5"],
    ),
    (
        "bool type",
        [{"teller": {"bind_enabled": "maybe"}}],
        ["teller.bind_enabled: expected true or false, got 'maybe'"],
    ),
    ("top-level bool type", [{"debug": 1}], ["debug: expected true or false, got 1"]),
    ("string type", [{"web": {"http_addr": True}}], ["web.http_addr: expected a string, got True"]),
    (
        "list type",
        [{"web": {"cors_allowed": 5}}],
        ["web.cors_allowed: expected a list of strings, got 5"],
    ),
    (
        "decimal type",
        [{"sky_exchanger": {"exchange_client": {"btc_minimum_volume": "lots"}}}],
        ["sky_exchanger.exchange_client.btc_minimum_volume: expected a decimal number, got 'lots'"],
    ),
    (
        "duration unit",
        [{"web": {"throttle_duration": "1 minute"}}],
        [
            'web.throttle_duration: unknown unit " minute" in duration "1 minute" (expected a Go '
            'duration such as "20s", "1m30s", "300ms", or a whole number of seconds)'
        ],
    ),
    (
        "duration type",
        [{"btc_scanner": {"scan_period": 1.5}}],
        [
            'btc_scanner.scan_period: expected a duration such as "20s" or a whole number '
            "of seconds, got 1.5"
        ],
    ),
    ("section type", [{"teller": 5}], ["teller: expected a table ([teller]), got an integer"]),
    # keys teller does not know
    ("unknown key", [{"web": {"htp_addr": "127.0.0.1:7071"}}], ["unknown config key web.htp_addr"]),
    ("unknown top-level key", [{"debugg": True}], ["unknown config key debugg"]),
    ("unknown section", [{"skyrpc": {"address": "x"}}], ["unknown config key skyrpc"]),
    (
        "unknown key in c2cx",
        [{"sky_exchanger": {"c2cx": {"keyy": "x"}}}],
        ["unknown config key sky_exchanger.c2cx.keyy"],
    ),
]


@pytest.mark.parametrize(
    ("layers", "expected"), [case[1:] for case in RULE_CASES], ids=[case[0] for case in RULE_CASES]
)
def test_rule_messages(
    config_dir: Path, layers: list[Mapping[str, Any]], expected: list[str]
) -> None:
    assert problems_of(config_dir, *layers) == [line.format(dir=config_dir) for line in expected]


def test_wallet_that_is_not_json(config_dir: Path) -> None:
    problems = problems_of(config_dir, REAL_SENDER, {"sky_exchanger": {"wallet": "broken.wlt"}})
    assert len(problems) == 1
    assert problems[0].startswith(
        f"sky_exchanger.wallet file {config_dir}/broken.wlt failed to load: "
    )


def test_real_sender_with_a_wallet_loads(config_dir: Path) -> None:
    config = load(config_dir, REAL_SENDER)
    assert config.sky_exchanger.wallet == str(config_dir / "hot.wlt")


def test_the_originals_example_wallet_is_accepted(config_dir: Path) -> None:
    shutil.copy(GO_TELLER_FILES / "example.wlt", config_dir / "example.wlt")
    load(config_dir, REAL_SENDER, {"sky_exchanger": {"wallet": "example.wlt"}})


def test_real_scanners_with_their_settings_load(config_dir: Path) -> None:
    config = load(
        config_dir,
        REAL_SCANNER,
        BTC_RPC_OK,
        {"eth_scanner": {"enabled": True}, "eth_rpc": {"server": "127.0.0.1", "port": 8545}},
    )
    assert config.eth_rpc.port == "8545"  # a number is accepted as text, as viper did
    assert config.btc_rpc.cert == str(config_dir / "btcd.cert")


def test_passthrough_with_key_and_secret_loads(config_dir: Path) -> None:
    config = load(config_dir, PASSTHROUGH)
    assert config.sky_exchanger.buy_method == "passthrough"
    client = config.sky_exchanger.exchange_client
    assert client.base_url == "https://api.c2cx.com/v1/"
    assert client.orderbook_refresh.total_seconds() == 10


def test_passthrough_needs_no_eth_addresses_nor_eth_rate(config_dir: Path) -> None:
    # Passthrough keeps ETH off, so nothing ETH is asked for (the Go teller demanded both).
    without_eth = {"eth_addresses": "", "sky_exchanger": {"sky_eth_exchange_rate": ""}}
    config = load(config_dir, PASSTHROUGH, without_eth)
    assert config.sky_exchanger.buy_method == "passthrough"
    assert config.eth_addresses == ""
    # Direct with ETH off: the same.
    assert load(config_dir, without_eth).sky_exchanger.sky_eth_exchange_rate == ""


def test_passthrough_needs_key_and_secret(config_dir: Path) -> None:
    assert problems_of(config_dir, {"sky_exchanger": {"buy_method": "passthrough"}}) == [
        "c2cx.key must be set for buy_method passthrough",
        "c2cx.secret must be set for buy_method passthrough",
    ]


@pytest.mark.parametrize("key", ["skynode_sim", "c2cx_sim"])
def test_no_in_process_simulator_can_be_configured(config_dir: Path, key: str) -> None:
    # Simulators are peers run as their own processes (sky_rpc.address, exchange_client.*).
    assert problems_of(config_dir, {"dummy": {key: True}}) == [f"unknown config key dummy.{key}"]


@pytest.mark.parametrize("url", ["api.c2cx.com/v1/", "ftp://x/", "http://", ""])
def test_the_exchange_base_url_must_be_http(config_dir: Path, url: str) -> None:
    layer = {"sky_exchanger": {"exchange_client": {"base_url": url}}}
    assert problems_of(config_dir, layer) == [
        f"sky_exchanger.exchange_client.base_url must be an http:// or https:// URL, got {url!r}"
    ]


def test_the_order_book_refresh_must_be_positive(config_dir: Path) -> None:
    layer = {"sky_exchanger": {"exchange_client": {"orderbook_refresh": "0s"}}}
    assert problems_of(config_dir, layer) == [
        "sky_exchanger.exchange_client.orderbook_refresh must be greater than 0, got 0s"
    ]


@pytest.mark.parametrize("rise", ["-0.1", "1001"])
def test_the_price_rise_limit_is_bounded(config_dir: Path, rise: str) -> None:
    layer = {"sky_exchanger": {"exchange_client": {"max_price_rise": rise}}}
    assert problems_of(config_dir, layer) == [
        "sky_exchanger.exchange_client.max_price_rise must be from 0 to 1000 (0.1 = 10 %)"
    ]


def test_original_legacy_keys_are_ignored(config_dir: Path) -> None:
    load(
        config_dir,
        {"btc_rpc": {"enabled": True}, "eth_rpc": {"enabled": False}, "web": {"api_enabled": True}},
    )


def test_every_problem_is_reported_at_once(config_dir: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(
            config_dir,
            {
                "btc_addresses": "",
                "teller": {"max_bound_addrs": "five"},
                "sky_exchanger": {"max_decimals": 9, "buy_method": "swap"},
                "web": {"http_addr": "", "colour": "blue"},
                "dummy": {"balance": "-3"},
            },
        )
    error = caught.value
    assert error.problems == [
        "teller.max_bound_addrs: expected an integer, got 'five'",
        "unknown config key web.colour",
        "btc_addresses missing",
        "sky_exchanger.max_decimals is larger than visor.MaxDropletPrecision=3",
        'sky_exchanger.buy_method must be "direct" or "passthrough"',
        "at least one of web.http_addr, web.https_addr must be set",
        "dummy.balance must be a non-negative SKY amount with at most 6 decimals, got '-3'",
    ]
    assert str(error) == "Config error:\n" + "\n".join(error.problems)


def test_a_badly_typed_value_is_reported_once(config_dir: Path) -> None:
    # the key falls back to its default for the other rules, which must not add noise
    assert problems_of(config_dir, {"web": {"throttle_max": "many"}}) == [
        "web.throttle_max: expected an integer, got 'many'"
    ]
    assert problems_of(config_dir, REAL_SENDER, {"sky_exchanger": {"wallet": ["a"]}}) == [
        "sky_exchanger.wallet: expected a string, got ['a']"
    ]


# ---------------------------------------------------------------------------------------------
# Keys, values and their forms


def test_keys_are_case_insensitive(config_dir: Path) -> None:
    path = config_dir / "config.toml"
    path.write_text(
        toml_text(BASE) + '\n[WEB]\nHTTP_Addr = "127.0.0.1:9000"\n[Teller]\nMax_Bound_Addrs = 2\n'
    )
    config = load_config(path, check_network=False, env={})
    assert config.web.http_addr == "127.0.0.1:9000"
    assert config.teller.max_bound_addrs == 2


def test_keys_differing_only_in_case_are_a_problem(config_dir: Path) -> None:
    path = config_dir / "config.toml"
    path.write_text(
        toml_text(BASE) + '\n[web]\nhttp_addr = "127.0.0.1:1"\nHTTP_ADDR = "127.0.0.1:2"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, check_network=False, env={})
    assert caught.value.problems == [
        "duplicate config key web.http_addr (keys are case-insensitive)"
    ]


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("20s", timedelta(seconds=20)),
        ("1m", timedelta(minutes=1)),
        ("1h2m3.5s", timedelta(hours=1, minutes=2, seconds=3.5)),
        ("300ms", timedelta(milliseconds=300)),
        ("60s", timedelta(seconds=60)),
        ("45", timedelta(seconds=45)),
        (30, timedelta(seconds=30)),
    ],
)
def test_duration_forms(config_dir: Path, written: object, expected: timedelta) -> None:
    config = load(config_dir, {"btc_scanner": {"scan_period": written}})
    assert config.btc_scanner.scan_period == expected


@pytest.mark.parametrize("rate", ["2/3", "1/10", "0.5", "500", "1e3"])
def test_rate_forms(config_dir: Path, rate: str) -> None:
    config = load(config_dir, {"sky_exchanger": {"sky_btc_exchange_rate": rate}})
    assert config.sky_exchanger.rate_for("BTC") == rate


def test_rate_written_as_a_number(config_dir: Path) -> None:
    config = load(config_dir, {"sky_exchanger": {"sky_eth_exchange_rate": 100}})
    assert config.sky_exchanger.rate_for("ETH") == "100"


def test_rate_for_unknown_coin() -> None:
    with pytest.raises(ValueError, match="unknown coin type"):
        Config().sky_exchanger.rate_for("DOGE")


def test_scanner_enabled_ignores_dummy_mode(config_dir: Path) -> None:
    config = load(config_dir, {"eth_scanner": {"enabled": True}})
    assert config.dummy.scanner
    assert [config.scanner_enabled(coin) for coin in ("BTC", "ETH", "SKY")] == [True, True, False]


def test_sky_rate_may_be_left_out_while_the_sky_scanner_is_off(config_dir: Path) -> None:
    config = load(config_dir, {"sky_exchanger": {"sky_sky_exchange_rate": ""}})
    assert config.sky_exchanger.rate_for("SKY") == ""


def test_paths_are_relative_to_the_config_file(
    config_dir: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    config = load(
        config_dir,
        REAL_SENDER,
        {
            "sky_addresses": "sky.json",
            "btc_rpc": {"cert": "btcd.cert"},
            "web": {"https_addr": "127.0.0.1:7072", "tls_cert": "tls.crt", "tls_key": "tls.key"},
        },
    )
    assert config.btc_addresses == str(config_dir / "btc.json")
    assert config.eth_addresses == str(config_dir / "eth.json")
    assert config.sky_addresses == str(config_dir / "sky.json")
    assert config.btc_rpc.cert == str(config_dir / "btcd.cert")
    assert config.sky_exchanger.wallet == str(config_dir / "hot.wlt")
    assert config.web.tls_cert == str(config_dir / "tls.crt")
    assert config.logfile == "./teller.log"  # the README: relative to the working directory


def test_absolute_paths_are_kept(
    config_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    other = tmp_path_factory.mktemp("other") / "btc.txt"
    other.write_text("")
    assert load(config_dir, {"btc_addresses": str(other)}).btc_addresses == str(other)


def test_cors_allowed_list(config_dir: Path) -> None:
    config = load(config_dir, {"web": {"cors_allowed": ["https://a.example", "127.0.0.1:6420"]}})
    assert config.web.cors_allowed == ["https://a.example", "127.0.0.1:6420"]


def test_dummy_balance_forms(config_dir: Path) -> None:
    assert load(config_dir, {"dummy": {"balance": "0.000001"}}).dummy.balance == "0.000001"
    assert load(config_dir, {"dummy": {"balance": 1000000}}).dummy.balance == "1000000"


# ---------------------------------------------------------------------------------------------
# Fake deposits never reach the real sender unless the config says so (issue 13, finding 4)

FAKE_DEPOSITS_REFUSED = (
    "dummy.scanner = true with the real SKY sender (dummy.sender = false): anyone who reaches "
    "dummy.http_addr could add deposits that the hot wallet pays. Set "
    "dummy.fake_deposits_pay_real_sky = true only if that is meant (a test chain's node, e.g. "
    "the Skycoin node simulator); otherwise set dummy.sender = true or dummy.scanner = false"
)


def test_dummy_scanner_feeding_the_real_sender_is_refused(config_dir: Path) -> None:
    real_sender = {"dummy": {"sender": False}, "sky_exchanger": {"wallet": "hot.wlt"}}
    assert problems_of(config_dir, real_sender) == [FAKE_DEPOSITS_REFUSED]
    said_no = {"dummy": {"fake_deposits_pay_real_sky": False}}
    assert problems_of(config_dir, real_sender, said_no) == [FAKE_DEPOSITS_REFUSED]
    # From the environment, as teller-sim demo --skynode sets it.
    env = {"TELLER_DUMMY__SENDER": "false", "TELLER_SKY_EXCHANGER__WALLET": "hot.wlt"}
    assert problems_of(config_dir, env=env) == [FAKE_DEPOSITS_REFUSED]


def test_the_key_lets_a_test_setup_feed_the_real_sender(config_dir: Path) -> None:
    config = load(config_dir, REAL_SENDER)
    assert config.dummy.feeds_real_payer and config.dummy.fake_deposits_pay_real_sky
    env = {
        "TELLER_DUMMY__SENDER": "false",
        "TELLER_SKY_EXCHANGER__WALLET": "hot.wlt",
        "TELLER_DUMMY__FAKE_DEPOSITS_PAY_REAL_SKY": "true",
    }
    assert load(config_dir, env=env).dummy.feeds_real_payer


@pytest.mark.parametrize(
    ("sender", "scanner"), [(True, True), (True, False), (False, False)], ids=str
)
def test_other_dummy_mixes_need_no_key(sender: bool, scanner: bool) -> None:
    config = Config.model_validate(merged(BASE, {"dummy": {"sender": sender, "scanner": scanner}}))
    assert not config.dummy.feeds_real_payer
    assert config.dummy.all_dummy == (sender and scanner)
    assert FAKE_DEPOSITS_REFUSED not in validation_problems(config, check_network=False)


# ---------------------------------------------------------------------------------------------
# confirmations_required keeps the Go teller's meaning (issue 13, finding 2)


@pytest.mark.parametrize(("required", "confirmations"), [(0, 1), (1, 2), (6, 7)])
def test_confirmations_required_counts_blocks_on_top_as_the_go_teller(
    config_dir: Path, required: int, confirmations: int
) -> None:
    """N blocks on top of the deposit's block = N + 1 confirmations as Bitcoin counts them."""
    from teller.scanners.nodes import scan_settings

    config = load(config_dir, {"eth_scanner": {"confirmations_required": required}})
    assert config.eth_scanner.confirmations == confirmations
    assert scan_settings(config, "ETH").confirmations == confirmations


def test_default_confirmations_are_the_go_tellers() -> None:
    config = Config()
    # The Go defaults: 1 block on top for BTC and ETH (2 confirmations), the tip for SKY.
    assert [s.confirmations_required for s in (config.btc_scanner, config.eth_scanner)] == [1, 1]
    assert [s.confirmations for s in (config.btc_scanner, config.eth_scanner)] == [2, 2]
    assert (config.sky_scanner.confirmations_required, config.sky_scanner.confirmations) == (0, 1)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "sqlite:///teller.db",
        "sqlite+pysqlite:////tmp/t.db",
        "postgresql://postgres@127.0.0.1:5432/test",
        "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    ],
)
def test_database_url_forms(config_dir: Path, url: str) -> None:
    assert load(config_dir, {"database_url": url}).database_url == url


def test_invalid_toml(config_dir: Path) -> None:
    path = config_dir / "config.toml"
    path.write_text("[web]\nthrottle_duration = 60s\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, check_network=False, env={})
    assert caught.value.problems[0].startswith(f"config file {path} is not valid TOML: ")


def test_unreadable_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "absent.toml", env={})


# ---------------------------------------------------------------------------------------------
# The [sky_exchanger.c2cx] table name of the original


def test_c2cx_table_is_the_exchange_client(config_dir: Path) -> None:
    config = load(
        config_dir,
        {
            "sky_exchanger": {
                "buy_method": "passthrough",
                "c2cx": {"key": "k1", "secret": "s1", "ratelimit_wait": "45s"},
            }
        },
    )
    client = config.sky_exchanger.exchange_client
    assert client.key.get_secret_value() == "k1"
    assert client.ratelimit_wait == timedelta(seconds=45)


def test_c2cx_problems_name_the_c2cx_table(config_dir: Path) -> None:
    assert problems_of(config_dir, {"sky_exchanger": {"c2cx": {"check_order_wait": "0s"}}}) == [
        "sky_exchanger.c2cx.check_order_wait must be greater than 0, got 0s"
    ]


def test_c2cx_and_exchange_client_together(config_dir: Path) -> None:
    assert problems_of(
        config_dir, {"sky_exchanger": {"c2cx": {"key": "a"}, "exchange_client": {"key": "b"}}}
    ) == ["use either sky_exchanger.c2cx or sky_exchanger.exchange_client, not both"]


def test_c2cx_in_python_data() -> None:
    config = Config.model_validate({"sky_exchanger": {"c2cx": {"key": "k"}}})
    assert config.sky_exchanger.exchange_client.key.get_secret_value() == "k"


# ---------------------------------------------------------------------------------------------
# Environment overrides


def test_environment_overrides_the_file(config_dir: Path) -> None:
    config = load(
        config_dir,
        {"web": {"http_addr": "127.0.0.1:7071"}},
        env={
            "TELLER_WEB__HTTP_ADDR": "0.0.0.0:8080",
            "TELLER_TELLER__MAX_BOUND_ADDRS": "7",
            "TELLER_DUMMY__AUTO_CONFIRM": "true",
            "TELLER_WEB__CORS_ALLOWED": "https://a.example, https://b.example",
            "TELLER_BTC_SCANNER__SCAN_PERIOD": "1m30s",
            "teller_debug": "false",
            "TELLER_SKY_EXCHANGER__C2CX__KEY": "from-env",
            "TELLER_SKY_EXCHANGER__EXCHANGE_CLIENT__SECRET": "also-from-env",
            "TELLER_BTC_RPC__PASS": "pw",
        },
    )
    assert config.web.http_addr == "0.0.0.0:8080"
    assert config.teller.max_bound_addrs == 7
    assert config.dummy.auto_confirm is True
    assert config.web.cors_allowed == ["https://a.example", "https://b.example"]
    assert config.btc_scanner.scan_period == timedelta(seconds=90)
    assert config.debug is False
    assert config.sky_exchanger.exchange_client.key.get_secret_value() == "from-env"
    assert config.sky_exchanger.exchange_client.secret.get_secret_value() == "also-from-env"
    assert config.btc_rpc.pass_.get_secret_value() == "pw"


def test_environment_list_as_json(config_dir: Path) -> None:
    config = load(config_dir, env={"TELLER_WEB__CORS_ALLOWED": '["https://a.example"]'})
    assert config.web.cors_allowed == ["https://a.example"]


def test_environment_values_are_validated(config_dir: Path) -> None:
    assert problems_of(config_dir, env={"TELLER_WEB__THROTTLE_MAX": "lots"}) == [
        "web.throttle_max: expected an integer, got 'lots'"
    ]


def test_environment_names_that_are_no_key_are_ignored(config_dir: Path) -> None:
    load(
        config_dir,
        env={
            "TELLER_DATA_DIR": "/x",
            "TELLER_WEB": "x",
            "TELLER_WEB__NOPE": "1",
            "OTHER_WEB__HTTP_ADDR": "bad",
        },
    )


def test_environment_table_names_do_not_hide_their_keys(config_dir: Path) -> None:
    # A variable named for a whole table is no key: ignored, and its keys still apply.
    config = load(
        config_dir,
        env={
            "TELLER_WEB": "x",
            "TELLER_WEB__HTTP_ADDR": "0.0.0.0:8080",
            "TELLER_WEB__TLS_KEY__X": "1",
            "TELLER_SKY_EXCHANGER": '{"wallet": "x.wlt"}',
            "TELLER_SKY_EXCHANGER__C2CX": "x",
            "TELLER_SKY_EXCHANGER__C2CX__KEY": "k",
            "TELLER_SKY_EXCHANGER__EXCHANGE_CLIENT": "x",
            "TELLER_SKY_EXCHANGER__EXCHANGE_CLIENT__SECRET": "s",
        },
    )
    assert config.web.http_addr == "0.0.0.0:8080"
    assert config.web.tls_key == ""
    assert config.sky_exchanger.wallet == ""
    assert config.sky_exchanger.exchange_client.key.get_secret_value() == "k"
    assert config.sky_exchanger.exchange_client.secret.get_secret_value() == "s"


def test_environment_list_that_is_not_json(config_dir: Path) -> None:
    assert problems_of(config_dir, env={"TELLER_WEB__CORS_ALLOWED": '["a", 1]'}) == [
        "web.cors_allowed: expected a list of strings, got ['a', 1]"
    ]
    assert problems_of(config_dir, env={"TELLER_WEB__CORS_ALLOWED": "[nope"}) == [
        "web.cors_allowed: expected a list of strings, got '[nope'"
    ]


def test_environment_empty_value_overrides(config_dir: Path) -> None:
    config = load(
        config_dir,
        {"web": {"https_addr": "127.0.0.1:7443", "auto_tls_host": "a.example"}},
        env={"Teller_Web__Https_Addr": "", "TELLER_WEB__AUTO_TLS_HOST": ""},
    )
    assert config.web.https_addr == "" and config.web.auto_tls_host == ""


def test_process_environment_is_the_default(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELLER_ADMIN_PANEL__HOST", "127.0.0.1:9711")
    path = write_config(config_dir, BASE)
    assert load_config(path, check_network=False).admin_panel.host == "127.0.0.1:9711"


# ---------------------------------------------------------------------------------------------
# Secrets never shown


SECRETS = {
    "btc_rpc": {"user": "rpc-user-S3CRET", "pass": "rpc-pass-S3CRET"},
    "sky_exchanger": {"exchange_client": {"key": "api-key-S3CRET", "secret": "api-secret-S3CRET"}},
    "database_url": "postgresql+psycopg://teller:db-pass-S3CRET@127.0.0.1:5432/teller",
}


def test_secrets_are_not_shown(config_dir: Path) -> None:
    config = load(config_dir, SECRETS)
    for text in (
        str(config),
        repr(config),
        json.dumps(config.redacted()),
        str(config.redacted()),
        repr(config.btc_rpc),
    ):
        assert "S3CRET" not in text
    redacted = config.redacted()
    assert redacted["btc_rpc"]["user"] == "<redacted>"
    assert redacted["btc_rpc"]["pass"] == "<redacted>"
    assert redacted["sky_exchanger"]["exchange_client"] == {
        "key": "<redacted>",
        "secret": "<redacted>",
        "request_failure_wait": "10s",
        "ratelimit_wait": "30s",
        "check_order_wait": "2s",
        "btc_minimum_volume": "0.005",
        "base_url": "https://api.c2cx.com/v1/",
        "orderbook_refresh": "10s",
        "max_price_rise": "0.1",
    }
    assert redacted["database_url"] == (
        "postgresql+psycopg://teller:<redacted>@127.0.0.1:5432/teller"
    )
    assert config.btc_rpc.pass_.get_secret_value() == "rpc-pass-S3CRET"
    assert config.database_url == SECRETS["database_url"]


def test_empty_secrets_are_shown_empty(config_dir: Path) -> None:
    redacted = load(config_dir).redacted()
    assert redacted["btc_rpc"]["user"] == "" and redacted["btc_rpc"]["pass"] == ""
    assert redacted["web"]["throttle_duration"] == "1m0s"


def test_secrets_are_not_shown_in_problems(config_dir: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(
            config_dir,
            {
                "btc_rpc": {"pass": ["pw-S3CRET"], "user": True},
                "sky_exchanger": {"exchange_client": {"secret": {"x": "S3CRET"}}},
                "database_url": "mysql://teller:db-S3CRET@127.0.0.1/teller",
            },
            env={"TELLER_WEB__HTTP_ADDR": ""},
        )
    problems = caught.value.problems
    assert "btc_rpc.pass: expected a string, got a list" in problems
    assert "btc_rpc.user: expected a string, got a boolean" in problems
    assert "sky_exchanger.exchange_client.secret: expected a string, got a table" in problems
    assert "S3CRET" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("", ""),
        ("sqlite:///teller.db", "sqlite:///teller.db"),
        ("postgresql://postgres@127.0.0.1:5432/test", "postgresql://postgres@127.0.0.1:5432/test"),
        ("postgresql://u:p%40ss@h/db", "postgresql://u:<redacted>@h/db"),
        (
            "postgresql://u:pw@[::1]:5432/db?sslmode=require",
            "postgresql://u:<redacted>@[::1]:5432/db?sslmode=require",
        ),
    ],
)
def test_redact_url_password(url: str, shown: str) -> None:
    assert redact_url_password(url) == shown


# ---------------------------------------------------------------------------------------------
# The Skycoin node reachability check (real sender only)


@pytest.fixture
def listening_address() -> Iterator[str]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield f"127.0.0.1:{server.getsockname()[1]}"


@pytest.fixture
def closed_address() -> Iterator[str]:
    """An address where connections are refused (its port held, so nothing else takes it)."""
    with closed_port() as port:
        yield f"127.0.0.1:{port}"


def test_sky_rpc_reachable(config_dir: Path, listening_address: str) -> None:
    load(config_dir, REAL_SENDER, {"sky_rpc": {"address": listening_address}}, check_network=True)


def test_sky_rpc_unreachable(config_dir: Path, closed_address: str) -> None:
    address = closed_address
    with pytest.raises(ConfigError) as caught:
        load(config_dir, REAL_SENDER, {"sky_rpc": {"address": address}}, check_network=True)
    [problem] = caught.value.problems
    assert problem.startswith(f"sky_rpc.address connect failed: dial tcp {address}: ")


def test_sky_rpc_not_dialled_for_the_dummy_sender(config_dir: Path, closed_address: str) -> None:
    load(config_dir, {"sky_rpc": {"address": closed_address}}, check_network=True)


# ---------------------------------------------------------------------------------------------
# Finding the config file (-c NAME, -d APPDIR)


@pytest.fixture
def app_and_work_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    appdir, workdir = tmp_path / "app", tmp_path / "work"
    appdir.mkdir()
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    return appdir, workdir


def test_find_config_prefers_the_app_dir(app_and_work_dirs: tuple[Path, Path]) -> None:
    appdir, workdir = app_and_work_dirs
    (appdir / "config.toml").write_text("")
    (workdir / "config.toml").write_text("")
    assert find_config_file(None, appdir) == (appdir / "config.toml").resolve()
    assert find_config_file("config", appdir) == (appdir / "config.toml").resolve()
    assert find_config_file("config.toml", appdir) == (appdir / "config.toml").resolve()


def test_find_config_then_the_working_dir(app_and_work_dirs: tuple[Path, Path]) -> None:
    appdir, workdir = app_and_work_dirs
    (workdir / "prod.toml").write_text("")
    assert find_config_file("prod", appdir) == (workdir / "prod.toml").resolve()
    assert find_config_file("prod.toml", appdir) == (workdir / "prod.toml").resolve()


def test_find_config_path_as_given(app_and_work_dirs: tuple[Path, Path], tmp_path: Path) -> None:
    appdir, _workdir = app_and_work_dirs
    elsewhere = tmp_path / "etc" / "teller.conf"
    elsewhere.parent.mkdir()
    elsewhere.write_text("")
    assert find_config_file(str(elsewhere), appdir) == elsewhere.resolve()
    other = tmp_path / "etc" / "other.toml"
    other.write_text("")
    assert find_config_file(str(other), appdir) == other.resolve()


def test_find_config_missing(app_and_work_dirs: tuple[Path, Path]) -> None:
    appdir, workdir = app_and_work_dirs
    with pytest.raises(ConfigError) as caught:
        find_config_file("prod.toml", appdir)
    assert caught.value.problems == [f"config file prod.toml not found in {appdir} or {workdir}"]
    with pytest.raises(ConfigError, match=r"config file config\.toml not found"):
        find_config_file(None, appdir)


# ---------------------------------------------------------------------------------------------
# host:port


@pytest.mark.parametrize(
    ("address", "parts"),
    [
        ("127.0.0.1:7071", ("127.0.0.1", 7071)),
        ("localhost:0", ("localhost", 0)),
        (":7071", ("", 7071)),
        ("[::1]:7071", ("::1", 7071)),
        ("0.0.0.0:65535", ("0.0.0.0", 65535)),
    ],
)
def test_split_host_port(address: str, parts: tuple[str, int]) -> None:
    assert split_host_port(address) == parts


@pytest.mark.parametrize(
    "address", ["", "7071", "host:", "host:65536", "::1:7071", "host:x", "a b:1", "host:-1"]
)
def test_split_host_port_rejects(address: str) -> None:
    with pytest.raises(ValueError, match="is not host:port"):
        split_host_port(address)


# ---------------------------------------------------------------------------------------------
# The example config used by `make run`


def test_example_config_loads(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE_CONFIG, tmp_path / "config.toml")
    for coin in ("btc", "eth", "sky"):
        (tmp_path / f"example_{coin}_addresses.txt").write_text("")
    config = load_config(tmp_path / "config.toml", check_network=False, env={})
    assert config.dummy.sender and config.dummy.scanner
    assert [config.scanner_enabled(coin) for coin in ("BTC", "ETH", "SKY")] == [True, True, False]
    assert [config.sky_exchanger.rate_for(coin) for coin in ("BTC", "ETH", "SKY")] == [
        "500",
        "100",
        "1",
    ]
    assert config.sky_exchanger.send_enabled is True
    assert config.sky_exchanger.tx_confirmation_check_wait == timedelta(seconds=1)
    assert config.dummy.balance == "1000000"
    assert config.logfile == ""
    assert (config.web.http_addr, config.admin_panel.host, config.dummy.http_addr) == (
        "127.0.0.1:7071",
        "127.0.0.1:7711",
        "127.0.0.1:4121",
    )
    assert config.btc_addresses == str(tmp_path / "example_btc_addresses.txt")


def test_example_config_loads_in_place() -> None:
    load_config(EXAMPLE_CONFIG, check_network=False, env={})


def test_a_rate_too_large_to_pay_one_coin_is_refused(tmp_path: Path) -> None:
    """ "1e40" parses, but 1 BTC would buy more SKY than can ever be paid."""
    path = tmp_path / "absurd.toml"
    path.write_text(
        'btc_addresses = "b.txt"\neth_addresses = "e.txt"\n'
        '[sky_exchanger]\nsky_btc_exchange_rate = "1e40"\nsky_eth_exchange_rate = "1"\n'
        "[dummy]\nsender = true\nscanner = true\n"
    )
    (tmp_path / "b.txt").write_text("1PZ63K3G4gZP6A6E2TTbBwxT5bFQGL2TLB\n")
    (tmp_path / "e.txt").write_text("0x77720eeb0be8b4060636e4f8e77b178ace343e11\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, check_network=False, env={})
    assert caught.value.problems == [
        "sky_exchanger.sky_btc_exchange_rate invalid: calculated sky amount is too large"
    ]
