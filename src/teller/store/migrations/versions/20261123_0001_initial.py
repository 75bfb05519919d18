"""Initial schema: address pool, bindings, deposits, payouts.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from teller.store.types import Amount

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deposit_addresses",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("coin_type", sa.String(8), nullable=False),
        sa.Column("address", sa.String(128), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("bound_at", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_deposit_addresses"),
        sa.UniqueConstraint("coin_type", "address", name="uq_deposit_addresses_coin_type_address"),
    )
    op.create_index(
        "ix_deposit_addresses_coin_type_bound_at_position",
        "deposit_addresses",
        ["coin_type", "bound_at", "position"],
    )
    op.create_table(
        "bindings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("coin_type", sa.String(8), nullable=False),
        sa.Column("deposit_address", sa.String(128), nullable=False),
        sa.Column("sky_address", sa.String(64), nullable=False),
        sa.Column("buy_method", sa.String(16), nullable=False),
        sa.Column("bound_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bindings"),
        sa.UniqueConstraint(
            "coin_type", "deposit_address", name="uq_bindings_coin_type_deposit_address"
        ),
    )
    op.create_index("ix_bindings_sky_address", "bindings", ["sky_address"])
    op.create_table(
        "payouts",
        sa.Column("txid", sa.String(64), nullable=False),
        sa.Column("raw_tx", sa.Text, nullable=False),
        sa.Column("inputs", sa.Text, nullable=False, server_default=""),
        sa.Column("total_droplets", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("txid", name="pk_payouts"),
    )
    op.create_index("ix_payouts_status", "payouts", ["status"])
    op.create_table(
        "deposits",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("deposit_id", sa.String(160), nullable=False),
        sa.Column("coin_type", sa.String(8), nullable=False),
        sa.Column("deposit_address", sa.String(128), nullable=False),
        sa.Column("sky_address", sa.String(64), nullable=False),
        sa.Column("binding_id", sa.Integer, nullable=False),
        sa.Column("tx", sa.String(128), nullable=False),
        sa.Column("n", sa.BigInteger, nullable=False),
        sa.Column("value", Amount(), nullable=False),
        sa.Column("height", sa.BigInteger, nullable=False),
        sa.Column("block_hash", sa.String(128), nullable=False, server_default=""),
        sa.Column("status", sa.String(48), nullable=False),
        sa.Column("buy_method", sa.String(16), nullable=False),
        sa.Column("conversion_rate", sa.String(64), nullable=False, server_default=""),
        sa.Column("sky_due", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("sky_sent", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("payout_txid", sa.String(64), nullable=True),
        sa.Column("error", sa.Text, nullable=False, server_default=""),
        sa.Column("exchange_name", sa.String(32), nullable=False, server_default=""),
        sa.Column("requested_amount", sa.String(64), nullable=False, server_default=""),
        sa.Column("sky_bought", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("deposit_value_spent", Amount(), nullable=False, server_default="0"),
        sa.Column("order_customer_id", sa.String(160), nullable=False, server_default=""),
        sa.Column("order_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("order_completed_amount", sa.String(64), nullable=False, server_default=""),
        sa.Column("order_price", sa.String(64), nullable=False, server_default=""),
        sa.Column("order_status", sa.String(32), nullable=False, server_default=""),
        sa.Column("order_final", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("order_original", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_deposits"),
        sa.UniqueConstraint("deposit_id", name="uq_deposits_deposit_id"),
        sa.ForeignKeyConstraint(
            ["binding_id"], ["bindings.id"], name="fk_deposits_binding_id_bindings"
        ),
        sa.ForeignKeyConstraint(
            ["payout_txid"], ["payouts.txid"], name="fk_deposits_payout_txid_payouts"
        ),
    )
    op.create_index("ix_deposits_sky_address", "deposits", ["sky_address"])
    op.create_index("ix_deposits_binding_id", "deposits", ["binding_id"])
    op.create_index("ix_deposits_status", "deposits", ["status"])
    op.create_index("ix_deposits_payout_txid", "deposits", ["payout_txid"])


def downgrade() -> None:
    op.drop_table("deposits")
    op.drop_table("payouts")
    op.drop_table("bindings")
    op.drop_table("deposit_addresses")
