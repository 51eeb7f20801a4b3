"""cell_metric keeps each cell's period figures of the current month (as of compaction)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 12:10:00

churned, won and new_own_lines compare each unit's state at the period's start with its state at
the end; read for a whole city they cost a lookup of every unit changed in the period (≈ 2.5 s
in a month with 100,000 changed units of 1,000,000). Compaction now stores them per cell for the
month it runs in, for the cells it folds (all cells at the first compaction of a month); a read of
the current month takes them from there for every cell without pending deltas and computes only
the others (metrics_cells.sql).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the period columns (empty: the next compaction fills them)."""
    op.add_column("cell_metric", sa.Column("period_from", sa.DateTime(timezone=True), nullable=True))
    op.add_column("cell_metric", sa.Column("period_to", sa.DateTime(timezone=True), nullable=True))
    for name in ("churned", "won", "new_own_lines"):
        op.add_column("cell_metric", sa.Column(name, sa.BigInteger(), server_default=sa.text("0"), nullable=False))
    op.execute("UPDATE metrics_epoch SET epoch = epoch + 1")


def downgrade() -> None:
    """Drop the period columns."""
    for name in ("new_own_lines", "won", "churned", "period_to", "period_from"):
        op.drop_column("cell_metric", name)
