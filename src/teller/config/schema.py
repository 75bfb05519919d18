"""teller's configuration, typed: every key of the Go teller's TOML file, its type and default.

Place in the flow: load.py reads the file and the environment into plain data and validates it
into the Config below; preflight.py checks the typed Config's rules, files and ports; cli.py
passes the Config explicitly to every part it builds (no module-level settings object, no
globals). Config is a plain pydantic model: building one never reads the environment.

Attribute names are the TOML keys (btc_rpc.pass is `pass_`, alias "pass"). A value of the wrong
type fails with a "config_value" error whose message is the readable tail of a problem line
(go_compat.py words them); load.py reports it, drops it and uses the default.

Defaults that differ from the original's, on purpose: the documented teller.max_bound_addrs = 5
and sky_exchanger.send_enabled = true (the original's typo'd keys effectively made them 0 and
false). Keys of teller's own are marked where they are declared.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    model_validator,
)

from teller.config.durations import format_duration
from teller.config.go_compat import (
    CLIENT_TABLE,
    GO_CLIENT_TABLE,
    ConfigDuration,
    value_error,
)
from teller.errors import TellerError

REDACTED = "<redacted>"

BUY_METHOD_DIRECT = "direct"
BUY_METHOD_PASSTHROUGH = "passthrough"
BUY_METHODS = (BUY_METHOD_DIRECT, BUY_METHOD_PASSTHROUGH)


class ConfigError(TellerError):
    """The config cannot be used; problems holds one readable line per problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("Config error:\n" + "\n".join(self.problems))


# ---------------------------------------------------------------------------------------------
# Value coercion: what TOML (or an environment variable, always a string) may hold for a key.
# Each raises a "config_value" error whose message is the readable tail of a problem line.


def _as_int(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]+", value.strip()):
        return int(value.strip())
    raise value_error("an integer", value)


_BOOL_STRINGS = {"true": True, "t": True, "1": True, "false": False, "f": False, "0": False}


def _as_bool(value: object) -> object:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _BOOL_STRINGS:
        return _BOOL_STRINGS[value.strip().lower()]
    raise value_error("true or false", value)


def _as_str(value: object) -> object:
    # Numbers are accepted as text, as viper did (e.g. eth_rpc.port = 8545).
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise value_error("a string", value)


def _as_secret_str(value: object) -> object:
    if isinstance(value, SecretStr):
        return value
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise value_error("a string", value, secret=True)


def _as_decimal(value: object) -> object:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | float | str) and not isinstance(value, bool):
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            number = Decimal("NaN")
        if number.is_finite():
            return number
    raise value_error("a decimal number", value)


def _as_str_list(value: object) -> object:
    # An environment variable holds a list as a JSON array or as comma-separated items.
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                raise value_error("a list of strings", value) from None
        else:
            return [item.strip() for item in text.split(",") if item.strip()]
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return list(value)
    raise value_error("a list of strings", value)


ConfigInt = Annotated[int, BeforeValidator(_as_int)]
ConfigBool = Annotated[bool, BeforeValidator(_as_bool)]
ConfigStr = Annotated[str, BeforeValidator(_as_str)]
ConfigSecret = Annotated[SecretStr, BeforeValidator(_as_secret_str)]
ConfigDecimal = Annotated[Decimal, BeforeValidator(_as_decimal)]
ConfigStrList = Annotated[list[str], BeforeValidator(_as_str_list)]


def _as_str_map(value: object) -> object:
    # A TOML table of strings; an environment variable holds it as a JSON object.
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise value_error("a table of strings", value) from None
    if isinstance(value, dict) and all(
        isinstance(key, str) and isinstance(item, str) for key, item in value.items()
    ):
        return dict(value)
    raise value_error("a table of strings", value)


ConfigStrMap = Annotated[dict[str, str], BeforeValidator(_as_str_map)]


# ---------------------------------------------------------------------------------------------
# The typed config. Attribute names are the TOML keys (btc_rpc.pass is `pass_`, alias "pass").


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TellerConfig(_Section):
    max_bound_addrs: ConfigInt = 5  # 0 = unlimited
    bind_enabled: ConfigBool = True
    # teller's own: fewer free addresses of a coin's pool than this → one WATCH line per
    # crossing and `low: true` in /api/health's pools; 0 = never warn.
    btc_pool_low_warning: ConfigInt = 100
    eth_pool_low_warning: ConfigInt = 100
    sky_pool_low_warning: ConfigInt = 100

    def pool_low_warning(self) -> dict[str, int]:
        """The thresholds by coin type ("BTC", "ETH", "SKY")."""
        return {
            "BTC": self.btc_pool_low_warning,
            "ETH": self.eth_pool_low_warning,
            "SKY": self.sky_pool_low_warning,
        }


class SkyRpcConfig(_Section):
    # "host:port" or "http://host:port" (plain HTTP), or "https://host:port" (teller's own).
    address: ConfigStr = "127.0.0.1:6430"
    # teller's own: the PEM file trusted for an https:// node: a CA, or the node's own
    # self-signed certificate (then only it is trusted); "" = the system's CAs.
    cert: ConfigStr = ""
    # teller's own: plain HTTP to a node that is not on loopback is refused unless this says
    # the path is trusted (a VPN, an SSH tunnel): anyone on it could forge the node's answers.
    allow_plaintext_remote: ConfigBool = False


class BtcRpcConfig(_Section):
    server: ConfigStr = "127.0.0.1:8334"
    user: ConfigSecret = SecretStr("")
    pass_: ConfigSecret = Field(default=SecretStr(""), alias="pass")
    cert: ConfigStr = ""
    # teller's own: false talks plain HTTP to Bitcoin Core (or Litecoin Core) instead of
    # TLS to btcd; cert is then not needed.
    tls: ConfigBool = True
    # teller's own: plain HTTP (user and pass in the clear) to a host that is not loopback
    # is refused unless this says the path is trusted.
    allow_plaintext_remote: ConfigBool = False


class EthRpcConfig(_Section):
    server: ConfigStr = ""  # a host, or a URL: https://host (TLS) or http://host
    port: ConfigStr = ""
    # teller's own: plain HTTP to a host that is not loopback is refused unless this says
    # the path is trusted (blocks read over it could be forged, a URL's credentials read).
    allow_plaintext_remote: ConfigBool = False


def bitcoin_confirmations(confirmations_required: int) -> int:
    """`confirmations_required` N in Bitcoin's count of confirmations: N + 1.

    The key keeps the Go teller's meaning, N blocks on top of the deposit's block (its scanner
    waited while `height + N > tip`), so a Go teller's config file is exactly as safe here;
    Bitcoin counts the deposit's own block too (a deposit in the tip block has 1). N = 0 is
    the tip block. A negative N is refused by preflight; it is taken as 0 here, never as
    fewer than 1 confirmation. README "Confirmations" (under Chain scanners) says the same.
    """
    return max(0, confirmations_required) + 1


class ScannerConfig(_Section):
    """One coin's chain scanner; the per-coin subclasses carry the original's defaults."""

    enabled: ConfigBool
    scan_period: ConfigDuration
    initial_scan_height: ConfigInt
    confirmations_required: ConfigInt  # blocks on top of the deposit's block (Go meaning)

    @property
    def confirmations(self) -> int:
        """The confirmations a deposit needs, as Bitcoin counts them (the tip block has 1)."""
        return bitcoin_confirmations(self.confirmations_required)


class BtcScannerConfig(ScannerConfig):
    enabled: ConfigBool = True
    scan_period: ConfigDuration = timedelta(seconds=20)
    initial_scan_height: ConfigInt = 492478
    confirmations_required: ConfigInt = 1
    # teller's own: which address forms the BTC pool accepts (mainnet, testnet, regtest).
    network: ConfigStr = "mainnet"


class EthScannerConfig(ScannerConfig):
    enabled: ConfigBool = False
    scan_period: ConfigDuration = timedelta(seconds=5)
    initial_scan_height: ConfigInt = 4654259
    confirmations_required: ConfigInt = 1
    chain_id: ConfigInt = 1  # the node must answer eth_chainId with this (1 = mainnet; 0: no check)


class SkyScannerConfig(ScannerConfig):
    enabled: ConfigBool = False
    scan_period: ConfigDuration = timedelta(seconds=5)
    initial_scan_height: ConfigInt = 17000
    confirmations_required: ConfigInt = 0


class ExchangeClientConfig(_Section):
    """The exchange used by buy_method "passthrough" (C2CX); TOML [sky_exchanger.c2cx] too."""

    key: ConfigSecret = SecretStr("")
    secret: ConfigSecret = SecretStr("")
    request_failure_wait: ConfigDuration = timedelta(seconds=10)
    ratelimit_wait: ConfigDuration = timedelta(seconds=30)
    check_order_wait: ConfigDuration = timedelta(seconds=2)
    btc_minimum_volume: ConfigDecimal = Decimal("0.005")
    # teller's own: where the exchange's API is (the simulator's, for a test), and how often
    # the order book behind /api/quote is read again.
    base_url: ConfigStr = "https://api.c2cx.com/v1/"
    orderbook_refresh: ConfigDuration = timedelta(seconds=10)
    # teller's own: a part-bought deposit buys no dearer than its first fill's price raised by
    # this (0.1 = 10 %); above it, buying waits (notice=WATCH). 0: no limit, as the original.
    max_price_rise: ConfigDecimal = Decimal("0.1")


class SkyExchangerConfig(_Section):
    sky_btc_exchange_rate: ConfigStr = ""
    sky_eth_exchange_rate: ConfigStr = ""
    sky_sky_exchange_rate: ConfigStr = ""
    max_decimals: ConfigInt = 3
    tx_confirmation_check_wait: ConfigDuration = timedelta(seconds=5)
    wallet: ConfigStr = ""
    # teller's own: the password of an encrypted hot wallet (skycoin.md §10), read from this
    # file (a systemd LoadCredential path, mode 0600), or else from the environment variable
    # TELLER_SKY_EXCHANGER__WALLET_PASSWORD; never from the config file itself (load.py).
    wallet_password_file: ConfigStr = ""
    wallet_password: ConfigSecret = SecretStr("")
    send_enabled: ConfigBool = True
    buy_method: ConfigStr = BUY_METHOD_DIRECT
    exchange_client: ExchangeClientConfig = Field(default_factory=ExchangeClientConfig)

    @model_validator(mode="before")
    @classmethod
    def _accept_c2cx_table_name(cls, data: Any) -> Any:
        # The Go teller's table name, also in Python data (load.py renames it in the file).
        if isinstance(data, Mapping) and GO_CLIENT_TABLE in data and CLIENT_TABLE not in data:
            data = {
                (CLIENT_TABLE if key == GO_CLIENT_TABLE else key): value
                for key, value in data.items()
            }
        return data

    def rate_for(self, coin: str) -> str:
        """The configured rate string (SKY per 1 coin) for "BTC", "ETH" or "SKY"."""
        rates = {
            "BTC": self.sky_btc_exchange_rate,
            "ETH": self.sky_eth_exchange_rate,
            "SKY": self.sky_sky_exchange_rate,
        }
        if coin not in rates:
            raise ValueError(f"unknown coin type {coin!r}")
        return rates[coin]


LETS_ENCRYPT_DIRECTORY = "https://acme-v02.api.letsencrypt.org/directory"


class WebConfig(_Section):
    behind_proxy: ConfigBool = False
    http_addr: ConfigStr = "127.0.0.1:7071"
    https_addr: ConfigStr = ""
    static_dir: ConfigStr = ""  # "" = the page shipped in the package
    throttle_max: ConfigInt = 60
    throttle_duration: ConfigDuration = timedelta(seconds=60)
    auto_tls_host: ConfigStr = ""
    tls_cert: ConfigStr = ""
    tls_key: ConfigStr = ""
    # teller's own, for auto_tls_host: the ACME server (RFC 8555) that issues the
    # certificate, a CA file to trust it by ("" = the system's; a private CA such as Pebble),
    # the contact address given to it, and when to renew: once less than this part of the
    # certificate's lifetime is left.
    acme_directory: ConfigStr = LETS_ENCRYPT_DIRECTORY
    acme_ca_file: ConfigStr = ""
    acme_email: ConfigStr = ""
    acme_renew_left: ConfigDecimal = Decimal("0.33")
    cors_allowed: ConfigStrList = Field(default_factory=list)
    max_body_bytes: ConfigInt = 4096
    # teller's own: processes serving http_addr/https_addr (app.py, api_procs.py); 0 = one
    # per core this process may run on; 1 = the one process serves everything.
    processes: ConfigInt = 0
    # teller's own, shown on the buyer's page when set (README "The buyer's page"): links to a
    # block explorer per coin ("btc", "eth", "sky"; https templates with {txid}), and who runs
    # the service, how to reach them and their terms (in the page's footer).
    explorer_urls: ConfigStrMap = Field(default_factory=dict)
    operator_name: ConfigStr = ""
    contact: ConfigStr = ""
    terms_url: ConfigStr = ""


class HttpConfig(_Section):
    """teller's own [http] table: limits of every HTTP server (public, HTTPS, admin, dummy),
    kept by http/connection.py. The Go teller had a 10 s read timeout, a 120 s idle one
    and a 1 MB header limit; these are tighter, for slowloris and header floods."""

    max_header_bytes: ConfigInt = 16384  # request line + headers; more → 431
    header_timeout: ConfigDuration = timedelta(seconds=10)  # a request head's deadline → 408
    body_timeout: ConfigDuration = timedelta(seconds=10)  # a request body's deadline → 408
    keep_alive_timeout: ConfigDuration = timedelta(seconds=15)  # idle between requests
    # open connections of one client (IPv4 address, IPv6 /64); more → 429; 0 = no cap.
    # Off on the public servers with web.behind_proxy (every connection is the proxy's).
    max_connections_per_client: ConfigInt = 64


class AdminPanelConfig(_Section):
    host: ConfigStr = "127.0.0.1:7711"  # ":7711" listens on loopback; 0.0.0.0:7711 everywhere
    # teller's own (README "Security"): every request of the admin API carries a token
    # (Authorization: Bearer). Without a key below, teller makes DIR/admin_token at its first
    # start and accepts the token in it.
    auth_token_file: ConfigStr = ""  # a file holding the token (first line)
    auth_token_hash: ConfigSecret = SecretStr("")  # "sha256:<hex>" or "pbkdf2_sha256:…"
    # true: no credential at all; refused unless `host` is a loopback address.
    disable_auth_on_loopback: ConfigBool = False
    # Host header names accepted besides the listen host, localhost, 127.0.0.1 and ::1
    # (against DNS rebinding).
    allowed_hosts: ConfigStrList = Field(default_factory=list)


class DummyConfig(_Section):
    sender: ConfigBool = False
    scanner: ConfigBool = False
    http_addr: ConfigStr = "127.0.0.1:4121"
    balance: ConfigStr = "100"  # the dummy sender's starting balance, in SKY
    auto_confirm: ConfigBool = False  # the dummy sender confirms every broadcast at once
    # teller's own: dummy.scanner with the real sender (dummy.sender = false) lets whoever
    # reaches dummy.http_addr make deposits the hot wallet pays; teller refuses to start so
    # unless this says it is meant (a test setup paying from a test chain's node).
    fake_deposits_pay_real_sky: ConfigBool = False
    # teller's own: Host header names accepted besides the listen host and loopback names.
    allowed_hosts: ConfigStrList = Field(default_factory=list)

    @property
    def all_dummy(self) -> bool:
        """Both the scanner and the sender are fake: nothing real is at stake."""
        return self.scanner and self.sender

    @property
    def feeds_real_payer(self) -> bool:
        """Fake deposits (the dummy API) are paid by the real sender, from the hot wallet."""
        return self.scanner and not self.sender


class AuditConfig(_Section):
    """teller's own [audit] table: the independent audit (audit/loop.py)."""

    interval: ConfigDuration = timedelta(minutes=10)  # "0" = no audit


# The events a webhook may take (README "Webhooks"); `events` empty = all of them.
WEBHOOK_EVENTS = (
    "binding.created",
    "payment.seen",
    "deposit.recorded",
    "sky.sent",
    "deposit.done",
    "deposit.errored",
    "alert.watch",
)


def _as_table_list(value: object) -> object:
    # An array of tables ([[webhooks]]); an environment variable holds it as a JSON array.
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise value_error("an array of tables", value, secret=True) from None
    if isinstance(value, list | tuple):
        return list(value)
    raise value_error("an array of tables", value, secret=True)


class WebhookConfig(_Section):
    """teller's own: one [[webhooks]] table (README "Webhooks"): where events are posted,
    signed with `secret` (or the text of `secret_file`, whitespace around it dropped), which
    events, and how hard teller tries before an event is dead (shown in the admin API,
    re-sendable)."""

    url: ConfigStr = ""  # https:// (http:// only to a loopback host)
    secret: ConfigSecret = SecretStr("")
    secret_file: ConfigStr = ""
    events: ConfigStrList = Field(default_factory=list)  # [] = every event
    timeout: ConfigDuration = timedelta(seconds=10)  # one attempt's deadline
    max_attempts: ConfigInt = 20  # then the event is dead (about a day with the waits below)
    retry_wait: ConfigDuration = timedelta(seconds=30)  # after the first failure; doubles
    retry_wait_max: ConfigDuration = timedelta(hours=2)

    def event_set(self) -> frozenset[str]:
        return frozenset(self.events or WEBHOOK_EVENTS)


class WorkerConfig(_Section):
    """teller's own [worker] table: the worker role's lease (DESIGN.md §6). The holder renews
    its lease every `renew` and candidates try to take it every `renew`; a holder that died
    is replaced within `lease` + `renew`."""

    lease: ConfigDuration = timedelta(seconds=15)
    renew: ConfigDuration = timedelta(seconds=3)


class Config(_Section):
    """The whole config. Secrets are SecretStr: read them with .get_secret_value()."""

    debug: ConfigBool = True
    profile: ConfigBool = False
    logfile: ConfigStr = "./teller.log"  # "" = log to stdout only
    dbfile: ConfigStr = "teller.db"  # inside the data directory
    database_url: ConfigStr = ""  # "" = SQLite dbfile in the data directory
    pidfile: ConfigStr = ""
    btc_addresses: ConfigStr = ""
    eth_addresses: ConfigStr = ""
    sky_addresses: ConfigStr = ""
    # Extended public keys: deposit addresses derived from them instead of read from the
    # btc_addresses / eth_addresses file (coins/xpub.py). BTC: xpub, ypub or zpub; ETH: the
    # account xpub.
    btc_xpub: ConfigStr = ""
    eth_xpub: ConfigStr = ""
    teller: TellerConfig = Field(default_factory=TellerConfig)
    sky_rpc: SkyRpcConfig = Field(default_factory=SkyRpcConfig)
    btc_rpc: BtcRpcConfig = Field(default_factory=BtcRpcConfig)
    eth_rpc: EthRpcConfig = Field(default_factory=EthRpcConfig)
    btc_scanner: BtcScannerConfig = Field(default_factory=BtcScannerConfig)
    eth_scanner: EthScannerConfig = Field(default_factory=EthScannerConfig)
    sky_scanner: SkyScannerConfig = Field(default_factory=SkyScannerConfig)
    sky_exchanger: SkyExchangerConfig = Field(default_factory=SkyExchangerConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    admin_panel: AdminPanelConfig = Field(default_factory=AdminPanelConfig)
    dummy: DummyConfig = Field(default_factory=DummyConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    # teller's own: [[webhooks]] tables (README "Webhooks"); TELLER_WEBHOOKS: a JSON array.
    webhooks: Annotated[list[WebhookConfig], BeforeValidator(_as_table_list)] = Field(
        default_factory=list
    )
    worker: WorkerConfig = Field(default_factory=WorkerConfig)

    def scanner_enabled(self, coin: str) -> bool:
        """The [<coin>_scanner].enabled flag for "BTC", "ETH" or "SKY" (dummy mode or not)."""
        return self.scanner_for(coin).enabled

    def scanner_for(self, coin: str) -> ScannerConfig:
        scanners = {"BTC": self.btc_scanner, "ETH": self.eth_scanner, "SKY": self.sky_scanner}
        if coin not in scanners:
            raise ValueError(f"unknown coin type {coin!r}")
        return scanners[coin]

    def redacted(self) -> dict[str, Any]:
        """The whole config as plain data, secrets replaced by "<redacted>"; safe to log."""
        plain = _plain(self.model_dump(by_alias=True))
        assert isinstance(plain, dict)
        plain["database_url"] = redact_url_password(self.database_url)
        return plain

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, (redact_url_password(value) if name == "database_url" else value)


def _plain(value: object) -> object:
    """model_dump() output made loggable: secrets redacted, durations in Go syntax."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, SecretStr):
        return REDACTED if value.get_secret_value() else ""
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


def redact_url_password(url: str) -> str:
    """The URL with its password (if any) replaced by "<redacted>"."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return REDACTED if url else url
    if not password:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return parts._replace(netloc=f"{user}:{REDACTED}@{hostinfo}").geturl()
