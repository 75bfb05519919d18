"""HD deposit addresses: derived from an extended public key instead of read from a file.

Place in the flow: with `btc_xpub` / `eth_xpub` in the config, app.py builds an HdChain per
coin (coins/xpub.py) instead of loading that coin's address file, and BindService takes the
next address from the chain (store/hd_chains.py) in the same transaction that writes the
binding, so the derivation index is stored exactly when an address is handed out and never
reused. The pool never runs dry (2^31 receive addresses per key).
"""

from __future__ import annotations

import json
import logging
import sys
from typing import TYPE_CHECKING

from teller.clock import unix_now
from teller.coins.xpub import ACCOUNT_DEPTH, HdChain, HdKeyError, parse_key
from teller.logs import log_event
from teller.store.hd_chains import ensure_chain

if TYPE_CHECKING:
    from teller.config.schema import Config
    from teller.store.db import Database

log = logging.getLogger("teller.hd")


def load_hd_chains(config: Config, db: Database, coins: frozenset[str]) -> dict[str, HdChain]:
    """The HD chain of every enabled coin whose extended public key is configured, with its
    row in the store (created at index 0 the first time the key is used)."""
    keys = {"BTC": config.btc_xpub, "ETH": config.eth_xpub}
    files = {"BTC": config.btc_addresses, "ETH": config.eth_addresses}
    chains: dict[str, HdChain] = {}
    for coin in sorted(coins):
        if keys.get(coin):
            network = config.btc_scanner.network if coin == "BTC" else None
            chains[coin] = parse_key(keys[coin], coin, network)
            if files[coin]:
                log_event(
                    log,
                    logging.INFO,
                    f"{coin.lower()}_addresses is not read: {coin.lower()}_xpub is set",
                    coin_type=coin,
                )
    if not chains:
        return chains
    with db.write() as conn:
        for chain in chains.values():
            index = ensure_chain(conn, chain.key_id, chain.coin_type, chain.key_type, unix_now())
            log_event(
                log,
                logging.INFO,
                "deposit addresses derived from an extended public key",
                coin_type=chain.coin_type,
                key_type=chain.key_type,
                key_id=chain.key_id,
                next_index=index,
            )
            if chain.depth != ACCOUNT_DEPTH:
                log_event(
                    log,
                    logging.WARNING,
                    "the extended public key is not an account key (depth 3, m/purpose'/coin'/"
                    "account'): check with `teller addresses` that your wallet shows the same"
                    " addresses",
                    watch=True,
                    coin_type=chain.coin_type,
                    depth=chain.depth,
                )
    return chains


def print_addresses(coin_type: str, key: str, count: int, *, as_json: bool) -> int:
    """`teller addresses btc|eth --xpub KEY N`: indices 0..N-1, one address a line (or the
    address file's JSON form); the exit status."""
    from teller.progress import Progress

    try:
        chain = parse_key(key, coin_type)
    except HdKeyError as exc:
        print(f"--xpub: {exc}", file=sys.stderr)
        return 2
    addresses = []
    with Progress(count, "deriving addresses") as progress:
        for index in range(count):
            addresses.append(chain.address(index))
            progress.advance()
    if as_json:
        print(json.dumps({f"{coin_type.lower()}_addresses": addresses}, indent=4))
    else:
        sys.stdout.write("".join(a + "\n" for a in addresses))
    return 0
