"""Go duration strings ("20s", "1m30s", "1h2m3.5s", "300ms") read and written as timedelta.

Place in the flow: only config/ uses this (go_compat.py reads, schema.py and preflight.py
write), while reading the TOML config at start-up; the original teller's config files hold
time.Duration values in Go's syntax, and the logged (redacted) config shows them back in that
syntax.

The grammar is Go's time.ParseDuration: an optional sign, then one or more decimal numbers
each followed by a unit (ns, us, µs, μs, ms, s, m, h); "0" alone is zero. Go counts in
nanoseconds, timedelta in microseconds: parsing keeps the exact nanosecond count
(parse_duration_ns), computed as Go does, and truncates it toward zero for the timedelta.
"""

from __future__ import annotations

import re
from datetime import timedelta

from teller.errors import InvalidValue

NANOSECOND = 1
MICROSECOND = 1_000 * NANOSECOND
MILLISECOND = 1_000 * MICROSECOND
SECOND = 1_000 * MILLISECOND
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

# Go's time.Duration is an int64 of nanoseconds; longer durations are rejected as Go does.
MAX_DURATION_NS = 2**63 - 1

UNIT_NANOSECONDS: dict[str, int] = {
    "ns": NANOSECOND,
    "us": MICROSECOND,
    "µs": MICROSECOND,  # U+00B5 micro sign (what Go prints)
    "μs": MICROSECOND,  # U+03BC Greek small letter mu
    "ms": MILLISECOND,
    "s": SECOND,
    "m": MINUTE,
    "h": HOUR,
}

# One "<number><unit>" component: digits, optional fraction, then the unit letters.
_COMPONENT = re.compile(r"(?P<int>\d*)(?:\.(?P<frac>\d*))?(?P<unit>[^\d.]*)")


class DurationError(InvalidValue):
    """A string is not a Go duration; str() says why, quoting the string."""


def parse_duration(text: str) -> timedelta:
    """Parse a Go duration string into a timedelta (sub-microsecond part truncated)."""
    nanoseconds = parse_duration_ns(text)
    sign = -1 if nanoseconds < 0 else 1
    return sign * timedelta(microseconds=abs(nanoseconds) // MICROSECOND)


def parse_duration_ns(text: str) -> int:
    """Parse a Go duration string into an exact number of nanoseconds."""
    body, sign = _split_sign(text)
    if body == "0":
        return 0
    if not body:
        raise DurationError(f'invalid duration "{text}"')
    total = 0
    position = 0
    while position < len(body):
        match = _COMPONENT.match(body, position)
        assert match is not None  # every part of the pattern may be empty
        total += _component_nanoseconds(match, text)
        position = match.end()
    if total > MAX_DURATION_NS + (sign < 0):
        raise DurationError(f'invalid duration "{text}"')
    return sign * total


def _split_sign(text: str) -> tuple[str, int]:
    if text[:1] == "-":
        return text[1:], -1
    if text[:1] == "+":
        return text[1:], 1
    return text, 1


def _component_nanoseconds(match: re.Match[str], text: str) -> int:
    whole, fraction, unit = match["int"], match["frac"] or "", match["unit"]
    if not whole and not fraction:
        raise DurationError(f'invalid duration "{text}"')
    if not unit:
        raise DurationError(f'missing unit in duration "{text}"')
    if unit not in UNIT_NANOSECONDS:
        raise DurationError(f'unknown unit "{unit}" in duration "{text}"')
    scale = UNIT_NANOSECONDS[unit]
    return int(whole or "0") * scale + _fraction_nanoseconds(fraction, scale)


def _fraction_nanoseconds(digits: str, unit: int) -> int:
    """The fractional part the way Go computes it: at most int64's worth of digits, scaled in
    float64 and truncated, so that e.g. "0.3333333333333333333h" is exactly 20m as in Go."""
    numerator, scale = 0, 1.0
    for digit in digits:
        extended = numerator * 10 + int(digit)
        if extended > MAX_DURATION_NS + 1:
            break  # Go ignores the digits that would overflow
        numerator = extended
        scale *= 10
    return int(float(numerator) * (float(unit) / scale))


def format_duration(value: timedelta) -> str:
    """Render a timedelta the way Go's Duration.String() does ("1h2m3.5s", "300ms", "0s")."""
    return format_duration_ns(value // timedelta(microseconds=1) * MICROSECOND)


def format_duration_ns(nanoseconds: int) -> str:
    """Render a nanosecond count the way Go's Duration.String() does."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    magnitude = abs(nanoseconds)
    if magnitude < SECOND:
        return sign + _format_below_one_second(magnitude)
    hours, rest = divmod(magnitude, HOUR)
    minutes, rest = divmod(rest, MINUTE)
    text = _decimal_text(rest, SECOND) + "s"
    if hours or minutes:
        text = f"{minutes}m" + text
    if hours:
        text = f"{hours}h" + text
    return sign + text


def _format_below_one_second(nanoseconds: int) -> str:
    if nanoseconds < MICROSECOND:
        return f"{nanoseconds}ns"
    if nanoseconds < MILLISECOND:
        return _decimal_text(nanoseconds, MICROSECOND) + "µs"
    return _decimal_text(nanoseconds, MILLISECOND) + "ms"


def _decimal_text(amount: int, unit: int) -> str:
    """amount/unit as a decimal without trailing zeros (unit is a power of ten)."""
    whole, remainder = divmod(amount, unit)
    if not remainder:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{remainder:0{digits}d}".rstrip("0")
