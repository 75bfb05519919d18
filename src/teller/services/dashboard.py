"""The admin dashboard's pictures and lists: per-day figures, history, deposit pages, CSV.

Place in the flow: the admin server's routes (http/admin.py) call one function each; every
answer is read from the store in read transactions, in a worker thread.
- GET /api/stats/daily: deposits (count and exact sum per coin) and SKY sent per UTC day of
  the last `days` days, days without activity included as zeros (store/stats.py);
- GET /api/history: the hot wallet's balance and each pool's free addresses over time
  (store/history.py, sampled by audit/history.py);
- GET /api/deposits/page: deposits newest first, a page at a time (keyset: `after` is the
  `next` of the page before), filtered by status and coin;
- GET /api/deposits.csv: the same deposits as CSV, streamed a page at a time, amounts exact.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from teller.clock import unix_now
from teller.coins import COIN_TYPES
from teller.deposits.states import ALL_STATUSES
from teller.errors import BadRequest
from teller.money import format_droplets, format_units
from teller.services.parts import Services
from teller.services.views import COIN_DECIMALS, deposit_info
from teller.store import history as history_store
from teller.store.deposits import deposits_page
from teller.store.models import Deposit
from teller.store.stats import DAY, deposits_per_day, sent_per_day

COINS = COIN_TYPES  # the coin filter's values (http/ names them in its schema)
DEFAULT_DAYS = 30
MAX_DAYS = 90
HISTORY_DAYS = 30  # what the sampler keeps (audit/history.py)
DEFAULT_PAGE = 100
MAX_PAGE = 1000
CSV_PAGE = 1000  # rows per read transaction while streaming
MAX_CURSOR_DIGITS = 19
CSV_COLUMNS = (
    "seq",
    "deposit_id",
    "created_at",
    "updated_at",
    "status",
    "coin_type",
    "value",
    "sky_sent",
    "sky_address",
    "deposit_address",
    "buy_method",
    "conversion_rate",
    "payout_txid",
    "error",
)


def utc_day(day: int) -> str:
    return datetime.fromtimestamp(day * DAY, UTC).strftime("%Y-%m-%d")


def utc_time(at: int) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- per day ---------------------------------------------------------------------------------


async def daily(parts: Services, days: int, now: int | None = None) -> dict[str, Any]:
    """Deposits and SKY sent per UTC day, the `days` days up to today (today included)."""
    if not 1 <= days <= MAX_DAYS:
        raise BadRequest(f"days must be between 1 and {MAX_DAYS}")
    return await asyncio.to_thread(_daily, parts, days, unix_now() if now is None else now)


def _daily(parts: Services, days: int, now: int) -> dict[str, Any]:
    last = now // DAY
    first = last - days + 1
    with parts.db.read() as conn:
        recorded = deposits_per_day(conn, first, last)
        sent = {s.day: s for s in sent_per_day(conn, first, last)}
    seen = {r.coin_type for r in recorded}
    coins = [c for c in COIN_TYPES if c in parts.enabled_coins or c in seen]
    by_day = {(r.day, r.coin_type): r for r in recorded}
    answer = []
    for day in range(first, last + 1):
        deposits = {}
        for coin in coins:
            found = by_day.get((day, coin))
            value = found.value if found else 0
            deposits[coin] = {
                "count": found.count if found else 0,
                "value": format_units(value, COIN_DECIMALS[coin]),
            }
        paid = sent.get(day)
        answer.append(
            {
                "day": utc_day(day),
                "start": day * DAY,
                "deposits": deposits,
                "sky_sent": format_droplets(paid.droplets if paid else 0),
                "deposits_paid": paid.deposits if paid else 0,
            }
        )
    return {"coins": coins, "days": answer}


# -- history -------------------------------------------------------------------------------


async def history(parts: Services, now: int | None = None) -> dict[str, Any]:
    """The samples of the last HISTORY_DAYS days: the hot wallet's SKY, each pool's free
    addresses; oldest first."""
    return await asyncio.to_thread(_history, parts, unix_now() if now is None else now)


def _history(parts: Services, now: int) -> dict[str, Any]:
    with parts.db.read() as conn:
        found = history_store.samples_since(conn, now - HISTORY_DAYS * DAY)
    wallet: list[dict[str, Any]] = []
    pools: dict[str, list[dict[str, Any]]] = {}
    for sample in found:
        if sample.series == history_store.HOT_WALLET:
            wallet.append({"at": sample.at, "sky": format_droplets(sample.value)})
        elif sample.series.startswith(history_store.POOL_PREFIX):
            coin = sample.series.removeprefix(history_store.POOL_PREFIX)
            pools.setdefault(coin, []).append({"at": sample.at, "free": sample.value})
    return {"since": now - HISTORY_DAYS * DAY, "hot_wallet": wallet, "pools": pools}


# -- pages and CSV ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PageQuery:
    """GET /api/deposits/page and /api/deposits.csv: filters and where to start."""

    status: str | None = None
    coin: str | None = None
    after: str | None = None
    limit: int = DEFAULT_PAGE


@dataclass(frozen=True)
class _Checked:
    status: str | None
    coin: str | None
    before_seq: int | None
    limit: int


def _check(query: PageQuery) -> _Checked:
    """Every parameter checked, or BadRequest naming it."""
    status = query.status or None
    if status is not None and status not in ALL_STATUSES:
        raise BadRequest("Invalid status")
    coin = (query.coin or "").strip().upper() or None
    if coin is not None and coin not in COIN_TYPES:
        raise BadRequest(f"invalid coin: one of {', '.join(COIN_TYPES)}")
    if not 1 <= query.limit <= MAX_PAGE:
        raise BadRequest(f"limit must be between 1 and {MAX_PAGE}")
    after = (query.after or "").strip()
    before_seq = None
    if after:
        if not (after.isascii() and after.isdigit() and len(after) <= MAX_CURSOR_DIGITS):
            raise BadRequest("invalid after: the cursor is the `next` of the page before (digits)")
        before_seq = int(after)
    return _Checked(status, coin, before_seq, query.limit)


async def page(parts: Services, query: PageQuery) -> dict[str, Any]:
    """One page of deposits, newest first, and `next`: the cursor of the page after it
    (None: this is the last)."""
    checked = _check(query)
    return await asyncio.to_thread(_page, parts, checked)


def _page(parts: Services, q: _Checked) -> dict[str, Any]:
    with parts.db.read() as conn:
        found = deposits_page(
            conn, before=q.before_seq, limit=q.limit + 1, status=q.status, coin_type=q.coin
        )
    shown = found[: q.limit]
    more = len(found) > q.limit
    return {
        "deposits": [deposit_info(d) for d in shown],
        "next": str(shown[-1].seq) if more else None,
    }


def csv_rows(parts: Services, query: PageQuery) -> Iterator[str]:
    """The deposits matching `query`'s filters (from its `after` on; its limit is ignored) as
    CSV text, a header line first, read CSV_PAGE deposits per read transaction as the answer
    is sent. Call `check_csv` first: the parameters are checked before the answer starts."""
    checked = _check(PageQuery(query.status, query.coin, query.after, CSV_PAGE))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    yield _take(out)
    before = checked.before_seq
    while True:
        with parts.db.read() as conn:
            found = deposits_page(
                conn,
                before=before,
                limit=CSV_PAGE,
                status=checked.status,
                coin_type=checked.coin,
            )
        for deposit in found:
            writer.writerow(_csv_row(deposit))
        yield _take(out)
        if len(found) < CSV_PAGE:
            return
        before = found[-1].seq


def check_csv(query: PageQuery) -> None:
    """BadRequest for a parameter csv_rows would refuse (before the 200 is sent)."""
    _check(PageQuery(query.status, query.coin, query.after, CSV_PAGE))


def _take(out: io.StringIO) -> str:
    text = out.getvalue()
    out.seek(0)
    out.truncate()
    return text


# A cell starting with one of these is a formula to a spreadsheet opening the file: the free
# text of a row (an error, an operator's stop reason) is written with a leading ' then.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _spreadsheet_safe(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _csv_row(d: Deposit) -> list[str | int]:
    return [
        d.seq,
        d.deposit_id,
        utc_time(d.created_at),
        utc_time(d.updated_at),
        d.status,
        d.coin_type,
        format_units(d.value, COIN_DECIMALS.get(d.coin_type, 0)),
        format_droplets(d.sky_sent),
        d.sky_address,
        d.deposit_address,
        d.buy_method,
        d.conversion_rate,
        d.payout_txid or "",
        _spreadsheet_safe(d.error),  # the one free text: the others are ids and numbers
    ]
