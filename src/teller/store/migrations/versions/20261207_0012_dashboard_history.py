"""The dashboard with charts (issue 16): history_samples, and indexes for the per-day figures.

- history_samples: the hot wallet's balance (series "hot_wallet", droplets) and each pool's
  free addresses (series "pool:BTC", …) over time, one row per sample, keyed by (series, at).
- ix_deposits_created_at, ix_payouts_created_at: the deposits and SKY sent per day of the
  last 30 days read a range of these, never the whole table.
- ix_deposits_coin_type_seq: a page of one coin's deposits, newest first, found at a flat cost
  however deep the page (keyset pagination).

Revision ID: 0012
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "history_samples",
        sa.Column("series", sa.String(16), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("value", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("series", "at", name="pk_history_samples"),
    )
    op.create_index("ix_deposits_created_at", "deposits", ["created_at"])
    op.create_index("ix_payouts_created_at", "payouts", ["created_at"])
    op.create_index("ix_deposits_coin_type_seq", "deposits", ["coin_type", "seq"])


def downgrade() -> None:
    op.drop_index("ix_deposits_coin_type_seq", table_name="deposits")
    op.drop_index("ix_payouts_created_at", table_name="payouts")
    op.drop_index("ix_deposits_created_at", table_name="deposits")
    op.drop_table("history_samples")
