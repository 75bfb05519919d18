"""Passthrough (issue 5): exchange orders placed for deposits, stored before they are placed.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exchange_orders",
        sa.Column("client_id", sa.String(200), nullable=False),
        sa.Column("deposit_id", sa.String(160), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("exchange", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("price", sa.String(64), nullable=False, server_default=""),
        sa.Column("volume", sa.String(64), nullable=False, server_default=""),
        sa.Column("exchange_status", sa.String(32), nullable=False, server_default=""),
        sa.Column("completed_amount", sa.String(64), nullable=False, server_default=""),
        sa.Column("avg_price", sa.String(64), nullable=False, server_default=""),
        sa.Column("fee", sa.String(64), nullable=False, server_default=""),
        sa.Column("btc_spent", sa.String(64), nullable=False, server_default=""),
        sa.Column("sky_bought", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("error", sa.Text, nullable=False, server_default=""),
        sa.Column("original", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("client_id", name="pk_exchange_orders"),
        sa.ForeignKeyConstraint(
            ["deposit_id"],
            ["deposits.deposit_id"],
            name="fk_exchange_orders_deposit_id_deposits",
        ),
        sa.UniqueConstraint("deposit_id", "number", name="uq_exchange_orders_deposit_id_number"),
    )
    op.create_index("ix_exchange_orders_state", "exchange_orders", ["state"])


def downgrade() -> None:
    op.drop_index("ix_exchange_orders_state", table_name="exchange_orders")
    op.drop_table("exchange_orders")
