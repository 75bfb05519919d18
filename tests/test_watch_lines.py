"""The README's "When something goes wrong" lists every `notice=WATCH` line teller can log.

The messages are read from the source (not from a list kept by hand): every `log_event(...)`
call whose `watch=` is not `False`, with its message resolved through string concatenation,
`x if c else y`, a local variable, and wrappers that forward both `watch` and the message
(`_warn_once`, `_trouble`). A WATCH message must be literal text (no f-string) so that an
operator can grep for it. The README's table must name each of them, in backticks in its first
column, and nothing else; each audit finding kind (audit/checks.py KINDS) has its row too.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from teller.audit.checks import KINDS

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "teller"
SECTION = "## When something goes wrong"

_Function = ast.FunctionDef | ast.AsyncFunctionDef


def _functions(tree: ast.Module) -> Iterator[_Function]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def _calls(function: _Function) -> Iterator[ast.Call]:
    for node in ast.walk(function):
        if isinstance(node, ast.Call):
            yield node


def _callee(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _parameters(function: _Function) -> list[str]:
    args = function.args
    return [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]


def _texts(expr: ast.expr, function: _Function, where: str) -> list[str]:
    """Every text `expr` can be: the message forms the source uses."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return [expr.value]
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        return [
            a + b
            for a in _texts(expr.left, function, where)
            for b in _texts(expr.right, function, where)
        ]
    if isinstance(expr, ast.IfExp):
        return _texts(expr.body, function, where) + _texts(expr.orelse, function, where)
    if isinstance(expr, ast.Name):
        values = [
            node.value
            for node in ast.walk(function)
            if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == expr.id for t in node.targets)
        ]
        assert values, f"{where}: cannot resolve the WATCH message {expr.id!r}"
        return [text for value in values for text in _texts(value, function, where)]
    raise AssertionError(
        f"{where}: a notice=WATCH message must be literal text, not {ast.unparse(expr)!r}"
    )


def _message_argument(call: ast.Call, function: _Function, name: str) -> ast.expr | None:
    """The argument `call` passes for parameter `name` of `function` (a method: minus self)."""
    keyword = _keyword(call, name)
    if keyword is not None:
        return keyword
    params = _parameters(function)
    index = params.index(name) - (1 if params and params[0] == "self" else 0)
    return call.args[index] if index < len(call.args) else None


def watch_messages() -> dict[str, str]:
    """Every notice=WATCH message of the source → where it is logged (file:line)."""
    found: dict[str, str] = {}
    # Wrappers: functions that pass their own `watch` parameter on to log_event. Their WATCH
    # messages are the ones their callers pass with watch=True (or the wrapper's own text).
    wrappers: dict[str, tuple[_Function, str | None]] = {}
    modules = {path: ast.parse(path.read_text(), str(path)) for path in PACKAGE.rglob("*.py")}
    for path, tree in modules.items():
        for function in _functions(tree):
            for call in _calls(function):
                if _callee(call) != "log_event" or len(call.args) < 3:
                    continue
                where = f"{path.relative_to(ROOT)}:{call.lineno}"
                watch = _keyword(call, "watch")
                message = call.args[2]
                if watch is None or (isinstance(watch, ast.Constant) and watch.value is False):
                    continue
                if isinstance(watch, ast.Name) and watch.id in _parameters(function):
                    forwarded = (
                        message.id
                        if isinstance(message, ast.Name) and message.id in _parameters(function)
                        else None
                    )
                    wrappers[function.name] = (function, forwarded)
                    if forwarded is not None:
                        continue
                elif isinstance(watch, ast.Name) and isinstance(message, ast.IfExp):
                    # `"stopped" if failed else "recorded"` with watch=failed: only the first.
                    test = message.test
                    if isinstance(test, ast.Name) and test.id == watch.id:
                        message = message.body
                for text in _texts(message, function, where):
                    found.setdefault(text, where)
    for path, tree in modules.items():
        for function in _functions(tree):
            for call in _calls(function):
                if _callee(call) not in wrappers:
                    continue
                watch = _keyword(call, "watch")
                if not (isinstance(watch, ast.Constant) and watch.value is True):
                    continue
                wrapper, parameter = wrappers[_callee(call)]
                if parameter is None:
                    continue  # the wrapper's own text, counted above
                where = f"{path.relative_to(ROOT)}:{call.lineno}"
                argument = _message_argument(call, wrapper, parameter)
                assert argument is not None, f"{where}: no message passed to {wrapper.name}"
                for text in _texts(argument, function, where):
                    found.setdefault(text, where)
    return found


def readme_section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index(SECTION + "\n")
    end = readme.find("\n## ", start + len(SECTION))
    return readme[start : end if end >= 0 else len(readme)]


_CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)")


def first_column_spans(section: str) -> set[str]:
    """The backticked texts in the first cell of each table row (Markdown code spans: a span
    opened with `` holds single backticks; one space each side is stripped)."""
    spans: set[str] = set()
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        first_cell = line.split("|")[1]  # no message holds a "|"
        for match in _CODE_SPAN.finditer(first_cell):
            span = match.group(2)
            if len(match.group(1)) > 1 and span.startswith(" ") and span.endswith(" "):
                span = span[1:-1]
            spans.add(span)
    return spans


def test_the_source_has_watch_lines_to_check() -> None:
    """The parser finds the lines the operator tools and the sender are known to log."""
    messages = watch_messages()
    assert "payout conflicted" in messages
    assert "imported deposit held: it may have been paid already; release or settle it by hand" in (
        messages
    )
    assert "scan round failed" in messages  # through the scanner's _trouble(watch=True)
    assert "the exchange refuses teller's API key or signature: buying halted; check" in " ".join(
        messages
    )  # through passthrough's _warn_once(..., watch=True)
    assert "exchange order failed: deposit stopped" in messages
    assert "exchange order recorded" not in messages  # the other branch of watch=failed
    assert len(messages) >= 35


def test_every_watch_line_is_in_the_readme_and_every_row_is_a_watch_line() -> None:
    messages = watch_messages()
    listed = first_column_spans(readme_section())
    missing = {text: where for text, where in messages.items() if text not in listed}
    assert not missing, (
        "notice=WATCH lines missing from the README's 'When something goes wrong' (add a row:"
        f" what it means, what resolves it): {missing}"
    )
    kinds = set(KINDS)
    stale = listed - set(messages) - kinds
    assert not stale, f"rows of 'When something goes wrong' that teller never logs: {stale}"


def test_every_audit_finding_kind_is_explained() -> None:
    listed = first_column_spans(readme_section())
    assert set(KINDS) <= listed, f"audit kinds without a row: {set(KINDS) - listed}"
