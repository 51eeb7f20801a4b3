"""a version of what characteristic-grid figures depend on, so that their reads can be cached

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22 14:10:00

A characteristic grid counts its member cells' units and, across the city, the units whose
customer's industry is one of its industries. Changes of customers (their industry, new or
removed customers), of the characteristic grids and of their member cells move no figure of the
cell aggregates, so the metric read cache could not keep characteristic-grid reads: the level
``feature_grid`` of a 1,000,000-unit city was computed again (seconds) on every page load. The
statement triggers here count those changes in ``metrics_epoch.feature_grids``; the cache's data
version includes it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BUMP = """
BEGIN
    UPDATE metrics_epoch SET feature_grids = feature_grids + 1;
    RETURN NULL;
END"""

# (trigger, table, events)
TRIGGERS = (
    ("metrics_fg_customer", "customer", "INSERT OR DELETE OR TRUNCATE OR UPDATE OF industry, city_id"),
    ("metrics_fg_feature_grid", "feature_grid", "INSERT OR UPDATE OR DELETE OR TRUNCATE"),
    ("metrics_fg_feature_grid_cell", "feature_grid_cell", "INSERT OR UPDATE OR DELETE OR TRUNCATE"),
)


def upgrade() -> None:
    """metrics_epoch.feature_grids and the triggers counting the changes it versions."""
    op.add_column(
        "metrics_epoch",
        sa.Column("feature_grids", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.execute(
        f"CREATE FUNCTION metrics_bump_feature_grids() RETURNS trigger LANGUAGE plpgsql AS $body${BUMP}$body$"
    )
    for name, table, events in TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {name} AFTER {events} ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION metrics_bump_feature_grids()"
        )


def downgrade() -> None:
    """Drop the triggers, the function and the column."""
    for name, table, _ in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    op.execute("DROP FUNCTION IF EXISTS metrics_bump_feature_grids()")
    op.drop_column("metrics_epoch", "feature_grids")
