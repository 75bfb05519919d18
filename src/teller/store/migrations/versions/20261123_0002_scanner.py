"""Chain scanners (issue 3): scanned-block window and per-coin cursor.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled in by the issue that owns this revision; a no-op until then


def downgrade() -> None:
    pass
