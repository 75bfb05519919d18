"""Go duration syntax: parsing, formatting (Go's Duration.String), and their round trip."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from teller.config.durations import (
    HOUR,
    MAX_DURATION_NS,
    MICROSECOND,
    MILLISECOND,
    MINUTE,
    SECOND,
    DurationError,
    format_duration,
    format_duration_ns,
    parse_duration,
    parse_duration_ns,
)

# What Go's time.ParseDuration returns for these strings.
GO_PARSED = [
    ("0", 0),
    ("-0", 0),
    ("+0", 0),
    ("5s", 5 * SECOND),
    ("30s", 30 * SECOND),
    ("1478s", 1478 * SECOND),
    ("-5s", -5 * SECOND),
    ("+5s", 5 * SECOND),
    ("5.0s", 5 * SECOND),
    ("5.6s", 5 * SECOND + 600 * MILLISECOND),
    ("5.s", 5 * SECOND),
    (".5s", 500 * MILLISECOND),
    ("1.004s", 1 * SECOND + 4 * MILLISECOND),
    ("1.0040s", 1 * SECOND + 4 * MILLISECOND),
    ("100.00100s", 100 * SECOND + 1 * MILLISECOND),
    ("10ns", 10),
    ("11us", 11 * MICROSECOND),
    ("12µs", 12 * MICROSECOND),  # micro sign
    ("12μs", 12 * MICROSECOND),  # Greek mu
    ("13ms", 13 * MILLISECOND),
    ("14s", 14 * SECOND),
    ("15m", 15 * MINUTE),
    ("16h", 16 * HOUR),
    ("3h30m", 3 * HOUR + 30 * MINUTE),
    ("10.5s4m", 4 * MINUTE + 10 * SECOND + 500 * MILLISECOND),
    ("-2m3.4s", -(2 * MINUTE + 3 * SECOND + 400 * MILLISECOND)),
    ("1h2m3s4ms5us6ns", HOUR + 2 * MINUTE + 3 * SECOND + 4 * MILLISECOND + 5 * MICROSECOND + 6),
    ("39h9m14.425s", 39 * HOUR + 9 * MINUTE + 14 * SECOND + 425 * MILLISECOND),
    ("52763797000ns", 52763797000),
    ("0.3333333333333333333h", 20 * MINUTE),
    ("9007199254740993ns", (1 << 53) + 1),
    ("9223372036854775807ns", MAX_DURATION_NS),
    ("-9223372036854775808ns", -(1 << 63)),
    ("1h2m3.5s", HOUR + 2 * MINUTE + 3 * SECOND + 500 * MILLISECOND),
    ("300ms", 300 * MILLISECOND),
    ("60s", 60 * SECOND),
]

GO_REJECTED = [
    ("", 'invalid duration ""'),
    ("3", 'missing unit in duration "3"'),
    ("-", 'invalid duration "-"'),
    ("s", 'invalid duration "s"'),
    (".", 'invalid duration "."'),
    ("-.", 'invalid duration "-."'),
    (".s", 'invalid duration ".s"'),
    ("+.s", 'invalid duration "+.s"'),
    ("1h.", 'invalid duration "1h."'),
    ("1d", 'unknown unit "d" in duration "1d"'),
    ("20 s", 'unknown unit " s" in duration "20 s"'),
    ("9223372036854775808ns", 'invalid duration "9223372036854775808ns"'),
    ("-9223372036854775809ns", 'invalid duration "-9223372036854775809ns"'),
]

# What Go's Duration.String() prints for these values.
GO_FORMATTED = [
    (0, "0s"),
    (1, "1ns"),
    (1100, "1.1µs"),
    (2200 * MICROSECOND, "2.2ms"),
    (3300 * MILLISECOND, "3.3s"),
    (4 * MINUTE + 5 * SECOND, "4m5s"),
    (4 * MINUTE + 5001 * MILLISECOND, "4m5.001s"),
    (5 * HOUR + 6 * MINUTE + 7001 * MILLISECOND, "5h6m7.001s"),
    (8 * MINUTE + 1, "8m0.000000001s"),
    (60 * SECOND, "1m0s"),
    (HOUR, "1h0m0s"),
    (-1500 * MILLISECOND, "-1.5s"),
    (MAX_DURATION_NS, "2562047h47m16.854775807s"),
    (-(1 << 63), "-2562047h47m16.854775808s"),
]


@pytest.mark.parametrize(("text", "nanoseconds"), GO_PARSED)
def test_parse_duration_ns_matches_go(text: str, nanoseconds: int) -> None:
    assert parse_duration_ns(text) == nanoseconds


@pytest.mark.parametrize(("text", "message"), GO_REJECTED)
def test_parse_duration_rejects_what_go_rejects(text: str, message: str) -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration_ns(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(("nanoseconds", "text"), GO_FORMATTED)
def test_format_duration_ns_matches_go(nanoseconds: int, text: str) -> None:
    assert format_duration_ns(nanoseconds) == text


def test_parse_duration_gives_timedelta_truncated_to_microseconds() -> None:
    assert parse_duration("20s") == timedelta(seconds=20)
    assert parse_duration("1h2m3.5s") == timedelta(hours=1, minutes=2, seconds=3.5)
    assert parse_duration("1500ns") == timedelta(microseconds=1)
    assert parse_duration("-1500ns") == timedelta(microseconds=-1)
    assert parse_duration("999ns") == timedelta(0)


def test_format_duration_of_timedelta() -> None:
    assert format_duration(timedelta(seconds=60)) == "1m0s"
    assert format_duration(timedelta(milliseconds=300)) == "300ms"
    assert format_duration(timedelta(seconds=-5)) == "-5s"


go_range_timedeltas = st.timedeltas(
    min_value=timedelta(microseconds=-(MAX_DURATION_NS // MICROSECOND)),
    max_value=timedelta(microseconds=MAX_DURATION_NS // MICROSECOND),
)


@given(go_range_timedeltas)
def test_timedelta_round_trips_through_go_syntax(value: timedelta) -> None:
    assert parse_duration(format_duration(value)) == value


@given(st.integers(min_value=-(1 << 63), max_value=MAX_DURATION_NS))
def test_nanoseconds_round_trip_through_go_syntax(nanoseconds: int) -> None:
    assert parse_duration_ns(format_duration_ns(nanoseconds)) == nanoseconds


@given(st.text(alphabet="0123456789.+-hmsnuµμ", max_size=12))
def test_parse_either_succeeds_or_raises_duration_error(text: str) -> None:
    try:
        parse_duration_ns(text)
    except DurationError as error:
        assert f'"{text}"' in str(error)
