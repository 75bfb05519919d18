"""HD deposit addresses (issue 7): per-coin next derivation index; Go teller import bookkeeping.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_deposits_coin_type_deposit_address", "deposits", ["coin_type", "deposit_address"]
    )
    op.create_table(
        "hd_chains",
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("coin_type", sa.String(8), nullable=False),
        sa.Column("key_type", sa.String(8), nullable=False),
        sa.Column("next_index", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("key_id", name="pk_hd_chains"),
    )
    # An address derived from an HD chain: its row in the pool table, bound as it is made,
    # with position = its derivation index.
    with op.batch_alter_table("deposit_addresses") as batch:
        batch.add_column(sa.Column("hd_key", sa.String(64), nullable=True))
    op.create_index("ix_deposit_addresses_hd_key", "deposit_addresses", ["hd_key"])
    op.create_table(
        "bolt_imports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("source_txid", sa.BigInteger, nullable=False),
        sa.Column("imported_at", sa.BigInteger, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bolt_imports"),
    )


def downgrade() -> None:
    op.drop_index("ix_deposits_coin_type_deposit_address", table_name="deposits")
    op.drop_table("bolt_imports")
    op.drop_index("ix_deposit_addresses_hd_key", table_name="deposit_addresses")
    with op.batch_alter_table("deposit_addresses") as batch:
        batch.drop_column("hd_key")
    op.drop_table("hd_chains")
