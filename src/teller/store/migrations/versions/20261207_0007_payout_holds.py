"""The audit-driven hold (issue 13): payout_holds.

- payout_holds: one row per transaction the audit found spending from the hot wallet that is
  no payout of teller's (spend_txid), with why (reason) and when it was found. While a row is
  not released (released_at NULL) the sender signs no new payout; `teller payout resume`
  releases them (released_at, released_by). Released rows stay, so the same spend never holds
  the sender again.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payout_holds",
        sa.Column("spend_txid", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("found_at", sa.BigInteger, nullable=False),
        sa.Column("released_at", sa.BigInteger, nullable=True),
        sa.Column("released_by", sa.String(128), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("spend_txid", name="pk_payout_holds"),
    )


def downgrade() -> None:
    op.drop_table("payout_holds")
