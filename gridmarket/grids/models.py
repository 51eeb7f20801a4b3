"""The schema: territory, buildings, address units, customers, versioned market records, org, users.

Only Alembic migrations change the database; ``tests/grids/test_migrations.py`` proves these
models and the migrations agree. Every large table carries ``city_id`` (the shard key, see
README "Beyond one machine").
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from geoalchemy2 import Geometry

STATUSES = ("stock", "competing", "other_network", "potential", "vacant", "unknown")
REGION_LEVELS = ("province", "city", "district")
CELL_TYPES = (
    "specialist_market",
    "commercial_building",
    "street_shops",
    "industrial_park",
    "campus",
    "hospital",
    "hotel",
    "government",
    "residential",
    "mixed",
)
BUILDING_TYPES = (
    "office_tower",
    "specialist_market",
    "street_shop",
    "industrial_park",
    "campus",
    "hospital",
    "hotel",
    "government",
    "residential",
)
ROLES = (
    "admin",
    "city_manager",
    "regional_head",
    "specialist_lead",
    "grid_manager",
    "account_manager",
    "planner",
)
RECORD_SOURCES = ("demo", "import", "field", "bulk", "api")
UNIT_EVENT_KINDS = ("add", "split", "merge", "retire")
VISIT_OUTCOMES = ("met", "not_met", "refused", "interested", "signed", "vacant")
FOLLOW_UP_REASONS = ("expiring", "other_network", "potential")
FOLLOW_UP_OUTCOMES = ("won", "lost", "dropped")
BATCH_KINDS = ("bulk", "undo")
ORG_KINDS = ("city_dept", "regional_centre", "specialist_centre", "specialist_team")
ASSIGN_KINDS = ("cell", "grid", "feature_grid", "customer")


def _in(col: str, values: tuple[str, ...]) -> str:
    return f"{col} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    """Declarative base of all tables."""


class Region(Base):
    """A province, city branch (local network) or district bureau, with its boundary."""

    __tablename__ = "region"
    __table_args__ = (CheckConstraint(_in("level", REGION_LEVELS), name="region_level"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(Text)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"), index=True)
    # the city branch a city or district belongs to (itself for a city); null for a province
    city_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"), index=True)
    # the "unassigned" area (区县未定) and its city hold addresses outside every loaded district
    is_unassigned: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=True)
    area_km2: Mapped[float | None] = mapped_column(Float)


class Grid(Base):
    """A grid (网格): a set of cells inside one district, drawn or generated per district."""

    __tablename__ = "grid"
    __table_args__ = (CheckConstraint("kind IN ('drawn', 'generated')", name="grid_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    city_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    kind: Mapped[str] = mapped_column(Text, server_default=text("'drawn'"))
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=True)
    area_km2: Mapped[float | None] = mapped_column(Float)


class Cell(Base):
    """A grid cell (网格单元): a drawn polygon or a generated H3 hexagon, in one grid."""

    __tablename__ = "cell"
    __table_args__ = (
        CheckConstraint("source IN ('drawn', 'h3')", name="cell_source"),
        CheckConstraint(f"type IS NULL OR {_in('type', CELL_TYPES)}", name="cell_type"),
        CheckConstraint("(source = 'h3') = (h3_index IS NOT NULL)", name="cell_h3_index"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    city_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"), index=True)
    type: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text, server_default=text("'drawn'"))
    h3_index: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False)
    area_km2: Mapped[float] = mapped_column(Float)


class Building(Base):
    """A building (楼宇): point (and footprint when known), type and floors."""

    __tablename__ = "building"
    __table_args__ = (
        UniqueConstraint("city_id", "code", name="building_city_code"),
        CheckConstraint(f"type IS NULL OR {_in('type', BUILDING_TYPES)}", name="building_type"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    code: Mapped[str] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    type: Mapped[str | None] = mapped_column(Text)
    floors: Mapped[int | None] = mapped_column(Integer)
    cell_id: Mapped[int | None] = mapped_column(ForeignKey("cell.id"), index=True)
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=True), nullable=False)
    footprint = mapped_column(Geometry("POLYGON", srid=4326, spatial_index=False), nullable=True)


class Customer(Base):
    """A customer record as a source system knows it; consolidation assigns ``unified_code``."""

    __tablename__ = "customer"
    __table_args__ = (UniqueConstraint("city_id", "source_code", name="customer_city_source_code"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    source_code: Mapped[str] = mapped_column(Text)
    unified_code: Mapped[str | None] = mapped_column(Text, index=True)
    credit_code: Mapped[str | None] = mapped_column(Text, index=True)
    name: Mapped[str] = mapped_column(Text)
    industry: Mapped[str | None] = mapped_column(Text)
    segments: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))


class AddressUnit(Base):
    """A minimum address unit (最小地址单元): door, shop or room; its cell and H3 index set at write time."""

    __tablename__ = "address_unit"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    external_id: Mapped[str] = mapped_column(Text, unique=True)
    address: Mapped[str] = mapped_column(Text)
    building_id: Mapped[int | None] = mapped_column(ForeignKey("building.id"), index=True)
    floor: Mapped[int | None] = mapped_column(Integer)
    room: Mapped[str | None] = mapped_column(Text)
    cell_id: Mapped[int] = mapped_column(ForeignKey("cell.id"), index=True)
    # H3 index at resolution 12 (signed bigint); coarser parents follow from its bit layout
    h3_12: Mapped[int] = mapped_column(BigInteger, index=True)
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=True), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    retired_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class MarketRecord(Base):
    """One version of an address unit's market-space record; the current one has ``valid_to`` null."""

    __tablename__ = "market_record"
    __table_args__ = (
        CheckConstraint(_in("status", STATUSES), name="record_status"),
        CheckConstraint(_in("source", RECORD_SOURCES), name="record_source"),
        CheckConstraint(
            "fixed_lines_own >= 0 AND fixed_lines_rival >= 0 AND broadband_own >= 0"
            " AND broadband_rival >= 0 AND ld_minutes_own >= 0 AND ld_minutes_rival >= 0"
            " AND revenue_month >= 0",
            name="record_non_negative",
        ),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="record_validity"),
        Index(
            "market_record_current",
            "address_unit_id",
            unique=True,
            postgresql_where=text("valid_to IS NULL"),
        ),
        Index("market_record_unit_validity", "address_unit_id", "valid_from"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    address_unit_id: Mapped[int] = mapped_column(ForeignKey("address_unit.id"))
    city_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    status: Mapped[str] = mapped_column(Text)
    main_services: Mapped[str | None] = mapped_column(Text)
    fixed_lines_own: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    fixed_lines_rival: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    broadband_own: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    broadband_rival: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    ld_minutes_own: Mapped[Decimal] = mapped_column(Numeric(14, 2), server_default=text("0"))
    ld_minutes_rival: Mapped[Decimal] = mapped_column(Numeric(14, 2), server_default=text("0"))
    revenue_month: Mapped[Decimal] = mapped_column(Numeric(14, 2), server_default=text("0"))
    rival_operator: Mapped[str | None] = mapped_column(Text)
    contract_end: Mapped[dt.date | None] = mapped_column(Date)
    contact_name: Mapped[str | None] = mapped_column(Text)
    contact_phone: Mapped[str | None] = mapped_column(Text)
    surveyed_at: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    valid_from: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    valid_to: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("edit_batch.id"))


class OrgUnit(Base):
    """An org unit of the matrix: the city 政企部, a regional centre, a specialist centre or team."""

    __tablename__ = "org_unit"
    __table_args__ = (CheckConstraint(_in("kind", ORG_KINDS), name="org_unit_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    city_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    district_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))


class Staff(Base):
    """A member of staff with a post in an org unit."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    post: Mapped[str | None] = mapped_column(Text)
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)


class AppUser(Base):
    """A login: one role; scope follows from its staff record or region (CONTRACT.md)."""

    __tablename__ = "app_user"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="app_user_role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(Text, unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(Text)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    disabled: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AuthSession(Base):
    """A login session: a bearer token or a browser cookie; only a hash of the secret is stored."""

    __tablename__ = "auth_session"
    __table_args__ = (CheckConstraint("kind IN ('bearer', 'cookie')", name="auth_session_kind"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    kind: Mapped[str] = mapped_column(Text)
    csrf_token: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class AuditLog(Base):
    """Who did what when: admin actions, logins, and every list or export carrying unmasked phones."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"), index=True)
    action: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, object]] = mapped_column(JSONB, server_default=text("'{}'"))
    rows: Mapped[int | None] = mapped_column(Integer)


ROLE_NAMES: dict[str, tuple[str, str]] = {
    "admin": ("系统管理员", "Administrator"),
    "city_manager": ("地市政企部经理", "City manager"),
    "regional_head": ("区局营销中心主任", "Regional head"),
    "specialist_lead": ("专业营销中心负责人", "Specialist lead"),
    "grid_manager": ("网格经理", "Grid manager"),
    "account_manager": ("客户经理", "Account manager"),
    "planner": ("市场经理", "Planner"),
}

SPECIALTIES = (
    "government",
    "finance",
    "large_enterprise",
    "specialist_market",
    "campus",
    "hospital",
    "hotel",
)


class FeatureGrid(Base):
    """A characteristic grid (特征网格): a named set of units across districts, by cells and/or industries."""

    __tablename__ = "feature_grid"
    __table_args__ = (
        CheckConstraint(f"type IS NULL OR {_in('type', CELL_TYPES)}", name="feature_grid_type"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
    city_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    type: Mapped[str | None] = mapped_column(Text)
    industries: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=True)


class FeatureGridCell(Base):
    """A member cell of a characteristic grid."""

    __tablename__ = "feature_grid_cell"

    feature_grid_id: Mapped[int] = mapped_column(
        ForeignKey("feature_grid.id", ondelete="CASCADE"), primary_key=True
    )
    cell_id: Mapped[int] = mapped_column(
        ForeignKey("cell.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Assignment(Base):
    """Who is responsible for what, when: cell/customer → account manager, grid → grid manager,
    characteristic grid → specialist team and lead. In force from ``valid_from`` to ``valid_to``
    (both inclusive dates; open-ended when ``valid_to`` is null)."""

    __tablename__ = "assignment"
    __table_args__ = (
        CheckConstraint(_in("kind", ASSIGN_KINDS), name="assignment_kind"),
        CheckConstraint(
            "(kind = 'cell') = (cell_id IS NOT NULL) AND (kind = 'grid') = (grid_id IS NOT NULL)"
            " AND (kind = 'feature_grid') = (feature_grid_id IS NOT NULL)"
            " AND (kind = 'customer') = (customer_id IS NOT NULL)",
            name="assignment_target",
        ),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="assignment_validity"),
        Index("assignment_staff_kind", "staff_id", "kind"),
        # one assignment per (staff, kind, target, start): the org importer's natural key
        Index(
            "assignment_natural_key",
            "staff_id",
            "kind",
            text("coalesce(cell_id::bigint, grid_id::bigint, feature_grid_id::bigint, customer_id)"),
            "valid_from",
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    kind: Mapped[str] = mapped_column(Text)
    cell_id: Mapped[int | None] = mapped_column(ForeignKey("cell.id"), index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"), index=True)
    feature_grid_id: Mapped[int | None] = mapped_column(ForeignKey("feature_grid.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)


# -- metric aggregates (grids/metrics.py; migration 0004) -------------------------------------
from sqlalchemy.dialects.postgresql import JSON  # noqa: E402  (this block is appended as a whole)

# Base tables are written only by compaction; writers append signed rows to cell_metric_delta from
# statement-level triggers on market_record and address_unit. No foreign keys: a delta row must
# never lock or wait for the cell row, and compaction drops rows of cells that no longer exist.


class _MetricSums:
    """The additive sums per area of METRICS.md (counts, line counts, minutes, revenue)."""

    units: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    n_stock: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    n_competing: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    n_other_network: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    n_potential: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    n_vacant: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    n_unknown: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    # units in demand with fixed_lines_own > 0 / broadband_own > 0
    n_fixed_own: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    n_broadband_own: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    ld_minutes_own: Mapped[Decimal] = mapped_column(Numeric, server_default=text("0"))
    ld_minutes_rival: Mapped[Decimal] = mapped_column(Numeric, server_default=text("0"))
    lines_own: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    lines_all: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    revenue: Mapped[Decimal] = mapped_column(Numeric, server_default=text("0"))


class CellMetric(_MetricSums, Base):
    """Compacted current sums per cell (the fast path of cell, grid, district, city, province reads).

    ``rival_mix`` is the cell's rival_mix object as of the last compaction (from ``cell_rival``,
    kept as ``json`` so that reads copy it out without re-rendering); ``exp_n`` is its
    expiring_90d as of ``exp_day`` (refreshed by compaction for the day it runs); ``churned``,
    ``won`` and ``new_own_lines`` are its period figures for [``period_from``, ``period_to``],
    the month of the last compaction, as of that compaction (migration 0009).
    """

    __tablename__ = "cell_metric"

    cell_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    rival_mix: Mapped[dict[str, int]] = mapped_column(JSON, server_default=text("'{}'::json"))
    exp_day: Mapped[dt.date | None] = mapped_column(Date)
    exp_n: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    period_from: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    period_to: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    churned: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    won: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    new_own_lines: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class CellH3Metric(_MetricSums, Base):
    """Compacted current sums per cell and resolution-8 H3 parent of its units (H3 levels 5..8)."""

    __tablename__ = "cell_h3_metric"

    cell_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    h3_8: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


class CellRival(Base):
    """Compacted count of competing/other-network units per rival operator (rival_mix)."""

    __tablename__ = "cell_rival"

    cell_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    h3_8: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    rival: Mapped[str] = mapped_column(Text, primary_key=True)
    units: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class CellExpiry(Base):
    """Compacted count of competing/other-network units per contract end day (expiring_90d)."""

    __tablename__ = "cell_expiry"
    __table_args__ = (
        Index("cell_expiry_contract_end", "contract_end", postgresql_include=["cell_id", "h3_8", "units"]),
    )

    cell_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    h3_8: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    contract_end: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    units: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class CellMetricDelta(_MetricSums, Base):
    """Append-only signed changes not compacted yet, written by the triggers of migration 0004.

    A row carries the sums of the records it stands for and, for competing / other-network
    ones, their rival operator (``n_rival`` signed units) and contract end (``n_expiry``). The
    table has no primary key (only INSERT and compaction's DELETE touch it); the mapper's key
    exists for the ORM only. ``tx`` is the writing transaction's id (xid8 as bigint): the read
    cache re-reads only the cells whose deltas its snapshot did not see (migration 0006).
    """

    __tablename__ = "cell_metric_delta"
    __table_args__ = (Index("cell_metric_delta_tx", "tx", postgresql_using="brin"),)

    cell_id: Mapped[int] = mapped_column(Integer)
    h3_8: Mapped[int] = mapped_column(BigInteger)
    rival: Mapped[str | None] = mapped_column(Text)
    n_rival: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    contract_end: Mapped[dt.date | None] = mapped_column(Date)
    n_expiry: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    tx: Mapped[int] = mapped_column(BigInteger, server_default=text("(pg_current_xact_id())::text::bigint"))

    __mapper_args__ = {"primary_key": ["cell_id", "h3_8", "rival", "contract_end"]}  # noqa: RUF012


class MetricsEpoch(Base):
    """One row: ``epoch`` bumped by every change of the territory tables and by a recount,
    ``compactions`` by every compaction, ``feature_grids`` by every change characteristic-grid
    figures depend on beyond the aggregates (the read cache's data version)."""

    __tablename__ = "metrics_epoch"
    __table_args__ = (CheckConstraint("id = 1", name="metrics_epoch_one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    epoch: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    compactions: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    # changes of customers' industries, characteristic grids and their members (migration 0011)
    feature_grids: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class MetricsCompaction(Base):
    """The cells each compaction folded deltas of, with its transaction (kept six hours; migration 0007).

    Compaction changes no figure but removes delta rows: the read cache of the cell map re-reads
    the cells of compactions its snapshot did not see, as it does for delta rows.
    """

    __tablename__ = "metrics_compaction"
    __table_args__ = (Index("metrics_compaction_tx", "tx"), Index("metrics_compaction_at", "at"))

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tx: Mapped[int] = mapped_column(BigInteger, server_default=text("(pg_current_xact_id())::text::bigint"))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    cell_id: Mapped[int] = mapped_column(Integer)


# the units changed since / within an instant or period (as-of and period reads; index-only)
Index("market_record_valid_from", MarketRecord.valid_from, postgresql_include=["address_unit_id"])
Index(
    "market_record_valid_to",
    MarketRecord.valid_to,
    postgresql_include=["address_unit_id"],
    postgresql_where=text("valid_to IS NOT NULL"),
)
Index("address_unit_retired_at", AddressUnit.retired_at, postgresql_where=text("retired_at IS NOT NULL"))
Index("customer_city_industry", Customer.city_id, Customer.industry)


class EditBatch(Base):
    """One bulk change (lasso or list) or the undo of one: every record version it wrote carries its id."""

    __tablename__ = "edit_batch"
    __table_args__ = (
        CheckConstraint(_in("kind", BATCH_KINDS), name="edit_batch_kind"),
        CheckConstraint("(kind = 'undo') = (undo_of IS NOT NULL)", name="edit_batch_undo_of"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    city_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    selection: Mapped[dict[str, object]] = mapped_column(JSONB, server_default=text("'{}'"))
    change: Mapped[dict[str, object]] = mapped_column(JSONB, server_default=text("'{}'"))
    note: Mapped[str | None] = mapped_column(Text)
    unit_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    undo_of: Mapped[int | None] = mapped_column(ForeignKey("edit_batch.id"), unique=True)


class UnitEvent(Base):
    """A change of the doors themselves: a unit added in the field, split, merged or retired.

    ``from_units`` are the units that ended or changed, ``to_units`` the ones that resulted (for a
    split the original and the new doors, for a merge the surviving unit); history never deletes.
    """

    __tablename__ = "unit_event"
    __table_args__ = (
        CheckConstraint(_in("kind", UNIT_EVENT_KINDS), name="unit_event_kind"),
        Index("unit_event_from_units", "from_units", postgresql_using="gin"),
        Index("unit_event_to_units", "to_units", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    city_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    from_units: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), server_default=text("'{}'"))
    to_units: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), server_default=text("'{}'"))
    note: Mapped[str | None] = mapped_column(Text)


class Visit(Base):
    """A visit / sweep (扫楼) of an address unit: who, when, outcome, note, optional GPS fix."""

    __tablename__ = "visit"
    __table_args__ = (
        CheckConstraint(_in("outcome", VISIT_OUTCOMES), name="visit_outcome"),
        CheckConstraint("accuracy_m IS NULL OR accuracy_m >= 0", name="visit_accuracy"),
        Index("visit_cell_at", "cell_id", "visited_at"),
        Index("visit_unit_at", "address_unit_id", "visited_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    address_unit_id: Mapped[int] = mapped_column(ForeignKey("address_unit.id"))
    cell_id: Mapped[int] = mapped_column(ForeignKey("cell.id"))
    city_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    visited_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(Geometry("POINT", srid=4326, spatial_index=False), nullable=True)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class FollowUp(Base):
    """A sales opportunity being followed (商机跟进) on one address unit."""

    __tablename__ = "follow_up"
    __table_args__ = (
        CheckConstraint(_in("reason", FOLLOW_UP_REASONS), name="follow_up_reason"),
        CheckConstraint(f"outcome IS NULL OR {_in('outcome', FOLLOW_UP_OUTCOMES)}", name="follow_up_outcome"),
        CheckConstraint("(closed_at IS NULL) = (outcome IS NULL)", name="follow_up_closed"),
        Index("follow_up_owner_open", "owner_id", "due_date", postgresql_where=text("closed_at IS NULL")),
        Index("follow_up_unit", "address_unit_id"),
        Index("follow_up_cell", "cell_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    address_unit_id: Mapped[int] = mapped_column(ForeignKey("address_unit.id"))
    cell_id: Mapped[int] = mapped_column(ForeignKey("cell.id"))
    city_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    status_at_open: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    due_date: Mapped[dt.date] = mapped_column(Date)
    next_step: Mapped[str] = mapped_column(Text)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    outcome: Mapped[str | None] = mapped_column(Text)
    outcome_note: Mapped[str | None] = mapped_column(Text)


# search (grids/sql/search.sql): ILIKE '%text%' over addresses, customer and building names and
# building codes through trigram indexes (pg_trgm, migration 0008); customer codes by equality
Index(
    "address_unit_address_trgm",
    AddressUnit.address,
    postgresql_using="gin",
    postgresql_ops={"address": "gin_trgm_ops"},
    postgresql_where=text("retired_at IS NULL"),
)
Index("customer_name_trgm", Customer.name, postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"})
Index("customer_source_code", Customer.source_code)
Index(
    "building_code_name_trgm",
    Building.code,
    Building.name,
    postgresql_using="gin",
    postgresql_ops={"code": "gin_trgm_ops", "name": "gin_trgm_ops"},
)
# the versions a bulk batch wrote (undo, batch reads); partial: a field edit maintains no entry
Index("market_record_batch", MarketRecord.batch_id, postgresql_where=text("batch_id IS NOT NULL"))
