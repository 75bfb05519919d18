"""The alphabet and length of the text parameters the APIs take, beyond what a route's type says.

Place in the flow: services check a request's raw strings here before they go anywhere (the
store, the log, an answer), so a parameter is either well-formed for what it names or refused
with a 400 naming the parameter; control characters, oversized strings and stray text never
get further. SKY addresses of buyers are checked in full (checksum too) by
deposits/binding.py; what is here are the shapes: transaction ids per coin, deposit ids,
addresses used as search terms, operator free text.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from teller.coins import COIN_TYPES
from teller.deposits import states
from teller.errors import BadRequest
from teller.passthrough import quote

# Limits the services hold, named here for the schemas of http/.
MAX_SEARCH_LIMIT = 10_000  # GET /api/deposits?limit=
MAX_ACTIONS = 1000  # GET /api/actions?limit=
MAX_SEQ = 2**63 - 1  # GET /api/deposits?after= (a deposit's seq: a 64-bit integer column)
MAX_AMOUNT_CHARS = quote.MAX_AMOUNT_CHARS  # GET /api/quote?amount=
DEPOSIT_STATUSES = states.ALL_STATUSES  # GET /api/deposits?status=

HEX64 = "[0-9a-f]{64}"
MAX_OUTPUT_INDEX = 2**32 - 1
# A transaction id per coin, lower case: Bitcoin and Skycoin 64 hex digits, Ethereum the same
# with or without the "0x" its nodes write.
_TXIDS = {
    "BTC": re.compile(HEX64),
    "SKY": re.compile(HEX64),
    "ETH": re.compile(f"(?:0x)?{HEX64}"),
}
_TXID_SHAPES = {
    "BTC": "64 hex digits",
    "SKY": "64 hex digits",
    "ETH": "64 hex digits, 0x before them allowed",
}
_DEPOSIT_ID = re.compile(f"((?:0x)?{HEX64}):([0-9]{{1,10}})")
# Base58 (no 0, O, I, l); a SKY address is 25 bytes, at most 35 characters in base58.
SKY_ADDRESS_PATTERN = "[1-9A-HJ-NP-Za-km-z]{1,35}"
_SKY_ADDRESS = re.compile(SKY_ADDRESS_PATTERN)
MAX_FREE_TEXT = 500


def coins_in_order(enabled: Collection[str]) -> list[str]:
    """The coins of `enabled`, in COIN_TYPES order (as the APIs list them)."""
    return [coin for coin in COIN_TYPES if coin in enabled]


def txid(name: str, raw: str, coin: str) -> str:
    """A transaction id of `coin` (trimmed, lower case), else 400 naming `name`."""
    text = raw.strip().lower()
    if not _TXIDS[coin].fullmatch(text):
        raise BadRequest(f"invalid {name}: a {coin} transaction id is {_TXID_SHAPES[coin]}")
    return text


def deposit_id(name: str, raw: str) -> str:
    """A deposit id, "TXID:N" (a BTC/SKY or ETH transaction id and an output index; trimmed,
    lower case), else 400 naming `name`."""
    text = raw.strip().lower()
    match = _DEPOSIT_ID.fullmatch(text)
    if match is None or int(match.group(2)) > MAX_OUTPUT_INDEX:
        raise BadRequest(
            f"invalid {name}: a deposit id is TXID:N (64 hex digits, 0x before them for ETH,"
            f" and an output number up to {MAX_OUTPUT_INDEX})"
        )
    return text


def sky_address_shape(name: str, raw: str) -> str:
    """A search term shaped as a SKY address (base58, at most 35 characters; trimmed), else
    400 naming `name`. The checksum is not checked: a search just finds nothing."""
    text = raw.strip()
    if not _SKY_ADDRESS.fullmatch(text):
        raise BadRequest(f"invalid {name}: a SKY address is 1 to 35 base58 characters")
    return text


def txid_or_deposit_id(name: str, raw: str) -> str:
    """A SKY transaction id or a deposit id (what the operators' audit trail is keyed by)."""
    text = raw.strip().lower()
    if _TXIDS["SKY"].fullmatch(text):
        return text
    try:
        return deposit_id(name, text)
    except BadRequest:
        raise BadRequest(
            f"invalid {name}: a SKY transaction id (64 hex digits) or a deposit id (TXID:N)"
        ) from None


def free_text(name: str, raw: str, max_length: int = MAX_FREE_TEXT) -> str:
    """Operator text (a reason): trimmed, not empty, at most `max_length` printable
    characters (no control characters, no line breaks), else 400 naming `name`."""
    text = raw.strip()
    if not text:
        raise BadRequest(f"{name} is required")
    if len(text) > max_length:
        raise BadRequest(f"{name} is longer than {max_length} characters")
    if not text.isprintable():
        raise BadRequest(f"invalid {name}: only printable characters, on one line")
    return text
