"""The layout's rules (DESIGN.md §2), checked on the source: which room may import which, and
no import cycle between modules (tests/test_layout.py checks that no simulator is inside).

Every `import` of a teller module counts, also one inside a function; only imports under
`if TYPE_CHECKING:` (type hints, never run) are left out of the cycle check.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "teller"

UTILITIES = {"errors", "clock", "logs", "progress", "worker"}  # leaf helpers every room may use
STAGE_DEPS = {"store", "clients", "coins", "money", "config", "deposits", *UTILITIES}

# room -> the rooms it may import (besides itself). Rooms lower in DESIGN.md §2 never import
# higher ones; the three stages after intake (passthrough, payout, scanners) meet only
# through the store and deposits/.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "clock": set(),
    "progress": set(),
    "worker": set(),
    "logs": {"errors"},
    "coins": {"errors"},
    "money": {"coins", "errors"},
    "clients": {"coins", "money", "errors", "logs", "clock"},
    # logs: a failed flush of a group commit is a WATCH line (store/group_commit.py).
    "store": {"coins", "money", "errors", "clock", "logs"},
    "config": {"coins", "money", "errors"},
    "deposits": STAGE_DEPS - {"deposits", "clients"},
    "passthrough": STAGE_DEPS,
    "payout": STAGE_DEPS,
    "scanners": STAGE_DEPS,
    "goteller": STAGE_DEPS - {"clients"},
    # The audit reads the store and asks the peers; its one write is the hold (audit/loop.py).
    "audit": STAGE_DEPS,
    "services": STAGE_DEPS | {"passthrough", "payout", "scanners", "goteller", "audit"},
    # Webhook delivery (issue 16): posts the store's outbox; alerts.py reads log records.
    "webhooks": {"store", "clock", "logs", "worker", "errors"},
    "http": {"services", "errors", "config", "logs"},
    # HTTPS certificates: the ACME client's wire is in clients/, the files and renewal here.
    "tls": {"clients", "errors", "logs", "clock", "worker"},
    # The API processes of web.processes: started and watched by the app (wiring's helper).
    "api_procs": {"config", "logs"},
}
EVERYTHING = {"app", "cli", "__init__"}  # wiring and the command see every room
# `teller/__init__.py` holds only __version__: every room may read it.


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported module, only for type checking) for every import of the file."""
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, typing_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for inner in child.body:
                    visit_stmt(inner, True)
                for inner in child.orelse:
                    visit_stmt(inner, typing_only)
                continue
            visit_stmt(child, typing_only)

    def visit_stmt(node: ast.AST, typing_only: bool) -> None:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, typing_only))
            for alias in node.names:  # `from teller.store import payouts` names a module
                found.append((f"{node.module}.{alias.name}", typing_only))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, typing_only) for alias in node.names)
        visit(node, typing_only)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


def _source_files() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if "migrations" not in p.parts]


def _teller_modules() -> set[str]:
    return {_module_name(p) for p in _source_files()}


def test_every_room_imports_only_the_rooms_below_it() -> None:
    modules = _teller_modules()
    wrong: list[str] = []
    for path in _source_files():
        module = _module_name(path)
        room = _room(module)
        if room in EVERYTHING:
            continue
        assert room in ALLOWED, f"{module}: room {room!r} is not in DESIGN.md §2's list"
        for target, _ in _imports(path):
            if target not in modules:
                continue
            target_room = _room(target)
            if target_room not in {room, "__init__"} and target_room not in ALLOWED[room]:
                wrong.append(f"{module} imports {target} ({room} -> {target_room})")
    assert wrong == []


def test_there_is_no_import_cycle() -> None:
    modules = _teller_modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for path in _source_files():
        module = _module_name(path)
        for target, typing_only in _imports(path):
            if target in modules and target != module and not typing_only:
                graph[module].add(target)
    # A package's __init__ is imported with each of its modules: an edge to it is no cycle.
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 = on the path, 2 = done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for module in sorted(modules):
        if module not in state:
            visit(module)
    assert cycles == []


def test_the_rules_catch_a_wrong_import(tmp_path: Path) -> None:
    """The checker itself: an upward import and a cycle are found in a made-up module."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from typing import TYPE_CHECKING\n"
        "from teller.store.db import Database\n"
        "if TYPE_CHECKING:\n    from teller.app import Teller\n"
        "def f():\n    from teller.http.public import create_public_app\n"
    )
    assert _imports(bad) == [
        ("typing", False),
        ("typing.TYPE_CHECKING", False),
        ("teller.store.db", False),
        ("teller.store.db.Database", False),
        ("teller.app", True),
        ("teller.app.Teller", True),
        ("teller.http.public", False),
        ("teller.http.public.create_public_app", False),
    ]
    assert "store" not in ALLOWED["coins"] and "services" not in ALLOWED["store"]
