"""The fenced worker role and the state every replica shows (issue 15): worker_role,
worker_status.

- worker_role: one row (id 1): the current epoch, the process holding the worker role
  (holder; "" when free), since when, and until when its lease lasts (lease_until), both in
  milliseconds of the database's clock. Taking the role bumps the epoch; every money-moving
  commit checks its epoch in the same transaction.
- worker_status: the worker's processor and sender errors and each scanner's heights and
  error, key → JSON, read by /api/health in every process.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    role = op.create_table(
        "worker_role",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("epoch", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("holder", sa.String(200), nullable=False, server_default=""),
        sa.Column("since", sa.BigInteger, nullable=True),
        sa.Column("lease_until", sa.BigInteger, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_worker_role"),
    )
    op.bulk_insert(role, [{"id": 1}])
    op.create_table(
        "worker_status",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_worker_status"),
    )


def downgrade() -> None:
    op.drop_table("worker_status")
    op.drop_table("worker_role")
