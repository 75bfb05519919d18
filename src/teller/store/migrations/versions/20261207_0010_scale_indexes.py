"""Cost flat as the store grows (issue 15): indexes for health and the admin lists.

- ix_deposits_status_seq: a status's deposits in seq order, so a page of the keyset-paginated
  admin list (/api/deposits?status=…&after=…) is a range read on PostgreSQL too (SQLite's
  ix_deposits_status already ends in the rowid, seq).
- ix_deposits_errored: deposits whose error is not empty (deposits.seq WHERE error != ''),
  so /api/health's deposit_error_count and /api/deposits/errored read only those rows, not
  every deposit of the store, whatever its size.

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ERRORED = sa.text("error != ''")


def upgrade() -> None:
    op.create_index("ix_deposits_status_seq", "deposits", ["status", "seq"])
    op.create_index(
        "ix_deposits_errored",
        "deposits",
        ["seq"],
        sqlite_where=ERRORED,
        postgresql_where=ERRORED,
    )


def downgrade() -> None:
    op.drop_index("ix_deposits_errored", "deposits")
    op.drop_index("ix_deposits_status_seq", "deposits")
