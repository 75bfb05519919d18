"""Address files for the bench: a big BTC deposit pool and fresh SKY addresses for buyers.

BTC: valid mainnet P2PKH addresses of random coincurve keys, through teller's own encoder.
SKY: valid addresses of random 20-byte key hashes (teller only checks their encoding).
"""

from __future__ import annotations

import os
from pathlib import Path

from coincurve import PrivateKey

from teller.coins.btc import p2pkh_address_from_pubkey
from teller.coins.sky import address_from_key_hash


def btc_addresses(count: int) -> list[str]:
    return [
        p2pkh_address_from_pubkey(PrivateKey().public_key.format(compressed=True))
        for _ in range(count)
    ]


def sky_addresses(count: int) -> list[str]:
    return [address_from_key_hash(os.urandom(20)) for _ in range(count)]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path
