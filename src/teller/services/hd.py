"""HD deposit addresses as the admin API and /metrics show them (deposits/hd.py derives them).

Place in the flow: per coin whose addresses come from an extended public key, the next
derivation index and the funded indices are read from the store (store/hd_chains.py) and
summed up with coins/xpub.py's gap report, so the operator sees when a wallet that stops
looking after 20 unused addresses would miss deposits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from teller.coins.xpub import MAX_INDEX, HdChain, gap_report
from teller.store.db import Database
from teller.store.hd_chains import funded_indices, next_index


def hd_view(db: Database, chains: Mapping[str, HdChain]) -> dict[str, dict[str, Any]]:
    """Per HD coin, what the admin API shows: the key's kind, the next index, and the
    gap-limit warning (empty when there is nothing to warn about)."""
    if not chains:
        return {}
    views: dict[str, dict[str, Any]] = {}
    with db.read() as conn:
        for coin, chain in chains.items():
            index = next_index(conn, chain.key_id)
            report = gap_report(index, funded_indices(conn, chain.key_id))
            views[coin] = {
                "remaining_addresses": MAX_INDEX + 1 - index,
                "hd": {
                    "key_type": chain.key_type,
                    "script": chain.script,
                    "next_index": index,
                    "funded_addresses": report.funded,
                    "longest_unfunded_run": report.longest_unfunded_run,
                    "unfunded_since_last_deposit": report.unfunded_since_last_deposit,
                    "gap_limit_warning": report.warning,
                },
            }
    return views
