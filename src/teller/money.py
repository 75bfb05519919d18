"""Exchange rates and the SKY amount owed for a deposit (teller `calculate.go`, `mathutil`).

Place in the flow: the processor turns a deposit (satoshis or wei) and the configured rate
string into droplets with `sky_droplets_for_satoshis` / `sky_droplets_for_wei`; the config
check parses rates with `parse_rate`; views and the API format amounts with `format_*`.

Money is exact here: int base units in, int droplets out, `decimal.Decimal` in between, always
in a local decimal context whose precision is large enough that products never round.
"""

from __future__ import annotations

import re
from decimal import (
    MAX_EMAX,
    MIN_EMIN,
    ROUND_DOWN,
    Context,
    Decimal,
    Inexact,
    InvalidOperation,
    Overflow,
    Underflow,
    getcontext,
    localcontext,
)
from fractions import Fraction

from teller.coins.btc import SATOSHIS_PER_BTC
from teller.coins.eth import WEI_PER_ETH
from teller.errors import InvalidValue

SKY_DROPLETS = 1_000_000
SKY_DECIMALS = 6
BTC_DECIMALS = 8
ETH_DECIMALS = 18
MAX_DECIMALS = 3  # default `max_decimals`: SKY amounts sent are multiples of 0.001
RATIONAL_DIGITS = 8  # "a/b" rates are rendered with 8 fractional digits

_INT64_MAX = 2**63 - 1
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1

# big.Int.SetString(s, 10) / strconv.ParseInt(s, 10, _): optional sign, ASCII digits only.
_GO_INTEGER = re.compile(r"[+-]?[0-9]+")
# big.Rat "a/b" (restricted to plain decimal integers, see _parse_rational).
_RATIONAL = re.compile(r"(?P<num>[+-]?(?:0|[1-9][0-9]*))/(?P<den>0|[1-9][0-9]*)")

RATE_NOT_POSITIVE = "rate must be greater than zero"


class AmountError(InvalidValue):
    """A rate or amount cannot be used; str() is the original teller's message."""


# --- parsing ----------------------------------------------------------------------------------


def _parse_go_decimal(text: str) -> Decimal:
    """shopspring/decimal v1.0.1 NewFromString: int, decimal or exponent form, exact.

    Its checks and messages in its order: exponent after the first e/E must be an int32
    ("...: exponent is not numeric"), at most one '.', then the digits (optional sign).
    One deliberate difference: a sign right after the point (".-5"), which v1.0.1 read as
    -0.05, is refused.
    """
    value, exponent = text, 0
    e_index = _first_exponent_marker(value)
    if e_index != -1:
        exponent_text = value[e_index + 1 :]
        if _GO_INTEGER.fullmatch(exponent_text) is None:
            raise AmountError(f"can't convert {value} to decimal: exponent is not numeric")
        exponent = int(exponent_text)
        if not _INT32_MIN <= exponent <= _INT32_MAX:
            raise AmountError(f"can't convert {value} to decimal: fractional part too long")
        value = value[:e_index]
    parts = value.split(".")
    if len(parts) > 2:
        raise AmountError(f"can't convert {value} to decimal: too many .s")
    integer_text = parts[0]
    if len(parts) == 2:
        fraction = parts[1].rstrip("0")  # v1.0.1 drops insignificant trailing zeros
        integer_text += fraction
        exponent -= len(fraction)
        if fraction[:1] in ("+", "-"):
            raise AmountError(f"can't convert {value} to decimal")
    if _GO_INTEGER.fullmatch(integer_text) is None:
        raise AmountError(f"can't convert {value} to decimal")
    if not _INT32_MIN <= exponent <= _INT32_MAX:
        raise AmountError(f"can't convert {text} to decimal: fractional part too long")
    return Decimal(f"{int(integer_text)}E{exponent}")  # construction from a string is exact


def _first_exponent_marker(text: str) -> int:
    indexes = [i for i in (text.find("e"), text.find("E")) if i != -1]
    return min(indexes, default=-1)


def _parse_rational(text: str) -> Fraction | None:
    """big.Rat "a/b" with a plain base-10 numerator (optional sign) and denominator > 0.

    Go's big.Rat would also take 0x/0o/0b prefixes, underscores and leading-zero octal; those
    are refused here rather than silently read differently.
    """
    match = _RATIONAL.fullmatch(text)
    if match is None or int(match["den"]) == 0:
        return None
    return Fraction(int(match["num"]), int(match["den"]))


def _rat_float_string(value: Fraction, digits: int) -> str:
    """big.Rat.FloatString: `digits` fractional digits, rounded half away from zero."""
    scale = 10**digits
    quotient, remainder = divmod(abs(value.numerator) * scale, value.denominator)
    if 2 * remainder >= value.denominator:
        quotient += 1
    whole, fraction = divmod(quotient, scale)
    sign = "-" if value < 0 else ""
    return f"{sign}{whole}.{fraction:0{digits}d}"


def decimal_from_string(text: str) -> Decimal:
    """teller mathutil.DecimalFromString: a decimal, else an "a/b" rational rendered with 8
    fractional digits; if both fail, the decimal parser's error."""
    try:
        return _parse_go_decimal(text)
    except AmountError:
        rational = _parse_rational(text)
        if rational is None:
            raise
    return _parse_go_decimal(_rat_float_string(rational, RATIONAL_DIGITS))


def parse_rate(text: str) -> Decimal:
    """A configured rate (SKY per BTC/ETH): decimal_from_string, then it must be > 0."""
    rate = decimal_from_string(text)
    if rate <= 0:
        raise AmountError(RATE_NOT_POSITIVE)
    return rate


# --- the SKY amount for a deposit -------------------------------------------------------------


def sky_droplets_for_satoshis(satoshis: int, rate: str, max_decimals: int) -> int:
    """teller CalculateBtcSkyValue: droplets for `satoshis` at `rate` SKY per BTC."""
    if satoshis < 0:
        raise AmountError("satoshis must be greater than or equal to 0")
    return _sky_droplets(satoshis, BTC_DECIMALS, rate, max_decimals)


def sky_droplets_for_wei(wei: int, rate: str, max_decimals: int) -> int:
    """teller CalculateEthSkyValue: droplets for `wei` at `rate` SKY per ETH."""
    if wei < 0:
        raise AmountError("wei must be greater than or equal to 0")
    return _sky_droplets(wei, ETH_DECIMALS, rate, max_decimals)


def _sky_droplets(amount: int, coin_decimals: int, rate_text: str, max_decimals: int) -> int:
    if max_decimals < 0:
        raise AmountError("maxDecimals can't be negative")
    rate = parse_rate(rate_text)
    with localcontext(_exact_context(amount, rate)):
        sky = Decimal(amount).scaleb(-coin_decimals) * rate  # exact: Inexact is trapped
        if sky and sky.adjusted() > 30:  # far beyond int64 droplets; refuse before scaling
            raise AmountError("calculated sky amount is too large")
        # Rounding rule: truncate toward zero to max_decimals, then to whole droplets.
        sky = _truncate(sky, max_decimals)
        droplets = int(sky.scaleb(SKY_DECIMALS))  # int() drops the fraction toward zero
    if droplets < 0:
        raise AmountError("calculated sky amount is negative")
    if droplets > _INT64_MAX:
        raise AmountError("calculated sky amount is too large")
    return droplets


def _truncate(value: Decimal, decimals: int) -> Decimal:
    """Cut `value` to `decimals` fractional digits.

    Rounding rule (teller: decimal.Truncate): truncation toward zero, never rounding up, so the
    buyer is never sent more than the exact product. Digits are dropped on purpose here, so
    this one step runs with Inexact untrapped; the result always fits the precision.
    """
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or exponent >= -decimals:
        return value
    truncating = getcontext().copy()
    truncating.traps[Inexact] = False
    return value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_DOWN, context=truncating)


def _exact_context(amount: int, rate: Decimal) -> Context:
    """A context in which the product never rounds (Inexact is trapped) or overflows."""
    amount_digits = amount.bit_length() * 31 // 100 + 1  # >= its decimal digits (log10 2 < 0.31)
    digits = amount_digits + len(rate.as_tuple().digits)
    return Context(
        prec=digits + 64,
        Emax=MAX_EMAX,
        Emin=MIN_EMIN,
        traps=[InvalidOperation, Inexact, Overflow, Underflow],
    )


# --- formatting -------------------------------------------------------------------------------


def format_units(value: int, decimals: int) -> str:
    """An int of base units as a fixed-point string with exactly `decimals` decimals."""
    if decimals < 0:
        raise InvalidValue("decimals must not be negative")
    sign = "-" if value < 0 else ""
    whole, fraction = divmod(abs(value), 10**decimals)
    if decimals == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{fraction:0{decimals}d}"


def plain_decimal(value: Decimal) -> str:
    """A decimal as the original printed it: no exponent, no trailing zeros ("0.0000001")."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def format_droplets(droplets: int) -> str:
    """Droplets as SKY with 6 decimals: 61728000 -> "61.728000"."""
    return format_units(droplets, SKY_DECIMALS)


def format_satoshis(satoshis: int) -> str:
    """Satoshis as BTC with 8 decimals: 153420000 -> "1.53420000"."""
    return format_units(satoshis, BTC_DECIMALS)


def format_wei(wei: int) -> str:
    """Wei as ETH with 18 decimals."""
    return format_units(wei, ETH_DECIMALS)


def fixed_rate_display(coin: str, rate: str, max_decimals: int) -> str:
    """/api/config `fixed_exchange_rate`: SKY for exactly 1 BTC or 1 ETH by the same formula,
    with 6 decimals ("500.000000"). For "SKY" the original showed the raw config string."""
    if coin == "BTC":
        return format_droplets(sky_droplets_for_satoshis(SATOSHIS_PER_BTC, rate, max_decimals))
    if coin == "ETH":
        return format_droplets(sky_droplets_for_wei(WEI_PER_ETH, rate, max_decimals))
    if coin == "SKY":
        return rate
    raise AmountError(f'unknown cointype "{coin}"')
