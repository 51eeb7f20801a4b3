"""assignment natural key

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 09:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """One assignment per (staff, kind, target, valid_from)."""
    op.create_index(
        "assignment_natural_key",
        "assignment",
        [
            "staff_id",
            "kind",
            sa.text("coalesce(cell_id::bigint, grid_id::bigint, feature_grid_id::bigint, customer_id)"),
            "valid_from",
        ],
        unique=True,
    )


def downgrade() -> None:
    """Drop the natural key."""
    op.drop_index("assignment_natural_key", table_name="assignment")
