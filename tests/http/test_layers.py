"""The HTTP layer reaches the store only through services/ (DESIGN.md §2).

Routes and middleware parse requests and shape answers; every query and action is a call
to a service. Checked on the source with `ast`, so an import hidden in a function or under
TYPE_CHECKING counts too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import teller.http

HTTP_DIR = Path(teller.http.__file__).resolve().parent
HTTP_MODULES = sorted(HTTP_DIR.glob("*.py"))

# Modules the HTTP layer may import from teller: the package (its version), the error tree,
# the config (listen addresses, web settings), its own modules and the services.
ALLOWED_TELLER = ("teller.config", "teller.errors", "teller.http", "teller.services")
FORBIDDEN = ("teller.store", "sqlalchemy", "sqlite3")


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) of every import in `path`; `from a import b` gives a.b as well as a,
    so `from teller import store` is seen as teller.store."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: inside teller.http
                package = ["teller", "http"][: max(0, 3 - node.level)]
                base = ".".join([*package, base] if base else package)
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_http_modules_found() -> None:
    names = {p.name for p in HTTP_MODULES}
    assert {"public.py", "admin.py", "dummy.py", "metrics.py"} <= names


@pytest.mark.parametrize("path", HTTP_MODULES, ids=lambda p: p.name)
def test_http_imports_no_store(path: Path) -> None:
    found = [
        f"{path.name}:{line}: {m}" for line, m in imported_modules(path) if under(m, FORBIDDEN)
    ]
    assert not found, "http/ must reach the store through services/ only:\n" + "\n".join(found)


@pytest.mark.parametrize("path", HTTP_MODULES, ids=lambda p: p.name)
def test_http_calls_services_only(path: Path) -> None:
    """Of teller, http/ imports only the services, the config, the error tree, itself and the
    version: no part below the services (deposits/, payout/, store/, …)."""
    found = [
        f"{path.name}:{line}: {m}"
        for line, m in imported_modules(path)
        if under(m, ("teller",))
        and m not in ("teller", "teller.__version__")
        and not under(m, ALLOWED_TELLER)
    ]
    assert not found, "http/ calls services/, not the parts below them:\n" + "\n".join(found)


@pytest.mark.parametrize("path", HTTP_MODULES, ids=lambda p: p.name)
def test_http_opens_no_transaction(path: Path) -> None:
    """No route touches the database handle (services.db: read(), write(), run_read())."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = [
        f"{path.name}:{node.lineno}: .{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in ("db", "engine", "run_read")
    ]
    assert not found, "http/ must leave the store to services/:\n" + "\n".join(found)


def test_the_check_sees_a_store_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from teller import store\n"
        "def f():\n"
        "    from teller.store.deposits import status_tuples\n"
        "    import sqlite3\n",
        encoding="utf-8",
    )
    modules = [m for _, m in imported_modules(sample)]
    assert under("teller.store", FORBIDDEN)
    assert [m for m in modules if under(m, FORBIDDEN)] == [
        "teller.store",
        "teller.store.deposits",
        "teller.store.deposits.status_tuples",
        "sqlite3",
    ]
