"""Skycoin node sender (issue 4): anything the real sender needs beyond payouts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled in by the issue that owns this revision; a no-op until then


def downgrade() -> None:
    pass
