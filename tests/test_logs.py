"""teller.logs: a log record is one line of printable text whatever its values hold (issue 14,
finding 3: a dummy deposit's `tx` with a newline forged a line, a NUL made `grep` take the
log for binary).

Written through the real handlers setup_logging installs, into a real log file.
"""

from __future__ import annotations

import logging
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from teller.logs import escape, log_event, setup_logging

HOSTILE = "ab\nFORGED ERROR notice=WATCH\r\x00\x1b[31mred\x1b[0m\u2028\u2029\x85\u202e\\n"
LINE = re.compile(r"^\S+ (INFO|WARNING|ERROR) teller\.test \S.*$")


@pytest.fixture
def logfile(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "teller.log"
    handler = setup_logging(debug=False, logfile=str(path))
    assert handler is not None
    yield path
    for h in list(logging.getLogger().handlers):
        logging.getLogger().removeHandler(h)
        h.close()


def written_lines(path: Path) -> list[str]:
    for handler in logging.getLogger().handlers:
        handler.flush()
    data = path.read_bytes()
    text = data.decode("utf-8")
    assert text.endswith("\n")
    return text[:-1].split("\n")


def test_hostile_values_messages_and_tracebacks_stay_one_printable_line(logfile: Path) -> None:
    log = logging.getLogger("teller.test")
    log_event(log, logging.INFO, "deposit recorded", deposit_id=HOSTILE + ":0", tx=HOSTILE)
    log.warning("peer said %s", HOSTILE)
    try:
        raise ValueError(HOSTILE)
    except ValueError:
        log.exception("step failed")
        log_event(log, logging.ERROR, "request failed", exc_info=True, path=HOSTILE)

    lines = written_lines(logfile)
    assert len(lines) == 4, lines
    for line in lines:
        assert LINE.match(line), line
        assert line.isprintable(), line
        assert "notice=WATCH" not in line  # only teller's own notice field may say it
    first, second, third, fourth = lines
    assert "tx=" + escape(HOSTILE) in first.replace('"', "")
    assert "\\nFORGED" in first and "\\x00" in first and "\\x1b[31m" in first
    assert "\\u2028" in first and "\\u202e" in first and "\\\\n" in first
    assert second.endswith("peer said " + escape(HOSTILE))
    assert 'traceback="Traceback (most recent call last):\\n' in third
    assert "ValueError: ab\\nFORGED" in third
    assert "path=" in fourth and "traceback=" in fourth
    # The operator's grep reads the file as text.
    found = subprocess.run(["grep", "ERROR", str(logfile)], capture_output=True, text=True)
    assert "binary file matches" not in found.stdout + found.stderr
    assert found.stdout.splitlines() == [line for line in lines if "ERROR" in line]


def test_watch_notice_is_a_field_no_value_can_forge(logfile: Path) -> None:
    log = logging.getLogger("teller.test")
    log_event(log, logging.INFO, "quiet", reason="x notice=WATCH")
    log_event(log, logging.WARNING, "loud", watch=True, reason="y")
    quiet, loud = written_lines(logfile)
    assert quiet.endswith('reason="x notice\\x3dWATCH"')
    assert loud.endswith("reason=y notice=WATCH")


def test_lone_surrogates_are_escaped_so_the_file_stays_utf8() -> None:
    # (Not written through a handler: pytest's own log capture cannot carry them.)
    assert escape("a\udcff\ud800") == "a\\udcff\\ud800"


@given(st.text())
def test_escape_is_printable_and_reversible(text: str) -> None:
    escaped = escape(text)
    assert escaped.isprintable()
    assert "\n" not in escaped
    if "\\" not in text and text.isprintable():
        assert escaped == text
    # Python reads the escapes back: nothing is lost, so the log stays evidence.
    assert escaped.encode("ascii", "backslashreplace").decode("unicode_escape") == text
