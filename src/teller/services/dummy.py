"""The dummy API's actions: a fake deposit in, the dummy payer's transactions out.

Place in the flow: /dummy/scanner/deposit hands a deposit to the same intake a real scanner
uses (deposits/intake.py), after the checks below; /dummy/sender/broadcasts and
/dummy/sender/confirm show and confirm what the dummy payer (payout/dummy.py) sent, and wake
the sender so it sees the confirmation at once. Parameters arrive as the strings of the
request's query or form; messages are the original's where it had one.

`announce_mode` logs, when the dummy API starts, a notice=WATCH line if its deposits are paid
by the real sender (dummy.fake_deposits_pay_real_sky, which config preflight requires then).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from teller.coins import COIN_TYPES
from teller.deposits.address_files import address_validator
from teller.errors import BadRequest, NotFound
from teller.logs import log_event
from teller.money import format_droplets
from teller.payout.dummy import DummyPayer
from teller.services import params
from teller.services.parts import Services
from teller.store.models import IncomingDeposit

MAX_N = 2**32 - 1
MAX_VALUE = 2**256 - 1

log = logging.getLogger("teller.dummy")


def announce_mode(parts: Services) -> None:
    """At start: say loudly when fake deposits are paid with real SKY (the operator allowed it
    with dummy.fake_deposits_pay_real_sky; config preflight refuses it otherwise)."""
    dummy = parts.config.dummy
    if dummy.feeds_real_payer:
        log_event(
            log,
            logging.WARNING,
            "dummy scanner feeds the real SKY sender: anyone who reaches the dummy API can add"
            " deposits that the hot wallet pays (dummy.fake_deposits_pay_real_sky = true);"
            " /dummy/scanner/deposit takes POST only, and no request from a web page",
            watch=True,
            dummy_http_addr=dummy.http_addr,
        )


async def receive_deposit(parts: Services, values: Mapping[str, str]) -> None:
    """/dummy/scanner/deposit: check the deposit described by `values` and hand it in."""
    incoming = parse_dummy_deposit(values, parts.enabled_coins, parts.config.btc_scanner.network)
    await parts.intake.receive_async(incoming)


def broadcasts(parts: Services) -> list[dict[str, Any]]:
    """/dummy/sender/broadcasts: every transaction the dummy payer sent, oldest first."""
    return [
        {
            "txid": b.txid,
            "outputs": [{"address": a, "coins": format_droplets(d)} for a, d in b.outputs],
            "confirmed": b.confirmed,
        }
        for b in _payer(parts).broadcasts()
    ]


async def confirm(parts: Services, values: Mapping[str, str]) -> None:
    """/dummy/sender/confirm: confirm the transaction `txid` (or number `seq`), wake the sender."""
    payer = _payer(parts)
    txid = values.get("txid", "").strip() or None
    if txid is not None:
        txid = params.txid("txid", txid, "SKY")  # the dummy payer's ids are SKY ids
    raw_seq = values.get("seq", "").strip()
    if txid is None and not raw_seq:
        raise BadRequest("txid or seq required")
    seq = None
    if txid is None:
        if not _is_decimal_digits(raw_seq) or len(raw_seq.lstrip("0")) > 18:
            raise BadRequest("invalid seq")
        seq = int(raw_seq)
    await asyncio.to_thread(payer.confirm, txid=txid, seq=seq)
    parts.sender_waker.wake()


def _payer(parts: Services) -> DummyPayer:
    if parts.dummy_payer is None:  # the routes are only served with the dummy payer
        raise NotFound("404 page not found")
    return parts.dummy_payer


def parse_dummy_deposit(
    values: Mapping[str, str], enabled_coins: frozenset[str], btc_network: str
) -> IncomingDeposit:
    coin = values.get("coin", "").strip() or "BTC"
    if coin not in COIN_TYPES:
        raise BadRequest(f"invalid coin {coin!r}: expected one of {', '.join(COIN_TYPES)}")
    if coin not in enabled_coins:
        raise BadRequest(f"{coin} not enabled")
    address = values.get("addr", "").strip()
    if not address:
        raise BadRequest("addr required")
    try:
        address = address_validator(coin, btc_network)(address)
    except ValueError as exc:
        raise BadRequest(f"invalid addr: {exc}") from exc
    value = _integer(values, "value", required=True, maximum=MAX_VALUE)
    if value == 0:
        raise BadRequest("invalid value: must be greater than 0")
    height = _integer(values, "height", required=False, maximum=2**63 - 1)
    tx = values.get("tx", "").strip()
    if not tx:
        raise BadRequest("tx required")
    tx = params.txid("tx", tx, coin)
    n = _integer(values, "n", required=False, maximum=MAX_N)
    return IncomingDeposit(coin_type=coin, address=address, value=value, height=height, tx=tx, n=n)


def _is_decimal_digits(raw: str) -> bool:
    return raw.isascii() and raw.isdigit()


def _integer(values: Mapping[str, str], name: str, *, required: bool, maximum: int) -> int:
    raw = values.get(name, "").strip()
    if not raw:
        if required:
            raise BadRequest(f"{name} required")
        return 0
    if not _is_decimal_digits(raw):
        raise BadRequest(f"invalid {name}")
    # Compare lengths first: int() refuses strings of thousands of digits.
    if len(raw.lstrip("0")) > len(str(maximum)) or int(raw) > maximum:
        raise BadRequest(f"{name} too large")
    return int(raw)
