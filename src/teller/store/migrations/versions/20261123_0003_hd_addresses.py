"""HD deposit addresses (issue 7): per-coin next derivation index; Go teller import bookkeeping.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled in by the issue that owns this revision; a no-op until then


def downgrade() -> None:
    pass
