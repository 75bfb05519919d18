"""Webhooks (issue 16): webhook_deliveries, the outbox.

- webhook_deliveries: one row per event and configured webhook (its url), written in the
  transaction of the state change it reports (store/webhooks.py); the delivery loop
  (webhooks/delivery.py) posts each pending row and records the outcome: delivered, or
  retried with backoff until dead after the webhook's max_attempts.

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("webhook", sa.String(500), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("ordering_key", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text, nullable=False, server_default=""),
        sa.Column("next_try_at", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("delivered_at", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.UniqueConstraint("event_id", "webhook", name="uq_webhook_deliveries_event_id_webhook"),
    )
    op.create_index(
        "ix_webhook_deliveries_webhook_status_ordering_key",
        "webhook_deliveries",
        ["webhook", "status", "ordering_key"],
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_webhook_status_ordering_key", "webhook_deliveries")
    op.drop_table("webhook_deliveries")
