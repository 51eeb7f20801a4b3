"""delta rows carry their writing transaction (incremental read cache)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 11:20:00

Every ``cell_metric_delta`` row records the id of the transaction that wrote it (``xid8`` as a
bigint). A cached read remembers the snapshot it was taken under; the next read re-computes only
the cells with delta rows that snapshot did not see (``pg_visible_in_snapshot``) instead of every
cell of the city. Compaction still bumps ``metrics_epoch`` (a full re-read).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add cell_metric_delta.tx (default: the current transaction id) and its index."""
    op.add_column(
        "cell_metric_delta",
        sa.Column(
            "tx",
            sa.BigInteger(),
            server_default=sa.text("(pg_current_xact_id())::text::bigint"),
            nullable=False,
        ),
    )
    op.create_index("cell_metric_delta_tx", "cell_metric_delta", ["tx"])
    op.execute("UPDATE metrics_epoch SET epoch = epoch + 1")


def downgrade() -> None:
    """Drop the column and its index."""
    op.drop_index("cell_metric_delta_tx", table_name="cell_metric_delta")
    op.drop_column("cell_metric_delta", "tx")
