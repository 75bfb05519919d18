"""The terminal progress bar: silent off a TTY, throttled redraws on one."""

from __future__ import annotations

import io

import pytest

from teller.progress import Progress


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_writes_nothing_when_not_a_tty() -> None:
    stream = io.StringIO()
    with Progress(1000, "addresses", stream) as bar:
        for _ in range(1000):
            bar.advance()
    assert stream.getvalue() == ""
    assert bar.done == 1000


def test_draws_on_a_tty_and_ends_with_a_newline() -> None:
    stream = FakeTerminal()
    with Progress(10, "addresses", stream) as bar:
        bar.advance(10)
    output = stream.getvalue()
    assert output.startswith("\raddresses [")
    assert output.endswith("10/10 100%\n")
    assert output.count("\n") == 1


def test_redraws_at_most_ten_times_a_second() -> None:
    stream, clock = FakeTerminal(), FakeClock()
    with Progress(10_000, "keys", stream, clock=clock) as bar:
        for _ in range(10_000):
            bar.advance()  # the clock does not move: no redraws between enter and exit
        assert stream.getvalue().count("\r") == 1
        clock.now = 0.05
        bar.advance()
        assert stream.getvalue().count("\r") == 1
        clock.now = 0.1
        bar.advance()
        assert stream.getvalue().count("\r") == 2
    assert stream.getvalue().count("\r") == 3  # the final draw on exit


def test_render_shows_the_share_done() -> None:
    bar = Progress(4, "x", io.StringIO())
    bar.advance(1)
    assert bar.render() == "x [#######.......................] 1/4  25%"
    bar.advance(10)
    assert bar.render().endswith("4/4 100%")


def test_zero_total_is_complete() -> None:
    assert Progress(0, "empty", io.StringIO()).render().endswith("0/0 100%")


def test_defaults_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    with Progress(3, "quiet") as bar:  # pytest's captured stderr is not a TTY
        bar.advance(3)
    assert capsys.readouterr().err == ""
