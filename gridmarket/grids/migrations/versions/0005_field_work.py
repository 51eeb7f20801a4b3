"""field work: edit batches, unit events (add/split/merge/retire), visits, follow-ups

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 10:47:02.513742
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import geoalchemy2  # noqa: F401
from geoalchemy2 import Geometry

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this migration."""
    op.create_table('edit_batch',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('city_id', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('selection', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('change', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('unit_count', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('undo_of', sa.BigInteger(), nullable=True),
    sa.CheckConstraint("(kind = 'undo') = (undo_of IS NOT NULL)", name='edit_batch_undo_of'),
    sa.CheckConstraint("kind IN ('bulk', 'undo')", name='edit_batch_kind'),
    sa.ForeignKeyConstraint(['city_id'], ['region.id'], ),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['undo_of'], ['edit_batch.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('undo_of')
    )
    op.create_index(op.f('ix_edit_batch_city_id'), 'edit_batch', ['city_id'], unique=False)
    op.create_index(op.f('ix_edit_batch_created_by'), 'edit_batch', ['created_by'], unique=False)
    op.create_table('unit_event',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('city_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('changed_by', sa.Integer(), nullable=True),
    sa.Column('from_units', postgresql.ARRAY(sa.BigInteger()), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('to_units', postgresql.ARRAY(sa.BigInteger()), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.CheckConstraint("kind IN ('add', 'split', 'merge', 'retire')", name='unit_event_kind'),
    sa.ForeignKeyConstraint(['changed_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['city_id'], ['region.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_unit_event_city_id'), 'unit_event', ['city_id'], unique=False)
    op.create_index('unit_event_from_units', 'unit_event', ['from_units'], unique=False, postgresql_using='gin')
    op.create_index('unit_event_to_units', 'unit_event', ['to_units'], unique=False, postgresql_using='gin')
    op.create_table('follow_up',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('address_unit_id', sa.BigInteger(), nullable=False),
    sa.Column('cell_id', sa.Integer(), nullable=False),
    sa.Column('city_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('status_at_open', sa.Text(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('next_step', sa.Text(), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.Text(), nullable=True),
    sa.Column('outcome_note', sa.Text(), nullable=True),
    sa.CheckConstraint("outcome IS NULL OR outcome IN ('won', 'lost', 'dropped')", name='follow_up_outcome'),
    sa.CheckConstraint("reason IN ('expiring', 'other_network', 'potential')", name='follow_up_reason'),
    sa.CheckConstraint('(closed_at IS NULL) = (outcome IS NULL)', name='follow_up_closed'),
    sa.ForeignKeyConstraint(['address_unit_id'], ['address_unit.id'], ),
    sa.ForeignKeyConstraint(['cell_id'], ['cell.id'], ),
    sa.ForeignKeyConstraint(['city_id'], ['region.id'], ),
    sa.ForeignKeyConstraint(['closed_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['created_by'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['owner_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('follow_up_cell', 'follow_up', ['cell_id'], unique=False)
    op.create_index('follow_up_owner_open', 'follow_up', ['owner_id', 'due_date'], unique=False, postgresql_where=sa.text('closed_at IS NULL'))
    op.create_index('follow_up_unit', 'follow_up', ['address_unit_id'], unique=False)
    op.create_index(op.f('ix_follow_up_city_id'), 'follow_up', ['city_id'], unique=False)
    op.create_geospatial_table('visit',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('address_unit_id', sa.BigInteger(), nullable=False),
    sa.Column('cell_id', sa.Integer(), nullable=False),
    sa.Column('city_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('visited_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.Text(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('accuracy_m', sa.Float(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("outcome IN ('met', 'not_met', 'refused', 'interested', 'signed', 'vacant')", name='visit_outcome'),
    sa.CheckConstraint('accuracy_m IS NULL OR accuracy_m >= 0', name='visit_accuracy'),
    sa.ForeignKeyConstraint(['address_unit_id'], ['address_unit.id'], ),
    sa.ForeignKeyConstraint(['cell_id'], ['cell.id'], ),
    sa.ForeignKeyConstraint(['city_id'], ['region.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_visit_city_id'), 'visit', ['city_id'], unique=False)
    op.create_index(op.f('ix_visit_user_id'), 'visit', ['user_id'], unique=False)
    op.create_index('visit_cell_at', 'visit', ['cell_id', 'visited_at'], unique=False)
    op.create_index('visit_unit_at', 'visit', ['address_unit_id', 'visited_at'], unique=False)
    op.add_column('market_record', sa.Column('batch_id', sa.BigInteger(), nullable=True))
    op.create_index(op.f('ix_market_record_batch_id'), 'market_record', ['batch_id'], unique=False)
    op.create_foreign_key('market_record_batch_id_fkey', 'market_record', 'edit_batch', ['batch_id'], ['id'])


def downgrade() -> None:
    """Revert this migration."""
    op.drop_constraint('market_record_batch_id_fkey', 'market_record', type_='foreignkey')
    op.drop_index(op.f('ix_market_record_batch_id'), table_name='market_record')
    op.drop_column('market_record', 'batch_id')
    op.drop_index('visit_unit_at', table_name='visit')
    op.drop_index('visit_cell_at', table_name='visit')
    op.drop_index(op.f('ix_visit_user_id'), table_name='visit')
    op.drop_index(op.f('ix_visit_city_id'), table_name='visit')
    op.drop_geospatial_table('visit')
    op.drop_index(op.f('ix_follow_up_city_id'), table_name='follow_up')
    op.drop_index('follow_up_unit', table_name='follow_up')
    op.drop_index('follow_up_owner_open', table_name='follow_up', postgresql_where=sa.text('closed_at IS NULL'))
    op.drop_index('follow_up_cell', table_name='follow_up')
    op.drop_table('follow_up')
    op.drop_index('unit_event_to_units', table_name='unit_event', postgresql_using='gin')
    op.drop_index('unit_event_from_units', table_name='unit_event', postgresql_using='gin')
    op.drop_index(op.f('ix_unit_event_city_id'), table_name='unit_event')
    op.drop_table('unit_event')
    op.drop_index(op.f('ix_edit_batch_created_by'), table_name='edit_batch')
    op.drop_index(op.f('ix_edit_batch_city_id'), table_name='edit_batch')
    op.drop_table('edit_batch')
