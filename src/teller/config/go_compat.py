"""The Go teller's config files as teller reads them: key aliases, Go-style messages, durations.

Place in the flow: load.py hands the parsed TOML file here first (normalized_file_data) and the
environment's values after (c2cx_as_exchange_client); schema.py types durations with
ConfigDuration; every problem line teller reports is worded here, in the original's style
"<key>: expected <what>, got <value>", with the exchange client's table named as the file
named it (as_written).

What the original (viper on Go) accepted and teller keeps accepting:
- keys in any case (viper's keys are case-insensitive);
- the table [sky_exchanger.c2cx] for [sky_exchanger.exchange_client] (and
  TELLER_SKY_EXCHANGER__C2CX__<KEY> in the environment);
- the obsolete keys btc_rpc.enabled, eth_rpc.enabled and web.api_enabled, ignored;
- durations in Go's syntax ("20s", "1m30s", durations.py), and teller's own whole number of
  seconds ("20" = "20s"; the original read a bare TOML integer as nanoseconds).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator
from pydantic_core import ErrorDetails, PydanticCustomError

from teller.config.durations import DurationError, parse_duration

CLIENT_TABLE = "exchange_client"
GO_CLIENT_TABLE = "c2cx"

# Keys the original's shipped configs (or older versions of it) contain that teller ignores.
IGNORED_LEGACY_KEYS = frozenset(
    {("btc_rpc", "enabled"), ("eth_rpc", "enabled"), ("web", "api_enabled")}
)


# ---------------------------------------------------------------------------------------------
# Key aliases


def normalized_file_data(data: Mapping[str, Any]) -> tuple[dict[str, Any], list[str], str]:
    """Keys lower-cased, legacy keys dropped, [sky_exchanger.c2cx] renamed; returns the data,
    the problems found, and the name the file gave the exchange client's table."""
    problems: list[str] = []
    client_table = CLIENT_TABLE
    raw = _lower_case_keys(data, (), problems)
    for section, key in IGNORED_LEGACY_KEYS:
        if isinstance(raw.get(section), dict):
            raw[section].pop(key, None)
    exchanger = raw.get("sky_exchanger")
    if isinstance(exchanger, dict) and GO_CLIENT_TABLE in exchanger:
        c2cx = exchanger.pop(GO_CLIENT_TABLE)
        if CLIENT_TABLE in exchanger:
            problems.append(
                "use either sky_exchanger.c2cx or sky_exchanger.exchange_client, not both"
            )
        else:
            exchanger[CLIENT_TABLE] = c2cx
            client_table = GO_CLIENT_TABLE
    return raw, problems, client_table


def _lower_case_keys(
    table: Mapping[str, Any], prefix: tuple[str, ...], problems: list[str]
) -> dict[str, Any]:
    lowered: dict[str, Any] = {}
    for key, value in table.items():
        name = key.lower()
        if name in lowered:
            problems.append(
                f"duplicate config key {dotted((*prefix, name))} (keys are case-insensitive)"
            )
        if isinstance(value, Mapping):
            value = _lower_case_keys(value, (*prefix, name), problems)
        lowered[name] = value
    return lowered


def c2cx_as_exchange_client(exchanger: Mapping[str, Any]) -> dict[str, Any]:
    """An [sky_exchanger] table (or the environment's) with its c2cx table merged into
    exchange_client; keys given under exchange_client win."""
    renamed = dict(exchanger)
    c2cx = renamed.pop(GO_CLIENT_TABLE, None)
    if c2cx is None:
        return renamed
    client = renamed.get(CLIENT_TABLE)
    if isinstance(c2cx, Mapping) and isinstance(client, Mapping):
        renamed[CLIENT_TABLE] = {**c2cx, **client}
    elif client is None:
        renamed[CLIENT_TABLE] = c2cx
    return renamed


def as_written(problem: str, client_table: str) -> str:
    """Name the exchange client's keys by the table name the file used (c2cx or not)."""
    return problem.replace(f"sky_exchanger.{CLIENT_TABLE}.", f"sky_exchanger.{client_table}.")


# ---------------------------------------------------------------------------------------------
# Messages


_KINDS = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "a table",
}


def kind(value: object) -> str:
    """What a TOML value is, in words ("a string"), for messages that must not echo it."""
    return _KINDS.get(type(value), f"a {type(value).__name__}")


def value_error(expected: str, value: object, *, secret: bool = False) -> PydanticCustomError:
    """A "config_value" error: its message is the readable tail of a problem line."""
    shown = kind(value) if secret else repr(value)
    return PydanticCustomError(
        "config_value", "expected {expected}, got {shown}", {"expected": expected, "shown": shown}
    )


def problem_from_error(detail: ErrorDetails) -> str:
    """One pydantic validation error as a problem line naming the key."""
    key = dotted(detail["loc"])
    if detail["type"] == "extra_forbidden":
        return f"unknown config key {key}"
    if detail["type"] in ("model_type", "model_attributes_type", "dict_type"):
        return f"{key}: expected a table ([{key}]), got {kind(detail['input'])}"
    return f"{key}: {detail['msg']}"


def dotted(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


# ---------------------------------------------------------------------------------------------
# Durations


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
    raise value_error('a duration such as "20s" or a whole number of seconds', value)


ConfigDuration = Annotated[timedelta, BeforeValidator(_as_duration)]
