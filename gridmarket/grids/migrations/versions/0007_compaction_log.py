"""compaction no longer bumps the epoch: it counts itself and logs the cells it folded

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 11:20:00

Compaction changes no figure. Bumping ``metrics_epoch`` made every cached read (the map of a
city's cells above all) start again from scratch once a minute. Now compaction increments
``metrics_epoch.compactions`` (the cached reads of other levels check it) and writes the cells it
folded to ``metrics_compaction`` with its transaction id, so that the cell map re-reads only those
cells, as it does for delta rows (metrics._fast_entry). Rows older than six hours are removed by
compaction itself; a cached map older than that is read again whole.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add metrics_epoch.compactions and the metrics_compaction log."""
    op.add_column(
        "metrics_epoch",
        sa.Column("compactions", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.create_table(
        "metrics_compaction",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "tx",
            sa.BigInteger(),
            server_default=sa.text("(pg_current_xact_id())::text::bigint"),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("cell_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("metrics_compaction_tx", "metrics_compaction", ["tx"])
    op.create_index("metrics_compaction_at", "metrics_compaction", ["at"])
    op.execute("UPDATE metrics_epoch SET epoch = epoch + 1")


def downgrade() -> None:
    """Drop the log and the counter."""
    op.drop_index("metrics_compaction_at", table_name="metrics_compaction")
    op.drop_index("metrics_compaction_tx", table_name="metrics_compaction")
    op.drop_table("metrics_compaction")
    op.drop_column("metrics_epoch", "compactions")
