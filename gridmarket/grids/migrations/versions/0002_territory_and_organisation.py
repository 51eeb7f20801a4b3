"""territory and organisation

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 08:20:14.795088
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import geoalchemy2  # noqa: F401
from geoalchemy2 import Geometry

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_geospatial_table('feature_grid',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('city_id', sa.Integer(), nullable=False),
    sa.Column('type', sa.Text(), nullable=True),
    sa.Column('industries', postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.CheckConstraint("type IS NULL OR type IN ('specialist_market', 'commercial_building', 'street_shops', 'industrial_park', 'campus', 'hospital', 'hotel', 'government', 'residential', 'mixed')", name='feature_grid_type'),
    sa.ForeignKeyConstraint(['city_id'], ['region.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_geospatial_index('idx_feature_grid_geom', 'feature_grid', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_feature_grid_city_id'), 'feature_grid', ['city_id'], unique=False)
    op.create_table('assignment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('org_unit_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('cell_id', sa.Integer(), nullable=True),
    sa.Column('grid_id', sa.Integer(), nullable=True),
    sa.Column('feature_grid_id', sa.Integer(), nullable=True),
    sa.Column('customer_id', sa.BigInteger(), nullable=True),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.CheckConstraint("(kind = 'cell') = (cell_id IS NOT NULL) AND (kind = 'grid') = (grid_id IS NOT NULL) AND (kind = 'feature_grid') = (feature_grid_id IS NOT NULL) AND (kind = 'customer') = (customer_id IS NOT NULL)", name='assignment_target'),
    sa.CheckConstraint("kind IN ('cell', 'grid', 'feature_grid', 'customer')", name='assignment_kind'),
    sa.CheckConstraint('valid_to IS NULL OR valid_to >= valid_from', name='assignment_validity'),
    sa.ForeignKeyConstraint(['cell_id'], ['cell.id'], ),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.ForeignKeyConstraint(['feature_grid_id'], ['feature_grid.id'], ),
    sa.ForeignKeyConstraint(['grid_id'], ['grid.id'], ),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_unit.id'], ),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('assignment_staff_kind', 'assignment', ['staff_id', 'kind'], unique=False)
    op.create_index(op.f('ix_assignment_cell_id'), 'assignment', ['cell_id'], unique=False)
    op.create_index(op.f('ix_assignment_customer_id'), 'assignment', ['customer_id'], unique=False)
    op.create_index(op.f('ix_assignment_feature_grid_id'), 'assignment', ['feature_grid_id'], unique=False)
    op.create_index(op.f('ix_assignment_grid_id'), 'assignment', ['grid_id'], unique=False)
    op.create_table('feature_grid_cell',
    sa.Column('feature_grid_id', sa.Integer(), nullable=False),
    sa.Column('cell_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['cell_id'], ['cell.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['feature_grid_id'], ['feature_grid.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('feature_grid_id', 'cell_id')
    )
    op.create_index(op.f('ix_feature_grid_cell_cell_id'), 'feature_grid_cell', ['cell_id'], unique=False)
    op.add_column('org_unit', sa.Column('parent_id', sa.Integer(), nullable=True))
    op.create_foreign_key('org_unit_parent_id_fkey', 'org_unit', 'org_unit', ['parent_id'], ['id'])


def downgrade() -> None:
    """Revert this migration."""
    op.drop_constraint('org_unit_parent_id_fkey', 'org_unit', type_='foreignkey')
    op.drop_column('org_unit', 'parent_id')
    op.drop_index(op.f('ix_feature_grid_cell_cell_id'), table_name='feature_grid_cell')
    op.drop_table('feature_grid_cell')
    op.drop_index(op.f('ix_assignment_grid_id'), table_name='assignment')
    op.drop_index(op.f('ix_assignment_feature_grid_id'), table_name='assignment')
    op.drop_index(op.f('ix_assignment_customer_id'), table_name='assignment')
    op.drop_index(op.f('ix_assignment_cell_id'), table_name='assignment')
    op.drop_index('assignment_staff_kind', table_name='assignment')
    op.drop_table('assignment')
    op.drop_index(op.f('ix_feature_grid_city_id'), table_name='feature_grid')
    op.drop_geospatial_index('idx_feature_grid_geom', table_name='feature_grid', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('feature_grid')
