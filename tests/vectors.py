"""Where the shared test vectors live (/work/main/../shared/vectors) and how to read them.

Import with `from vectors import VECTORS, load_json` from a test module once `tests/` is on
sys.path (pytest puts it there when `tests/conftest.py` exists). Tests whose vectors are
missing are skipped with the path in the reason, never failed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
VECTORS: Path = SHARED / "vectors"
REFERENCE: Path = SHARED / "reference"


def vector_path(relpath: str) -> Path:
    """The path of a vector file; skips the calling test (or module) if it is missing."""
    path = VECTORS / relpath
    if not path.is_file():
        pytest.skip(f"shared test vector not found: {path}", allow_module_level=True)
    return path


def load_json(relpath: str) -> Any:
    """A vector file (relative to VECTORS) parsed as JSON; skips if it is missing."""
    return json.loads(vector_path(relpath).read_text(encoding="utf-8"))


def vector_params(relpath: str, *keys: str, id_key: str | None = None) -> list[Any]:
    """The list at `keys` of a vector file as pytest parameters.

    When the file is missing, one skipped parameter says where it was looked for, so a
    parametrized test is reported as skipped (with the path) rather than collected as empty.
    """
    path = VECTORS / relpath
    if not path.is_file():
        reason = f"shared test vector not found: {path}"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason))]
    node: Any = json.loads(path.read_text(encoding="utf-8"))
    for key in keys:
        node = node[key]
    return [
        pytest.param(item, id=repr(item[id_key]) if id_key else json.dumps(item)) for item in node
    ]


# The Skycoin cipher golden files: seed-0000..0005 and many-addresses (1000 keys).
GOLDEN_FILES = [f"seed-000{i}.golden" for i in range(6)] + ["many-addresses.golden"]
