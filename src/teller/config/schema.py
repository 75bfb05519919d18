"""teller's configuration: the Go teller's TOML file, typed, defaulted and validated.

Place in the flow: cli.py calls find_config_file() and load_config() once at start-up and
passes the resulting Config explicitly to every part it builds (no module-level settings
object, no globals). Nothing else reads the file or the environment.

Loading, in order:
1. read the TOML file (tomllib);
2. lower-case every key (the original used viper, whose keys are case-insensitive) and accept
   the original's table name [sky_exchanger.c2cx] for [sky_exchanger.exchange_client];
3. apply environment overrides: TELLER_<SECTION>__<KEY>, e.g. TELLER_WEB__HTTP_ADDR;
4. type every value (pydantic models below); a value of the wrong type becomes one readable
   problem line and the key falls back to its default so the remaining rules still run;
5. resolve file paths relative to the config file's directory;
6. check every rule of the original (teller-go.md §2.2, same messages) and teller's own;
   every problem is collected and reported at once in one ConfigError.

Differences from the original, on purpose:
- documented defaults instead of the original's typo'd ones: teller.max_bound_addrs = 5 and
  sky_exchanger.send_enabled = true (the original effectively used 0 and false);
- relative paths (address files, btc_rpc.cert, wallet, TLS files, static_dir) are relative to
  the config file's directory, not the working directory (the same result when teller is
  started from the config's directory); logfile stays relative to the working directory;
- a bare number of seconds is accepted wherever a duration is expected ("20" = "20s"; the
  original read a bare TOML integer as nanoseconds);
- unknown keys are reported (the original silently ignored typos such as its own), except
  the original's obsolete btc_rpc.enabled, eth_rpc.enabled and web.api_enabled;
- the wallet is checked only when a real sender is used (the original also demanded it in
  dummy mode); sky_sky_exchange_rate is required only when the SKY scanner is enabled (the
  original's own config.passthrough.toml predates it and leaves it out); sky_addresses is
  required when the SKY scanner is enabled (the original never checked it);
- teller's own keys for the real BTC scanner: btc_rpc.tls = false talks plain HTTP to Bitcoin
  Core (no cert needed; the original spoke only TLS to btcd), btc_scanner.network (mainnet,
  testnet or regtest) chooses which address forms the BTC pool accepts;
- teller's own rules (addresses are host:port, waits are > 0, database_url, dummy.balance...)
  come after the original's, with messages in the same style.
"""

from __future__ import annotations

import json
import os
import re
import socket
import tomllib
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from teller.coins.btc import NETWORKS as BTC_NETWORKS
from teller.coins.btc import SATOSHIS_PER_BTC
from teller.config.durations import DurationError, format_duration, parse_duration
from teller.money import (
    AmountError,
    parse_rate,
    sky_droplets_for_satoshis,
)

DEFAULT_CONFIG_NAME = "config"
ENV_PREFIX = "TELLER_"
ENV_NESTED_DELIMITER = "__"
REDACTED = "<redacted>"

COIN_TYPES = ("BTC", "ETH", "SKY")
BUY_METHOD_DIRECT = "direct"
BUY_METHOD_PASSTHROUGH = "passthrough"
BUY_METHODS = (BUY_METHOD_DIRECT, BUY_METHOD_PASSTHROUGH)

# Skycoin's visor.MaxDropletPrecision: SKY has 6 decimals, but only 3 may be sent.
MAX_DROPLET_PRECISION = 3
SKY_DECIMALS = 6

DATABASE_URL_SCHEMES = ("sqlite", "postgresql")
NETWORK_CHECK_TIMEOUT_SECONDS = 3.0

# Keys the original's shipped configs (or older versions of it) contain that teller ignores.
IGNORED_LEGACY_KEYS = frozenset(
    {("btc_rpc", "enabled"), ("eth_rpc", "enabled"), ("web", "api_enabled")}
)


class ConfigError(Exception):
    """The config cannot be used; problems holds one readable line per problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("Config error:\n" + "\n".join(self.problems))


# ---------------------------------------------------------------------------------------------
# Value coercion: what TOML (or an environment variable, always a string) may hold for a key.
# Each raises a "config_value" error whose message is the readable tail of a problem line.


_KINDS = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "a table",
}


def _kind(value: object) -> str:
    """What a TOML value is, in words ("a string"), for messages that must not echo it."""
    return _KINDS.get(type(value), f"a {type(value).__name__}")


def _value_error(expected: str, value: object, *, secret: bool = False) -> PydanticCustomError:
    shown = _kind(value) if secret else repr(value)
    return PydanticCustomError(
        "config_value", "expected {expected}, got {shown}", {"expected": expected, "shown": shown}
    )


def _as_int(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"[+-]?[0-9]+", value.strip()):
        return int(value.strip())
    raise _value_error("an integer", value)


_BOOL_STRINGS = {"true": True, "t": True, "1": True, "false": False, "f": False, "0": False}


def _as_bool(value: object) -> object:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _BOOL_STRINGS:
        return _BOOL_STRINGS[value.strip().lower()]
    raise _value_error("true or false", value)


def _as_str(value: object) -> object:
    # Numbers are accepted as text, as viper did (e.g. eth_rpc.port = 8545).
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise _value_error("a string", value)


def _as_secret_str(value: object) -> object:
    if isinstance(value, SecretStr):
        return value
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise _value_error("a string", value, secret=True)


def _as_duration(value: object) -> object:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"[+-]?\d+", text):
            return timedelta(seconds=int(text))
        try:
            return parse_duration(text)
        except DurationError as error:
            raise PydanticCustomError(
                "config_value",
                '{error} (expected a Go duration such as "20s", "1m30s", "300ms", '
                "or a whole number of seconds)",
                {"error": str(error)},
            ) from None
    raise _value_error('a duration such as "20s" or a whole number of seconds', value)


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
    raise _value_error("a decimal number", value)


def _as_str_list(value: object) -> object:
    # An environment variable holds a list as a JSON array or as comma-separated items.
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                raise _value_error("a list of strings", value) from None
        else:
            return [item.strip() for item in text.split(",") if item.strip()]
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return list(value)
    raise _value_error("a list of strings", value)


ConfigInt = Annotated[int, BeforeValidator(_as_int)]
ConfigBool = Annotated[bool, BeforeValidator(_as_bool)]
ConfigStr = Annotated[str, BeforeValidator(_as_str)]
ConfigSecret = Annotated[SecretStr, BeforeValidator(_as_secret_str)]
ConfigDuration = Annotated[timedelta, BeforeValidator(_as_duration)]
ConfigDecimal = Annotated[Decimal, BeforeValidator(_as_decimal)]
ConfigStrList = Annotated[list[str], BeforeValidator(_as_str_list)]


# ---------------------------------------------------------------------------------------------
# The typed config. Attribute names are the TOML keys (btc_rpc.pass is `pass_`, alias "pass").


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class TellerConfig(_Section):
    max_bound_addrs: ConfigInt = 5  # 0 = unlimited
    bind_enabled: ConfigBool = True


class SkyRpcConfig(_Section):
    address: ConfigStr = "127.0.0.1:6430"


class BtcRpcConfig(_Section):
    server: ConfigStr = "127.0.0.1:8334"
    user: ConfigSecret = SecretStr("")
    pass_: ConfigSecret = Field(default=SecretStr(""), alias="pass")
    cert: ConfigStr = ""
    # teller's own: false talks plain HTTP to Bitcoin Core (or Litecoin Core) instead of
    # TLS to btcd; cert is then not needed.
    tls: ConfigBool = True


class EthRpcConfig(_Section):
    server: ConfigStr = ""
    port: ConfigStr = ""


class ScannerConfig(_Section):
    """One coin's chain scanner; the per-coin subclasses carry the original's defaults."""

    enabled: ConfigBool
    scan_period: ConfigDuration
    initial_scan_height: ConfigInt
    confirmations_required: ConfigInt


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
    send_enabled: ConfigBool = True
    buy_method: ConfigStr = BUY_METHOD_DIRECT
    exchange_client: ExchangeClientConfig = Field(default_factory=ExchangeClientConfig)

    @model_validator(mode="before")
    @classmethod
    def _accept_c2cx_table_name(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "c2cx" in data and "exchange_client" not in data:
            data = {
                ("exchange_client" if key == "c2cx" else key): value for key, value in data.items()
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
    cors_allowed: ConfigStrList = Field(default_factory=list)
    max_body_bytes: ConfigInt = 4096


class AdminPanelConfig(_Section):
    host: ConfigStr = "127.0.0.1:7711"


class DummyConfig(_Section):
    sender: ConfigBool = False
    scanner: ConfigBool = False
    http_addr: ConfigStr = "127.0.0.1:4121"
    balance: ConfigStr = "100"  # the dummy sender's starting balance, in SKY
    auto_confirm: ConfigBool = False  # the dummy sender confirms every broadcast at once
    # teller's own: pay through a Skycoin node simulator that teller runs itself on a free
    # loopback port, from a demo wallet it writes and funds in the data directory; real
    # signed transactions, no node to install. Takes the place of dummy.sender; the sender
    # then uses neither sky_rpc.address nor sky_exchanger.wallet.
    skynode_sim: ConfigBool = False
    # teller's own: buy passthrough deposits on the project's C2CX simulator, run inside
    # teller on a free loopback port with a funded demo account and order book (state in the
    # data directory); exchange_client.key, .secret and .base_url are then not used.
    c2cx_sim: ConfigBool = False


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
    # btc_addresses / eth_addresses file (hd.py). BTC: xpub, ypub or zpub; ETH: the account xpub.
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
    admin_panel: AdminPanelConfig = Field(default_factory=AdminPanelConfig)
    dummy: DummyConfig = Field(default_factory=DummyConfig)

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


def split_host_port(address: str) -> tuple[str, int]:
    """Split "host:port" (or "[v6]:port", or ":port" = every interface); ValueError if not."""
    host, separator, port = address.rpartition(":")
    if not separator or not re.fullmatch(r"\d{1,5}", port) or int(port) > 65535:
        raise ValueError(f"{address!r} is not host:port")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host or "[" in host or "]" in host or " " in host:
        raise ValueError(f"{address!r} is not host:port")
    return host, int(port)


# ---------------------------------------------------------------------------------------------
# Finding and loading


def find_config_file(name_or_path: str | None, appdir: Path) -> Path:
    """The config file named by -c: <appdir>/NAME.toml, then ./NAME.toml, then the path as given."""
    given = name_or_path or DEFAULT_CONFIG_NAME
    name = given.removesuffix(".toml")
    cwd = Path.cwd()
    for candidate in (appdir / f"{name}.toml", cwd / f"{name}.toml", Path(given)):
        if candidate.is_file():
            return candidate.resolve()
    raise ConfigError([f"config file {name}.toml not found in {appdir} or {cwd}"])


def load_config(
    path: Path, *, check_network: bool = True, env: Mapping[str, str] | None = None
) -> Config:
    """Read, type and validate the config file; ConfigError lists every problem found."""
    return parse_config(
        _read_toml(path), base_dir=path.resolve().parent, check_network=check_network, env=env
    )


def parse_config(
    data: Mapping[str, Any],
    *,
    base_dir: Path,
    check_network: bool = True,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Type and validate already-parsed TOML data; relative paths are taken from base_dir."""
    raw, problems, client_table = _normalized_raw_data(data)
    _apply_env_overrides(raw, os.environ if env is None else env)
    config, type_problems, dropped_keys = _typed_config(raw)
    config = _with_resolved_paths(config, base_dir)
    rule_problems = [
        problem
        for problem in validation_problems(config, check_network=check_network)
        if not _concerns_any(problem, dropped_keys)
    ]
    problems = _unique(problems + type_problems + rule_problems)
    if problems:
        raise ConfigError([_as_written(problem, client_table) for problem in problems])
    return config


def _as_written(problem: str, client_table: str) -> str:
    """Name the exchange client's keys by the table name the file used (c2cx or not)."""
    return problem.replace("sky_exchanger.exchange_client.", f"sky_exchanger.{client_table}.")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except OSError as error:
        raise ConfigError([f"cannot read config file {path}: {error.strerror}"]) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([f"config file {path} is not valid TOML: {error}"]) from None


def _normalized_raw_data(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[str], str]:
    """Keys lower-cased, legacy keys dropped, [sky_exchanger.c2cx] renamed; returns the data,
    the problems found, and the name the file gave the exchange client's table."""
    problems: list[str] = []
    client_table = "exchange_client"
    raw = _lower_case_keys(data, (), problems)
    for section, key in IGNORED_LEGACY_KEYS:
        if isinstance(raw.get(section), dict):
            raw[section].pop(key, None)
    exchanger = raw.get("sky_exchanger")
    if isinstance(exchanger, dict) and "c2cx" in exchanger:
        c2cx = exchanger.pop("c2cx")
        if "exchange_client" in exchanger:
            problems.append(
                "use either sky_exchanger.c2cx or sky_exchanger.exchange_client, not both"
            )
        else:
            exchanger["exchange_client"] = c2cx
            client_table = "c2cx"
    return raw, problems, client_table


def _lower_case_keys(
    table: Mapping[str, Any], prefix: tuple[str, ...], problems: list[str]
) -> dict[str, Any]:
    lowered: dict[str, Any] = {}
    for key, value in table.items():
        name = key.lower()
        if name in lowered:
            problems.append(
                f"duplicate config key {_dotted((*prefix, name))} (keys are case-insensitive)"
            )
        if isinstance(value, Mapping):
            value = _lower_case_keys(value, (*prefix, name), problems)
        lowered[name] = value
    return lowered


def _apply_env_overrides(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    """TELLER_WEB__HTTP_ADDR=... sets web.http_addr; names that are no config key are ignored
    (other tools may share the prefix)."""
    for name, value in env.items():
        if not name.upper().startswith(ENV_PREFIX):
            continue
        path = tuple(name[len(ENV_PREFIX) :].lower().split(ENV_NESTED_DELIMITER))
        if path[:2] == ("sky_exchanger", "c2cx"):
            path = ("sky_exchanger", "exchange_client", *path[2:])
        if not _is_leaf_key(Config, path):
            continue
        table = raw
        for section in path[:-1]:
            if not isinstance(table.get(section), dict):
                table[section] = {}
            table = table[section]
        table[path[-1]] = value


def _is_leaf_key(model: type[BaseModel], path: tuple[str, ...]) -> bool:
    if not path:
        return False
    for field_name, field in model.model_fields.items():
        if path[0] not in (field_name, field.alias):
            continue
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return _is_leaf_key(annotation, path[1:])
        return len(path) == 1
    return False


def _typed_config(raw: dict[str, Any]) -> tuple[Config, list[str], set[str]]:
    """Validate types; each bad value is reported, dropped (its default is used) and retried,
    so that one typo does not hide every other problem."""
    problems: list[str] = []
    dropped: set[str] = set()
    for _attempt in range(10):
        try:
            return Config.model_validate(raw), problems, dropped
        except ValidationError as error:
            for detail in error.errors():
                problems.append(_problem_from_error(detail))
                dropped.add(_dotted(detail["loc"]))
                _drop_key(raw, detail["loc"])
    raise ConfigError(problems)  # pragma: no cover - each round drops at least one key


def _problem_from_error(detail: ErrorDetails) -> str:
    key = _dotted(detail["loc"])
    if detail["type"] == "extra_forbidden":
        return f"unknown config key {key}"
    if detail["type"] in ("model_type", "model_attributes_type", "dict_type"):
        return f"{key}: expected a table ([{key}]), got {_kind(detail['input'])}"
    return f"{key}: {detail['msg']}"


def _drop_key(raw: dict[str, Any], loc: tuple[int | str, ...]) -> None:
    table: Any = raw
    for part in loc[:-1]:
        if not isinstance(table, dict) or part not in table:
            return
        table = table[part]
    if isinstance(table, dict) and loc:
        table.pop(loc[-1], None)


def _dotted(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _concerns_any(problem: str, keys: set[str]) -> bool:
    """Whether a rule's problem line is about a key whose bad value was already reported."""
    return any(re.match(re.escape(key) + r"(?![\w.])", problem) for key in keys)


def _unique(lines: list[str]) -> list[str]:
    return list(dict.fromkeys(lines))


def _with_resolved_paths(config: Config, base_dir: Path) -> Config:
    """Relative file paths made absolute against the config file's directory."""

    def resolve(value: str) -> str:
        if not value:
            return value
        return os.path.normpath(base_dir / Path(value).expanduser())

    exchanger = config.sky_exchanger
    web = config.web
    return config.model_copy(
        update={
            "btc_addresses": resolve(config.btc_addresses),
            "eth_addresses": resolve(config.eth_addresses),
            "sky_addresses": resolve(config.sky_addresses),
            "btc_rpc": config.btc_rpc.model_copy(update={"cert": resolve(config.btc_rpc.cert)}),
            "sky_exchanger": exchanger.model_copy(update={"wallet": resolve(exchanger.wallet)}),
            "web": web.model_copy(
                update={
                    "static_dir": resolve(web.static_dir),
                    "tls_cert": resolve(web.tls_cert),
                    "tls_key": resolve(web.tls_key),
                }
            ),
        }
    )


# ---------------------------------------------------------------------------------------------
# Rules. The original's (teller-go.md §2.2) keep its exact messages; teller's own follow them.


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
    # An extended public key replaces the coin's address file (hd.py).
    hd_keys = {"btc_addresses": config.btc_xpub, "eth_addresses": config.eth_xpub}
    for key, path in files:
        if hd_keys.get(key):
            continue
        if not path:
            yield f"{key} missing"
        elif not Path(path).is_file():
            yield f"{key} file does not exist"
    from teller.deposits.hd import (
        config_key_problems,  # embit only loads when the config is checked
    )

    yield from config_key_problems("BTC", "btc_xpub", config.btc_xpub, config.btc_scanner.network)
    yield from config_key_problems("ETH", "eth_xpub", config.eth_xpub)


def _sky_rpc_problems(config: Config) -> Iterator[str]:
    address = config.sky_rpc.address
    real_sender = not (config.dummy.sender or config.dummy.skynode_sim)
    if not address and (real_sender or _real_scanner_on(config, "SKY")):
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
    if exchanger.buy_method == BUY_METHOD_PASSTHROUGH and not config.dummy.c2cx_sim:
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
    if config.dummy.sender or config.dummy.skynode_sim:
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


def _dummy_problems(config: Config) -> Iterator[str]:
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
    if config.dummy.sender or config.dummy.skynode_sim or not config.sky_rpc.address:
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
