"""The simulator's chain (teller_sims/skynode_chain.py) without HTTP: hours over time, block
size, state."""

from __future__ import annotations

import pytest
from teller_sims.skynode_chain import Chain, Rules, split_payments

from teller.coins import sky, sky_tx
from teller.coins.sky import DROPLETS_PER_SKY

SKY = DROPLETS_PER_SKY
PAIRS = list(sky.deterministic_keypairs(b"chain tests", 3))
OWNER = sky.address_from_pubkey(PAIRS[0].pubkey)
USERS = [sky.address_from_pubkey(p.pubkey) for p in PAIRS[1:]]
KEYS = {OWNER: PAIRS[0].seckey}


class Clock:
    """A settable clock, so coin hours grow by exactly the seconds a test says."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def funded_chain(rules: Rules | None = None, droplets: int = 100 * SKY) -> tuple[Chain, Clock]:
    clock = Clock(1_000_000)
    chain = Chain(rules=rules or Rules(), clock=clock)
    chain.create_genesis(OWNER, droplets, 0)
    return chain, clock


def spendable(chain: Chain) -> list[sky_tx.Unspent]:
    outgoing = chain.outgoing()
    head = chain.head.time
    return [
        sky_tx.Unspent(u.uxid, u.address, u.droplets, u.hours_at(head))
        for u in chain.outputs_of([OWNER])
        if u.uxid not in outgoing
    ]


def pay(chain: Chain, payments: list[tuple[str, int]]) -> sky_tx.BuiltTransaction:
    return sky_tx.build_transaction(
        spendable(chain), payments, OWNER, KEYS, burn_factor=chain.rules.burn_factor
    )


def test_hours_grow_with_the_head_time_not_the_clock() -> None:
    chain, clock = funded_chain()
    with pytest.raises(sky_tx.InsufficientHours):
        pay(chain, [(USERS[0], SKY)])  # genesis has no hours and no block has passed
    clock.now += 3600
    chain.make_block()  # an empty block moves the head time: 100 SKY × 1 h = 100 hours
    (ux,) = spendable(chain)
    assert ux.hours == 100
    clock.now += 7200  # the clock alone changes nothing: hours are counted at the head
    assert spendable(chain)[0].hours == 100
    built = pay(chain, [(USERS[0], SKY)])
    assert built.fee == 10
    assert chain.inject(built.transaction) is True
    assert chain.inject(built.transaction) is False  # already pending
    block = chain.make_block()
    assert block.txids == [built.txid] and block.fee == 10
    assert chain.head.time == clock.now


def test_block_size_cap_leaves_the_rest_for_the_next_block() -> None:
    chain, clock = funded_chain(Rules(max_block_size=500))
    first = funded_split(chain, clock)
    assert len(first) == 4
    built = [pay_from(chain, ux, USERS[i % 2]) for i, ux in enumerate(first)]
    for b in built:
        chain.inject(b.transaction)
    sizes = [b.transaction.length for b in built]
    assert sizes == [220] * 4
    assert chain.make_block().txids == [b.txid for b in built[:2]]  # 440 bytes fit, 660 not
    assert chain.make_block().txids == [b.txid for b in built[2:]]
    assert not chain.has_work()


def funded_split(chain: Chain, clock: Clock) -> list[sky_tx.Unspent]:
    clock.now += 3600
    chain.make_block()
    built = pay(chain, split_payments([OWNER], 100 * SKY, 4))
    chain.inject(built.transaction)
    chain.make_block()
    clock.now += 3600
    chain.make_block()
    return spendable(chain)


def pay_from(chain: Chain, ux: sky_tx.Unspent, to: str) -> sky_tx.BuiltTransaction:
    return sky_tx.build_transaction([ux], [(to, SKY)], OWNER, KEYS, burn_factor=10)


def test_json_round_trip_rebuilds_the_same_chain() -> None:
    chain, clock = funded_chain()
    outputs = funded_split(chain, clock)
    chain.inject(pay_from(chain, outputs[0], USERS[0]).transaction)
    chain.make_block()
    pending = pay_from(chain, outputs[1], USERS[1])
    chain.inject(pending.transaction)
    copy = Chain.from_json(chain.to_json(), chain.rules, clock)
    assert [b.hash for b in copy.blocks] == [b.hash for b in chain.blocks]
    assert [b.fee for b in copy.blocks] == [b.fee for b in chain.blocks]
    assert copy.ledger() == chain.ledger()
    assert set(copy.unspent) == set(chain.unspent) and list(copy.pool) == [pending.txid]


def test_split_payments() -> None:
    assert split_payments([OWNER], 10 * SKY, 1) == []
    parts = split_payments(USERS, 10 * SKY + 999, 3)
    assert parts == [(USERS[1], 3_333_000), (USERS[0], 3_333_000)]
    with pytest.raises(ValueError):
        split_payments(USERS, 1000, 3)
