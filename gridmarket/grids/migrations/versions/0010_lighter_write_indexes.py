"""lighter indexes on the write path of a field edit

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22 12:35:00

A field edit inserts one record version and two delta rows. The btree on market_record.batch_id
took an entry for every version although only bulk batches set it (now partial), and the btree on
cell_metric_delta.tx had sixteen concurrent writers inserting at its rightmost page (now BRIN: the
column grows with time, and the read cache only asks for recent transactions).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Partial batch index, BRIN on the delta transaction ids."""
    op.drop_index("ix_market_record_batch_id", table_name="market_record")
    op.create_index(
        "market_record_batch", "market_record", ["batch_id"], postgresql_where=sa.text("batch_id IS NOT NULL")
    )
    op.drop_index("cell_metric_delta_tx", table_name="cell_metric_delta")
    op.create_index("cell_metric_delta_tx", "cell_metric_delta", ["tx"], postgresql_using="brin")


def downgrade() -> None:
    """Back to the btrees of 0005 and 0006."""
    op.drop_index("cell_metric_delta_tx", table_name="cell_metric_delta")
    op.create_index("cell_metric_delta_tx", "cell_metric_delta", ["tx"])
    op.drop_index("market_record_batch", table_name="market_record")
    op.create_index("ix_market_record_batch_id", "market_record", ["batch_id"])
