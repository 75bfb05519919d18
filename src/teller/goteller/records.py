"""Reading a Go teller's BoltDB (develop format) into plain, checked records.

Place in the flow: the first half of `teller db import-bolt` (importer.py writes the
second): the whole file is read through boltfile.py (read-only) and every record checked
here, before the store is touched, so a damaged file imports nothing. Anything that does
not look like what the Go teller writes is a GoDatabaseError naming the bucket, the key and
the field. Shapes and buckets: the Go teller's reference, teller-go.md §4. Amounts stay exact
integers; the Go teller kept ETH in gwei, these records hold wei (x 10^9).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from teller.coins import COIN_TYPES, btc, eth, sky
from teller.deposits import states
from teller.errors import GoTellerError
from teller.goteller.boltfile import BoltError, BoltFile, Bucket

WEI_PER_GWEI = 10**9
_TXID_HEX = frozenset("0123456789abcdef")
# Buckets of the develop format this importer reads (others are reported, not read).
KNOWN_BUCKETS = frozenset(
    {
        "deposit_info",
        "sky_deposit_seqs_index",
        "btc_txs",
        "deposit_value",
        "exchange_meta",
        *(f"bind_address_{c.lower()}" for c in COIN_TYPES),
        *(f"used_{c.lower()}_address" for c in COIN_TYPES),
        *(f"scan_meta_{c.lower()}" for c in COIN_TYPES),
    }
)
# Buckets only a master-era (v1.0.0) Go teller wrote (teller-go.md §4.6).
MASTER_BUCKETS = frozenset({"bind_address", "scan_meta", "dv_index_list"})


class GoDatabaseError(GoTellerError):
    """The file is not a Go teller database this importer can read; nothing was imported."""


@dataclass(frozen=True, slots=True)
class GoBinding:
    coin_type: str
    deposit_address: str
    sky_address: str
    buy_method: str


@dataclass(frozen=True, slots=True)
class GoDeposit:
    """A DepositInfo of the Go teller, amounts in teller's base units (ETH in wei)."""

    seq: int
    updated_at: int
    status: str
    coin_type: str
    sky_address: str
    buy_method: str
    deposit_address: str
    deposit_id: str
    txid: str
    conversion_rate: str
    value: int
    sky_sent: int
    height: int
    tx: str
    n: int
    exchange_name: str
    sky_bought: int
    deposit_value_spent: int
    requested_amount: str
    order_customer_id: str
    order_id: str
    order_completed_amount: str
    order_price: str
    order_status: str
    order_final: bool
    order_original: str
    error: str


@dataclass(frozen=True, slots=True)
class GoScanRecord:
    """A record of the Go scanner's deposit_value bucket (value in base units)."""

    deposit_id: str
    coin_type: str
    address: str
    value: int
    height: int
    tx: str
    n: int
    processed: bool


@dataclass
class GoDatabase:
    source: str
    txid: int
    bindings: list[GoBinding]
    deposits: list[GoDeposit]
    used: dict[str, list[str]]
    scanner_records: list[GoScanRecord]
    watched: dict[str, list[str]]
    bucket_sizes: dict[str, int]
    ignored_buckets: list[str]

    @property
    def record_count(self) -> int:
        return (
            len(self.bindings)
            + len(self.deposits)
            + sum(len(v) for v in self.used.values())
            + len(self.scanner_records)
        )


# -- reading and checking the file ---------------------------------------------------------


def read_go_database(path: Path) -> GoDatabase:
    """Read every bucket of the Go teller's database at `path` (read-only) and check it."""
    try:
        with BoltFile(path) as bolt:
            return _read(bolt, str(path))
    except BoltError as exc:
        raise GoDatabaseError(str(exc)) from None


def _read(bolt: BoltFile, source: str) -> GoDatabase:
    buckets: dict[str, Bucket] = {}
    for key, value in bolt.root.items():
        name = key.decode("utf-8", errors="replace")
        if not isinstance(value, Bucket):
            raise GoDatabaseError(f"top-level key {name!r} is not a bucket")
        buckets[name] = value
    master = sorted(MASTER_BUCKETS & buckets.keys())
    if master:
        raise GoDatabaseError(
            "this is a database of the Go teller's old master/v1.0.0 format (it has"
            f" {', '.join(master)}); only the develop format can be imported"
        )
    if "deposit_info" not in buckets and not any(b.startswith("bind_address_") for b in buckets):
        raise GoDatabaseError(
            "this is a bolt database, but not a Go teller's: no deposit_info and no"
            " bind_address_* buckets"
        )
    raw: dict[str, list[tuple[str, bytes]]] = {}
    for name, bucket in buckets.items():
        entries = []
        for key, value in bucket.items():
            if isinstance(value, Bucket):
                raise GoDatabaseError(f"bucket {name} holds a nested bucket {key!r}")
            entries.append((_text(key, name), value))
        raw[name] = entries
    go = GoDatabase(
        source=source,
        txid=bolt.meta.txid,
        bindings=[],
        deposits=[],
        used={},
        scanner_records=[],
        watched={},
        bucket_sizes={name: len(entries) for name, entries in raw.items()},
        ignored_buckets=sorted(set(raw) - KNOWN_BUCKETS),
    )
    go.bindings = _bindings(raw)
    go.deposits = _deposits(raw.get("deposit_info", []))
    go.used = {
        coin: [_valid_address(coin, a, f"used_{coin.lower()}_address") for a, _ in listed]
        for coin in COIN_TYPES
        if (listed := raw.get(f"used_{coin.lower()}_address"))
    }
    go.scanner_records = [_scan_record(k, v) for k, v in raw.get("deposit_value", [])]
    for coin in COIN_TYPES:
        for meta_key, meta_value in raw.get(f"scan_meta_{coin.lower()}", []):
            if meta_key == "deposit_addresses":
                where = f"scan_meta_{coin.lower()}"
                watched = _json(meta_value, where, meta_key)
                if not isinstance(watched, list) or not all(isinstance(a, str) for a in watched):
                    raise GoDatabaseError(f"{where}[{meta_key}]: expected a list of addresses")
                go.watched[coin] = [_valid_address(coin, a, where) for a in watched]
    _check_consistency(go, raw)
    return go


def _text(key: bytes, bucket: str) -> str:
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError:
        raise GoDatabaseError(f"bucket {bucket}: key {key!r} is not UTF-8 text") from None


def _json(value: bytes, bucket: str, key: str) -> Any:
    try:
        return json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GoDatabaseError(f"{bucket}[{key}]: not valid JSON ({exc})") from None


class _Fields:
    """Typed access to one JSON object of the file, with errors naming where it is."""

    def __init__(self, obj: Any, where: str) -> None:
        if not isinstance(obj, dict):
            raise GoDatabaseError(f"{where}: expected a JSON object")
        self.obj = obj
        self.where = where

    def _get(self, name: str) -> Any:
        if name not in self.obj:
            raise GoDatabaseError(f"{self.where}: field {name!r} is missing")
        return self.obj[name]

    def text(self, name: str) -> str:
        value = self._get(name)
        if not isinstance(value, str):
            raise GoDatabaseError(f"{self.where}: field {name!r} must be a string, got {value!r}")
        return value

    def integer(self, name: str, *, minimum: int = 0, maximum: int = 2**64 - 1) -> int:
        value = self._get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise GoDatabaseError(f"{self.where}: field {name!r} must be an integer, got {value!r}")
        if not minimum <= value <= maximum:
            raise GoDatabaseError(f"{self.where}: field {name!r} is out of range: {value}")
        return value

    def flag(self, name: str) -> bool:
        value = self._get(name)
        if not isinstance(value, bool):
            raise GoDatabaseError(f"{self.where}: field {name!r} must be true or false")
        return value

    def obj_of(self, name: str) -> _Fields:
        return _Fields(self._get(name), f"{self.where}.{name}")


def _valid_address(coin: str, address: str, where: str) -> str:
    try:
        if coin == "BTC":
            return btc.validate_address(address)
        if coin == "ETH":
            return eth.validate_address(address)
        return sky.validate_address(address)
    except ValueError as exc:
        raise GoDatabaseError(f"{where}: invalid {coin} address {address!r}: {exc}") from None


def _valid_sky(address: str, where: str) -> str:
    return _valid_address("SKY", address, where)


def _coin(value: str, where: str) -> str:
    if value not in COIN_TYPES:
        raise GoDatabaseError(f"{where}: unknown coin type {value!r}")
    return value


def _buy_method(value: str, where: str) -> str:
    if value not in states.BUY_METHODS:
        raise GoDatabaseError(f"{where}: buy method {value!r} is not direct or passthrough")
    return value


def _to_base_units(coin: str, value: int) -> int:
    return value * WEI_PER_GWEI if coin == "ETH" else value


def _binding(obj: Any, where: str) -> GoBinding:
    f = _Fields(obj, where)
    coin = _coin(f.text("CoinType"), where)
    return GoBinding(
        coin_type=coin,
        deposit_address=_valid_address(coin, f.text("Address"), where),
        sky_address=_valid_sky(f.text("SkyAddress"), where),
        buy_method=_buy_method(f.text("BuyMethod"), where),
    )


def _bindings(raw: Mapping[str, list[tuple[str, bytes]]]) -> list[GoBinding]:
    """Every binding, in the order each SKY address got its addresses (sky_deposit_seqs_index),
    checked against the bind_address_<coin> buckets (the Go teller wrote both at once)."""
    by_address: dict[tuple[str, str], GoBinding] = {}
    for coin in COIN_TYPES:
        name = f"bind_address_{coin.lower()}"
        for key, value in raw.get(name, []):
            where = f"{name}[{key}]"
            bound = _binding(_json(value, name, key), where)
            if bound.coin_type != coin or bound.deposit_address != _valid_address(coin, key, where):
                raise GoDatabaseError(f"{where}: the record is for {bound.deposit_address}")
            by_address[(coin, bound.deposit_address)] = bound
    ordered: list[GoBinding] = []
    for key, value in raw.get("sky_deposit_seqs_index", []):
        where = f"sky_deposit_seqs_index[{key}]"
        listed = _json(value, "sky_deposit_seqs_index", key)
        if not isinstance(listed, list):
            raise GoDatabaseError(f"{where}: expected a list of bindings")
        for i, item in enumerate(listed):
            bound = _binding(item, f"{where}[{i}]")
            if bound.sky_address != _valid_sky(key, where):
                raise GoDatabaseError(f"{where}[{i}]: bound to {bound.sky_address}, not {key}")
            if by_address.get((bound.coin_type, bound.deposit_address)) != bound:
                raise GoDatabaseError(
                    f"{where}[{i}]: {bound.coin_type} {bound.deposit_address} does not match"
                    f" bind_address_{bound.coin_type.lower()} (inconsistent database)"
                )
            ordered.append(bound)
    if len(set(ordered)) != len(ordered) or set(ordered) != set(by_address.values()):
        missing = sorted(b.deposit_address for b in set(by_address.values()) - set(ordered))
        raise GoDatabaseError(
            "sky_deposit_seqs_index and bind_address_* list different bindings"
            f" (inconsistent database){': not indexed ' + ', '.join(missing) if missing else ''}"
        )
    return ordered


def _deposits(entries: list[tuple[str, bytes]]) -> list[GoDeposit]:
    found = [_deposit(key, _json(value, "deposit_info", key)) for key, value in entries]
    seqs = Counter(d.seq for d in found)
    repeated = sorted(s for s, n in seqs.items() if n > 1)
    if repeated:
        raise GoDatabaseError(f"deposit_info: seq {repeated[0]} is used by two deposits")
    return sorted(found, key=lambda d: d.seq)


def _deposit(key: str, obj: Any) -> GoDeposit:
    where = f"deposit_info[{key}]"
    f = _Fields(obj, where)
    coin = _coin(f.text("coin_type"), where)
    status = f.text("status")
    if not states.is_stored_status(status):
        raise GoDatabaseError(f"{where}: status {status!r} is not a stored deposit status")
    if f.text("deposit_id") != key:
        raise GoDatabaseError(f"{where}: the record's deposit_id is {f.text('deposit_id')!r}")
    scan = _scan_record(key, f.obj.get("deposit"), where)
    deposit_address = _valid_address(coin, f.text("deposit_address"), where)
    value = _to_base_units(coin, f.integer("deposit_value", maximum=2**63 - 1))
    if (scan.coin_type, scan.address, scan.value) != (coin, deposit_address, value):
        raise GoDatabaseError(f"{where}: its scanner deposit does not match it")
    passthrough = f.obj_of("passthrough")
    order = passthrough.obj_of("order")
    txid = f.text("txid")
    if txid and (len(txid) != 64 or not set(txid) <= _TXID_HEX):
        raise GoDatabaseError(f"{where}: txid {txid!r} is not a Skycoin transaction id")
    sky_sent = f.integer("sky_sent", maximum=2**63 - 1)
    if status == states.WAITING_CONFIRM and (not txid or sky_sent == 0):
        raise GoDatabaseError(f"{where}: waiting_confirm without a txid and sky_sent")
    return GoDeposit(
        seq=f.integer("seq", minimum=1, maximum=2**31 - 1),
        updated_at=f.integer("updated_at", minimum=-(2**63), maximum=2**63 - 1),
        status=status,
        coin_type=coin,
        sky_address=_valid_sky(f.text("sky_address"), where),
        buy_method=_buy_method(f.text("buy_method"), where),
        deposit_address=deposit_address,
        deposit_id=key,
        txid=txid,
        conversion_rate=f.text("conversion_rate"),
        value=value,
        sky_sent=sky_sent,
        height=scan.height,
        tx=scan.tx,
        n=scan.n,
        exchange_name=passthrough.text("exchange_name"),
        sky_bought=passthrough.integer("sky_bought", maximum=2**63 - 1),
        deposit_value_spent=passthrough.integer("deposit_value_spent", maximum=2**63 - 1),
        requested_amount=passthrough.text("requested_amount"),
        order_customer_id=order.text("customer_id"),
        order_id=order.text("order_id"),
        order_completed_amount=order.text("completed_amount"),
        order_price=order.text("price"),
        order_status=order.text("status"),
        order_final=order.flag("final"),
        order_original=order.text("original"),
        error=f.text("error"),
    )


def _scan_record(key: str, value: Any, where: str | None = None) -> GoScanRecord:
    where = where + ".deposit" if where else f"deposit_value[{key}]"
    obj = _json(value, "deposit_value", key) if isinstance(value, bytes) else value
    f = _Fields(obj, where)
    coin = _coin(f.text("coin_type"), where)
    tx = f.text("tx")
    n = f.integer("n", maximum=2**32 - 1)
    if not tx or f"{tx}:{n}" != key:
        raise GoDatabaseError(f"{where}: its id {tx}:{n} is not {key}")
    return GoScanRecord(
        deposit_id=key,
        coin_type=coin,
        address=_valid_address(coin, f.text("address"), where),
        value=_to_base_units(coin, f.integer("value", maximum=2**63 - 1)),
        height=f.integer("height", maximum=2**63 - 1),
        tx=tx,
        n=n,
        processed=f.flag("processed"),
    )


def _check_consistency(go: GoDatabase, raw: Mapping[str, list[tuple[str, bytes]]]) -> None:
    bound = {(b.coin_type, b.deposit_address): b for b in go.bindings}
    for d in go.deposits:
        binding = bound.get((d.coin_type, d.deposit_address))
        if binding is None or binding.sky_address != d.sky_address:
            raise GoDatabaseError(
                f"deposit_info[{d.deposit_id}]: {d.coin_type} {d.deposit_address} is not bound"
                f" to {d.sky_address} (inconsistent database)"
            )
    known = {d.deposit_id: d for d in go.deposits}
    for record in go.scanner_records:
        deposit = known.get(record.deposit_id)
        if deposit is not None and (deposit.value, deposit.deposit_address) != (
            record.value,
            record.address,
        ):
            raise GoDatabaseError(
                f"deposit_value[{record.deposit_id}] and deposit_info disagree on the deposit"
            )
        if deposit is None and record.processed:
            raise GoDatabaseError(
                f"deposit_value[{record.deposit_id}] is marked processed but deposit_info has"
                " no such deposit (inconsistent database)"
            )
        if deposit is None and (record.coin_type, record.address) not in bound:
            raise GoDatabaseError(
                f"deposit_value[{record.deposit_id}] pays {record.address}, which is not bound"
            )
    for key, value in raw.get("btc_txs", []):
        ids = _json(value, "btc_txs", key)
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise GoDatabaseError(f"btc_txs[{key}]: expected a list of deposit ids")
        for deposit_id in ids:
            if deposit_id not in known:
                raise GoDatabaseError(
                    f"btc_txs[{key}] lists {deposit_id}, which deposit_info does not have"
                )
