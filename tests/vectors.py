"""Where the test vectors live (tests/fixtures/, in the repository) and how to read them.

Import with `from tests.vectors import VECTORS, load_json` (or `from ..vectors import ...`).
The vectors are data copied into the repository, so a clone alone runs every test: a missing
vector file is an error (the test, or the collection of its module, fails and names the path),
never a skip.

- `tests/fixtures/vectors/`: Skycoin's cipher, transaction and wallet vectors, teller's
  calculation and address vectors, and a database the Go teller wrote (each folder has a README
  saying where its files come from).
- `tests/fixtures/go-teller-files/`: the original Go teller's shipped config files, example
  address files and example wallet.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

FIXTURES: Path = Path(__file__).resolve().parent / "fixtures"
VECTORS: Path = FIXTURES / "vectors"
GO_TELLER_FILES: Path = FIXTURES / "go-teller-files"


class MissingVectorError(FileNotFoundError):
    """A test vector the repository should hold is not there."""


def _required(path: Path) -> Path:
    if not path.is_file():
        raise MissingVectorError(
            f"test vector not found: {path} (the vectors are part of the repository, "
            "under tests/fixtures/; restore it from version control)"
        )
    return path


def vector_path(relpath: str) -> Path:
    """The path of a vector file (relative to VECTORS); an error if it is missing."""
    return _required(VECTORS / relpath)


def go_teller_file(name: str) -> Path:
    """The path of one of the Go teller's files (relative to GO_TELLER_FILES); an error if
    it is missing."""
    return _required(GO_TELLER_FILES / name)


def load_json(relpath: str) -> Any:
    """A vector file (relative to VECTORS) parsed as JSON; an error if it is missing."""
    return json.loads(vector_path(relpath).read_text(encoding="utf-8"))


def vector_params(relpath: str, *keys: str, id_key: str | None = None) -> list[Any]:
    """The list at `keys` of a vector file as pytest parameters (an error if it is missing,
    so a parametrized test can never be collected as empty)."""
    node: Any = load_json(relpath)
    for key in keys:
        node = node[key]
    if not node:
        raise MissingVectorError(f"no cases at {'/'.join(keys)} in {VECTORS / relpath}")
    return [
        pytest.param(item, id=repr(item[id_key]) if id_key else json.dumps(item)) for item in node
    ]


# The Skycoin cipher golden files: seed-0000..0005 and many-addresses (1000 keys).
GOLDEN_FILES = [f"seed-000{i}.golden" for i in range(6)] + ["many-addresses.golden"]
