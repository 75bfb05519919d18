"""The exchange is contacted only in passthrough mode (issue 14, finding 7).

A real teller with exchange credentials pointing at the project's C2CX simulator (its own
process, which counts every API request it answers): in direct mode it pays a deposit,
quotes and audits without one request to the exchange; the same config in passthrough mode
reads the exchange at once (so the count is not zero for want of a wire).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from ..sim_peers import c2cx_process, exchange_client
from .running_teller import SKY_A, RunningTeller, StartTeller


def exchange_requests(sim_url: str) -> dict[str, int]:
    """The simulator's count of the API requests it answered, by endpoint."""
    counts: dict[str, int] = httpx.get(f"{sim_url}/sim/state", timeout=10).json()["requests"]
    return counts


def audited(tel: RunningTeller) -> bool:
    return tel.admin_get("/api/audit").get("ran_at") is not None


def test_direct_mode_with_exchange_credentials_never_contacts_the_exchange(
    start_teller: StartTeller, tmp_path: Path
) -> None:
    with c2cx_process(tmp_path / "c2cx") as sim:
        client = exchange_client(sim, orderbook_refresh="100ms", check_order_wait="50ms")
        layer: dict[str, Any] = {
            "sky_exchanger": {"buy_method": "direct", "exchange_client": client},
            "audit": {"interval": "200ms"},
        }
        tel = start_teller(auto_confirm=True, eth_enabled=False, overrides=layer)
        # Everything that could reach for the exchange: a deposit paid, a quote, audit rounds.
        address = tel.bind_ok(SKY_A)
        tel.deposit_ok(addr=address, value=1_000_000, tx="b1" * 32)
        tel.wait_status(SKY_A, "done")
        quote = tel.http.get(tel.public + "/api/quote", params={"amount": "0.01"})
        assert quote.status_code == 200, quote.text
        assert quote.json()["buy_method"] == "direct"
        tel.wait_for(lambda: audited(tel), what="an audit round")
        assert exchange_requests(sim.url) == {}

        # The same exchange settings in passthrough mode: the exchange is read.
        layer["sky_exchanger"]["buy_method"] = "passthrough"
        buying = start_teller(eth_enabled=False, overrides=layer)
        buying.wait_for(lambda: exchange_requests(sim.url), what="a request to the exchange")
