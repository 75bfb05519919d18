"""Chain scanners (issue 3): scanned-block window and per-coin cursor; scan floors (set by
the Go teller import); orphaned deposits.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from teller.store.types import Amount

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scan_blocks",
        sa.Column("coin_type", sa.String(8), nullable=False),
        sa.Column("height", sa.BigInteger, nullable=False),
        sa.Column("block_hash", sa.String(128), nullable=False),
        sa.Column("scanned_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("coin_type", "height", name="pk_scan_blocks"),
    )
    op.create_table(
        "scan_floors",
        sa.Column("coin_type", sa.String(8), nullable=False),
        sa.Column("height", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("set_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("coin_type", name="pk_scan_floors"),
    )
    op.create_table(
        "orphaned_deposits",
        sa.Column("deposit_id", sa.String(160), nullable=False),
        sa.Column("coin_type", sa.String(8), nullable=False),
        sa.Column("deposit_address", sa.String(128), nullable=False),
        sa.Column("value", Amount(), nullable=False),
        sa.Column("height", sa.BigInteger, nullable=False),
        sa.Column("block_hash", sa.String(128), nullable=False),
        sa.Column("fork_height", sa.BigInteger, nullable=False),
        sa.Column("status_then", sa.String(48), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("detected_at", sa.BigInteger, nullable=False),
        sa.Column("back_height", sa.BigInteger, nullable=True),
        sa.Column("back_at", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("deposit_id", name="pk_orphaned_deposits"),
    )
    op.create_index("ix_orphaned_deposits_coin_type", "orphaned_deposits", ["coin_type"])


def downgrade() -> None:
    op.drop_table("orphaned_deposits")
    op.drop_table("scan_floors")
    op.drop_table("scan_blocks")
