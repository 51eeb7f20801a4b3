"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22 08:03:06.242595
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import geoalchemy2  # noqa: F401
from geoalchemy2 import Geometry

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_geospatial_table('region',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('level', sa.Text(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('city_id', sa.Integer(), nullable=True),
    sa.Column('is_unassigned', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('area_km2', sa.Float(), nullable=True),
    sa.CheckConstraint("level IN ('province', 'city', 'district')", name='region_level'),
    sa.ForeignKeyConstraint(['city_id'], ['region.id'], ),
    sa.ForeignKeyConstraint(['parent_id'], ['region.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_geospatial_index('idx_region_geom', 'region', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_region_city_id'), 'region', ['city_id'], unique=False)
    op.create_index(op.f('ix_region_parent_id'), 'region', ['parent_id'], unique=False)
    op.create_table('customer',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('city_id', sa.Integer(), nullable=False),
    sa.Column('source_code', sa.Text(), nullable=False),
    sa.Column('unified_code', sa.Text(), nullable=True),
    sa.Column('credit_code', sa.Text(), nullable=True),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('industry', sa.Text(), nullable=True),
    sa.Column('segments', postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    sa.ForeignKeyConstraint(['city_id'], ['region.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('city_id', 'source_code', name='customer_city_source_code')
    )
    op.create_index(op.f('ix_customer_city_id'), 'customer', ['city_id'], unique=False)
    op.create_index(op.f('ix_customer_credit_code'), 'customer', ['credit_code'], unique=False)
    op.create_index(op.f('ix_customer_unified_code'), 'customer', ['unified_code'], unique=False)
    op.create_geospatial_table('grid',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('city_id', sa.Integer(), nullable=False),
    sa.Column('district_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Text(), server_default=sa.text("'drawn'"), nullable=False),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('area_km2', sa.Float(), nullable=True),
    sa.CheckConstraint("kind IN ('drawn', 'generated')", name='grid_kind'),
    sa.ForeignKeyConstraint(['city_id'], ['region.id'], ),
    sa.ForeignKeyConstraint(['district_id'], ['region.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_geospatial_index('idx_grid_geom', 'grid', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_grid_city_id'), 'grid', ['city_id'], unique=False)
    op.create_index(op.f('ix_grid_district_id'), 'grid', ['district_id'], unique=False)
    op.create_table('org_unit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('city_id', sa.Integer(), nullable=False),
    sa.Column('district_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("kind IN ('city_dept', 'regional_centre', 'specialist_centre', 'specialist_team')", name='org_unit_kind'),
    sa.ForeignKeyConstraint(['city_id'], ['region.id'], ),
    sa.ForeignKeyConstraint(['district_id'], ['region.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_index(op.f('ix_org_unit_city_id'), 'org_unit', ['city_id'], unique=False)
    op.create_geospatial_table('cell',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('city_id', sa.Integer(), nullable=False),
    sa.Column('district_id', sa.Integer(), nullable=False),
    sa.Column('grid_id', sa.Integer(), nullable=False),
    sa.Column('type', sa.Text(), nullable=True),
    sa.Column('source', sa.Text(), server_default=sa.text("'drawn'"), nullable=False),
    sa.Column('h3_index', sa.BigInteger(), nullable=True),
    sa.Column('geom', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('area_km2', sa.Float(), nullable=False),
    sa.CheckConstraint("(source = 'h3') = (h3_index IS NOT NULL)", name='cell_h3_index'),
    sa.CheckConstraint("source IN ('drawn', 'h3')", name='cell_source'),
    sa.CheckConstraint("type IS NULL OR type IN ('specialist_market', 'commercial_building', 'street_shops', 'industrial_park', 'campus', 'hospital', 'hotel', 'government', 'residential', 'mixed')", name='cell_type'),
    sa.ForeignKeyConstraint(['city_id'], ['region.id'], ),
    sa.ForeignKeyConstraint(['district_id'], ['region.id'], ),
    sa.ForeignKeyConstraint(['grid_id'], ['grid.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code'),
    sa.UniqueConstraint('h3_index')
    )
    op.create_geospatial_index('idx_cell_geom', 'cell', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_cell_city_id'), 'cell', ['city_id'], unique=False)
    op.create_index(op.f('ix_cell_district_id'), 'cell', ['district_id'], unique=False)
    op.create_index(op.f('ix_cell_grid_id'), 'cell', ['grid_id'], unique=False)
    op.create_table('staff',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('post', sa.Text(), nullable=True),
    sa.Column('org_unit_id', sa.Integer(), nullable=True),
    sa.Column('city_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['city_id'], ['region.id'], ),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_unit.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_index(op.f('ix_staff_city_id'), 'staff', ['city_id'], unique=False)
    op.create_index(op.f('ix_staff_org_unit_id'), 'staff', ['org_unit_id'], unique=False)
    op.create_table('app_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.Text(), nullable=False),
    sa.Column('password_hash', sa.Text(), nullable=False),
    sa.Column('role', sa.Text(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('disabled', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("role IN ('admin', 'city_manager', 'regional_head', 'specialist_lead', 'grid_manager', 'account_manager', 'planner')", name='app_user_role'),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], ),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_geospatial_table('building',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('city_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('type', sa.Text(), nullable=True),
    sa.Column('floors', sa.Integer(), nullable=True),
    sa.Column('cell_id', sa.Integer(), nullable=True),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('footprint', Geometry(geometry_type='POLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.CheckConstraint("type IS NULL OR type IN ('office_tower', 'specialist_market', 'street_shop', 'industrial_park', 'campus', 'hospital', 'hotel', 'government', 'residential')", name='building_type'),
    sa.ForeignKeyConstraint(['cell_id'], ['cell.id'], ),
    sa.ForeignKeyConstraint(['city_id'], ['region.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('city_id', 'code', name='building_city_code')
    )
    op.create_geospatial_index('idx_building_geom', 'building', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_building_cell_id'), 'building', ['cell_id'], unique=False)
    op.create_index(op.f('ix_building_city_id'), 'building', ['city_id'], unique=False)
    op.create_geospatial_table('address_unit',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('city_id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.Text(), nullable=False),
    sa.Column('address', sa.Text(), nullable=False),
    sa.Column('building_id', sa.BigInteger(), nullable=True),
    sa.Column('floor', sa.Integer(), nullable=True),
    sa.Column('room', sa.Text(), nullable=True),
    sa.Column('cell_id', sa.Integer(), nullable=False),
    sa.Column('h3_12', sa.BigInteger(), nullable=False),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['building_id'], ['building.id'], ),
    sa.ForeignKeyConstraint(['cell_id'], ['cell.id'], ),
    sa.ForeignKeyConstraint(['city_id'], ['region.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('external_id')
    )
    op.create_geospatial_index('idx_address_unit_geom', 'address_unit', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_address_unit_building_id'), 'address_unit', ['building_id'], unique=False)
    op.create_index(op.f('ix_address_unit_cell_id'), 'address_unit', ['cell_id'], unique=False)
    op.create_index(op.f('ix_address_unit_city_id'), 'address_unit', ['city_id'], unique=False)
    op.create_index(op.f('ix_address_unit_h3_12'), 'address_unit', ['h3_12'], unique=False)
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_audit_log_at'), 'audit_log', ['at'], unique=False)
    op.create_index(op.f('ix_audit_log_user_id'), 'audit_log', ['user_id'], unique=False)
    op.create_table('auth_session',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('token_hash', sa.LargeBinary(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('csrf_token', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.CheckConstraint("kind IN ('bearer', 'cookie')", name='auth_session_kind'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index(op.f('ix_auth_session_user_id'), 'auth_session', ['user_id'], unique=False)
    op.create_table('market_record',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('address_unit_id', sa.BigInteger(), nullable=False),
    sa.Column('city_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('main_services', sa.Text(), nullable=True),
    sa.Column('fixed_lines_own', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('fixed_lines_rival', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('broadband_own', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('broadband_rival', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('ld_minutes_own', sa.Numeric(precision=14, scale=2), server_default=sa.text('0'), nullable=False),
    sa.Column('ld_minutes_rival', sa.Numeric(precision=14, scale=2), server_default=sa.text('0'), nullable=False),
    sa.Column('revenue_month', sa.Numeric(precision=14, scale=2), server_default=sa.text('0'), nullable=False),
    sa.Column('rival_operator', sa.Text(), nullable=True),
    sa.Column('contract_end', sa.Date(), nullable=True),
    sa.Column('contact_name', sa.Text(), nullable=True),
    sa.Column('contact_phone', sa.Text(), nullable=True),
    sa.Column('surveyed_at', sa.Date(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('changed_by', sa.Integer(), nullable=True),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("source IN ('demo', 'import', 'field', 'bulk', 'api')", name='record_source'),
    sa.CheckConstraint("status IN ('stock', 'competing', 'other_network', 'potential', 'vacant', 'unknown')", name='record_status'),
    sa.CheckConstraint('fixed_lines_own >= 0 AND fixed_lines_rival >= 0 AND broadband_own >= 0 AND broadband_rival >= 0 AND ld_minutes_own >= 0 AND ld_minutes_rival >= 0 AND revenue_month >= 0', name='record_non_negative'),
    sa.CheckConstraint('valid_to IS NULL OR valid_to > valid_from', name='record_validity'),
    sa.ForeignKeyConstraint(['address_unit_id'], ['address_unit.id'], ),
    sa.ForeignKeyConstraint(['changed_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['city_id'], ['region.id'], ),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_market_record_city_id'), 'market_record', ['city_id'], unique=False)
    op.create_index(op.f('ix_market_record_customer_id'), 'market_record', ['customer_id'], unique=False)
    op.create_index('market_record_current', 'market_record', ['address_unit_id'], unique=True, postgresql_where=sa.text('valid_to IS NULL'))
    op.create_index('market_record_unit_validity', 'market_record', ['address_unit_id', 'valid_from'], unique=False)


def downgrade() -> None:
    """Revert this migration."""
    op.drop_index('market_record_unit_validity', table_name='market_record')
    op.drop_index('market_record_current', table_name='market_record', postgresql_where=sa.text('valid_to IS NULL'))
    op.drop_index(op.f('ix_market_record_customer_id'), table_name='market_record')
    op.drop_index(op.f('ix_market_record_city_id'), table_name='market_record')
    op.drop_table('market_record')
    op.drop_index(op.f('ix_auth_session_user_id'), table_name='auth_session')
    op.drop_table('auth_session')
    op.drop_index(op.f('ix_audit_log_user_id'), table_name='audit_log')
    op.drop_index(op.f('ix_audit_log_at'), table_name='audit_log')
    op.drop_table('audit_log')
    op.drop_index(op.f('ix_address_unit_h3_12'), table_name='address_unit')
    op.drop_index(op.f('ix_address_unit_city_id'), table_name='address_unit')
    op.drop_index(op.f('ix_address_unit_cell_id'), table_name='address_unit')
    op.drop_index(op.f('ix_address_unit_building_id'), table_name='address_unit')
    op.drop_geospatial_index('idx_address_unit_geom', table_name='address_unit', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('address_unit')
    op.drop_index(op.f('ix_building_city_id'), table_name='building')
    op.drop_index(op.f('ix_building_cell_id'), table_name='building')
    op.drop_geospatial_index('idx_building_geom', table_name='building', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('building')
    op.drop_table('app_user')
    op.drop_index(op.f('ix_staff_org_unit_id'), table_name='staff')
    op.drop_index(op.f('ix_staff_city_id'), table_name='staff')
    op.drop_table('staff')
    op.drop_index(op.f('ix_cell_grid_id'), table_name='cell')
    op.drop_index(op.f('ix_cell_district_id'), table_name='cell')
    op.drop_index(op.f('ix_cell_city_id'), table_name='cell')
    op.drop_geospatial_index('idx_cell_geom', table_name='cell', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('cell')
    op.drop_index(op.f('ix_org_unit_city_id'), table_name='org_unit')
    op.drop_table('org_unit')
    op.drop_index(op.f('ix_grid_district_id'), table_name='grid')
    op.drop_index(op.f('ix_grid_city_id'), table_name='grid')
    op.drop_geospatial_index('idx_grid_geom', table_name='grid', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('grid')
    op.drop_index(op.f('ix_customer_unified_code'), table_name='customer')
    op.drop_index(op.f('ix_customer_credit_code'), table_name='customer')
    op.drop_index(op.f('ix_customer_city_id'), table_name='customer')
    op.drop_table('customer')
    op.drop_index(op.f('ix_region_parent_id'), table_name='region')
    op.drop_index(op.f('ix_region_city_id'), table_name='region')
    op.drop_geospatial_index('idx_region_geom', table_name='region', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('region')
