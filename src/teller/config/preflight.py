"""Preflight: every rule a typed Config must pass before teller starts, one problem line each.

Place in the flow: load.py calls validation_problems() on the Config it typed, and reports what
it returns (with its own typing problems) in one ConfigError; nothing starts until the list is
empty. The rules run in the original's order (teller-go.md §2.2) with its exact messages, then
teller's own in the same style: values (rates, buy method, durations > 0, database_url,
dummy.balance, dummy.scanner feeding the real sender only when
dummy.fake_deposits_pay_real_sky says so...), files (address files, btc_rpc.cert, the hot
wallet, TLS files, static_dir), addresses (host:port, split_host_port, also used by
http/servers.py to listen), and last the original's TCP dial of the Skycoin node when teller
will really send coins.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

from teller.coins import COIN_TYPES
from teller.coins.btc import NETWORKS as BTC_NETWORKS
from teller.coins.btc import SATOSHIS_PER_BTC
from teller.config.durations import format_duration
from teller.config.schema import BUY_METHOD_PASSTHROUGH, BUY_METHODS, Config
from teller.money import SKY_DECIMALS, AmountError, parse_rate, sky_droplets_for_satoshis

# Skycoin's visor.MaxDropletPrecision: SKY has 6 decimals (SKY_DECIMALS), but only 3 may be sent.
MAX_DROPLET_PRECISION = 3

DATABASE_URL_SCHEMES = ("sqlite", "postgresql")
NETWORK_CHECK_TIMEOUT_SECONDS = 3.0


def validation_problems(config: Config, *, check_network: bool = True) -> list[str]:
    """Every rule broken by an already-typed config, one line each, in the original's order."""
    rules: list[Callable[[Config], Iterator[str]]] = [
        _address_file_problems,
        _sky_rpc_problems,
        _scanner_rpc_problems,
        _scanner_number_problems,
        _btc_network_problems,
        _eth_chain_id_problems,
        _passthrough_scanner_problems,
        _exchanger_problems,
        _wallet_problems,
        _web_problems,
        _http_problems,
        _teller_problems,
        _listen_address_problems,
        _duration_problems,
        _database_url_problems,
        _dummy_problems,
    ]
    problems = [problem for rule in rules for problem in rule(config)]
    if check_network:
        problems += _sky_rpc_connect_problems(config)
    return problems


def _address_file_problems(config: Config) -> Iterator[str]:
    files = [("btc_addresses", config.btc_addresses), ("eth_addresses", config.eth_addresses)]
    if config.sky_scanner.enabled:
        files.append(("sky_addresses", config.sky_addresses))
    # An extended public key replaces the coin's address file (coins/xpub.py).
    hd_keys = {"btc_addresses": config.btc_xpub, "eth_addresses": config.eth_xpub}
    for key, path in files:
        if hd_keys.get(key):
            continue
        if not path:
            yield f"{key} missing"
        elif not Path(path).is_file():
            yield f"{key} file does not exist"
    from teller.coins.xpub import config_key_problems  # embit loads only when checked

    yield from config_key_problems("BTC", "btc_xpub", config.btc_xpub, config.btc_scanner.network)
    yield from config_key_problems("ETH", "eth_xpub", config.eth_xpub)


def _sky_rpc_problems(config: Config) -> Iterator[str]:
    address = config.sky_rpc.address
    if not address and (not config.dummy.sender or _real_scanner_on(config, "SKY")):
        yield "sky_rpc.address missing"
    if address:
        yield from _host_port_problems("sky_rpc.address", address, allow_port_zero=False)


def _real_scanner_on(config: Config, coin: str) -> bool:
    return not config.dummy.scanner and config.scanner_enabled(coin)


def _scanner_rpc_problems(config: Config) -> Iterator[str]:
    rpc = config.btc_rpc
    if _real_scanner_on(config, "BTC"):
        for key, value in (
            ("server", rpc.server),
            ("user", rpc.user.get_secret_value()),
            ("pass", rpc.pass_.get_secret_value()),
            ("cert", rpc.cert if rpc.tls else "-"),
        ):
            if not value:
                yield f"btc_rpc.{key} missing"
        if rpc.tls and rpc.cert and not Path(rpc.cert).is_file():
            yield "btc_rpc.cert file does not exist"
    if rpc.server:
        yield from _host_port_problems("btc_rpc.server", rpc.server, allow_port_zero=False)
    if _real_scanner_on(config, "ETH"):
        if not config.eth_rpc.server:
            yield "eth_rpc.server missing"
        if not config.eth_rpc.port:
            yield "eth_rpc.port missing"


def _scanner_number_problems(config: Config) -> Iterator[str]:
    for coin in COIN_TYPES:
        scanner = config.scanner_for(coin)
        prefix = f"{coin.lower()}_scanner"
        if scanner.confirmations_required < 0:
            yield f"{prefix}.confirmations_required must be >= 0"
        if scanner.initial_scan_height < 0:
            yield f"{prefix}.initial_scan_height must be >= 0"


def _eth_chain_id_problems(config: Config) -> Iterator[str]:
    chain_id = config.eth_scanner.chain_id
    if not 0 <= chain_id <= 2**64 - 1:  # eth_chainId is a 64-bit quantity
        yield f"eth_scanner.chain_id must be between 0 and 2^64-1, got {chain_id}"


def _btc_network_problems(config: Config) -> Iterator[str]:
    if config.btc_scanner.network not in BTC_NETWORKS:
        yield (
            "btc_scanner.network must be one of "
            f"{', '.join(BTC_NETWORKS)}, got {config.btc_scanner.network!r}"
        )


def _passthrough_scanner_problems(config: Config) -> Iterator[str]:
    if config.sky_exchanger.buy_method != BUY_METHOD_PASSTHROUGH:
        return
    for coin in ("ETH", "SKY"):
        if config.scanner_enabled(coin):
            yield f"{coin.lower()}_scanner must be disabled for buy_method passthrough"


def _exchanger_problems(config: Config) -> Iterator[str]:
    exchanger = config.sky_exchanger
    for coin in COIN_TYPES:
        rate = exchanger.rate_for(coin)
        if coin == "SKY" and not rate and not config.sky_scanner.enabled:
            continue
        try:
            parse_rate(rate)
            # One whole coin must buy an amount of SKY that can be paid (int64 droplets),
            # or every deposit of that coin would fail later ("1e40" parses fine).
            sky_droplets_for_satoshis(SATOSHIS_PER_BTC, rate, 0)
        except AmountError as error:
            yield f"sky_exchanger.sky_{coin.lower()}_exchange_rate invalid: {error}"
    if exchanger.max_decimals < 0:
        yield "sky_exchanger.max_decimals can't be negative"
    if exchanger.max_decimals > MAX_DROPLET_PRECISION:
        yield (
            "sky_exchanger.max_decimals is larger than "
            f"visor.MaxDropletPrecision={MAX_DROPLET_PRECISION}"
        )
    if exchanger.buy_method not in BUY_METHODS:
        yield 'sky_exchanger.buy_method must be "direct" or "passthrough"'
    if exchanger.buy_method == BUY_METHOD_PASSTHROUGH:
        client = exchanger.exchange_client
        if not client.key.get_secret_value():
            yield "c2cx.key must be set for buy_method passthrough"
        if not client.secret.get_secret_value():
            yield "c2cx.secret must be set for buy_method passthrough"
    if exchanger.exchange_client.btc_minimum_volume < 0:
        yield "sky_exchanger.exchange_client.btc_minimum_volume must be >= 0"
    if not 0 <= exchanger.exchange_client.max_price_rise <= 1000:
        yield "sky_exchanger.exchange_client.max_price_rise must be from 0 to 1000 (0.1 = 10 %)"
    base_url = exchanger.exchange_client.base_url
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        yield (
            "sky_exchanger.exchange_client.base_url must be an http:// or https:// URL, got"
            f" {base_url!r}"
        )


def _wallet_problems(config: Config) -> Iterator[str]:
    """Only a real sender needs the hot wallet; its full loading belongs to the wallet module,
    here it only has to exist and look like a Skycoin wallet (JSON with meta and entries)."""
    if config.dummy.sender:
        return
    path = config.sky_exchanger.wallet
    if not path:
        yield "sky_exchanger.wallet missing"
        return
    if not Path(path).is_file():
        yield f"sky_exchanger.wallet file {path} does not exist"
        return
    try:
        wallet = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        yield f"sky_exchanger.wallet file {path} failed to load: {error}"
        return
    if not isinstance(wallet, dict) or not isinstance(wallet.get("meta"), dict):
        yield f"sky_exchanger.wallet file {path} is invalid: no meta object"
    elif not isinstance(wallet.get("entries"), list):
        yield f"sky_exchanger.wallet file {path} is invalid: no entries list"


def _web_problems(config: Config) -> Iterator[str]:
    web = config.web
    any_tls = bool(web.auto_tls_host or web.tls_key or web.tls_cert)
    if not web.http_addr and not web.https_addr:
        yield "at least one of web.http_addr, web.https_addr must be set"
    if web.https_addr and not web.auto_tls_host and not (web.tls_cert and web.tls_key):
        yield (
            "when using web.https_addr, either web.auto_tls_host or both web.tls_cert and "
            "web.tls_key must be set"
        )
    if bool(web.tls_cert) != bool(web.tls_key):
        yield "web.tls_cert and web.tls_key must be set or unset together"
    if web.auto_tls_host and (web.tls_key or web.tls_cert):
        yield "either use web.auto_tls_host or both web.tls_key and web.tls_cert"
    if not web.https_addr and any_tls:
        yield (
            "web.auto_tls_host or web.tls_key or web.tls_cert is set but web.https_addr is "
            "not enabled"
        )
    for key, path in (("web.tls_cert", web.tls_cert), ("web.tls_key", web.tls_key)):
        if path and not Path(path).is_file():
            yield f"{key} file {path} does not exist"
    if web.static_dir and not Path(web.static_dir).is_dir():
        yield f"web.static_dir {web.static_dir} is not a directory"
    if web.throttle_max < 1:
        yield f"web.throttle_max must be >= 1, got {web.throttle_max}"
    if web.max_body_bytes < 1:
        yield f"web.max_body_bytes must be >= 1, got {web.max_body_bytes}"


def _http_problems(config: Config) -> Iterator[str]:
    limits = config.http
    if limits.max_header_bytes < 1024:
        yield f"http.max_header_bytes must be >= 1024, got {limits.max_header_bytes}"
    if limits.max_connections_per_client < 0:
        yield (
            "http.max_connections_per_client must be >= 0 (0 means no cap), got "
            f"{limits.max_connections_per_client}"
        )


def _teller_problems(config: Config) -> Iterator[str]:
    if config.teller.max_bound_addrs < 0:
        yield "teller.max_bound_addrs must be >= 0 (0 means unlimited)"


def _listen_address_problems(config: Config) -> Iterator[str]:
    dummy_on = config.dummy.sender or config.dummy.scanner
    listeners = [
        ("web.http_addr", config.web.http_addr, False),
        ("web.https_addr", config.web.https_addr, False),
        ("admin_panel.host", config.admin_panel.host, True),
        ("dummy.http_addr", config.dummy.http_addr, dummy_on),
    ]
    for key, address, required in listeners:
        if address:
            yield from _host_port_problems(key, address, allow_port_zero=True)
        elif required:
            yield f"{key} missing"


def _host_port_problems(key: str, address: str, *, allow_port_zero: bool) -> Iterator[str]:
    try:
        _host, port = split_host_port(address)
    except ValueError:
        yield f"{key} must be host:port, got {address!r}"
        return
    if port == 0 and not allow_port_zero:
        yield f"{key} must have a port between 1 and 65535, got {address!r}"


def _duration_problems(config: Config) -> Iterator[str]:
    client = config.sky_exchanger.exchange_client
    durations = [
        ("btc_scanner.scan_period", config.btc_scanner.scan_period),
        ("eth_scanner.scan_period", config.eth_scanner.scan_period),
        ("sky_scanner.scan_period", config.sky_scanner.scan_period),
        (
            "sky_exchanger.tx_confirmation_check_wait",
            config.sky_exchanger.tx_confirmation_check_wait,
        ),
        ("sky_exchanger.exchange_client.request_failure_wait", client.request_failure_wait),
        ("sky_exchanger.exchange_client.ratelimit_wait", client.ratelimit_wait),
        ("sky_exchanger.exchange_client.check_order_wait", client.check_order_wait),
        ("sky_exchanger.exchange_client.orderbook_refresh", client.orderbook_refresh),
        ("web.throttle_duration", config.web.throttle_duration),
        ("http.header_timeout", config.http.header_timeout),
        ("http.body_timeout", config.http.body_timeout),
        ("http.keep_alive_timeout", config.http.keep_alive_timeout),
    ]
    for key, duration in durations:
        if duration <= timedelta(0):
            yield f"{key} must be greater than 0, got {format_duration(duration)}"


def _database_url_problems(config: Config) -> Iterator[str]:
    url = config.database_url
    if not url:
        return
    scheme, separator, _rest = url.partition("://")
    driverless_scheme = scheme.partition("+")[0].lower()
    if not separator or driverless_scheme not in DATABASE_URL_SCHEMES:
        # The URL may hold a password: never echo it.
        shown = f"scheme {scheme!r}" if separator else "no scheme"
        yield (
            "database_url must be a sqlite:// or postgresql:// URL (optionally with a driver, "
            f"e.g. postgresql+psycopg://), got {shown}"
        )


FAKE_DEPOSITS_KEY = "dummy.fake_deposits_pay_real_sky"


def _dummy_problems(config: Config) -> Iterator[str]:
    if config.dummy.feeds_real_payer and not config.dummy.fake_deposits_pay_real_sky:
        # The dummy API takes deposits from anyone who reaches dummy.http_addr, with no
        # chain behind them; with the real sender the hot wallet would pay each one.
        yield (
            "dummy.scanner = true with the real SKY sender (dummy.sender = false): anyone who "
            "reaches dummy.http_addr could add deposits that the hot wallet pays. Set "
            f"{FAKE_DEPOSITS_KEY} = true only if that is meant (a test chain's node, e.g. the "
            "Skycoin node simulator); otherwise set dummy.sender = true or dummy.scanner = false"
        )
    balance = config.dummy.balance
    if not _is_sky_amount(balance):
        yield (
            f"dummy.balance must be a non-negative SKY amount with at most {SKY_DECIMALS} "
            f"decimals, got {balance!r}"
        )


def _is_sky_amount(text: str) -> bool:
    """A plain non-negative decimal ("1000000", "0.5") with at most 6 decimals."""
    if not re.fullmatch(r"\d+(\.\d*)?|\.\d+", text.strip()):
        return False
    exponent = Decimal(text.strip()).normalize().as_tuple().exponent
    return isinstance(exponent, int) and exponent >= -SKY_DECIMALS


def _sky_rpc_connect_problems(config: Config) -> Iterator[str]:
    """The original dials the Skycoin node at start-up when it will really send coins."""
    if config.dummy.sender or not config.sky_rpc.address:
        return
    try:
        host, port = split_host_port(config.sky_rpc.address)
    except ValueError:
        return  # reported by _sky_rpc_problems
    try:
        with socket.create_connection((host, port), timeout=NETWORK_CHECK_TIMEOUT_SECONDS):
            pass
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        yield f"sky_rpc.address connect failed: dial tcp {config.sky_rpc.address}: {reason}"


def split_host_port(address: str) -> tuple[str, int]:
    """Split "host:port" (or "[v6]:port", or ":port" = every interface: host ""); ValueError
    if the address is not one. The one parser of listen and dial addresses in teller."""
    host, separator, port = address.rpartition(":")
    if not separator or not re.fullmatch(r"\d{1,5}", port) or int(port) > 65535:
        raise ValueError(f"{address!r} is not host:port")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host or "[" in host or "]" in host or " " in host:
        raise ValueError(f"{address!r} is not host:port")
    return host, int(port)
