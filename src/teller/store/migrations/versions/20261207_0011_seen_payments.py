"""Payments seen before they count (issue 16): seen_payments.

- seen_payments: one row per output paying a bound deposit address that the coin's scanner
  sees in the node's mempool or in a block without the confirmations required yet
  (deposit_id "txid:n", the value, its confirmations as Bitcoin counts them, when it was
  first seen and last changed). Written by the scanner each round, read by /api/status;
  nothing is recorded or paid from it.

Revision ID: 0011
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from teller.store.types import Amount

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "seen_payments",
        sa.Column("coin_type", sa.String(8), nullable=False),
        sa.Column("deposit_id", sa.String(160), nullable=False),
        sa.Column("deposit_address", sa.String(128), nullable=False),
        sa.Column("value", Amount(), nullable=False),
        sa.Column("confirmations", sa.Integer, nullable=False),
        sa.Column("seen_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("coin_type", "deposit_id", name="pk_seen_payments"),
    )
    op.create_index(
        "ix_seen_payments_coin_type_deposit_address",
        "seen_payments",
        ["coin_type", "deposit_address"],
    )


def downgrade() -> None:
    op.drop_index("ix_seen_payments_coin_type_deposit_address", table_name="seen_payments")
    op.drop_table("seen_payments")
