"""The first free deposit address in one index step, at any pool size (issue 15).

A bind takes the first free address of its coin: `coin_type = ? AND bound_at IS NULL ORDER
BY position LIMIT 1`. SQLite reads that in order from (coin_type, bound_at, position), taking
IS NULL as an equality. PostgreSQL does not: it read every free address through that index
and sorted them (8 ms a bind with 16,000 free; more with a bigger pool). This partial index
holds the free addresses only, in position order per coin: the first is one step away on
both, and the index shrinks as addresses are bound.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

FREE = sa.text("bound_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_deposit_addresses_free",
        "deposit_addresses",
        ["coin_type", "position"],
        sqlite_where=FREE,
        postgresql_where=FREE,
    )


def downgrade() -> None:
    op.drop_index("ix_deposit_addresses_free", "deposit_addresses")
