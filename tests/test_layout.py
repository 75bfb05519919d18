"""The simulators are peers, not parts (DESIGN.md §2): no module of teller imports them, and
the teller wheel holds none of them; they ship in their own distribution (sims/).

The wheel is built offline from a copy of the sources (pip, --no-build-isolation, with the
venv's setuptools), so that the shared working tree gets no build/ or egg-info from it.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TELLER_SRC = ROOT / "src" / "teller"


def imported_modules(path: Path) -> set[str]:
    """Every module a Python file imports, wherever the import statement stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_no_teller_module_imports_a_simulator() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name for name in imported_modules(path) if name.split(".")[0] == "teller_sims"
        )
        for path in sorted(TELLER_SRC.rglob("*.py"))
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_teller_has_no_simulator_package_or_switch() -> None:
    assert not (TELLER_SRC / "sim").exists()
    assert [p for p in TELLER_SRC.rglob("*sim*") if "sim" in p.stem.split("_")] == []
    assert "teller_sims" not in (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def test_the_wheel_holds_no_simulator(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(
        TELLER_SRC,
        source / "src" / "teller",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    out = tmp_path / "wheel"
    result = subprocess.run(
        [
            sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
            "--no-index", "--quiet", "--wheel-dir", str(out), str(source),
        ],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    [wheel] = out.glob("teller-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    modules = [n for n in names if n.endswith(".py")]
    assert any(n == "teller/app.py" for n in modules), names  # it is teller's wheel
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"teller"}, tops
    assert [n for n in modules if "sim" in Path(n).stem.split("_")] == []
    # No module in the wheel imports a simulator either.
    with zipfile.ZipFile(wheel) as archive:
        for name in modules:
            tree = ast.parse(archive.read(name).decode("utf-8"), name)
            for node in ast.walk(tree):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    text = ast.unparse(node)
                    assert "teller_sims" not in text, f"{name}: {text}"
