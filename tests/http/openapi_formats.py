"""Schemathesis hooks for tests/http/test_openapi.py, loaded by `st run` (SCHEMATHESIS_HOOKS).

The documents teller serves name, with `format`, what a pattern cannot say (a checksum, a
range, a bound address); these strategies generate valid values of each, so a schema-valid
request must be accepted and a schema-invalid one refused. The deposit addresses the test's
teller bound come in TELLER_TEST_BOUND_BTC (comma-separated).
"""

from __future__ import annotations

import os
import string
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import schemathesis
from hypothesis import strategies as st

from teller.coins import sky

# Valid SKY addresses (tests/http/running_teller.py SKY_A, SKY_B, SKY_C).
SKY_ADDRESSES = [
    "2Wbi4wvxC4fkTYMsS2f6HaFfW4pafDjXcQW",
    "hs1pyuNgxDLyLaZsnqzQG9U3DKdJsbzNpn",
    "6bCydnmFtHpZSL88McsynH3kNPDdaNxQpY",
]
HEX64 = st.binary(min_size=32, max_size=32).map(bytes.hex)
DEPOSIT_IDS = st.builds(lambda txid, n: f"{txid}:{n}", HEX64, st.integers(0, 2**32 - 1))
BOUND = [a for a in os.environ.get("TELLER_TEST_BOUND_BTC", "").split(",") if a]

schemathesis.openapi.format("sky-address", st.sampled_from(SKY_ADDRESSES))
schemathesis.openapi.format(
    "amount", st.integers(1, 10**15).map(lambda u: f"{u // 10**8}.{u % 10**8:08d}")
)
schemathesis.openapi.format("txid", HEX64)
schemathesis.openapi.format("deposit-id", DEPOSIT_IDS)
schemathesis.openapi.format("action-target", st.one_of(HEX64, DEPOSIT_IDS, st.just("payouts")))
schemathesis.openapi.format("positive-integer", st.integers(1, 10**12).map(str))
schemathesis.openapi.format("output-index", st.integers(0, 2**32 - 1).map(str))
schemathesis.openapi.format(
    "operator-text",
    st.text(string.ascii_letters + string.digits + " .,-", min_size=1, max_size=80).filter(
        str.strip
    ),
)
if BOUND:
    schemathesis.openapi.format("bound-deposit-address", st.sampled_from(BOUND))


def _sky_address(text: str) -> bool:
    try:
        sky.validate_address(text)
    except sky.AddressError:
        return False
    return True


def _amount(text: str) -> bool:
    whole, _, fraction = text.partition(".")
    digits = (whole + fraction).strip("0")
    return bool(digits) and len(fraction.rstrip("0")) <= 8 and int(whole or "0") < 21_000_000


def _deposit_id(text: str) -> bool:
    return int(text.rpartition(":")[2] or "0") <= 2**32 - 1


# What each format means beyond its pattern: a value a generator drew from the pattern alone
# (the coverage phase does) is valid only if this holds. Keyed by parameter name.
VALID: dict[str, Callable[[str], bool]] = {
    "skyaddr": _sky_address,
    "amount": _amount,
    "deposit_id": lambda t: not t or _deposit_id(t),
    "target": lambda t: not t or t == "payouts" or len(t) == 64 or _deposit_id(t),
    "addr": lambda t: t in BOUND,
    "value": lambda t: t.strip("0") != "" and len(t) <= 20,
    "n": lambda t: int(t) <= 2**32 - 1,
    "reason": lambda t: bool(t.strip()) and t.isprintable(),
}


@schemathesis.hook
def filter_case(context: Any, case: Any) -> bool:
    """Positive cases carry valid values of the documents' formats (see VALID). And
    /dummy/sender/confirm takes txid or seq, which no OpenAPI parameter list can say: a
    request with neither is not a valid one."""
    if not case.meta.generation.mode.is_positive:
        return True
    values = {**(case.query or {}), **(case.path_parameters or {})}  # path ones %-encoded
    if isinstance(case.body, dict):
        values.update(case.body)
    for name, value in values.items():
        check = VALID.get(name)
        if check is not None and isinstance(value, str) and not check(unquote(value)):
            return False
    if case.path == "/dummy/sender/confirm":
        return bool({"txid", "seq"} & set(values))
    return True
