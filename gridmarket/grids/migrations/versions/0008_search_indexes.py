"""search indexes: trigram (pg_trgm) GIN indexes for ILIKE '%text%' search

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 11:50:00

The search of the web app's header (grids/sql/search.sql) matches any part of an address, a
customer's name and a building's code or name. Without these indexes each search read every
address unit (≈ 1.2 s at 1,000,000 units). pg_trgm ships with PostgreSQL (contrib); under a
UTF-8 ctype it makes trigrams of Chinese text too.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Install pg_trgm and create the search indexes."""
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index(
        "address_unit_address_trgm",
        "address_unit",
        ["address"],
        postgresql_using="gin",
        postgresql_ops={"address": "gin_trgm_ops"},
        postgresql_where=sa.text("retired_at IS NULL"),
    )
    op.create_index(
        "customer_name_trgm",
        "customer",
        ["name"],
        postgresql_using="gin",
        postgresql_ops={"name": "gin_trgm_ops"},
    )
    op.create_index("customer_source_code", "customer", ["source_code"])
    op.create_index(
        "building_code_name_trgm",
        "building",
        ["code", "name"],
        postgresql_using="gin",
        postgresql_ops={"code": "gin_trgm_ops", "name": "gin_trgm_ops"},
    )


def downgrade() -> None:
    """Drop the search indexes (the extension stays: other objects may use it)."""
    op.drop_index("building_code_name_trgm", table_name="building")
    op.drop_index("customer_source_code", table_name="customer")
    op.drop_index("customer_name_trgm", table_name="customer")
    op.drop_index("address_unit_address_trgm", table_name="address_unit")
