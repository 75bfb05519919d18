"""The payout builder of coins/sky_tx.py: input choice, fee, hour sharing, change, errors."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from teller.coins import sky
from teller.coins import sky_tx as tx

PAIRS = list(sky.deterministic_keypairs(b"builder tests", 6))
ADDRS = [sky.address_from_pubkey(p.pubkey) for p in PAIRS]
WALLET = ADDRS[:3]
KEYS = {a: p.seckey for a, p in zip(ADDRS, PAIRS, strict=True)}
USER, OTHER = ADDRS[4], ADDRS[5]
SKY = sky.DROPLETS_PER_SKY


def unspent(n: int, droplets: int, hours: int, owner: int = 0) -> tx.Unspent:
    return tx.Unspent(hashlib.sha256(bytes([n])).hexdigest(), WALLET[owner], droplets, hours)


def assert_valid(built: tx.BuiltTransaction, burn_factor: int) -> None:
    """Everything a node checks, from the outside."""
    t = tx.decode_transaction(built.raw)
    assert t == built.transaction
    assert built.txid == hashlib.sha256(built.raw).hexdigest()
    tx.check_transaction(t)
    tx.check_user_rules(t)
    tx.verify_signatures(t, [u.address for u in built.spent])
    assert [bytes.fromhex(u.uxid) for u in built.spent] == list(t.inputs)
    in_droplets = sum(u.droplets for u in built.spent)
    in_hours = sum(u.hours for u in built.spent)
    tx.check_spending(t, in_droplets, in_hours, burn_factor)
    assert built.fee == in_hours - t.output_hours() >= tx.required_fee(in_hours, burn_factor)


def test_one_payment_with_change() -> None:
    ux = unspent(1, 10 * SKY, 1000)
    built = tx.build_transaction([ux], [(USER, 2 * SKY)], WALLET[0], KEYS, burn_factor=10)
    assert_valid(built, 10)
    pay, change = built.transaction.outputs
    assert (pay.address, pay.droplets) == (USER, 2 * SKY)
    assert (change.address, change.droplets) == (WALLET[0], 8 * SKY)
    assert built.fee == 100  # ceil(1000 / 10)
    assert pay.hours == 450 and change.hours == 450  # half of the remaining 900 each
    assert len(built.raw) == 220 and built.inputs == (ux.uxid,)
    assert built.change_index == 1
    assert built.change == tx.Unspent(built.transaction.output_uxids()[1], WALLET[0], 8 * SKY, 450)


def test_fee_rounds_up_with_burn_factor_two() -> None:
    built = tx.build_transaction(
        [unspent(1, 10 * SKY, 101)], [(USER, SKY)], WALLET[1], KEYS, burn_factor=2
    )
    assert_valid(built, 2)
    assert built.fee == 51  # ceil(101 / 2)
    assert [o.hours for o in built.transaction.outputs] == [25, 25]  # 50 left: 25 / 25


def test_exact_amount_has_no_change_and_gives_the_payments_all_hours() -> None:
    built = tx.build_transaction(
        [unspent(1, 3 * SKY, 20)],
        [(USER, SKY), (OTHER, 2 * SKY)],
        WALLET[0],
        KEYS,
        burn_factor=10,
    )
    assert_valid(built, 10)
    assert built.change_index is None and built.change is None
    assert [o.hours for o in built.transaction.outputs] == [6, 12]  # 18 split 1:2
    assert built.fee == 2


def test_batch_of_equal_payments_to_one_address_are_distinct_outputs() -> None:
    payments = [(USER, SKY)] * 6 + [(OTHER, SKY)] * 2
    built = tx.build_transaction(
        [unspent(1, 100 * SKY, 10_000)], payments, WALLET[0], KEYS, burn_factor=10
    )
    assert_valid(built, 10)
    outs = built.transaction.outputs
    assert [(o.address, o.droplets) for o in outs[:-1]] == payments
    assert len({(o.address, o.droplets, o.hours) for o in outs}) == len(outs)


def test_equal_payments_with_no_hours_to_share_take_hours_from_the_change() -> None:
    # 2 hours in: fee 1, one hour left, all of it in the change's share (share 0)
    built = tx.build_transaction(
        [unspent(1, 10 * SKY, 2)],
        [(USER, SKY), (USER, SKY)],
        WALLET[0],
        KEYS,
        burn_factor=10,
        share_factor=(0, 1),
    )
    assert_valid(built, 10)
    assert [o.hours for o in built.transaction.outputs] == [0, 1, 0]
    with pytest.raises(tx.InsufficientHours, match="distinct"):
        tx.build_transaction(
            [unspent(1, 10 * SKY, 1)],
            [(USER, SKY), (USER, SKY)],
            WALLET[0],
            KEYS,
            burn_factor=10,
        )


def test_input_choice_starts_with_the_largest_output_with_hours() -> None:
    outputs = [
        unspent(1, 50 * SKY, 0),
        unspent(2, 20 * SKY, 5, owner=1),
        unspent(3, 10 * SKY, 500, owner=2),
        unspent(4, 1 * SKY, 9),
    ]
    built = tx.build_transaction(outputs, [(USER, 60 * SKY)], WALLET[0], KEYS, burn_factor=10)
    assert_valid(built, 10)
    # 20 SKY (largest with hours), then 50 SKY: 70 covers 60 with two inputs
    assert [u.droplets for u in built.spent] == [20 * SKY, 50 * SKY]
    small = tx.build_transaction(outputs, [(USER, SKY)], WALLET[0], KEYS, burn_factor=10)
    assert [u.uxid for u in small.spent] == [outputs[1].uxid]


def test_outputs_with_sub_precision_dust_are_never_spent() -> None:
    dusty = unspent(1, 10 * SKY + 1, 100)
    clean = unspent(2, 5 * SKY, 100)
    built = tx.build_transaction([dusty, clean], [(USER, SKY)], WALLET[0], KEYS, burn_factor=10)
    assert built.spent == (clean,)
    with pytest.raises(tx.InsufficientCoins) as info:
        tx.build_transaction([dusty, clean], [(USER, 6 * SKY)], WALLET[0], KEYS, burn_factor=10)
    assert (info.value.needed, info.value.available) == (6 * SKY, 5 * SKY)


def test_insufficient_coins_and_hours() -> None:
    with pytest.raises(tx.InsufficientCoins, match="7000000 droplets needed, 5000000"):
        tx.build_transaction(
            [unspent(1, 5 * SKY, 10)], [(USER, 7 * SKY)], WALLET[0], KEYS, burn_factor=10
        )
    with pytest.raises(tx.InsufficientHours, match="no coin hours"):
        tx.build_transaction(
            [unspent(1, 5 * SKY, 0)], [(USER, SKY)], WALLET[0], KEYS, burn_factor=10
        )
    with pytest.raises(tx.InsufficientCoins):
        tx.build_transaction([], [(USER, SKY)], WALLET[0], KEYS, burn_factor=10)


def test_too_large() -> None:
    many = [unspent(i, SKY, 10) for i in range(5)]
    with pytest.raises(tx.TransactionTooLarge) as info:
        tx.build_transaction(many, [(USER, 5 * SKY)], WALLET[0], KEYS, burn_factor=10, max_size=500)
    assert info.value.size == tx.transaction_size(5, 1) and info.value.max_size == 500
    assert tx.max_payments(1) == (tx.MAX_TRANSACTION_SIZE - tx.transaction_size(1, 1)) // 37
    assert tx.max_payments(1, max_size=220) == 1


@pytest.mark.parametrize(
    ("payments", "message"),
    [
        ([(USER, 1500)], "not a positive multiple of 1000"),
        ([(USER, 0)], "not a positive multiple"),
        ([(sky.NULL_ADDRESS, 1000)], "null address"),
        ([("not an address", 1000)], "Invalid base58 character"),
        ([], "no payments"),
    ],
)
def test_bad_payments_are_refused(payments: list[tuple[str, int]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        tx.build_transaction([unspent(1, SKY, 10)], payments, WALLET[0], KEYS, burn_factor=10)


def test_outputs_of_unknown_owners_are_refused() -> None:
    stranger = tx.Unspent("ab" * 32, OTHER, SKY, 10)
    with pytest.raises(ValueError, match="no secret key"):
        tx.build_transaction([stranger], [(USER, SKY)], WALLET[0], {}, burn_factor=10)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 5000), st.integers(0, 10**6), st.integers(0, 2)),
        min_size=1,
        max_size=6,
    ),
    st.lists(
        st.tuples(st.sampled_from([USER, OTHER, WALLET[0]]), st.integers(1, 3000)),
        min_size=1,
        max_size=8,
    ),
    st.sampled_from([2, 10]),
)
def test_any_build_is_valid_or_a_clear_error(
    outs: list[tuple[int, int, int]], pays: list[tuple[str, int]], burn_factor: int
) -> None:
    unspents = [unspent(i, c * 1000, h, owner) for i, (c, h, owner) in enumerate(outs)]
    payments = [(a, c * 1000) for a, c in pays]
    try:
        built = tx.build_transaction(unspents, payments, WALLET[0], KEYS, burn_factor=burn_factor)
    except tx.InsufficientCoins:
        assert sum(u.droplets for u in unspents) < sum(d for _, d in payments)
        return
    except tx.InsufficientHours:
        # no hours at all, or equal outputs (payments or change) that cannot be told apart
        no_hours = not any(u.hours for u in unspents)
        equal = len(set(payments)) < len(payments) or WALLET[0] in {a for a, _ in payments}
        assert no_hours or equal
        return
    assert_valid(built, burn_factor)
    paid = [(o.address, o.droplets) for o in built.transaction.outputs[: len(payments)]]
    assert paid == payments
    in_coins = sum(u.droplets for u in built.spent)
    assert in_coins - sum(d for _, d in payments) == (built.change.droplets if built.change else 0)


def test_an_output_listed_twice_is_spent_once() -> None:
    big, small, least = unspent(1, 3 * SKY, 100), unspent(2, 2 * SKY, 100), unspent(3, SKY, 100)
    built = tx.build_transaction(
        [big, small, small, least], [(USER, 5 * SKY + SKY // 2)], WALLET[0], KEYS, burn_factor=10
    )
    assert_valid(built, 10)
    assert sorted(built.inputs) == sorted([big.uxid, small.uxid, least.uxid])
