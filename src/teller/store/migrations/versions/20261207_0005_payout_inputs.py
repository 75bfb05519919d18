"""Payout inputs, held deposits, stuck payouts (issue 13, findings 3, 6, 7).

- payout_inputs: one row per output a payout spends, written in the transaction that stores
  the payout; its primary key makes a second payout choosing the same output fail.
- deposits.hold_reason: a deposit the sender must not pay until an operator releases it
  (an imported Go `waiting_send` deposit whose earlier payment could not be ruled out).
- payouts.first_error_at: when a stored payout first failed to broadcast (stuck detection).

Backfill: every stored payout locks its stored inputs (payouts.inputs, a JSON list), whatever
its status. A signed or broadcast payout's inputs must be locked; a confirmed payout's are
spent on chain and can never be chosen again, so locking them is harmless; a conflicted
payout's still-unspent inputs stay its own until an operator voids it (the void takes the
locks over), so that a new payout and a void never race for one output. Payouts imported from
the Go teller have no inputs on record ("[]"): nothing to lock. Should two stored payouts
share an output (the race this table closes), the older keeps the lock.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payout_inputs",
        sa.Column("uxid", sa.String(64), nullable=False),
        sa.Column("txid", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("uxid", name="pk_payout_inputs"),
        sa.ForeignKeyConstraint(["txid"], ["payouts.txid"], name="fk_payout_inputs_txid_payouts"),
    )
    op.create_index("ix_payout_inputs_txid", "payout_inputs", ["txid"])
    with op.batch_alter_table("deposits") as batch:
        batch.add_column(sa.Column("hold_reason", sa.Text, nullable=True))
    with op.batch_alter_table("payouts") as batch:
        batch.add_column(sa.Column("first_error_at", sa.BigInteger, nullable=True))
    _backfill_inputs()


def _backfill_inputs() -> None:
    conn = op.get_bind()
    payouts = sa.table(
        "payouts",
        sa.column("txid", sa.String),
        sa.column("inputs", sa.Text),
        sa.column("created_at", sa.BigInteger),
    )
    inputs = sa.table(
        "payout_inputs",
        sa.column("uxid", sa.String),
        sa.column("txid", sa.String),
        sa.column("created_at", sa.BigInteger),
    )
    rows = conn.execute(
        sa.select(payouts.c.txid, payouts.c.inputs, payouts.c.created_at).order_by(
            payouts.c.created_at, payouts.c.txid
        )
    ).all()
    taken: set[str] = set()
    values: list[dict[str, object]] = []
    for txid, stored, created_at in rows:
        uxids = json.loads(stored) if stored else []
        for uxid in uxids:
            if uxid in taken:
                continue
            taken.add(uxid)
            values.append({"uxid": uxid, "txid": txid, "created_at": created_at})
    if values:
        conn.execute(sa.insert(inputs), values)


def downgrade() -> None:
    with op.batch_alter_table("payouts") as batch:
        batch.drop_column("first_error_at")
    with op.batch_alter_table("deposits") as batch:
        batch.drop_column("hold_reason")
    op.drop_index("ix_payout_inputs_txid", table_name="payout_inputs")
    op.drop_table("payout_inputs")
