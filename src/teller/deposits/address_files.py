"""Deposit address pools: the operator's address files, validated and loaded into the store.

At start-up every file is read and checked (each address valid for its coin, no duplicates,
problems named by file and line); the free part of the store's pool is then made equal to the
file. Handing an address out happens in the store, in the same transaction as the binding.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from teller.coins import btc, eth, sky
from teller.errors import InvalidValue, TellerError

_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


class AddressFileError(TellerError):
    """An address file cannot be used; `problems` has one line per bad entry."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class _Entry:
    line: int
    address: str


def address_validator(coin_type: str, network: str = "mainnet") -> Callable[[str], str]:
    """The function that checks (and normalizes) one deposit address of `coin_type`."""
    if coin_type == "BTC":
        return lambda a: btc.validate_address(a, network)  # type: ignore[arg-type]
    if coin_type == "ETH":
        return eth.validate_address
    if coin_type == "SKY":
        return sky.validate_address
    raise InvalidValue(f"unknown coin type {coin_type!r}")


def read_address_file(path: Path, coin_type: str, network: str = "mainnet") -> list[str]:
    """The addresses of `path`, in file order, normalized (ETH lower-cased).

    A name ending in .json is a JSON object {"<coin>_addresses": [...]}; anything else is
    text, one address per line, with blank lines and lines starting with '#' skipped and
    every kept line trimmed of surrounding white space.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AddressFileError([f"{path}: cannot read: {exc.strerror or exc}"]) from exc
    except UnicodeDecodeError as exc:
        raise AddressFileError([f"{path}: not UTF-8 text: {exc}"]) from exc
    if path.suffix.lower() == ".json":
        entries = _json_entries(path, text, coin_type)
    else:
        entries = _text_entries(text)
    return _validated(path, entries, coin_type, address_validator(coin_type, network))


def _text_entries(text: str) -> list[_Entry]:
    entries = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            entries.append(_Entry(number, line))
    return entries


def _json_entries(path: Path, text: str, coin_type: str) -> list[_Entry]:
    key = f"{coin_type.lower()}_addresses"
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AddressFileError([f"{path} line {exc.lineno}: invalid JSON: {exc.msg}"]) from exc
    if not isinstance(document, dict) or not isinstance(document.get(key), list):
        raise AddressFileError([f'{path}: expected a JSON object {{"{key}": [...]}}'])
    entries = []
    for index, value in enumerate(document[key]):
        if not isinstance(value, str):
            raise AddressFileError([f"{path}: {key}[{index}] is not a string: {value!r}"])
        entries.append(_Entry(0, value.strip()))
    return _with_json_lines(entries, text)


def _with_json_lines(entries: list[_Entry], text: str) -> list[_Entry]:
    """Give each JSON entry the line its string literal stands on (for error messages)."""
    occurrences: list[tuple[str, int]] = []
    for number, text_line in enumerate(text.splitlines(), start=1):
        occurrences.extend((m.group(1).strip(), number) for m in _QUOTED.finditer(text_line))
    located = []
    cursor = 0
    for entry in entries:
        found_on = 0
        for i in range(cursor, len(occurrences)):
            if occurrences[i][0] == entry.address:
                found_on, cursor = occurrences[i][1], i + 1
                break
        located.append(_Entry(found_on, entry.address))
    return located


def _validated(
    path: Path, entries: list[_Entry], coin_type: str, validate: Callable[[str], str]
) -> list[str]:
    problems: list[str] = []
    first_seen: dict[str, int] = {}
    addresses: list[str] = []
    for entry in entries:
        where = f"{path} line {entry.line}" if entry.line else str(path)
        try:
            address = validate(entry.address)
        except ValueError as exc:
            problems.append(f"{where}: invalid {coin_type} address {entry.address!r}: {exc}")
            continue
        if address in first_seen:
            problems.append(
                f"{where}: duplicate deposit address {entry.address!r}"
                f" (first on line {first_seen[address]})"
            )
            continue
        first_seen[address] = entry.line
        addresses.append(address)
    if not entries:
        problems.append(f"{path}: No {coin_type} addresses")
    if problems:
        raise AddressFileError(problems)
    return addresses
