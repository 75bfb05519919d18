"""Skycoin transactions: binary encoding, hashes, signatures, coin hours and a signing builder.

Place in the flow: the SKY payer (payers/) turns the sender's batch of deposits into a call
of `build_transaction` with the hot wallet's unspent outputs (read from the node); the signed
bytes it returns are stored by the sender before they are ever broadcast (DESIGN.md §4). The
node simulator (sims/, teller_sims/skynode.py) uses the same functions to decode and verify
what it is sent.
Pure: no I/O. Facts from reference skycoin.md §3–§4; everything is bit-compatible with
skycoin `coin.Transaction` (v0.22 to v0.27, the encoding never changed).

Binary layout (all integers little-endian, every list has a u32 count, at most 65535 items):

    Length u32 (the whole size) | Type u8 (0) | InnerHash 32 | Sigs: n × 65 | In: n × 32 |
    Out: m × (address 21 = version, key20 | coins u64 | hours u64)

    inner hash  SHA256(In list || Out list)      (what each input's signature covers)
    txid        SHA256(whole encoding)            (changes with the signatures)
    uxid        SHA256(txid || address21 || coins || hours)    (an output's id)
    sig i       recoverable ECDSA over SHA256(inner hash || In[i]), r || s || recid

Money is integers only: droplets (1 SKY = 1,000,000) and coin hours.

Exceptions:

    ValueError
    ├── TransactionDecodeError    bytes that are not a transaction (truncated, trailing, counts)
    ├── TransactionInvalid        a decoded transaction breaks a node rule; str() is the
    │                             node's own message (without its "violates ... constraint"
    │                             prefix, which `constraint` says)
    └── TransactionBuildError     the builder cannot pay what it was asked
        ├── InsufficientCoins     the unspent outputs do not hold enough droplets
        ├── InsufficientHours     no coin hours to pay the (non-zero) fee
        └── TransactionTooLarge   the inputs and outputs do not fit in max_size bytes
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from coincurve import PrivateKey, PublicKey
from coincurve.ecdsa import cdata_to_der, deserialize_recoverable, recoverable_convert

from teller.coins.base58check import Base58Error, decode_base58
from teller.coins.sky import (
    ADDRESS_LENGTH,
    ADDRESS_VERSION,
    DROPLETS_PER_SKY,
    AddressError,
    address_from_key_hash,
    address_from_pubkey,
    decode_address,
    pubkey_from_seckey,
)
from teller.errors import InvalidValue

# --- constants (skycoin.md §4) ---------------------------------------------------------------

DROPLET_PRECISION = 1_000  # every output is a multiple of 0.001 SKY (MaxDropletPrecision=3)
MAX_LIST_LENGTH = 65_535  # `enc:",maxlen=65535"` on Sigs, In and Out
MAX_TRANSACTION_SIZE = 32_768  # the node's default user constraint (MaxTransactionSize)
HEADER_SIZE = 4 + 1 + 32  # Length, Type, InnerHash
SIGNATURE_SIZE = 65
HASH_SIZE = 32
ADDRESS_WIRE_SIZE = 21  # version, key20
OUTPUT_SIZE = ADDRESS_WIRE_SIZE + 8 + 8
BURN_FACTOR_V025 = 2  # 50% of input hours burned, nodes up to v0.25.x
BURN_FACTOR_V026 = 10  # 10% from v0.26.0 (also v0.27)
_U64_MAX = 2**64 - 1
_SECP256K1_HALF_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141 // 2

# Node messages (skycoin coin/transactions.go, visor verify), reused by the simulator.
NO_INPUTS = "No inputs"
NO_OUTPUTS = "No outputs"
BAD_SIGNATURE_COUNT = "Invalid number of signatures"
DUPLICATE_SPEND = "Duplicate spend"
BAD_TYPE = "transaction type invalid"
BAD_LENGTH = "transaction size prefix invalid"
DUPLICATE_OUTPUT = "Duplicate output in transaction"
ZERO_COIN_OUTPUT = "Zero coin output"
OUTPUT_COINS_OVERFLOW = "Output coins overflow"
BAD_INNER_HASH = "InnerHash does not match computed hash"
BAD_SIGNATURE = "Signature not valid for output being spent"
INSUFFICIENT_COINS = "Insufficient coins"
DESTROYS_COINS = "Transactions may not destroy coins"
INSUFFICIENT_HOURS = "Insufficient coinhours for transaction outputs"
ZERO_FEE = "Transaction has zero coinhour fee"
FEE_NOT_MET = "Transaction coinhour fee minimum not met"
TOO_MANY_DECIMALS = "invalid amount, too many decimal places"
TOO_LARGE = "Transaction size bigger than max block size"
NULL_ADDRESS_OUTPUT = "Transaction output is sent to the null address"

HARD = "hard"
SOFT = "soft"
USER = "user"


class TransactionDecodeError(InvalidValue):
    """Bytes (or hex) that do not decode to exactly one transaction."""


class TransactionInvalid(InvalidValue):
    """A transaction breaks a node rule. `constraint` is "hard", "soft" or "user"."""

    def __init__(self, message: str, constraint: str = HARD) -> None:
        super().__init__(message)
        self.message = message
        self.constraint = constraint

    @property
    def node_message(self) -> str:
        """The text a node answers with: "Transaction violates hard constraint: ..."."""
        return f"Transaction violates {self.constraint} constraint: {self.message}"


class TransactionBuildError(InvalidValue):
    """The builder cannot make a transaction for this request."""


class InsufficientCoins(TransactionBuildError):
    def __init__(self, needed: int, available: int) -> None:
        super().__init__(f"not enough coins: {needed} droplets needed, {available} spendable")
        self.needed = needed
        self.available = available


class InsufficientHours(TransactionBuildError):
    def __init__(self, message: str) -> None:
        super().__init__(message)


class TransactionTooLarge(TransactionBuildError):
    def __init__(self, size: int, max_size: int) -> None:
        super().__init__(f"transaction would be {size} bytes, more than the limit of {max_size}")
        self.size = size
        self.max_size = max_size


# --- hashes -------------------------------------------------------------------------------------


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


# --- addresses on the wire ------------------------------------------------------------------------


@lru_cache(maxsize=65536)
def address_to_wire(address: str) -> bytes:
    """The 21 wire bytes (version, key20) of an address string.

    Unlike `sky.decode_address` this accepts the null address, which can appear in decoded
    transactions (the node rejects it only as a user constraint). Raises AddressError.
    Cached: a batch pays the same addresses again and again (errors are not cached).
    """
    try:
        raw = decode_base58(address)
    except Base58Error as exc:
        raise AddressError(str(exc)) from None
    if len(raw) != ADDRESS_LENGTH:
        raise AddressError("Invalid address length")
    if sha256(raw[:21])[:4] != raw[21:]:
        raise AddressError("Invalid checksum")
    if raw[20] != ADDRESS_VERSION:
        raise AddressError("Address version invalid")
    return bytes([ADDRESS_VERSION]) + raw[:20]


def address_from_wire(wire: bytes) -> str:
    """The address string of 21 wire bytes; raises ValueError for a version other than 0."""
    if len(wire) != ADDRESS_WIRE_SIZE:
        raise InvalidValue(f"wire address must be {ADDRESS_WIRE_SIZE} bytes")
    if wire[0] != ADDRESS_VERSION:
        raise InvalidValue(f"address version {wire[0]} is not 0")
    return address_from_key_hash(wire[1:])


# --- the transaction --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TxOutput:
    """An output: `droplets` and `hours` to `address`."""

    address: str
    droplets: int
    hours: int

    def wire(self) -> bytes:
        return address_to_wire(self.address) + struct.pack("<QQ", self.droplets, self.hours)


@dataclass(frozen=True, slots=True)
class Transaction:
    """A decoded or built coin.Transaction. Hashes are bytes; `txid` is hex as the node shows.

    `length` and `inner_hash` are kept as encoded, so a decoded transaction re-encodes to the
    same bytes even when they are wrong (the genesis transaction has both zero);
    `check_transaction` says whether they are right.
    """

    length: int
    type: int
    inner_hash: bytes
    sigs: tuple[bytes, ...]
    inputs: tuple[bytes, ...]  # uxids of the outputs spent, 32 bytes each
    outputs: tuple[TxOutput, ...]

    @classmethod
    def unsigned(cls, inputs: Sequence[bytes], outputs: Sequence[TxOutput]) -> Transaction:
        """Inputs and outputs with a correct length and inner hash and zeroed signatures."""
        ins, outs = tuple(inputs), tuple(outputs)
        return cls(
            length=transaction_size(len(ins), len(outs)),
            type=0,
            inner_hash=compute_inner_hash(ins, outs),
            sigs=tuple(bytes(SIGNATURE_SIZE) for _ in ins),
            inputs=ins,
            outputs=outs,
        )

    def encode(self) -> bytes:
        return encode_transaction(self)

    @property
    def raw_hex(self) -> str:
        return encode_transaction(self).hex()

    @property
    def txid_bytes(self) -> bytes:
        return sha256(encode_transaction(self))

    @property
    def txid(self) -> str:
        return self.txid_bytes.hex()

    def output_uxids(self) -> tuple[str, ...]:
        """The uxids (hex) the outputs will have once confirmed: known before broadcast."""
        src = self.txid_bytes
        return tuple(uxid(src, o.address, o.droplets, o.hours).hex() for o in self.outputs)

    def output_hours(self) -> int:
        return sum(o.hours for o in self.outputs)

    def output_droplets(self) -> int:
        return sum(o.droplets for o in self.outputs)


def transaction_size(n_inputs: int, n_outputs: int) -> int:
    """Encoded size in bytes: 49 + 97 per input + 37 per output (1 in / 1 out = 183)."""
    return HEADER_SIZE + 12 + (SIGNATURE_SIZE + HASH_SIZE) * n_inputs + OUTPUT_SIZE * n_outputs


def _encode_lists(inputs: Sequence[bytes], outputs: Sequence[TxOutput]) -> bytes:
    parts = [struct.pack("<I", len(inputs)), *inputs, struct.pack("<I", len(outputs))]
    parts.extend(o.wire() for o in outputs)
    return b"".join(parts)


def compute_inner_hash(inputs: Sequence[bytes], outputs: Sequence[TxOutput]) -> bytes:
    """SHA256 of the In and Out lists alone (no header, no signatures)."""
    return sha256(_encode_lists(inputs, outputs))


def encode_transaction(tx: Transaction) -> bytes:
    """The exact binary encoding. Raises ValueError for a field that cannot be encoded."""
    if len(tx.inner_hash) != HASH_SIZE:
        raise InvalidValue("inner hash must be 32 bytes")
    if any(len(s) != SIGNATURE_SIZE for s in tx.sigs):
        raise InvalidValue("signatures must be 65 bytes")
    if any(len(i) != HASH_SIZE for i in tx.inputs):
        raise InvalidValue("inputs must be 32-byte uxids")
    for name, items in (("sigs", tx.sigs), ("inputs", tx.inputs), ("outputs", tx.outputs)):
        if len(items) > MAX_LIST_LENGTH:
            raise InvalidValue(f"too many {name}: {len(items)} > {MAX_LIST_LENGTH}")
    for o in tx.outputs:
        if not (0 <= o.droplets <= _U64_MAX and 0 <= o.hours <= _U64_MAX):
            raise InvalidValue("output coins and hours must fit in 64 bits")
    return b"".join(
        (
            struct.pack("<IB", tx.length, tx.type),
            tx.inner_hash,
            struct.pack("<I", len(tx.sigs)),
            *tx.sigs,
            _encode_lists(tx.inputs, tx.outputs),
        )
    )


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            raise TransactionDecodeError(
                f"truncated transaction: {what} needs {n} bytes at offset {self.pos}, "
                f"only {len(self.data) - self.pos} left"
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def count(self, what: str, item_size: int) -> int:
        n = int.from_bytes(self.take(4, f"{what} count"), "little")
        if n > MAX_LIST_LENGTH:
            raise TransactionDecodeError(
                f"bad {what} count {n}: more than the maximum of {MAX_LIST_LENGTH}"
            )
        if n * item_size > len(self.data) - self.pos:
            raise TransactionDecodeError(
                f"truncated transaction: {n} {what} need {n * item_size} bytes at offset "
                f"{self.pos}, only {len(self.data) - self.pos} left"
            )
        return n


def decode_transaction(raw: bytes) -> Transaction:
    """Decode the binary encoding, consuming every byte; raises TransactionDecodeError.

    Only the layout is checked here (truncation, trailing bytes, list counts, address
    version); the node's rules (length prefix, inner hash, signatures...) are
    `check_transaction`'s job, so that the genesis transaction (length 0) still decodes.
    """
    reader = _Reader(bytes(raw))
    length, type_ = struct.unpack("<IB", reader.take(5, "header"))
    inner_hash = reader.take(HASH_SIZE, "inner hash")
    n = reader.count("signatures", SIGNATURE_SIZE)
    sigs = tuple(reader.take(SIGNATURE_SIZE, "signature") for _ in range(n))
    n = reader.count("inputs", HASH_SIZE)
    inputs = tuple(reader.take(HASH_SIZE, "input") for _ in range(n))
    n = reader.count("outputs", OUTPUT_SIZE)
    outputs = []
    for index in range(n):
        wire = reader.take(ADDRESS_WIRE_SIZE, "output address")
        droplets, hours = struct.unpack("<QQ", reader.take(16, "output coins and hours"))
        try:
            address = address_from_wire(wire)
        except ValueError as exc:
            raise TransactionDecodeError(f"output {index}: {exc}") from None
        outputs.append(TxOutput(address, droplets, hours))
    if reader.pos != len(reader.data):
        raise TransactionDecodeError(
            f"trailing bytes: {len(reader.data) - reader.pos} bytes remain after the "
            f"transaction ({reader.pos} bytes)"
        )
    return Transaction(length, type_, inner_hash, sigs, inputs, tuple(outputs))


def decode_transaction_hex(text: str) -> Transaction:
    """`decode_transaction` of a hex string; bad hex is a TransactionDecodeError too."""
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise TransactionDecodeError("transaction is not a hex string") from None
    return decode_transaction(raw)


def uxid(src_txid: bytes, address: str, droplets: int, hours: int) -> bytes:
    """An output's id: SHA256(UxBody) = SHA256(src txid || address21 || coins || hours).

    `src_txid` is the txid (full hash) of the creating transaction; 32 zero bytes for genesis.
    """
    if len(src_txid) != HASH_SIZE:
        raise InvalidValue("source txid must be 32 bytes")
    return sha256(src_txid + TxOutput(address, droplets, hours).wire())


# --- signatures -------------------------------------------------------------------------------


def input_digest(inner_hash: bytes, input_uxid: bytes) -> bytes:
    """What input i's signature covers: SHA256(inner hash || uxid) (cipher.AddSHA256)."""
    return sha256(inner_hash + input_uxid)


def sign_digest(seckey: bytes, digest: bytes) -> bytes:
    """A 65-byte recoverable signature r || s || recid over a 32-byte digest (no rehash).

    libsecp256k1 signs with an RFC6979 nonce and low S, which skycoin nodes accept.
    """
    if len(digest) != HASH_SIZE or digest == bytes(HASH_SIZE):
        raise InvalidValue("digest must be 32 bytes and not all zero")
    return bytes(PrivateKey(seckey).sign_recoverable(digest, hasher=None))


def recover_pubkey(signature: bytes, digest: bytes) -> bytes:
    """The compressed public key that made `signature` over `digest`; ValueError if none."""
    if len(signature) != SIGNATURE_SIZE or len(digest) != HASH_SIZE:
        raise InvalidValue("signature must be 65 bytes and digest 32 bytes")
    if signature[64] > 3:
        raise InvalidValue("signature recovery id must be 0..3")
    try:
        key = PublicKey.from_signature_and_message(signature, digest, hasher=None)
    except Exception as exc:  # coincurve raises plain Exception for an unrecoverable sig
        raise InvalidValue(f"signature does not recover a public key: {exc}") from None
    return bytes(key.format(compressed=True))


def verify_signature(address: str, signature: bytes, digest: bytes) -> bool:
    """True if `signature` over `digest` was made by the key of `address`, as a node checks.

    The recovered key must hash to the address, S must be low (top bit of byte 32 clear)
    and the recovery id < 4, and the plain ECDSA check must pass.
    """
    try:
        pubkey = recover_pubkey(signature, digest)
    except ValueError:
        return False
    if signature[32] >> 7 != 0 or int.from_bytes(signature[32:64], "big") > _SECP256K1_HALF_ORDER:
        return False
    if address_from_pubkey(pubkey) != address:
        return False
    der = cdata_to_der(recoverable_convert(deserialize_recoverable(signature)))
    return bool(PublicKey(pubkey).verify(der, digest, hasher=None))


def sign_transaction(
    inputs: Sequence[bytes], outputs: Sequence[TxOutput], seckeys: Sequence[bytes]
) -> Transaction:
    """A signed transaction: one secret key per input, in input order."""
    if len(seckeys) != len(inputs):
        raise InvalidValue(f"{len(inputs)} inputs need {len(inputs)} keys, got {len(seckeys)}")
    unsigned = Transaction.unsigned(inputs, outputs)
    sigs = tuple(
        sign_digest(key, input_digest(unsigned.inner_hash, ux))
        for key, ux in zip(seckeys, unsigned.inputs, strict=True)
    )
    return Transaction(
        unsigned.length,
        unsigned.type,
        unsigned.inner_hash,
        sigs,
        unsigned.inputs,
        unsigned.outputs,
    )


def verify_signatures(tx: Transaction, owners: Sequence[str]) -> None:
    """Check input i's signature against `owners[i]` (its output's address).

    Raises TransactionInvalid(BAD_SIGNATURE) naming nothing secret.
    """
    if len(owners) != len(tx.inputs) or len(tx.sigs) != len(tx.inputs):
        raise TransactionInvalid(BAD_SIGNATURE_COUNT)
    for sig, ux, owner in zip(tx.sigs, tx.inputs, owners, strict=True):
        if not verify_signature(owner, sig, input_digest(tx.inner_hash, ux)):
            raise TransactionInvalid(BAD_SIGNATURE)


# --- node rules --------------------------------------------------------------------------------


def check_transaction(tx: Transaction) -> None:
    """The node's context-free checks (coin.Transaction.Verify, minus signatures).

    Raises TransactionInvalid with the node's message, in the node's order.
    """
    if not tx.inputs:
        raise TransactionInvalid(NO_INPUTS)
    if not tx.outputs:
        raise TransactionInvalid(NO_OUTPUTS)
    if len(tx.sigs) != len(tx.inputs):
        raise TransactionInvalid(BAD_SIGNATURE_COUNT)
    if len(set(tx.inputs)) != len(tx.inputs):
        raise TransactionInvalid(DUPLICATE_SPEND)
    if tx.type != 0:
        raise TransactionInvalid(BAD_TYPE)
    if tx.length != transaction_size(len(tx.inputs), len(tx.outputs)):
        raise TransactionInvalid(BAD_LENGTH)
    if len(set(tx.outputs)) != len(tx.outputs):  # same address, coins, hours = same uxid
        raise TransactionInvalid(DUPLICATE_OUTPUT)
    if any(o.droplets == 0 for o in tx.outputs):
        raise TransactionInvalid(ZERO_COIN_OUTPUT)
    if tx.output_droplets() > _U64_MAX:
        raise TransactionInvalid(OUTPUT_COINS_OVERFLOW)
    if compute_inner_hash(tx.inputs, tx.outputs) != tx.inner_hash:
        raise TransactionInvalid(BAD_INNER_HASH)


def check_user_rules(tx: Transaction, max_size: int = MAX_TRANSACTION_SIZE) -> None:
    """Size, droplet precision and null-address rules a node applies to injected txs."""
    if tx.length > max_size:
        raise TransactionInvalid(TOO_LARGE, SOFT)
    if any(o.droplets % DROPLET_PRECISION for o in tx.outputs):
        raise TransactionInvalid(TOO_MANY_DECIMALS, SOFT)
    if any(o.address == address_from_key_hash(bytes(20)) for o in tx.outputs):
        raise TransactionInvalid(NULL_ADDRESS_OUTPUT, USER)


def check_spending(
    tx: Transaction, input_droplets: int, input_hours: int, burn_factor: int
) -> None:
    """Coins conserved exactly, hours not created, and the fee rule (skycoin.md §4).

    `input_hours` are the inputs' coin hours at the head block's time.
    """
    out_coins = tx.output_droplets()
    if input_droplets < out_coins:
        raise TransactionInvalid(INSUFFICIENT_COINS)
    if input_droplets > out_coins:
        raise TransactionInvalid(DESTROYS_COINS)
    check_fee(input_hours, tx.output_hours(), burn_factor)


# --- coin hours and fees ------------------------------------------------------------------------


def coin_hours(droplets: int, hours: int, created: int, now: int) -> int:
    """An output's coin hours at time `now` (the head block's timestamp, not the clock).

    Hours grow by one per whole SKY per hour: hours + (secs·coins_in_sky) // 3600, computed
    like skycoin without floats: whole-SKY and droplet parts added, each rounded down.
    """
    if now < created:
        return hours
    secs = now - created
    whole, frac = divmod(droplets, DROPLETS_PER_SKY)
    coin_seconds = secs * whole + (secs * frac) // DROPLETS_PER_SKY
    return hours + coin_seconds // 3600


def required_fee(input_hours: int, burn_factor: int) -> int:
    """The least fee a node accepts: ceil(input_hours / burn_factor), rounded UP."""
    if burn_factor <= 0:
        raise InvalidValue("burn factor must be positive")
    return -(-input_hours // burn_factor)


def check_fee(input_hours: int, output_hours: int, burn_factor: int) -> None:
    """fee = input hours − output hours must be non-zero and ≥ ceil(input hours / factor)."""
    if input_hours < output_hours:
        raise TransactionInvalid(INSUFFICIENT_HOURS, SOFT)
    fee = input_hours - output_hours
    if fee == 0:
        raise TransactionInvalid(ZERO_FEE, SOFT)
    if fee < required_fee(input_hours, burn_factor):
        raise TransactionInvalid(FEE_NOT_MET, SOFT)


def share_hours(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` hours among outputs in proportion to `weights` (their droplets).

    Each gets floor(total·w/W); the hours left by rounding down go one each to the
    outputs with no hours yet, then round-robin from the first, as skycoin's
    DistributeCoinHoursProportional does. The parts always add up to `total` exactly.
    """
    if total < 0 or any(w <= 0 for w in weights):
        raise InvalidValue("hours must not be negative and weights must be positive")
    if not weights:
        return []
    weight_sum = sum(weights)
    parts = [total * w // weight_sum for w in weights]
    left = total - sum(parts)
    for index, part in enumerate(parts):
        if left == 0:
            break
        if part == 0:
            parts[index] = 1
            left -= 1
    index = 0
    while left:
        parts[index % len(parts)] += 1
        left -= 1
        index += 1
    return parts


# --- the builder ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unspent:
    """A spendable output of the wallet, as the node lists it (head minus outgoing).

    `hours` are the output's coin hours at the head block's time (`calculated_hours`).
    """

    uxid: str  # hex
    address: str
    droplets: int
    hours: int


@dataclass(frozen=True, slots=True)
class BuiltTransaction:
    """A signed transaction ready to store and inject.

    Output i pays payment i, in the order given; the change output, if any, is last.
    """

    transaction: Transaction
    raw: bytes
    txid: str
    spent: tuple[Unspent, ...]
    fee: int  # coin hours burned
    change_index: int | None

    @property
    def raw_hex(self) -> str:
        return self.raw.hex()

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(u.uxid for u in self.spent)

    @property
    def change(self) -> Unspent | None:
        """The change output as an Unspent of the wallet (uxid known before confirmation)."""
        if self.change_index is None:
            return None
        out = self.transaction.outputs[self.change_index]
        ux = self.transaction.output_uxids()[self.change_index]
        return Unspent(ux, out.address, out.droplets, out.hours)


def max_payments(n_inputs: int, max_size: int = MAX_TRANSACTION_SIZE) -> int:
    """How many payment outputs fit with `n_inputs` inputs and one change output."""
    room = max_size - transaction_size(n_inputs, 1)
    return max(0, room // OUTPUT_SIZE)


def _choose_inputs(unspents: Sequence[Unspent], needed: int) -> list[Unspent]:
    """Few inputs, skycoin's ChooseSpendsMinimizeUxOuts in spirit.

    First the largest output that has hours (so the fee can be non-zero), then the others
    largest first until `needed` droplets are covered. Ties are broken by hours then uxid so
    the choice is deterministic.
    """
    # One entry per output id: a node listing an output twice must not get it spent twice.
    unique = {u.uxid: u for u in unspents}.values()
    ordered = sorted(unique, key=lambda u: (-u.droplets, -u.hours, u.uxid))
    with_hours = [u for u in ordered if u.hours > 0]
    if not with_hours:
        return []
    chosen = [with_hours[0]]
    total = with_hours[0].droplets
    for u in ordered:
        if total >= needed:
            break
        if u is not chosen[0]:
            chosen.append(u)
            total += u.droplets
    return chosen


def _distinct_hours(outputs: list[TxOutput], spare: int) -> tuple[list[TxOutput], int]:
    """Make every output differ in (address, coins, hours): a node rejects duplicates.

    Two deposits of the same amount to the same address would otherwise give two equal
    outputs. A duplicate first moves down one hour at a time (the hour is burned: a larger
    fee is always allowed); at zero it moves up, taking the hour from `spare` (the change's
    share). Returns the outputs and what is left of `spare`.
    """
    seen: set[tuple[str, int, int]] = set()
    result = []
    for out in outputs:
        hours = out.hours
        while (out.address, out.droplets, hours) in seen and hours > 0:
            hours -= 1
        if (out.address, out.droplets, hours) in seen:
            hours = out.hours
            while (out.address, out.droplets, hours) in seen:
                if spare == 0:
                    raise InsufficientHours(
                        "not enough coin hours to make equal payments to "
                        f"{out.address} distinct outputs"
                    )
                hours += 1
                spare -= 1
        seen.add((out.address, out.droplets, hours))
        result.append(TxOutput(out.address, out.droplets, hours))
    return result, spare


def build_transaction(
    unspents: Iterable[Unspent],
    payments: Sequence[tuple[str, int]],
    change_address: str,
    seckeys: Mapping[str, bytes],
    *,
    burn_factor: int,
    max_size: int = MAX_TRANSACTION_SIZE,
    share_factor: tuple[int, int] = (1, 2),
) -> BuiltTransaction:
    """Choose inputs from `unspents`, pay each (address, droplets) its own output, and sign.

    - `unspents` must already exclude outputs spent by unconfirmed transactions, and must
      belong to addresses in `seckeys` (address → 32-byte secret key); outputs that are not
      a multiple of 0.001 SKY are never chosen (their change could not be paid).
    - Payments: valid non-null addresses and positive multiples of 1000 droplets (ValueError
      otherwise; the sender rounds amounts down to 3 decimals before this).
    - Fee: exactly ceil(input hours / burn_factor), rounded up, never zero (a wallet with no
      hours cannot pay: InsufficientHours). Of the rest, `share_factor` (a fraction, default
      1/2) goes to the payments, split in proportion to their coins, and the remainder to
      the change; with no change output everything goes to the payments. Equal payments to
      one address are made distinct (see `_distinct_hours`), which may burn a few hours more.
    - Change (input coins − payments) goes to `change_address` as the last output.
    - Raises InsufficientCoins, InsufficientHours or TransactionTooLarge; nothing is signed then.
    """
    if not payments:
        raise InvalidValue("no payments")
    share_num, share_den = share_factor
    if not 0 <= share_num <= share_den or share_den <= 0:
        raise InvalidValue("share factor must be a fraction from 0 to 1")
    for address, droplets in payments:
        decode_address(address)  # AddressError (a ValueError) for a bad or null address
        if droplets <= 0 or droplets % DROPLET_PRECISION:
            raise InvalidValue(
                f"payment of {droplets} droplets to {address} is not a positive multiple "
                f"of {DROPLET_PRECISION} droplets (0.001 SKY)"
            )
    decode_address(change_address)
    needed = sum(droplets for _, droplets in payments)

    spendable = [u for u in unspents if u.droplets > 0 and u.droplets % DROPLET_PRECISION == 0]
    for u in spendable:
        if u.address not in seckeys:
            raise InvalidValue(f"no secret key for {u.address}, owner of output {u.uxid}")
    available = sum(u.droplets for u in spendable)
    if available < needed:
        raise InsufficientCoins(needed, available)
    chosen = _choose_inputs(spendable, needed)
    if not chosen:
        raise InsufficientHours("the wallet's outputs have no coin hours to pay the fee")

    in_droplets = sum(u.droplets for u in chosen)
    in_hours = sum(u.hours for u in chosen)
    change = in_droplets - needed  # coins are conserved exactly: every droplet in goes out
    n_outputs = len(payments) + (1 if change else 0)
    size = transaction_size(len(chosen), n_outputs)
    if size > max_size:
        raise TransactionTooLarge(size, max_size)

    # Hours: the fee is burned; what is left is shared out (skycoin.md §4, "how hours are
    # shared"). A node accepts any split as long as fee >= ceil(in / burn factor).
    fee = required_fee(in_hours, burn_factor)
    left = in_hours - fee
    to_payments = left if not change else left * share_num // share_den  # rounded down
    shares = share_hours(to_payments, [droplets for _, droplets in payments])
    outputs = [
        TxOutput(address, droplets, hours)
        for (address, droplets), hours in zip(payments, shares, strict=True)
    ]
    spare = left - to_payments  # the change's hours, also the pool for distinctness
    outputs, spare = _distinct_hours(outputs, spare)
    change_index: int | None = None
    if change:
        change_hours = spare
        taken = {(o.address, o.droplets, o.hours) for o in outputs}
        while (change_address, change, change_hours) in taken:
            if change_hours == 0:
                raise InsufficientHours("not enough coin hours to make the change distinct")
            change_hours -= 1  # burned: the fee only grows
        outputs.append(TxOutput(change_address, change, change_hours))
        change_index = len(outputs) - 1

    inputs = [bytes.fromhex(u.uxid) for u in chosen]
    tx = sign_transaction(inputs, outputs, [seckeys[u.address] for u in chosen])
    # Belt and braces before anything is stored: the node's own rules on what we made.
    check_transaction(tx)
    check_user_rules(tx, max_size)
    check_spending(tx, in_droplets, in_hours, burn_factor)
    raw = tx.encode()
    return BuiltTransaction(
        transaction=tx,
        raw=raw,
        txid=sha256(raw).hex(),
        spent=tuple(chosen),
        fee=in_hours - tx.output_hours(),
        change_index=change_index,
    )


def seckey_matches(address: str, seckey: bytes) -> bool:
    """True if `seckey` is the key of `address` (a wallet entry sanity check)."""
    try:
        return address_from_pubkey(pubkey_from_seckey(seckey)) == address
    except ValueError:
        return False
