"""Rates and SKY amounts: every case of teller's calculate/mathutil vectors, plus properties
checked against an exact rational reference."""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from teller import money as amounts
from teller.money import AmountError
from tests.vectors import vector_params


def vector_list(relpath: str, *keys: str) -> list[Any]:
    return vector_params(relpath, *keys)


# --- teller vectors ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", vector_list("teller/calc_btc_sky.json", "cases"))
def test_calc_btc_sky(case: dict[str, Any]) -> None:
    call = (case["satoshis"], case["rate"], case["max_decimals"])
    if case["error"] is None:
        assert amounts.sky_droplets_for_satoshis(*call) == case["droplets"]
    else:
        with pytest.raises(AmountError) as caught:
            amounts.sky_droplets_for_satoshis(*call)
        assert str(caught.value) == case["error"]


@pytest.mark.parametrize("case", vector_list("teller/calc_eth_sky.json", "cases"))
def test_calc_eth_sky(case: dict[str, Any]) -> None:
    call = (int(case["wei"]), case["rate"], case["max_decimals"])
    if case["error"] is None:
        assert amounts.sky_droplets_for_wei(*call) == case["droplets"]
    else:
        with pytest.raises(AmountError) as caught:
            amounts.sky_droplets_for_wei(*call)
        assert str(caught.value) == case["error"]


@pytest.mark.parametrize("case", vector_list("teller/math_misc.json", "decimal_from_string"))
def test_decimal_from_string(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(AmountError) as caught:
            amounts.decimal_from_string(case["in"])
        assert str(caught.value) == case["error"]
    else:
        value = amounts.decimal_from_string(case["in"])
        assert value == Decimal(case["value"])
        assert str(value) == case["value"]


@pytest.mark.parametrize(
    "case", vector_list("teller/math_misc.json", "parse_rate_extra", "examples")
)
def test_parse_rate_examples(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(AmountError) as caught:
            amounts.parse_rate(case["in"])
        assert str(caught.value) == case["error"]
    else:
        assert str(amounts.parse_rate(case["in"])) == case["value"]


FORMATTERS = {
    "BTC": amounts.format_satoshis,
    "ETH": amounts.format_wei,
    "SKY": amounts.format_droplets,
}


@pytest.mark.parametrize(
    "case", vector_list("teller/math_misc.json", "amount_to_string", "examples")
)
def test_amount_to_string(case: dict[str, Any]) -> None:
    assert FORMATTERS[case["coin"]](case["value"]) == case["string"]


# --- parsing details (shopspring/decimal v1.0.1 and big.Rat behaviour) ------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500", "500"),
        ("0.0001", "0.0001"),
        ("1.50", "1.5"),
        (".5", "0.5"),
        ("5.", "5"),
        ("+3", "3"),
        ("-.5", "-0.5"),
        ("1e3", "1000"),
        ("1E+3", "1000"),
        ("2.5e-3", "0.0025"),
        ("1/3", "0.33333333"),
        ("2/3", "0.66666667"),
        ("-2/3", "-0.66666667"),
        ("1/200000000", "0.00000001"),  # 0.000000005 rounds half away from zero
        ("123456789012345678901234567890", "123456789012345678901234567890"),
    ],
)
def test_decimal_forms(text: str, value: str) -> None:
    assert amounts.decimal_from_string(text) == Decimal(value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "can't convert  to decimal"),
        ("12k", "can't convert 12k to decimal"),
        ("invalidrate", "can't convert invalidrate to decimal: exponent is not numeric"),
        ("1e", "can't convert 1e to decimal: exponent is not numeric"),
        ("1e1.5", "can't convert 1e1.5 to decimal: exponent is not numeric"),
        ("ke5", "can't convert k to decimal"),
        ("1..2", "can't convert 1..2 to decimal: too many .s"),
        (" 1", "can't convert  1 to decimal"),
        ("1 ", "can't convert 1  to decimal"),
        ("NaN", "can't convert NaN to decimal"),
        ("Infinity", "can't convert Infinity to decimal"),
        ("1_000", "can't convert 1_000 to decimal"),
        ("\u0661", "can't convert \u0661 to decimal"),
        (".-5", "can't convert .-5 to decimal"),
        ("1/0", "can't convert 1/0 to decimal"),
        ("1/-2", "can't convert 1/-2 to decimal"),
        ("0x10/3", "can't convert 0x10/3 to decimal"),
        ("1e9999999999", "can't convert 1e9999999999 to decimal: fractional part too long"),
    ],
)
def test_decimal_errors(text: str, message: str) -> None:
    with pytest.raises(AmountError) as caught:
        amounts.decimal_from_string(text)
    assert str(caught.value) == message


@pytest.mark.parametrize("text", ["0", "-1", "0.000", "-1/3", "1/1000000000", "0e5"])
def test_rate_must_be_positive(text: str) -> None:
    with pytest.raises(AmountError) as caught:
        amounts.parse_rate(text)
    assert str(caught.value) == "rate must be greater than zero"


def test_negative_max_decimals() -> None:
    with pytest.raises(AmountError) as caught:
        amounts.sky_droplets_for_satoshis(1, "1", -1)
    assert str(caught.value) == "maxDecimals can't be negative"
    with pytest.raises(AmountError):
        amounts.sky_droplets_for_wei(1, "1", -1)


def test_amount_errors_come_before_rate_errors() -> None:
    with pytest.raises(AmountError, match="satoshis must be"):
        amounts.sky_droplets_for_satoshis(-1, "bad", -1)
    with pytest.raises(AmountError, match="wei must be"):
        amounts.sky_droplets_for_wei(-1, "bad", -1)


def test_observed_payout() -> None:
    """teller-go.md §3.5: 12 345 678 sat @ 500, max_decimals 3 -> 61.728000 SKY sent."""
    droplets = amounts.sky_droplets_for_satoshis(12_345_678, "500", 3)
    assert amounts.format_droplets(droplets) == "61.728000"


def test_huge_wei_is_exact_whatever_the_global_context() -> None:
    wei = 123_456_789_123_456_789_123_456_789  # ~1.2e8 ETH
    with localcontext() as ctx:
        ctx.prec = 3
        droplets = amounts.sky_droplets_for_wei(wei, "0.000001", 6)
        assert ctx.prec == 3
    assert droplets == wei * 10**6 // 10**6 // 10**18


def test_large_max_decimals_is_cheap() -> None:
    # 63.20987136 SKY: max_decimals beyond 6 leaves the cut at whole droplets
    assert amounts.sky_droplets_for_satoshis(12_345_678, "512", 10**9) == 63_209_871


def test_absurd_results_are_refused() -> None:
    with pytest.raises(AmountError, match="too large"):
        amounts.sky_droplets_for_satoshis(10**8, "1e100", 3)
    with pytest.raises(AmountError, match="too large"):
        amounts.sky_droplets_for_satoshis(10**8, "1e13", 3)  # > int64 droplets
    assert amounts.sky_droplets_for_satoshis(10**8, "1e12", 3) == 10**18
    assert amounts.sky_droplets_for_satoshis(0, "1e100", 3) == 0


# --- formatting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "decimals", "text"),
    [
        (0, 6, "0.000000"),
        (61_728_000, 6, "61.728000"),
        (1, 8, "0.00000001"),
        (-1_500_000, 6, "-1.500000"),
        (42, 0, "42"),
        (10**18, 18, "1.000000000000000000"),
    ],
)
def test_format_units(value: int, decimals: int, text: str) -> None:
    assert amounts.format_units(value, decimals) == text


@pytest.mark.parametrize(
    ("coin", "rate", "max_decimals", "text"),
    [
        ("BTC", "500", 3, "500.000000"),
        ("BTC", "1/3", 3, "0.333000"),
        ("BTC", "0.0001", 3, "0.000000"),
        ("ETH", "1568", 0, "1568.000000"),
        ("ETH", "2/3", 2, "0.660000"),
        ("SKY", "123.5", 3, "123.5"),
    ],
)
def test_fixed_rate_display(coin: str, rate: str, max_decimals: int, text: str) -> None:
    assert amounts.fixed_rate_display(coin, rate, max_decimals) == text


def test_fixed_rate_display_errors() -> None:
    with pytest.raises(AmountError, match="unknown cointype"):
        amounts.fixed_rate_display("DOGE", "1", 3)
    with pytest.raises(AmountError, match="rate must be greater than zero"):
        amounts.fixed_rate_display("BTC", "0", 3)


def test_constants() -> None:
    assert amounts.SKY_DROPLETS == 1_000_000
    assert amounts.MAX_DECIMALS == 3


# --- properties against an exact rational reference ------------------------------------------


def reference_droplets(amount: int, coin_decimals: int, rate: Decimal, max_decimals: int) -> int:
    sky = Fraction(amount, 10**coin_decimals) * Fraction(rate)
    truncated = Fraction(math.floor(sky * 10**max_decimals), 10**max_decimals)
    return math.floor(truncated * amounts.SKY_DROPLETS)


decimal_rates = st.decimals(
    min_value=Decimal("0.00000001"),
    max_value=Decimal("1000"),
    allow_nan=False,
    allow_infinity=False,
).map(str)
rational_rates = st.builds(lambda a, b: f"{a}/{b}", st.integers(1, 10**6), st.integers(1, 10**6))
rates = st.one_of(decimal_rates, rational_rates)
satoshis = st.integers(0, 21_000_000 * 10**8)
wei = st.integers(0, 10**9 * 10**18)
max_decimals = st.integers(0, 8)
INT64_MAX = 2**63 - 1  # the most droplets a SKY transaction output can hold


@given(satoshis, rates, max_decimals)
def test_satoshis_match_exact_reference(sat: int, rate: str, md: int) -> None:
    droplets = amounts.sky_droplets_for_satoshis(sat, rate, md)
    parsed = amounts.parse_rate(rate)
    assert droplets == reference_droplets(sat, 8, parsed, md)
    assert Fraction(droplets, 10**6) <= Fraction(sat, 10**8) * Fraction(parsed)
    if md <= 6:
        assert droplets % 10 ** (6 - md) == 0


@given(wei, rates, max_decimals)
def test_wei_match_exact_reference(amount: int, rate: str, md: int) -> None:
    parsed = amounts.parse_rate(rate)
    expected = reference_droplets(amount, 18, parsed, md)
    if expected > INT64_MAX:  # more SKY than exists: refused, never wrapped around
        with pytest.raises(AmountError, match="calculated sky amount is too large"):
            amounts.sky_droplets_for_wei(amount, rate, md)
        return
    droplets = amounts.sky_droplets_for_wei(amount, rate, md)
    assert droplets == expected
    assert Fraction(droplets, 10**6) <= Fraction(amount, 10**18) * Fraction(parsed)
    if md <= 6:
        assert droplets % 10 ** (6 - md) == 0


@given(satoshis, satoshis, rates, max_decimals)
def test_monotone_in_the_amount(a: int, b: int, rate: str, md: int) -> None:
    low, high = sorted((a, b))
    # Only where the larger amount is still payable: beyond, the function refuses (below).
    assume(reference_droplets(high, 8, amounts.parse_rate(rate), md) <= INT64_MAX)
    calc = amounts.sky_droplets_for_satoshis
    assert calc(low, rate, md) <= calc(high, rate, md)


def test_satoshis_worth_more_sky_than_can_be_paid_are_refused() -> None:
    """What hypothesis once found for the monotony property: 21M BTC at 999980 SKY/BTC is more
    SKY than an int64 of droplets holds, and the function refuses it rather than wrap."""
    with pytest.raises(AmountError, match="calculated sky amount is too large"):
        amounts.sky_droplets_for_satoshis(2_099_981_793_391_761, "999980/1", 8)
    assert amounts.sky_droplets_for_satoshis(0, "999980/1", 8) == 0


@given(wei, wei, rates, max_decimals)
def test_monotone_in_wei(a: int, b: int, rate: str, md: int) -> None:
    low, high = sorted((a, b))
    assume(reference_droplets(high, 18, amounts.parse_rate(rate), md) <= INT64_MAX)
    calc = amounts.sky_droplets_for_wei
    assert calc(low, rate, md) <= calc(high, rate, md)


@given(st.decimals(min_value=Decimal("1e-20"), max_value=Decimal("1e20"), places=None,
                   allow_nan=False, allow_infinity=False))  # fmt: skip
def test_decimal_text_parses_exactly(value: Decimal) -> None:
    assert amounts.parse_rate(str(value)) == value


@given(st.integers(1, 10**12), st.integers(1, 10**12))
def test_rational_is_rounded_half_away_from_zero(a: int, b: int) -> None:
    parsed = amounts.decimal_from_string(f"{a}/{b}")
    scaled = Fraction(a, b) * 10**8
    expected = math.floor(scaled + Fraction(1, 2))
    assert parsed == Decimal(expected).scaleb(-8)


@given(st.integers(-(10**30), 10**30), st.integers(0, 30))
def test_format_units_round_trips(value: int, decimals: int) -> None:
    text = amounts.format_units(value, decimals)
    assert Fraction(Decimal(text)) == Fraction(value, 10**decimals)
    if decimals:
        assert len(text.split(".")[1]) == decimals
