"""Loading the config: find the file, read its TOML, lay the environment over it, type and check.

Place in the flow: cli.py calls find_config_file() and load_config() once at start-up and
passes the resulting Config explicitly to every part it builds. Nothing else reads the file or
the environment.

Loading, in order:
1. read the TOML file (tomllib);
2. go_compat.py: lower-case every key (the original used viper, whose keys are
   case-insensitive), accept the original's table name [sky_exchanger.c2cx] for
   [sky_exchanger.exchange_client], drop the original's obsolete keys;
3. environment overrides, read by pydantic-settings (EnvironmentSource below):
   TELLER_<SECTION>__<KEY>, e.g. TELLER_WEB__HTTP_ADDR, in any case; a list as a JSON array
   or comma-separated; the environment beats the file;
4. type every value (schema.py); a value of the wrong type becomes one readable problem line
   and the key falls back to its default so the remaining rules still run;
5. resolve file paths relative to the config file's directory;
6. check every rule of the original (teller-go.md §2.2, same messages) and teller's own
   (preflight.py); every problem is collected and reported at once in one ConfigError.

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

import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

from teller.config.go_compat import (
    GO_CLIENT_TABLE,
    as_written,
    c2cx_as_exchange_client,
    dotted,
    normalized_file_data,
    problem_from_error,
)
from teller.config.preflight import validation_problems
from teller.config.schema import Config, ConfigError

DEFAULT_CONFIG_NAME = "config"
ENV_PREFIX = "TELLER_"
ENV_NESTED_DELIMITER = "__"


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
    """Read, type and validate the config file, with the environment's overrides (`env`, by
    default the process environment); ConfigError lists every problem found."""
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
    file_data, problems, client_table = normalized_file_data(data)
    problems += _secrets_only_from_elsewhere(file_data)
    env_data = EnvironmentSource(os.environ if env is None else env)()
    raw = _overlay(file_data, env_data)  # the sources in order: a later one's value wins
    config, type_problems, dropped_keys = _typed_config(raw)
    config = _with_resolved_paths(config, base_dir)
    rule_problems = [
        problem
        for problem in validation_problems(config, check_network=check_network)
        if not _concerns_any(problem, dropped_keys)
    ]
    problems = _unique(problems + type_problems + rule_problems)
    if problems:
        raise ConfigError([as_written(problem, client_table) for problem in problems])
    return config


# Secrets that may be given in the environment (or a file a key names) but not written in the
# config file: with the encrypted wallet's password beside it, encrypting the wallet is moot.
ENV_ONLY_KEYS = {
    ("sky_exchanger", "wallet_password"): (
        "sky_exchanger.wallet_password must not be written in the config file: put the hot"
        " wallet's password in a file named by sky_exchanger.wallet_password_file, or in"
        " TELLER_SKY_EXCHANGER__WALLET_PASSWORD"
    ),
}


def _secrets_only_from_elsewhere(file_data: Mapping[str, Any]) -> list[str]:
    problems = []
    for (table, key), problem in ENV_ONLY_KEYS.items():
        section = file_data.get(table)
        if isinstance(section, Mapping) and key in section:
            problems.append(problem)
    return problems


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except OSError as error:
        raise ConfigError([f"cannot read config file {path}: {error.strerror}"]) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([f"config file {path} is not valid TOML: {error}"]) from None


# ---------------------------------------------------------------------------------------------
# The environment, read by pydantic-settings. Its EnvSettingsSource turns the variables into
# nested data; parse_config lays that over the file's data (the environment last, so it wins)
# instead of leaving the merge to BaseSettings.__init__, because teller types the merged data
# itself: a bad value is reported, dropped and defaulted, so every problem shows at once.


class _EnvironmentKeys(Config, BaseSettings):
    """Config's keys as pydantic-settings finds them in the environment (never instantiated:
    Config stays a plain model, so building one never reads the environment)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        case_sensitive=False,
        # A list stays the variable's text: ConfigStrList reads it as a JSON array or as
        # comma-separated items (pydantic-settings decodes only JSON), and a bad one is then
        # a problem line naming the key rather than a SettingsError.
        enable_decoding=False,
        extra="forbid",
        populate_by_name=True,
    )


class EnvironmentSource(EnvSettingsSource):
    """TELLER_<SECTION>__<KEY> variables of `environ` as nested config data (strings).

    pydantic-settings matches the prefix and the names case-insensitively, splits the nested
    names and finds the keys by name or alias (TELLER_BTC_RPC__PASS). teller keeps three small
    pieces of its own, for behaviour pydantic-settings has no setting for:
    - names that are no config key are ignored (other tools may share the prefix), where
      pydantic-settings would hand them on as data that Config (extra="forbid", so that typos
      in the file are reported) would refuse: __call__ keeps only known keys;
    - a variable naming a whole table (TELLER_WEB) is no key either, and ignored; given to
      pydantic-settings it would replace the table, losing TELLER_WEB__HTTP_ADDR and the
      like: _load_env_vars leaves such names out;
    - TELLER_SKY_EXCHANGER__C2CX__<KEY>, the Go teller's table name (go_compat.py).
    """

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ  # read by _load_env_vars, which the base __init__ calls
        super().__init__(_EnvironmentKeys)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # The source's hook for where the variables come from (os.environ in the base class).
        tables = set(_table_variable_names(Config, ENV_PREFIX))
        tables.add(f"{ENV_PREFIX}sky_exchanger{ENV_NESTED_DELIMITER}{GO_CLIENT_TABLE}".lower())
        lowered = {name.lower(): value for name, value in self._environ.items()}
        return {name: value for name, value in lowered.items() if name not in tables}

    def __call__(self) -> dict[str, Any]:
        data = super().__call__()
        exchanger = data.get("sky_exchanger")
        if isinstance(exchanger, Mapping):
            data["sky_exchanger"] = c2cx_as_exchange_client(exchanger)
        return _known_keys(Config, data)


def _section(field: FieldInfo) -> type[BaseModel] | None:
    annotation = field.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _table_variable_names(model: type[BaseModel], prefix: str) -> Iterator[str]:
    for name, field in model.model_fields.items():
        section = _section(field)
        if section is not None:
            yield f"{prefix}{name}".lower()
            yield from _table_variable_names(section, f"{prefix}{name}{ENV_NESTED_DELIMITER}")


def _known_keys(model: type[BaseModel], data: Mapping[str, Any]) -> dict[str, Any]:
    """`data` without the names that are no key of `model` (a table where a key is, too)."""
    known: dict[str, Any] = {}
    for name, value in data.items():
        field = next((f for key, f in model.model_fields.items() if name in (key, f.alias)), None)
        if field is None:
            continue
        section = _section(field)
        if section is None:
            if not isinstance(value, Mapping):
                known[name] = value
            continue
        nested = _known_keys(section, value) if isinstance(value, Mapping) else {}
        if nested:
            known[name] = nested
    return known


def _overlay(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with every key of `over` set over it, tables merged key by key."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _overlay(merged[key], value)
        else:
            merged[key] = value
    return merged


# ---------------------------------------------------------------------------------------------
# Typing: every bad value reported, then its default used


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
                problems.append(problem_from_error(detail))
                dropped.add(dotted(detail["loc"]))
                _drop_key(raw, detail["loc"])
    raise ConfigError(problems)  # pragma: no cover - each round drops at least one key


def _drop_key(raw: dict[str, Any], loc: tuple[int | str, ...]) -> None:
    table: Any = raw
    for part in loc[:-1]:
        if isinstance(table, dict) and part in table:
            table = table[part]
        elif isinstance(table, list) and isinstance(part, int) and 0 <= part < len(table):
            table = table[part]  # a table of an array of tables ([[webhooks]])
        else:
            raw.pop(str(loc[0]), None)  # inside a value that is not yet tables (JSON text)
            return
    if isinstance(table, dict) and loc:
        table.pop(loc[-1], None)


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
            "sky_rpc": config.sky_rpc.model_copy(update={"cert": resolve(config.sky_rpc.cert)}),
            "sky_exchanger": exchanger.model_copy(
                update={
                    "wallet": resolve(exchanger.wallet),
                    "wallet_password_file": resolve(exchanger.wallet_password_file),
                }
            ),
            "admin_panel": config.admin_panel.model_copy(
                update={"auth_token_file": resolve(config.admin_panel.auth_token_file)}
            ),
            "web": web.model_copy(
                update={
                    "static_dir": resolve(web.static_dir),
                    "tls_cert": resolve(web.tls_cert),
                    "tls_key": resolve(web.tls_key),
                    "acme_ca_file": resolve(web.acme_ca_file),
                }
            ),
            "webhooks": [
                hook.model_copy(update={"secret_file": resolve(hook.secret_file)})
                for hook in config.webhooks
            ],
        }
    )
