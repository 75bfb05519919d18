"""The audit's exchange check on a real store and the C2CX simulator: the account's order
history on the exchange is the exchange_orders teller stored, with the same fills."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import update

from teller.audit.loop import Auditor, AuditPeers
from teller.store.db import Database
from teller.store.tables import exchange_orders
from tests.passthrough.rig import make_rig, passthrough_config


async def test_orders_of_someone_else_and_altered_fills_are_found(sqlite_db: Database) -> None:
    async with make_rig(sqlite_db, passthrough_config()) as rig:
        deposit_id = rig.deposit(20_000_000, "aa")  # 0.2 BTC: bought across two asks
        await rig.run_until(lambda: rig.get(deposit_id).status == "waiting_send")
        _first, second = rig.orders(deposit_id)
        audit = Auditor(rig.db, AuditPeers(exchange=rig.market), interval_seconds=60)

        clean = await audit.run_once()

        assert clean.findings == []
        [result] = clean.checks
        assert (result.state, result.figures["exchange_orders"]) == ("ok", 2)

        # Someone else buys on the account; teller's record of the second order's fill is
        # altered.
        foreign = await rig.market.place_limit_buy(Decimal("0.002"), Decimal("5"), "not-teller")
        with rig.db.write() as conn:
            conn.execute(
                update(exchange_orders)
                .where(exchange_orders.c.client_id == second.client_id)
                .values(completed_amount="1")
            )

        report = await audit.run_once()

        found = {(f.kind, f.subject): f.found for f in report.findings}
        assert set(found) == {
            ("exchange_order_unknown", f"order {foreign}"),
            ("exchange_order_differs", second.client_id),
        }
        assert "client id not-teller" in found[("exchange_order_unknown", f"order {foreign}")]
        assert found[("exchange_order_differs", second.client_id)].startswith(
            f"{second.completed_amount} SKY bought"
        )
