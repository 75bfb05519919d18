"""Skycoin transactions (coins/sky_tx.py) against skycoin's golden files, plus properties."""

from __future__ import annotations

import base64
import struct
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from teller.coins import sky
from teller.coins import sky_tx as tx
from tests.vectors import load_json

TRANSACTION_PAIRS = [
    ("transaction-encoded-block-101.golden", "transaction-verbose-block-101.golden"),
    ("transaction-encoded.golden", "transaction-verbose-block-517.golden"),
    ("genesis-transaction-encoded.golden", "genesis-transaction.golden"),
]
SIGNED_PAIRS = TRANSACTION_PAIRS[:2]


def droplets_of(text: str) -> int:
    """Droplets of the node's decimal SKY string ("27000.000000"), exactly."""
    value = Decimal(text) * sky.DROPLETS_PER_SKY
    assert value == value.to_integral_value()
    return int(value)


def golden_pair(encoded: str, verbose: str) -> tuple[bytes, dict[str, Any]]:
    raw = bytes.fromhex(load_json(f"skycoin/transactions/{encoded}")["encoded_transaction"])
    return raw, load_json(f"skycoin/transactions/{verbose}")["txn"]


# --- golden transactions ------------------------------------------------------------------------


@pytest.mark.parametrize(("encoded", "verbose"), TRANSACTION_PAIRS)
def test_golden_decode_matches_verbose_and_reencodes(encoded: str, verbose: str) -> None:
    raw, txn = golden_pair(encoded, verbose)
    decoded = tx.decode_transaction(raw)
    assert decoded.encode() == raw
    assert decoded.txid == txn["txid"]
    assert decoded.inner_hash.hex() == txn["inner_hash"]
    assert decoded.length == txn["length"]
    assert decoded.type == txn["type"]
    assert [s.hex() for s in decoded.sigs] == txn["sigs"]
    assert [i.hex() for i in decoded.inputs] == [i["uxid"] for i in txn["inputs"]]
    expected_outputs = [
        tx.TxOutput(o["dst"], droplets_of(o["coins"]), o["hours"]) for o in txn["outputs"]
    ]
    assert list(decoded.outputs) == expected_outputs


@pytest.mark.parametrize(("encoded", "verbose"), SIGNED_PAIRS)
def test_golden_hashes_and_sizes(encoded: str, verbose: str) -> None:
    raw, txn = golden_pair(encoded, verbose)
    decoded = tx.decode_transaction(raw)
    assert len(raw) == tx.transaction_size(len(decoded.inputs), len(decoded.outputs))
    assert tx.compute_inner_hash(decoded.inputs, decoded.outputs).hex() == txn["inner_hash"]
    assert list(decoded.output_uxids()) == [o["uxid"] for o in txn["outputs"]]
    tx.check_transaction(decoded)  # a confirmed mainnet transaction passes the node's checks


@pytest.mark.parametrize(("encoded", "verbose"), SIGNED_PAIRS)
def test_golden_input_uxids_are_hashes_of_the_ux_body(encoded: str, verbose: str) -> None:
    _, txn = golden_pair(encoded, verbose)
    for item in txn["inputs"]:
        body = (bytes.fromhex(item["src_txid"]), item["owner"], droplets_of(item["coins"]))
        assert tx.uxid(*body, item["hours"]).hex() == item["uxid"]
        assert tx.uxid(*body, item["hours"] + 1).hex() != item["uxid"]


@pytest.mark.parametrize(("encoded", "verbose"), SIGNED_PAIRS)
def test_golden_signatures_verify_against_input_owners(encoded: str, verbose: str) -> None:
    raw, txn = golden_pair(encoded, verbose)
    decoded = tx.decode_transaction(raw)
    owners = [i["owner"] for i in txn["inputs"]]
    tx.verify_signatures(decoded, owners)
    other = txn["outputs"][-1]["dst"] if txn["outputs"][-1]["dst"] not in owners else None
    if other is None:
        other = "R6aHqKWSQfvpdo2fGSrq4F1RYXkBWR9HHJ"
    with pytest.raises(tx.TransactionInvalid, match=tx.BAD_SIGNATURE):
        tx.verify_signatures(decoded, [other] * len(owners))


@pytest.mark.parametrize(("encoded", "verbose"), SIGNED_PAIRS)
def test_golden_fee_is_inputs_minus_outputs_and_meets_the_burn_factor(
    encoded: str, verbose: str
) -> None:
    raw, txn = golden_pair(encoded, verbose)
    decoded = tx.decode_transaction(raw)
    in_hours = sum(i["calculated_hours"] for i in txn["inputs"])
    assert in_hours - decoded.output_hours() == txn["fee"]
    in_droplets = sum(droplets_of(i["coins"]) for i in txn["inputs"])
    tx.check_spending(decoded, in_droplets, in_hours, tx.BURN_FACTOR_V025)
    with pytest.raises(tx.TransactionInvalid, match=tx.DESTROYS_COINS):
        tx.check_spending(decoded, in_droplets + 1000, in_hours, tx.BURN_FACTOR_V025)
    with pytest.raises(tx.TransactionInvalid, match=tx.INSUFFICIENT_COINS):
        tx.check_spending(decoded, in_droplets - 1000, in_hours, tx.BURN_FACTOR_V025)


def test_genesis_transaction_and_its_uxid() -> None:
    raw, txn = golden_pair(*TRANSACTION_PAIRS[2])
    decoded = tx.decode_transaction(raw)
    assert decoded.length == 0 and decoded.inner_hash == bytes(32)
    assert decoded.sigs == () and decoded.inputs == ()
    (out,) = decoded.outputs
    assert out.droplets == out.hours == 100_000_000_000_000
    # the genesis output's uxid is computed with a null source txid
    assert (
        tx.uxid(bytes(32), out.address, out.droplets, out.hours).hex()
        == (txn["outputs"][0]["uxid"])
    )
    with pytest.raises(tx.TransactionInvalid, match=tx.NO_INPUTS):
        tx.check_transaction(decoded)


def test_uxout_coin_hours_at_head_time() -> None:
    uxout = load_json("skycoin/transactions/uxout.golden")
    head = load_json("skycoin/transactions/blockchain-metadata.golden")["head"]
    hours = tx.coin_hours(uxout["coins"], uxout["hours"], uxout["time"], head["timestamp"])
    assert hours == uxout["calculated_hours"] == 45730107
    # before its own time an output has just its stored hours
    assert tx.coin_hours(uxout["coins"], uxout["hours"], uxout["time"], 0) == uxout["hours"]


def test_golden_signatures_verify_with_the_node_rules() -> None:
    golden = load_json("skycoin/cipher/seed-0000.golden")
    hashes = [bytes.fromhex(h) for h in load_json("skycoin/cipher/input-hashes.golden")["hashes"]]
    for key in golden["keys"]:
        for digest, sig_hex in zip(hashes, key["signatures"], strict=True):
            sig = bytes.fromhex(sig_hex)
            assert tx.verify_signature(key["address"], sig, digest)
            assert tx.recover_pubkey(sig, digest).hex() == key["public"]
        assert not tx.verify_signature(key["address"], sig, hashes[0])


# --- decode errors ------------------------------------------------------------------------------


def block_101() -> bytes:
    raw, _ = golden_pair(*TRANSACTION_PAIRS[0])
    return raw


@pytest.mark.parametrize("cut", [0, 1, 4, 36, 40, 50, 105, 109, 141, 145, 160, 182])
def test_truncated_bytes_are_a_decode_error(cut: int) -> None:
    with pytest.raises(tx.TransactionDecodeError, match="truncated"):
        tx.decode_transaction(block_101()[:cut])


def test_trailing_bytes_are_a_decode_error() -> None:
    with pytest.raises(tx.TransactionDecodeError, match="trailing bytes: 1 bytes remain"):
        tx.decode_transaction(block_101() + b"\x00")


def test_counts_beyond_the_maximum_or_the_data_are_decode_errors() -> None:
    raw = bytearray(block_101())
    raw[37:41] = struct.pack("<I", 65536)  # the signature count
    with pytest.raises(tx.TransactionDecodeError, match="bad signatures count 65536"):
        tx.decode_transaction(bytes(raw))
    raw[37:41] = struct.pack("<I", 2)  # two signatures, but the bytes hold one
    with pytest.raises(tx.TransactionDecodeError, match="truncated"):
        tx.decode_transaction(bytes(raw))


def test_bad_address_version_and_hex_are_decode_errors() -> None:
    raw = bytearray(block_101())
    raw[-37] = 1  # the version byte of the only output's address
    with pytest.raises(tx.TransactionDecodeError, match="output 0: address version 1"):
        tx.decode_transaction(bytes(raw))
    with pytest.raises(tx.TransactionDecodeError, match="not a hex string"):
        tx.decode_transaction_hex("zz")
    assert tx.decode_transaction_hex(block_101().hex()).encode() == block_101()


# --- node checks of a transaction -------------------------------------------------------------


def keys(n: int) -> list[sky.KeyPair]:
    return list(sky.deterministic_keypairs(b"sky_tx tests", n))


def address(pair: sky.KeyPair) -> str:
    return sky.address_from_pubkey(pair.pubkey)


def test_check_transaction_rules_in_order() -> None:
    k0, k1 = keys(2)
    ux = [bytes([1]) * 32, bytes([2]) * 32]
    good = tx.sign_transaction(ux, [tx.TxOutput(address(k1), 2000, 5)], [k0.seckey] * 2)
    tx.check_transaction(good)
    tx.verify_signatures(good, [address(k0)] * 2)

    def variant(**fields: Any) -> tx.Transaction:
        base = {f: getattr(good, f) for f in tx.Transaction.__slots__}
        return tx.Transaction(**(base | fields))

    cases = [
        (variant(outputs=()), tx.NO_OUTPUTS),
        (variant(sigs=good.sigs[:1]), tx.BAD_SIGNATURE_COUNT),
        (variant(inputs=(ux[0], ux[0])), tx.DUPLICATE_SPEND),
        (variant(type=1), tx.BAD_TYPE),
        (variant(length=good.length + 1), tx.BAD_LENGTH),
        (variant(outputs=(good.outputs[0], good.outputs[0])), tx.BAD_LENGTH),
        (variant(inner_hash=bytes(32)), tx.BAD_INNER_HASH),
    ]
    two = (good.outputs[0], good.outputs[0])
    cases.append((variant(outputs=two, length=tx.transaction_size(2, 2)), tx.DUPLICATE_OUTPUT))
    zero = (tx.TxOutput(address(k1), 0, 1),)
    cases.append((variant(outputs=zero), tx.ZERO_COIN_OUTPUT))
    for bad, message in cases:
        with pytest.raises(tx.TransactionInvalid, match=message):
            tx.check_transaction(bad)


def test_user_rules_precision_size_and_null_address() -> None:
    (k0,) = keys(1)
    ins = [bytes([1]) * 32]

    def signed(*outputs: tx.TxOutput) -> tx.Transaction:
        return tx.sign_transaction(ins, outputs, [k0.seckey])

    tx.check_user_rules(signed(tx.TxOutput(address(k0), 1000, 0)))
    with pytest.raises(tx.TransactionInvalid, match="too many decimal places") as info:
        tx.check_user_rules(signed(tx.TxOutput(address(k0), 1500, 0)))
    assert info.value.node_message == (
        "Transaction violates soft constraint: invalid amount, too many decimal places"
    )
    with pytest.raises(tx.TransactionInvalid, match="null address") as info:
        tx.check_user_rules(signed(tx.TxOutput(sky.NULL_ADDRESS, 1000, 0)))
    assert info.value.constraint == tx.USER
    with pytest.raises(tx.TransactionInvalid, match="max block size"):
        tx.check_user_rules(signed(tx.TxOutput(address(k0), 1000, 0)), max_size=182)


@pytest.mark.parametrize(
    ("in_hours", "out_hours", "factor", "error"),
    [
        (100, 90, 10, None),  # fee 10 = ceil(100/10)
        (101, 91, 10, tx.FEE_NOT_MET),  # fee 10 < ceil(101/10) = 11: rounded up
        (101, 90, 10, None),
        (100, 50, 2, None),
        (101, 50, 2, None),  # fee 51 = ceil(101/2)
        (101, 51, 2, tx.FEE_NOT_MET),
        (5, 5, 10, tx.ZERO_FEE),
        (0, 0, 10, tx.ZERO_FEE),
        (5, 6, 10, tx.INSUFFICIENT_HOURS),
        (1, 0, 10, None),
    ],
)
def test_fee_rule(in_hours: int, out_hours: int, factor: int, error: str | None) -> None:
    if error is None:
        tx.check_fee(in_hours, out_hours, factor)
    else:
        with pytest.raises(tx.TransactionInvalid, match=error) as info:
            tx.check_fee(in_hours, out_hours, factor)
        assert info.value.constraint == tx.SOFT


def test_required_fee_rounds_up() -> None:
    assert tx.required_fee(0, 10) == 0
    assert tx.required_fee(1, 10) == 1
    assert tx.required_fee(10, 10) == 1
    assert tx.required_fee(11, 10) == 2
    assert tx.required_fee(823240, 2) == 411620
    with pytest.raises(ValueError):
        tx.required_fee(1, 0)


def test_coin_hours_round_down_per_part() -> None:
    # 1.5 SKY for one hour: 1 hour from the whole SKY, 0.5 rounded down
    assert tx.coin_hours(1_500_000, 0, 0, 3600) == 1
    assert tx.coin_hours(1_500_000, 0, 0, 7200) == 3
    assert tx.coin_hours(999_999, 7, 100, 100 + 3599) == 7
    assert tx.coin_hours(2_000_000, 7, 100, 100 + 3600) == 9


def test_share_hours_is_proportional_and_exact() -> None:
    assert tx.share_hours(10, [1, 1]) == [5, 5]
    assert tx.share_hours(10, [1, 2]) == [4, 6]  # floors 3, 6; the left hour to the first
    assert tx.share_hours(2, [1, 1000, 1000]) == [1, 1, 0]  # zero-hour outputs first
    assert tx.share_hours(0, [5, 5]) == [0, 0]
    assert tx.share_hours(7, []) == []


@given(st.integers(0, 10**15), st.lists(st.integers(1, 10**15), min_size=1, max_size=20))
def test_share_hours_sums_to_total(total: int, weights: list[int]) -> None:
    parts = tx.share_hours(total, weights)
    assert sum(parts) == total
    assert all(p >= 0 for p in parts)


# --- round trips ----------------------------------------------------------------------------------

key_hashes = st.binary(min_size=20, max_size=20)
outputs = st.builds(
    tx.TxOutput,
    key_hashes.map(sky.address_from_key_hash),
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**64 - 1),
)
transactions = st.builds(
    tx.Transaction,
    st.integers(0, 2**32 - 1),
    st.integers(0, 255),
    st.binary(min_size=32, max_size=32),
    st.lists(st.binary(min_size=65, max_size=65), max_size=4).map(tuple),
    st.lists(st.binary(min_size=32, max_size=32), max_size=4).map(tuple),
    st.lists(outputs, max_size=4).map(tuple),
)


@given(transactions)
def test_encode_decode_encode_round_trip(transaction: tx.Transaction) -> None:
    raw = transaction.encode()
    decoded = tx.decode_transaction(raw)
    assert decoded == transaction
    assert decoded.encode() == raw
    assert len(raw) == tx.transaction_size(len(transaction.inputs), len(transaction.outputs)) - (
        (len(transaction.inputs) - len(transaction.sigs)) * 65
    )


@given(transactions, st.integers(1, 64))
def test_any_cut_is_a_decode_error(transaction: tx.Transaction, cut: int) -> None:
    raw = transaction.encode()
    with pytest.raises(tx.TransactionDecodeError):
        tx.decode_transaction(raw[: max(0, len(raw) - cut)])


SIGNING_KEYS = keys(4)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.sampled_from(SIGNING_KEYS), min_size=1, max_size=3),
    st.lists(st.binary(min_size=32, max_size=32), min_size=3, max_size=3, unique=True),
    st.lists(
        st.builds(
            tx.TxOutput,
            key_hashes.map(sky.address_from_key_hash),
            st.integers(1, 10**17),
            st.integers(0, 2**64 - 1),
        ),
        min_size=1,
        max_size=3,
        unique=True,
    ),
)
def test_sign_then_verify(
    signers: list[sky.KeyPair], uxids: list[bytes], outs: list[tx.TxOutput]
) -> None:
    ins = uxids[: len(signers)]
    signed = tx.sign_transaction(ins, outs, [k.seckey for k in signers])
    owners = [address(k) for k in signers]
    tx.check_transaction(signed)
    tx.verify_signatures(signed, owners)
    assert tx.decode_transaction(signed.encode()) == signed
    for sig in signed.sigs:
        assert sig[32] >> 7 == 0  # low S, as the node requires
    # signing again gives the same bytes (RFC6979 nonces) and so the same txid
    again = tx.sign_transaction(ins, outs, [k.seckey for k in signers])
    assert again.txid == signed.txid
    # a signature made by another key does not verify for the real owner's address
    wrong = [address(SIGNING_KEYS[0] if k != SIGNING_KEYS[0] else SIGNING_KEYS[1]) for k in signers]
    with pytest.raises(tx.TransactionInvalid, match=tx.BAD_SIGNATURE):
        tx.verify_signatures(signed, wrong)


def test_high_s_signature_is_refused() -> None:
    (k0,) = keys(1)
    digest = bytes(range(32))
    sig = tx.sign_digest(k0.seckey, digest)
    n = sky.SECP256K1_ORDER
    s = int.from_bytes(sig[32:64], "big")
    flipped = sig[:32] + (n - s).to_bytes(32, "big") + bytes([sig[64] ^ 1])
    # the same key recovers from the high-S twin, but a node refuses it
    assert tx.recover_pubkey(flipped, digest) == k0.pubkey
    assert not tx.verify_signature(address(k0), flipped, digest)
    assert tx.verify_signature(address(k0), sig, digest)
    with pytest.raises(ValueError):
        tx.sign_digest(k0.seckey, bytes(32))


def test_seed_golden_base64_decodes() -> None:
    seed = base64.b64decode(load_json("skycoin/cipher/seed-0005.golden")["seed"])
    assert seed == b"\xae"
