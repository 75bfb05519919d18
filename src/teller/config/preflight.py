"""Preflight: every rule a typed Config must pass before teller starts, one problem line each.

Place in the flow: load.py calls validation_problems() on the Config it typed, and reports what
it returns (with its own typing problems) in one ConfigError; nothing starts until the list is
empty. The rules run in the original's order (teller-go.md §2.2) with its exact messages, then
teller's own in the same style: values (rates, buy method, durations > 0, database_url,
dummy.balance, dummy.scanner feeding the real sender only when
dummy.fake_deposits_pay_real_sky says so...), files (address files, btc_rpc.cert, the hot
wallet and its password source, TLS files, static_dir), addresses (host:port, split_host_port,
also used by http/servers.py to listen), TLS to every peer that is not on loopback (plain HTTP
to a remote Skycoin, BTC or ETH node only with its allow_plaintext_remote key; C2CX https://
only), and last the original's TCP dial of the Skycoin node when teller will really send coins.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import ssl
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

from teller.coins import COIN_TYPES
from teller.coins.btc import NETWORKS as BTC_NETWORKS
from teller.coins.btc import SATOSHIS_PER_BTC
from teller.coins.sky_wallet import crypto_type
from teller.coins.sky_wallet_crypto import READABLE_CRYPTO_TYPES, reencrypt_advice
from teller.config.admin_auth import (
    CredentialError,
    hash_problem,
    host_name_problem,
    is_loopback_host,
    read_token_file,
)
from teller.config.durations import format_duration
from teller.config.schema import BUY_METHOD_PASSTHROUGH, BUY_METHODS, Config
from teller.config.webhooks import webhook_problems
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
        _admin_auth_problems,
        webhook_problems,
    ]
    problems = [problem for rule in rules for problem in rule(config)]
    if check_network:
        problems += _sky_rpc_connect_problems(config)
    return problems


def _address_file_problems(config: Config) -> Iterator[str]:
    # The Go teller demanded eth_addresses always; a coin that is off (ETH is always off with
    # buy_method passthrough) hands out no addresses, so its file is asked for only when on.
    files = [("btc_addresses", config.btc_addresses)]
    if config.eth_scanner.enabled:
        files.append(("eth_addresses", config.eth_addresses))
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
    rpc = config.sky_rpc
    address = rpc.address
    used = not config.dummy.sender or _real_scanner_on(config, "SKY")
    if not address and used:
        yield "sky_rpc.address missing"
    if not address:
        return
    scheme, host_port = sky_node_address(address)
    if not scheme:
        yield (
            "sky_rpc.address must be host:port, http://host:port or https://host:port, got"
            f" {address!r}"
        )
        return
    yield from _host_port_problems("sky_rpc.address", host_port, allow_port_zero=False)
    if rpc.cert:
        yield from _sky_cert_problems(rpc.cert, scheme)
    if used and scheme == "http" and not rpc.allow_plaintext_remote:
        with contextlib.suppress(ValueError):  # not host:port: reported above
            if not is_loopback_host(split_host_port(host_port)[0]):
                yield (
                    f"sky_rpc.address {address} is plain HTTP to a host that is not loopback:"
                    " anyone on the path could read and forge the node's answers (a payout"
                    " confirmed, a balance). Write https://host:port (sky_rpc.cert names the"
                    " node's certificate or its CA), or set sky_rpc.allow_plaintext_remote ="
                    " true if the path is trusted (a VPN, an SSH tunnel)"
                )


def _sky_cert_problems(cert: str, scheme: str) -> Iterator[str]:
    if scheme != "https":
        yield "sky_rpc.cert is set but sky_rpc.address is not https://host:port"
    elif not Path(cert).is_file():
        yield f"sky_rpc.cert file {cert} does not exist"
    else:
        try:
            ssl.create_default_context(cafile=cert)
        except (ssl.SSLError, OSError, ValueError) as error:
            yield f"sky_rpc.cert file {cert} is not a PEM certificate: {error}"


def sky_node_address(address: str) -> tuple[str, str]:
    """(scheme, "host:port") of a sky_rpc.address: "http" when it has no scheme, "" when its
    scheme is neither http nor https."""
    address = address.strip()
    scheme, separator, rest = address.partition("://")
    if not separator:
        return "http", address.rstrip("/")
    if scheme.lower() not in ("http", "https"):
        return "", address
    return scheme.lower(), rest.rstrip("/")


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
    if _real_scanner_on(config, "BTC") and not rpc.tls and not rpc.allow_plaintext_remote:
        with contextlib.suppress(ValueError):  # not host:port: reported above
            if not is_loopback_host(split_host_port(rpc.server)[0]):
                yield (
                    f"btc_rpc.tls = false sends btc_rpc.user and btc_rpc.pass in the clear to"
                    f" {rpc.server}, which is not a loopback address (and blocks read over it"
                    " could be forged): use TLS (btc_rpc.tls = true with btc_rpc.cert), or set"
                    " btc_rpc.allow_plaintext_remote = true if the path is trusted (a VPN, an"
                    " SSH tunnel)"
                )
    if _real_scanner_on(config, "ETH"):
        if not config.eth_rpc.server:
            yield "eth_rpc.server missing"
        if not config.eth_rpc.port:
            yield "eth_rpc.port missing"
        yield from _eth_transport_problems(config)


def _eth_transport_problems(config: Config) -> Iterator[str]:
    rpc = config.eth_rpc
    if not rpc.server:
        return
    url = rpc.server if "://" in rpc.server else f"http://{rpc.server}"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        parts, host = None, ""
    if parts is None or parts.scheme.lower() not in ("http", "https") or not host:
        yield f"eth_rpc.server must be a host, http://host or https://host, got {rpc.server!r}"
    elif (
        parts.scheme.lower() == "http"
        and not rpc.allow_plaintext_remote
        and not is_loopback_host(host)
    ):
        yield (
            f"eth_rpc.server {rpc.server} is plain HTTP to a host that is not loopback:"
            " blocks read over it could be forged (and credentials in its URL read)."
            " Write https://host, or set eth_rpc.allow_plaintext_remote = true if the"
            " path is trusted (a VPN, an SSH tunnel)"
        )


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
        if coin in ("ETH", "SKY") and not rate and not config.scanner_enabled(coin):
            continue  # a coin that is off converts nothing
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
    elif parts.scheme == "http" and not is_loopback_host(parts.hostname):
        yield (
            "sky_exchanger.exchange_client.base_url must be https:// (the API key and signed"
            " orders must not cross the network in the clear); http:// is only for a loopback"
            f" host such as the simulator, got {base_url!r}"
        )


WALLET_PASSWORD_ENV = "TELLER_SKY_EXCHANGER__WALLET_PASSWORD"


def _wallet_problems(config: Config) -> Iterator[str]:
    """Only a real sender needs the hot wallet; its full loading (and decryption) belongs to
    the wallet module at start-up, here it only has to exist, look like a Skycoin wallet
    (JSON with meta and entries) and, if encrypted, use a cipher teller reads and have a
    password configured."""
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
    else:
        yield from _wallet_password_problems(config, crypto_type(wallet))


def _wallet_password_problems(config: Config, cipher: str | None) -> Iterator[str]:
    exchanger = config.sky_exchanger
    path, password_file = exchanger.wallet, exchanger.wallet_password_file
    has_env = bool(exchanger.wallet_password.get_secret_value())
    if password_file and has_env:
        yield (
            f"sky_exchanger.wallet_password_file and {WALLET_PASSWORD_ENV} are both set: give"
            " the hot wallet's password one way only"
        )
    if password_file and not Path(password_file).is_file():
        yield f"sky_exchanger.wallet_password_file file {password_file} does not exist"
    if cipher is None:
        return
    if cipher not in READABLE_CRYPTO_TYPES:
        yield f"sky_exchanger.wallet file {path}: {reencrypt_advice(cipher or 'unknown')}"
    elif not password_file and not has_env:
        yield (
            f"sky_exchanger.wallet file {path} is encrypted ({cipher}): name a file holding its"
            " password in sky_exchanger.wallet_password_file (e.g. a systemd LoadCredential"
            f" path) or set {WALLET_PASSWORD_ENV}"
        )


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
    yield from _auto_tls_problems(config)
    yield from _buyer_page_problems(config)
    for key, path in (
        ("web.tls_cert", web.tls_cert),
        ("web.tls_key", web.tls_key),
        ("web.acme_ca_file", web.acme_ca_file),
    ):
        if path and not Path(path).is_file():
            yield f"{key} file {path} does not exist"
    if web.static_dir and not Path(web.static_dir).is_dir():
        yield f"web.static_dir {web.static_dir} is not a directory"
    if not 0 <= web.processes <= 256:
        yield f"web.processes must be 0 (one per core) to 256, not {web.processes}"
    if web.throttle_max < 1:
        yield f"web.throttle_max must be >= 1, got {web.throttle_max}"
    if web.max_body_bytes < 1:
        yield f"web.max_body_bytes must be >= 1, got {web.max_body_bytes}"


EXPLORER_COINS = ("btc", "eth", "sky")
MAX_PAGE_TEXT = 200  # characters of web.operator_name and web.contact
MAX_PAGE_URL = 500  # characters of web.terms_url and an explorer template


def _https_url_problem(key: str, url: str) -> str | None:
    """Why `url` cannot be a link on the buyer's page (its CSP allows any https link)."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return f"{key} must be an https:// URL, got {url!r}"
    if len(url) > MAX_PAGE_URL or not url.isprintable() or " " in url:
        return f"{key} must be at most {MAX_PAGE_URL} printable characters without spaces"
    return None


def _buyer_page_problems(config: Config) -> Iterator[str]:
    """web.explorer_urls, operator_name, contact, terms_url: what the buyer's page shows."""
    web = config.web
    for coin, template in web.explorer_urls.items():
        key = f"web.explorer_urls.{coin}"
        if coin not in EXPLORER_COINS:
            yield f"web.explorer_urls: unknown coin {coin!r} (one of {', '.join(EXPLORER_COINS)})"
            continue
        problem = _https_url_problem(key, template)
        if problem:
            yield problem
        if "{txid}" not in template:
            yield f"{key} must contain {{txid}} (where the transaction id goes), got {template!r}"
    for key, text in (("web.operator_name", web.operator_name), ("web.contact", web.contact)):
        if len(text) > MAX_PAGE_TEXT or not text.isprintable():
            yield f"{key} must be at most {MAX_PAGE_TEXT} printable characters (no line breaks)"
    if web.terms_url:
        problem = _https_url_problem("web.terms_url", web.terms_url)
        if problem:
            yield problem


# A DNS name a CA issues for: labels of letters, digits and inner hyphens, at least one dot.
_HOST_NAME = re.compile(
    r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)


def _auto_tls_problems(config: Config) -> Iterator[str]:
    """teller's own rules for web.auto_tls_host (the original's are above)."""
    web = config.web
    if not web.auto_tls_host:
        return
    if not _HOST_NAME.fullmatch(web.auto_tls_host):
        yield (
            "web.auto_tls_host must be a DNS name such as otc.example.com, got"
            f" {web.auto_tls_host!r}"
        )
    if not web.http_addr:
        yield (
            "web.auto_tls_host needs web.http_addr: the CA's HTTP-01 challenge is answered there"
            " (on port 80 of web.auto_tls_host)"
        )
    parts = urlsplit(web.acme_directory)
    if parts.scheme != "https" or not parts.hostname:
        yield f"web.acme_directory must be an https:// URL, got {web.acme_directory!r}"
    if not 0 < web.acme_renew_left < 1:
        yield (
            "web.acme_renew_left must be between 0 and 1 (the part of a certificate's lifetime"
            f" left when it is renewed), got {web.acme_renew_left}"
        )


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
    for coin, threshold in config.teller.pool_low_warning().items():
        if threshold < 0:
            yield f"teller.{coin.lower()}_pool_low_warning must be >= 0 (0 means never warn)"


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
        ("worker.lease", config.worker.lease),
        ("worker.renew", config.worker.renew),
    ]
    for key, duration in durations:
        if duration <= timedelta(0):
            yield f"{key} must be greater than 0, got {format_duration(duration)}"
    worker = config.worker
    if timedelta(0) < worker.lease < worker.renew * 2 and worker.renew > timedelta(0):
        # Renewing at most every half lease leaves a failed renewal time for another try.
        yield (
            f"worker.renew must be at most half of worker.lease, got"
            f" {format_duration(worker.renew)} and {format_duration(worker.lease)}"
        )


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
LOOPBACK_LISTEN_HOST = "127.0.0.1"
NO_AUTH_KEY = "admin_panel.disable_auth_on_loopback"


def _admin_auth_problems(config: Config) -> Iterator[str]:
    """The admin credential (config/admin_auth.py) and the Host allow-lists."""
    admin = config.admin_panel
    stored = admin.auth_token_hash.get_secret_value()
    if stored and (problem := hash_problem(stored)):
        yield f"admin_panel.auth_token_hash {problem}"
    if admin.auth_token_file:
        try:
            read_token_file(Path(admin.auth_token_file))
        except CredentialError as exc:
            yield str(exc)
    if admin.disable_auth_on_loopback:
        if stored or admin.auth_token_file:
            yield (
                f"{NO_AUTH_KEY} = true turns the admin credential off, but"
                " admin_panel.auth_token_hash or auth_token_file is set: choose one"
            )
        try:
            host = listen_host(split_host_port(admin.host)[0])
        except ValueError:
            pass  # reported by _listen_address_problems
        else:
            if not is_loopback_host(host):
                yield (
                    f"{NO_AUTH_KEY} = true is only allowed when admin_panel.host listens on"
                    f" loopback (127.0.0.1, ::1, localhost or :PORT), got {admin.host!r}:"
                    " anyone who reaches it could read the database. Set a credential instead"
                    " (README: Security)"
                )
    for key, names in (
        ("admin_panel.allowed_hosts", admin.allowed_hosts),
        ("dummy.allowed_hosts", config.dummy.allowed_hosts),
    ):
        for name in names:
            if problem := host_name_problem(name):
                yield f"{key}: {problem}"


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
        host, port = split_host_port(sky_node_address(config.sky_rpc.address)[1])
    except ValueError:
        return  # reported by _sky_rpc_problems
    try:
        with socket.create_connection((host, port), timeout=NETWORK_CHECK_TIMEOUT_SECONDS):
            pass
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        yield f"sky_rpc.address connect failed: dial tcp {config.sky_rpc.address}: {reason}"


def listen_host(host: str) -> str:
    """The interface a listener written with `host` binds: ":PORT" (host "") is loopback,
    127.0.0.1 (the Go teller listened on every interface); every interface only when the
    operator writes it, 0.0.0.0 or [::]. The one place this rule lives."""
    return host or LOOPBACK_LISTEN_HOST


def split_host_port(address: str) -> tuple[str, int]:
    """Split "host:port" (or "[v6]:port", or ":port": host "", which listen_host makes
    loopback); ValueError if the address is not one. The one parser of listen and dial
    addresses in teller."""
    host, separator, port = address.rpartition(":")
    if not separator or not re.fullmatch(r"\d{1,5}", port) or int(port) > 65535:
        raise ValueError(f"{address!r} is not host:port")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host or "[" in host or "]" in host or " " in host:
        raise ValueError(f"{address!r} is not host:port")
    return host, int(port)
