"""Operator tools (issue 13): the audit trail of operator actions, and voids of payouts.

- operator_actions: one row per action an operator took (or was refused): who, when, what,
  on which payout or deposit, and how it ended. Shown by the admin API (GET /api/actions).
- payouts.kind: "payout" (teller's own, the default for every existing row), "void" (a
  transaction spending a stuck payout's inputs back to the hot wallet) or "manual" (a payment
  made by hand and recorded with `teller deposit record-payment`: no raw bytes).
- payouts.void_of: for a void, the txid of the payout it voids.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "operator_actions",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(48), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("detail", sa.Text, nullable=False, server_default=""),
        sa.Column("outcome", sa.Text, nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("id", name="pk_operator_actions"),
    )
    op.create_index("ix_operator_actions_target", "operator_actions", ["target"])
    with op.batch_alter_table("payouts") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="payout"))
        batch.add_column(sa.Column("void_of", sa.String(64), nullable=True))
        batch.create_index("ix_payouts_void_of", ["void_of"])


def downgrade() -> None:
    with op.batch_alter_table("payouts") as batch:
        batch.drop_index("ix_payouts_void_of")
        batch.drop_column("void_of")
        batch.drop_column("kind")
    op.drop_index("ix_operator_actions_target", table_name="operator_actions")
    op.drop_table("operator_actions")
