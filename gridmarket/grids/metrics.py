"""Every metric of METRICS.md at every level, current or as of a past date, with period metrics.

Levels: ``building``, ``cell``, ``grid``, ``feature_grid``, ``district``, ``city``, ``province``
and ``h3:<res>`` for res 5..12.

How the figures are kept current (migration 0004)
-------------------------------------------------
Every figure of METRICS.md is a ratio of sums that add up over units, so the database keeps,
per cell, the sums the formulas need (units per status, units in demand with own fixed lines /
own broadband, Σ long-distance minutes own / rival, Σ own lines, Σ all four line counts,
Σ revenue) in ``cell_metric``; the same per (cell, resolution-8 H3 parent) in
``cell_h3_metric``; the rival_mix counts per (cell, H3-8, rival operator) in ``cell_rival``;
and the competing / other-network units per (cell, H3-8, contract end day) in ``cell_expiry``
(expiring_90d depends on the as-of date: it is summed over [as_of, as_of + 90] at read time,
an index-only scan; ``cell_metric`` also keeps each cell's count as of the day of the last
compaction and its rival_mix object as json, so the map of a city's cells reads one row per
cell).

Writers never update those rows. Statement-level triggers with transition tables on
``market_record`` (a new version, the closing of the old one, deletes) and on ``address_unit``
(a change of ``cell_id``, ``h3_12`` or ``retired_at``) append signed rows to
``cell_metric_delta`` in the writer's transaction: one row per record for statements of up to
100 rows (a field edit: a row for the close, a row for the new version), one row per (cell,
H3-8, rival, contract end) for larger ones. Sixteen staff writing in one cell append rows side
by side and never wait for one another (each locks only its own unit, FOR SHARE, so that a
concurrent move of that unit to another cell is booked consistently). Reads add the base and
the pending deltas, so a change shows on the very next read of its cell and of every ancestor;
:func:`compact_metrics` folds the deltas into the base (run it after bulk loads, every minute
or so, and soon after midnight; it never blocks writers or readers) and
:func:`recount_metrics` rebuilds everything from the base tables.

Read cache
----------
A city's map is thousands of cells of some 40 values each; on the reference VM (2 vCPUs)
merely shipping 8,000 such rows from PostgreSQL to Python costs about 90 ms. Reads of the
current state served by the aggregates (cell, grid, district, city, province, h3:5..8, no
filter on units) are therefore cached per process, keyed by the query and checked on every call
against a data version read in the caller's snapshot: (``metrics_epoch``, compactions, number
of pending delta rows). Every statement that changes a current figure appends delta rows; rows
leave the delta table only with compaction (counted) or a recount (bumps the epoch), in the same
transaction; every change of region, grid or cell bumps the epoch too (names, codes, areas,
cells changing grid). So any committed change is seen by the very next read; a transaction
that wrote something itself bypasses the cache. :func:`metrics_json` also keeps the rendered
JSON of a cached read.

The map of a city's cells (the most frequent read while staff write) is not read whole again
after a change: each delta row records its writing transaction (migration 0006), the cached map
keeps the snapshot taken before it was read, and the next read computes again only the cells
with delta rows (or compactions, migration 0007) that snapshot did not see, splicing their rows
and JSON into a copy of the cached map (:func:`_fast_entry`).

Timings (2 vCPUs, PostgreSQL 15, busy machine; 杭州市 of the 1,000,000-unit demo = 8,000
cells; "raw" = ``from_base=True``, the same formulas over address_unit ⨝ current records):
all cells of the city: first read ≈ 160-250 ms (period figures stored per cell by compaction,
even with 200,000 units changed in the month), read after a change of a few cells ≈ 15-25 ms
in-process (the changed cells re-read and spliced in), repeated read ≈ 1-3 ms (the JSON bytes of
:func:`metrics_json` cached too), raw ≈ 2.5-5.5 s; grid / district / city levels: first read
≈ 135-160 ms; h3:8 ≈ 0.1 s in a quiet month, ≈ 1 s with 200,000 units changed in it (its period
figures come from the versions). 16 writers editing units of one cell: ≈ 0.6-0.8× the
throughput of bare primary-key UPDATEs of the same rows (bench/metrics).

Levels and sources
------------------
* cell, grid, district, city, province: sums of the cell aggregates grouped by the cell's
  current grid / district / city / the city's province (a territory change moves figures with
  the cells, nothing to recompute);
* h3:5..8: the H3-8 aggregates grouped by the parent at the asked resolution (bit layout,
  :func:`gridmarket.geo.h3util.parent_sql`); h3:9..12 and building: grouped from the current
  records of the units (``address_unit.h3_12`` / ``building_id``);
* feature_grid: a unit counts once per characteristic grid when its cell is a member cell (the
  member cells' aggregates) or, failing that, its customer's industry is one of the grid's
  industries (those units read from the records, driven by ``customer(city_id, industry)``).

A status filter, or asking for a level/filter finer than H3-8, switches to the unit rows (same
formulas). ``from_base=True`` computes everything from the base tables, for checks and
benchmarks.

As of a past date, periods
--------------------------
``as_of`` D means the state at D 24:00 in the operator's time zone (``tz``): for each unit the
version with ``valid_from ≤ t < coalesce(valid_to, ∞)``, t = D + 1 day 00:00, of a unit not
retired at t, in the cell it is in now (METRICS.md). Only units changed since t differ from the
current aggregates, so a past read is "current aggregates − those units' current rows + their
rows at t", found through indexes on ``valid_from`` / ``valid_to`` / ``retired_at``. Period
metrics (churned, won, new_own_lines) compare each unit's state at the period's start with its
state at its end; only units with a version starting or ending, or retired, inside the period
can count, and only those are read. A unit with no state at the start has 0 own lines then.
The period defaults to the month of the as-of date (the current month by default).

Scope
-----
Every read keeps the units in the cells the caller may read (:meth:`Scope.cell_sql`), at every
level: an area partly in scope is returned with the figures of its part in scope (its area for
revenue_density then is the area of its cells in scope), an area with no cell in scope is not
returned. Characteristic grids, buildings and H3 cells count the units of those cells only.
"""

# This module composes SQL from fragments written in it (allow-listed per level and filter, never
# user text; every value is a bound parameter), as grids/scope.py does: hence no S608 here.
# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import orjson
from psycopg.types.json import set_json_loads
from sqlalchemy import Connection, Engine, text

import h3
import shapely
from shapely.geometry import box as shapely_box

from gridmarket.geo.h3util import BINNING_RESOLUTIONS, cell_polygon, parent_sql
from gridmarket.grids import sqlfiles
from gridmarket.grids.errors import Forbidden, NotFound, ValidationFailed
from gridmarket.grids.models import STATUSES
from gridmarket.grids.scope import Scope, system_scope, today

__all__ = [
    "AGG_H3_RES",
    "LEVELS",
    "METRIC_KEYS",
    "NUMERIC_METRICS",
    "cell_feature",
    "cells_geojson",
    "children",
    "clear_cache",
    "compact_metrics",
    "compare",
    "data_version",
    "metrics_for_level",
    "metrics_geojson",
    "metrics_json",
    "metrics_shapes",
    "metrics_table",
    "parse_level",
    "parse_period",
    "rank",
    "recount_metrics",
    "vacuum_deltas",
]

DEFAULT_TZ = "Asia/Shanghai"
AGG_H3_RES = 8
"""Resolution of the H3 parent the cell aggregates are also kept by (levels h3:5..8 use them)."""

TERRITORY = ("cell", "grid", "district", "city", "province")
LEVELS: tuple[str, ...] = (
    "building",
    *TERRITORY[:2],
    "feature_grid",
    *TERRITORY[2:],
    *(f"h3:{r}" for r in BINNING_RESOLUTIONS),
)
METRIC_KEYS: tuple[str, ...] = (
    "units",
    "n_stock",
    "n_competing",
    "n_other_network",
    "n_potential",
    "n_vacant",
    "n_unknown",
    "surveyed",
    "coverage",
    "demand",
    "penetration",
    "fixed_line_penetration",
    "broadband_penetration",
    "long_distance_share",
    "line_share",
    "exclusivity",
    "revenue",
    "revenue_density",
    "arpa",
    "opportunity",
    "expiring_90d",
    "rival_mix",
    "churned",
    "won",
    "new_own_lines",
)
"""The JSON keys of METRICS.md "Per area", in its order."""
NUMERIC_METRICS = frozenset(METRIC_KEYS) - {"rival_mix"}
"""Metrics a league table can rank by."""

CHILD_LEVEL = {"province": "city", "city": "district", "district": "grid", "grid": "cell", "cell": "building"}

METRICS_LOCK = 0x6772_6964_6D6B_7402
"""Advisory-lock key: one compaction at a time (pg_try_advisory_xact_lock; others skip)."""

# -- the sums --------------------------------------------------------------------------------
SUM_NAMES = (
    "units",
    "n_stock",
    "n_competing",
    "n_other_network",
    "n_potential",
    "n_vacant",
    "n_unknown",
    "n_fixed_own",
    "n_broadband_own",
    "ld_minutes_own",
    "ld_minutes_rival",
    "lines_own",
    "lines_all",
    "revenue",
)
_DEMAND = "u.status IN ('stock', 'competing', 'other_network', 'potential')"
_RIVALRY = "u.status IN ('competing', 'other_network')"
# contribution of one unit row u (record fields, signed by u.sg) to each sum; the triggers of
# migration 0004 use the same expressions
_CONTRIB = {
    "units": "u.sg",
    "n_stock": "u.sg * (u.status = 'stock')::int",
    "n_competing": "u.sg * (u.status = 'competing')::int",
    "n_other_network": "u.sg * (u.status = 'other_network')::int",
    "n_potential": "u.sg * (u.status = 'potential')::int",
    "n_vacant": "u.sg * (u.status = 'vacant')::int",
    "n_unknown": "u.sg * (u.status = 'unknown')::int",
    "n_fixed_own": f"u.sg * ({_DEMAND} AND u.fixed_lines_own > 0)::int",
    "n_broadband_own": f"u.sg * ({_DEMAND} AND u.broadband_own > 0)::int",
    "ld_minutes_own": "u.sg * u.ld_minutes_own",
    "ld_minutes_rival": "u.sg * u.ld_minutes_rival",
    "lines_own": "u.sg * (u.fixed_lines_own + u.broadband_own)",
    "lines_all": "u.sg * (u.fixed_lines_own + u.broadband_own + u.fixed_lines_rival + u.broadband_rival)",
    "revenue": "u.sg * u.revenue_month",
}
_RIVAL_KEY = "coalesce(nullif(btrim(u.rival_operator), ''), 'unknown')"
_RECORD_COLS = (
    "r.status, r.fixed_lines_own, r.fixed_lines_rival, r.broadband_own, r.broadband_rival, "
    "r.ld_minutes_own, r.ld_minutes_rival, r.revenue_month, r.rival_operator, r.contract_end"
)


# -- small helpers -------------------------------------------------------------------------
def _fill(template: str, **parts: str) -> str:
    """Fill ``{{name}}`` markers with fragments written in this module (never user text)."""
    return sqlfiles.with_scope(template, **parts)


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(f"unknown time zone {tz!r}", field="tz") from exc


_PERIOD = re.compile(r"^(\d{4})(?:-(0[1-9]|1[0-2])|-Q([1-4]))?$")


def parse_period(text_: str, tz: str = DEFAULT_TZ) -> tuple[dt.datetime, dt.datetime]:
    """Return the start and end of a period ``YYYY-MM``, ``YYYY-Qn`` or ``YYYY`` in time zone ``tz``.

    The start is the first day at 00:00, the end the last day at 24:00 (= the next period's
    start), both timezone-aware. Raises ValidationFailed on any other text.
    """
    m = _PERIOD.match(text_.strip()) if isinstance(text_, str) else None
    if not m:
        raise ValidationFailed(f"a period is YYYY-MM, YYYY-Qn or YYYY, not {text_!r}", field="period")
    year = int(m.group(1))
    if year < 1900:
        raise ValidationFailed(f"period year {year} is out of range", field="period")
    if m.group(2):
        first, months = int(m.group(2)), 1
    elif m.group(3):
        first, months = 3 * (int(m.group(3)) - 1) + 1, 3
    else:
        first, months = 1, 12
    zone = _zone(tz)
    start = dt.datetime(year, first, 1, tzinfo=zone)
    nxt = first - 1 + months
    end = dt.datetime(year + nxt // 12, nxt % 12 + 1, 1, tzinfo=zone)
    return start, end


@dataclass(frozen=True)
class Level:
    """A parsed level: ``kind`` (building, cell, …, h3) and, for H3, its resolution."""

    kind: str
    res: int | None = None

    @property
    def name(self) -> str:
        """The level as callers spell it (``h3:7``)."""
        return f"h3:{self.res}" if self.kind == "h3" else self.kind


def parse_level(level: str) -> Level:
    """Parse a level name: one of :data:`LEVELS` (``h3:<res>`` for res 5..12)."""
    if not isinstance(level, str) or level not in LEVELS:
        raise ValidationFailed(f"level must be one of {', '.join(LEVELS)}; got {level!r}", field="level")
    if level.startswith("h3:"):
        return Level("h3", int(level[3:]))
    return Level(level)


# -- filters -------------------------------------------------------------------------------
_CODE_FILTERS = {
    "province": "SELECT id FROM region WHERE code = :v AND level = 'province'",
    "city": "SELECT id FROM region WHERE code = :v AND level = 'city'",
    "district": "SELECT id FROM region WHERE code = :v AND level = 'district'",
    "grid": "SELECT id FROM grid WHERE code = :v",
    "cell": "SELECT id FROM cell WHERE code = :v",
    "feature_grid": "SELECT id FROM feature_grid WHERE code = :v",
}
FILTER_KEYS = (*_CODE_FILTERS, "building", "h3", "bbox", "status")


@dataclass
class _Filters:
    ids: dict[str, int] = field(default_factory=dict)  # province/city/district/grid/cell/feature_grid
    building: int | None = None
    h3: int | None = None
    h3_res: int | None = None
    bbox: tuple[float, float, float, float] | None = None
    status: list[str] | None = None


def _resolve_filters(conn: Connection, filters: dict[str, Any] | None) -> _Filters:
    out = _Filters()
    for key, value in (filters or {}).items():
        if value is None:
            continue
        if key in _CODE_FILTERS:
            found = conn.scalar(text(_CODE_FILTERS[key]), {"v": str(value)})
            if found is None:
                raise NotFound(f"no {key.replace('_', ' ')} {value!r}")
            out.ids[key] = int(found)
        elif key == "building":
            try:
                out.building = int(value)
            except (TypeError, ValueError) as exc:
                raise ValidationFailed("building must be a building id", field="building") from exc
        elif key == "h3":
            out.h3, out.h3_res = _h3_of(value)
        elif key == "bbox":
            out.bbox = _bbox_of(value)
        elif key == "status":
            values = [value] if isinstance(value, str) else list(value)
            bad = [v for v in values if v not in STATUSES]
            if bad or not values:
                raise ValidationFailed(f"status must be among {', '.join(STATUSES)}", field="status")
            out.status = sorted(set(values))
        else:
            raise ValidationFailed(f"unknown filter {key!r}; filters: {', '.join(FILTER_KEYS)}", field=key)
    return out


def _h3_of(value: object) -> tuple[int, int]:
    try:
        h = int(value, 16) if isinstance(value, str) else int(str(value))
        ok = h3.is_valid_cell(h3.int_to_str(h))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValidationFailed(f"not an H3 cell: {value!r}", field="h3")
    res = int(h3.get_resolution(h3.int_to_str(h)))
    if res not in BINNING_RESOLUTIONS:
        raise ValidationFailed(f"H3 resolution must be 5..12, got {res}", field="h3")
    return h, res


def _bbox_of(value: object) -> tuple[float, float, float, float]:
    try:
        parts = value.split(",") if isinstance(value, str) else list(value)  # type: ignore[call-overload]
        x0, y0, x1, y1 = (float(p) for p in parts)
    except (TypeError, ValueError) as exc:
        raise ValidationFailed("bbox is minx,miny,maxx,maxy in WGS84 degrees", field="bbox") from exc
    if not (-180 <= x0 < x1 <= 180 and -90 <= y0 < y1 <= 90):
        raise ValidationFailed("bbox is minx,miny,maxx,maxy in WGS84 degrees", field="bbox")
    return x0, y0, x1, y1


def _hex_margin_deg(res: int, lat: float) -> tuple[float, float]:
    """Degrees of longitude and latitude that cover one hexagon's diameter at ``res`` (generous)."""
    km = 2.5 * float(h3.average_hexagon_edge_length(res, unit="km"))
    return km / (111.0 * max(math.cos(math.radians(min(abs(lat), 85.0))), 0.05)), km / 111.0


# -- the query builder ---------------------------------------------------------------------
@dataclass
class _Request:
    level: Level
    filters: _Filters
    as_of: dt.date
    t: dt.datetime | None  # None: current
    p_start: dt.datetime
    p_end: dt.datetime
    from_base: bool
    params: dict[str, Any] = field(default_factory=dict)
    month: bool = False  # the period is the month of as_of (what compaction stores per cell)

    @property
    def fg(self) -> bool:
        return self.level.kind == "feature_grid" or "feature_grid" in self.filters.ids

    @property
    def use_agg(self) -> bool:
        f = self.filters
        if self.from_base or f.status is not None or f.building is not None:
            return False
        if self.level.kind == "building":
            return False
        if self.level.kind == "h3" and (self.level.res or 0) > AGG_H3_RES:
            return False
        return not (f.h3_res is not None and f.h3_res > AGG_H3_RES)

    @property
    def h3_base(self) -> bool:
        return self.level.kind == "h3" or self.filters.h3 is not None


_CELL_KEY = {
    "cell": "sc.id",
    "grid": "sc.grid_id",
    "district": "sc.district_id",
    "city": "sc.city_id",
    "province": "sc.province_id",
}
_ENV = "ST_MakeEnvelope(:bx0, :by0, :bx1, :by1, 4326)"
_ENVX = "ST_MakeEnvelope(:ex0, :ey0, :ex1, :ey1, 4326)"


def _agg_key(req: _Request) -> str:
    if req.level.kind == "h3":
        return parent_sql("x.h3_8", ":lvl_res")
    if req.level.kind == "feature_grid":
        return "m.feature_grid_id"
    return _CELL_KEY[req.level.kind]


def _unit_key(req: _Request, member: str | None) -> str:
    kind = req.level.kind
    if kind == "h3":
        return parent_sql("a.h3_12", ":lvl_res")
    if kind == "building":
        return "a.building_id"
    if kind == "feature_grid":
        return "m.feature_grid_id" if member == "member" else "f.id"
    return _CELL_KEY[kind]


def _member_join(req: _Request, member: str | None, cust: str) -> tuple[str, list[str]]:
    """Joins and conditions restricting unit rows to characteristic-grid members (None: no restriction)."""
    if member is None:
        return "", []
    only = " AND m.feature_grid_id = :f_fg" if "feature_grid" in req.filters.ids else ""
    if member == "member":
        return " JOIN feature_grid_cell m ON m.cell_id = sc.id" + only, []
    only = " AND f.id = :f_fg" if "feature_grid" in req.filters.ids else ""
    join = (
        " JOIN customer cu ON cu.id = " + cust + " JOIN feature_grid f ON f.city_id = sc.city_id"
        " AND cu.industry = ANY(f.industries)" + only
    )
    cond = (
        "NOT EXISTS (SELECT 1 FROM feature_grid_cell m2 "
        "WHERE m2.feature_grid_id = f.id AND m2.cell_id = sc.id)"
    )
    return join, [cond]


def _unit_filters(req: _Request, status: str) -> list[str]:
    f, conds = req.filters, []
    if f.status is not None:
        conds.append(status + " = ANY(CAST(:f_status AS text[]))")
    if f.building is not None:
        conds.append("a.building_id = :f_building")
    if f.h3 is not None:
        conds.append(parent_sql("a.h3_12", ":f_h3_res") + " = :f_h3")
    if f.bbox is not None and req.level.kind == "building":
        conds.append("a.building_id IN (SELECT b.id FROM building b WHERE b.geom && " + _ENV + ")")
    if f.bbox is not None and req.level.kind == "h3":
        conds.append("a.geom && " + _ENVX)
    if req.level.kind == "building":
        conds.append("a.building_id IS NOT NULL")
    return conds


_SRC_NOW = (
    "address_unit a JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL "
    "JOIN sc ON sc.id = a.cell_id",
    "a.retired_at IS NULL",
)
_SRC_AT = (
    "address_unit a JOIN market_record r ON r.address_unit_id = a.id "
    "AND r.valid_from <= :t AND (r.valid_to IS NULL OR r.valid_to > :t) JOIN sc ON sc.id = a.cell_id",
    "(a.retired_at IS NULL OR a.retired_at > :t)",
)


# the records of the customers whose industry makes their units members of a characteristic
# grid, found from the grids' industries through customer(city_id, industry) and the customers'
# records; materialized, so the planner cannot start from every unit of the cells instead, and
# each step a lookup by key (LATERAL … OFFSET 0): the planner's estimate of these rows is ten
# times the truth and made it hash a million records and a million units (≈ 6 s at 1,000,000
# units, against well under a second this way)
_FGI = """,
fgi AS MATERIALIZED (
    SELECT f.id AS fid, {{record}}, r.customer_id,
           a.id AS unit_id, a.cell_id, a.h3_12, a.building_id, a.geom, a.retired_at
    FROM feature_grid f
    CROSS JOIN LATERAL (SELECT DISTINCT i FROM unnest(f.industries) i) ind(industry)
    CROSS JOIN LATERAL (
        SELECT cu.id FROM customer cu WHERE cu.city_id = f.city_id AND cu.industry = ind.industry OFFSET 0
    ) cu
    CROSS JOIN LATERAL (
        SELECT r.* FROM market_record r WHERE r.customer_id = cu.id AND {{instant}} OFFSET 0
    ) r
    CROSS JOIN LATERAL (SELECT a.* FROM address_unit a WHERE a.id = r.address_unit_id OFFSET 0) a
    WHERE {{only}} AND f.city_id IN (SELECT sc.city_id FROM sc)
)"""
_SRC_INDUSTRY = (
    "fgi r CROSS JOIN LATERAL (SELECT r.unit_id AS id, r.cell_id, r.h3_12, r.building_id, r.geom, "
    "r.retired_at) a JOIN feature_grid f ON f.id = r.fid JOIN sc ON sc.id = r.cell_id"
)
_NOW_RECORD = "r.valid_to IS NULL"
_AT_RECORD = "r.valid_from <= :t AND (r.valid_to IS NULL OR r.valid_to > :t)"


def _unit_part(req: _Request, *, at: bool, sign: int, member: str | None, changed: bool) -> str:
    """A SELECT of signed unit rows (aid, sg, record fields) at the instant (current, or :t)."""
    src, live = _SRC_AT if at else _SRC_NOW
    join, conds = _member_join(req, member, "r.customer_id")
    if member == "industry":  # the instant is that of the fgi CTE (see _build)
        src, join, conds = _SRC_INDUSTRY, "", [conds[0], "sc.city_id = f.city_id"]
    conds = [live, *conds, *_unit_filters(req, "r.status")]
    if changed:
        conds.append("a.id IN (SELECT chg.unit_id FROM chg)")
    return _fill(
        "SELECT ({{key}})::bigint AS aid, {{sg}} AS sg, {{cols}} FROM {{src}}{{join}} WHERE {{conds}}",
        key=_unit_key(req, member),
        sg=str(int(sign)),
        cols=_RECORD_COLS,
        src=src,
        join=join,
        conds=" AND ".join(conds),
    )


def _period_part(req: _Request, member: str | None) -> str:
    join, conds = _member_join(req, member, "a.customer_id")
    conds = [*conds, *_unit_filters(req, "a.e_status")] or ["true"]
    return _fill(
        "SELECT ({{key}})::bigint AS aid, a.churned, a.won, a.new_own_lines "
        "FROM pu a JOIN sc ON sc.id = a.cell_id{{join}} WHERE {{conds}}",
        key=_unit_key(req, member),
        join=join,
        conds=" AND ".join(conds),
    )


_CHG = """,
chg AS (
    SELECT mr.address_unit_id AS unit_id FROM market_record mr WHERE mr.valid_from > :t
    UNION
    SELECT mr.address_unit_id FROM market_record mr WHERE mr.valid_to > :t
    UNION
    SELECT au.id FROM address_unit au WHERE au.retired_at > :t
)"""
# units whose state may differ between the period's start and end, and both states; each
# candidate is looked up by its key (LATERAL … OFFSET 0), whatever the planner guesses of their
# number: usually a few hundred of a million units
_PERIOD_CTES = """,
chp AS (
    SELECT mr.address_unit_id AS unit_id FROM market_record mr
    WHERE mr.valid_from > :p_start AND mr.valid_from <= :p_end
    UNION
    SELECT mr.address_unit_id FROM market_record mr WHERE mr.valid_to > :p_start AND mr.valid_to <= :p_end
    UNION
    SELECT au.id FROM address_unit au WHERE au.retired_at > :p_start AND au.retired_at <= :p_end
),
pu AS (
    SELECT a.id, a.cell_id, a.h3_12, a.building_id, a.geom,
           coalesce(e.customer_id, s.customer_id) AS customer_id, e.status AS e_status,
           (s.status IN ('stock', 'competing') AND e.status = 'other_network')::int AS churned,
           (s.status IN ('other_network', 'potential') AND e.status IN ('stock', 'competing'))::int AS won,
           greatest(0, coalesce(e.own, 0) - coalesce(s.own, 0)) AS new_own_lines
    FROM chp
    CROSS JOIN LATERAL (SELECT au.* FROM address_unit au WHERE au.id = chp.unit_id OFFSET 0) a
    LEFT JOIN LATERAL (
        SELECT r.status, r.fixed_lines_own + r.broadband_own AS own, r.customer_id FROM market_record r
        WHERE r.address_unit_id = a.id AND r.valid_from <= :p_start
          AND (r.valid_to IS NULL OR r.valid_to > :p_start)
        ORDER BY r.valid_from DESC LIMIT 1
    ) s ON a.retired_at IS NULL OR a.retired_at > :p_start
    LEFT JOIN LATERAL (
        SELECT r.status, r.fixed_lines_own + r.broadband_own AS own, r.customer_id FROM market_record r
        WHERE r.address_unit_id = a.id AND r.valid_from <= :p_end
          AND (r.valid_to IS NULL OR r.valid_to > :p_end)
        ORDER BY r.valid_from DESC LIMIT 1
    ) e ON a.retired_at IS NULL OR a.retired_at > :p_end
)"""


def _chp_of(cells: str, ctes: str = "") -> str:
    """The period CTEs with chp = the units of ``cells`` (a relation ``t`` with ``cell_id``)
    changed within the period, each unit of those cells probed by key; ``ctes`` go before chp.

    For the re-read of a few cells, the stored period figures (migration 0009) and compaction,
    where the cells are few: :data:`_PERIOD_CTES` finds the units from the month's versions.
    """
    chp = f"""{ctes}chp AS (
    SELECT au.id AS unit_id
    FROM {cells}
    CROSS JOIN LATERAL (
        SELECT au.id, au.retired_at FROM address_unit au WHERE au.cell_id = t.cell_id OFFSET 0
    ) au
    WHERE (au.retired_at > :p_start AND au.retired_at <= :p_end)
       OR EXISTS (SELECT 1 FROM market_record mr WHERE mr.address_unit_id = au.id
                  AND ((mr.valid_from > :p_start AND mr.valid_from <= :p_end)
                       OR (mr.valid_to > :p_start AND mr.valid_to <= :p_end)))
),
"""
    old = _PERIOD_CTES[_PERIOD_CTES.index("chp AS (") : _PERIOD_CTES.index("pu AS (")]
    return _PERIOD_CTES.replace(old, chp)


# an incremental re-read of changed cells (another period than the month of as_of)
_PERIOD_CTES_OF_CELLS = _chp_of("unnest(CAST(:only_cells AS integer[])) AS t(cell_id)")
# the current month (migration 0009): cell_metric holds each cell's period figures as of the last
# compaction; only the units of cells without them, or with pending deltas, are looked up
_STALE_PERIOD = (
    "(b.period_from IS DISTINCT FROM :p_start OR b.period_to IS DISTINCT FROM :p_end "
    "OR {{cell}} IN (SELECT dd.cell_id FROM cell_metric_delta dd WHERE {{delta_cells}}))"
)
_PERIOD_CTES_STORED = _chp_of(
    "stale t",
    "stale AS MATERIALIZED (\n    SELECT c.id AS cell_id FROM cell c JOIN region ci ON ci.id = c.city_id\n"
    "    LEFT JOIN cell_metric b ON b.cell_id = c.id\n"
    "    WHERE ({{cell_scope}}) AND {{cell_filter}}\n"
    "      AND " + _STALE_PERIOD.replace("{{cell}}", "c.id") + "\n),\n",
)
_PERIOD_CTES_STORED_LEVEL = _chp_of(  # the same over the scoped cells sc of metrics_level.sql
    "stale t",
    "stale AS MATERIALIZED (\n    SELECT sc.id AS cell_id FROM sc\n"
    "    LEFT JOIN cell_metric b ON b.cell_id = sc.id\n"
    "    WHERE " + _STALE_PERIOD.replace("{{cell}}", "sc.id").replace("{{delta_cells}}", "true") + "\n),\n",
)
# the stored figures of the cells that are not stale, per area of a territory level
_STORED_PERIOD_PART = (
    "SELECT ({{key}})::bigint AS aid, b.churned, b.won, b.new_own_lines FROM sc "
    "JOIN cell_metric b ON b.cell_id = sc.id "
    "WHERE b.period_from = :p_start AND b.period_to = :p_end AND sc.id NOT IN (SELECT t.cell_id FROM stale t)"
)

# compaction and recount store each cell's period figures of the current month (migration 0009)
_STORE_PERIOD = """WITH {{ctes}},
s AS (
    SELECT a.cell_id, sum(a.churned) AS churned, sum(a.won) AS won, sum(a.new_own_lines) AS nol
    FROM pu a WHERE a.cell_id IN (SELECT t.cell_id FROM metrics_period_target t)
    GROUP BY a.cell_id
)
UPDATE cell_metric b SET period_from = :p_start, period_to = :p_end,
       churned = coalesce(s.churned, 0), won = coalesce(s.won, 0), new_own_lines = coalesce(s.nol, 0)
FROM metrics_period_target t LEFT JOIN s ON s.cell_id = t.cell_id
WHERE b.cell_id = t.cell_id"""
_UNIT_BY_UNIT_MAX = 1000
"""Up to this many target cells their units are probed one by one; above, the month's versions."""


def _store_period(conn: Connection, tz: str, also: str | None) -> None:
    """Store the current month's period figures of the cells that lack them and of ``also`` cells."""
    p_start, p_end = parse_period(f"{today(tz):%Y-%m}", tz)
    extra = f" OR b.cell_id IN ({also})" if also else ""
    conn.execute(text("DROP TABLE IF EXISTS metrics_period_target"))
    n = conn.execute(
        text(
            "CREATE TEMP TABLE metrics_period_target ON COMMIT DROP AS SELECT b.cell_id FROM cell_metric b "
            "WHERE b.period_from IS DISTINCT FROM :p_start OR b.period_to IS DISTINCT FROM :p_end" + extra
        ),
        {"p_start": p_start, "p_end": p_end},
    ).rowcount
    if not n:
        return
    ctes = _chp_of("metrics_period_target t") if n <= _UNIT_BY_UNIT_MAX else _PERIOD_CTES
    ctes = ctes.removeprefix(",\n")
    conn.execute(text("SELECT set_config('jit', 'off', true)"))
    conn.execute(text(_fill(_STORE_PERIOD, ctes=ctes)), {"p_start": p_start, "p_end": p_end})


_PERIOD_SUMS = ", ".join(f"coalesce(p.{n}, 0) AS {n}" for n in ("churned", "won", "new_own_lines"))
_PERIOD_SUMS_STORED = ", ".join(
    f"CASE WHEN b.period_from = :p_start AND b.period_to = :p_end AND d.cell_id IS NULL "
    f"THEN b.{n} ELSE coalesce(p.{n}, 0) END AS {n}"
    for n in ("churned", "won", "new_own_lines")
)

_NUMERIC_SUMS = frozenset({"ld_minutes_own", "ld_minutes_rival", "revenue"})
# the short names metrics_final.sql gives the sums in its relation z
_Z = {
    "units": "units",
    "n_stock": "s",
    "n_competing": "c",
    "n_other_network": "o",
    "n_potential": "p",
    "n_vacant": "v",
    "n_unknown": "u",
    "n_fixed_own": "fo",
    "n_broadband_own": "bo",
    "ld_minutes_own": "ldo",
    "ld_minutes_rival": "ldr",
    "lines_own": "lo",
    "lines_all": "la",
    "revenue": "rev",
}


def _cast(name: str, expr: str) -> str:
    return f"({expr})::{'numeric' if name in _NUMERIC_SUMS else 'bigint'}"


# current sums per cell (or per cell and H3-8 parent) of the cells in scope: base + pending deltas
_CELL_SUMS = """SELECT coalesce(b.cell_id, d.cell_id) AS cell_id, {{h3}} AS h3_8, {{sums}}
FROM (SELECT * FROM {{base}} bb WHERE bb.cell_id IN (SELECT sc.id FROM sc)) b
FULL JOIN (SELECT dd.cell_id{{dh3}}, {{dsums}} FROM cell_metric_delta dd
           WHERE dd.cell_id IN (SELECT sc.id FROM sc) GROUP BY dd.cell_id{{dh3}}) d
  ON d.cell_id = b.cell_id{{on}}"""
_AGG_MAIN = """SELECT ({{key}})::bigint AS aid, {{cols}}
FROM ({{cell_sums}}) x JOIN sc ON sc.id = x.cell_id{{join}} WHERE {{conds}}"""
_AGG_EXPIRY = """SELECT ({{key}})::bigint AS aid, x.n
FROM (
    SELECT ex.cell_id, ex.h3_8, ex.units AS n FROM cell_expiry ex
    WHERE ex.contract_end BETWEEN :as_of AND :exp_end{{stale}}
    UNION ALL{{fresh}}
    SELECT dd.cell_id, dd.h3_8, dd.n_expiry FROM cell_metric_delta dd
    WHERE dd.contract_end BETWEEN :as_of AND :exp_end
) x JOIN sc ON sc.id = x.cell_id{{join}} WHERE {{conds}}"""
_STALE_EXPIRY = """
      AND ex.cell_id IN (SELECT b2.cell_id FROM cell_metric b2
                         WHERE b2.exp_day IS DISTINCT FROM CAST(:as_of AS date))"""
_FRESH_EXPIRY = """
    SELECT b.cell_id, NULL::bigint, b.exp_n FROM cell_metric b WHERE b.exp_day = CAST(:as_of AS date)
    UNION ALL"""
_AGG_RIVAL = """SELECT ({{key}})::bigint AS aid, x.rival, x.n
FROM (
    SELECT v.cell_id, v.h3_8, v.rival, v.units AS n FROM cell_rival v
    UNION ALL
    SELECT dd.cell_id, dd.h3_8, dd.rival, dd.n_rival FROM cell_metric_delta dd WHERE dd.rival IS NOT NULL
) x JOIN sc ON sc.id = x.cell_id{{join}} WHERE {{conds}}"""
_UK_MAIN = "SELECT u.aid, " + ", ".join(f"{_CONTRIB[n]} AS {n}" for n in SUM_NAMES) + " FROM uk u"
_UK_EXPIRY = (
    "SELECT u.aid, u.sg AS n FROM uk u WHERE " + _RIVALRY + " AND u.contract_end BETWEEN :as_of AND :exp_end"
)
_UK_RIVAL = "SELECT u.aid, " + _RIVAL_KEY + " AS rival, u.sg AS n FROM uk u WHERE " + _RIVALRY


def _union(parts: list[str], empty: str) -> str:
    return "\nUNION ALL\n".join(parts) if parts else empty


def _cell_sums(req: _Request) -> str:
    h3 = req.h3_base
    return _fill(
        _CELL_SUMS,
        h3="coalesce(b.h3_8, d.h3_8)" if h3 else "NULL::bigint",
        sums=", ".join(_cast(n, f"coalesce(b.{n}, 0) + coalesce(d.{n}, 0)") + f" AS {n}" for n in SUM_NAMES),
        base="cell_h3_metric" if h3 else "cell_metric",
        dh3=", dd.h3_8" if h3 else "",
        dsums=", ".join(_cast(n, f"sum(dd.{n})") + f" AS {n}" for n in SUM_NAMES),
        on=" AND d.h3_8 = b.h3_8" if h3 else "",
    )


def _agg_common(req: _Request) -> dict[str, str]:
    join = ""
    if req.fg:
        join = " JOIN feature_grid_cell m ON m.cell_id = sc.id"
        if "feature_grid" in req.filters.ids:
            join += " AND m.feature_grid_id = :f_fg"
    conds = ["true"]
    if req.filters.h3 is not None:
        conds = [parent_sql("x.h3_8", ":f_h3_res") + " = :f_h3"]
    return {"key": _agg_key(req), "join": join, "conds": " AND ".join(conds)}


_NO_MAIN = "SELECT NULL::bigint, " + ", ".join(_cast(n, "0") for n in SUM_NAMES) + " WHERE false"


def _stored_period(req: _Request) -> bool:
    """Whether a territory level read takes the stored period figures of its cells (migration 0009)."""
    return req.use_agg and not req.fg and not req.h3_base and req.month and req.t is None


def _parts(req: _Request, units: list[str]) -> dict[str, str]:
    """The main, expiring, period and rival SQL of a request (see metrics_level.sql)."""
    main: list[str] = []
    expiring: list[str] = []
    rivals: list[str] = []
    if req.use_agg:
        common = _agg_common(req)
        cols = ", ".join(f"x.{n}" for n in SUM_NAMES)
        main.append(_fill(_AGG_MAIN, cols=cols, cell_sums=_cell_sums(req), **common))
        if req.h3_base:  # by (cell, H3-8): the expiry rows
            expiring.append(_fill(_AGG_EXPIRY, stale="", fresh="", **common))
        else:  # by cell: each cell's count as of its compaction day, the rows for the others
            expiring.append(_fill(_AGG_EXPIRY, stale=_STALE_EXPIRY, fresh=_FRESH_EXPIRY, **common))
        rivals.append(_fill(_AGG_RIVAL, **common))
    if units:
        main.append(_UK_MAIN)
        expiring.append(_UK_EXPIRY)
        rivals.append(_UK_RIVAL)
    sums = ", ".join(_cast(n, f"sum(y.{n})") for n in SUM_NAMES)
    main_sql = "SELECT y.aid, " + sums + " FROM (\n" + _union(main, _NO_MAIN) + "\n) y GROUP BY y.aid"
    members: list[str | None] = ["member", "industry"] if req.fg else [None]
    period = [_period_part(req, mem) for mem in members]
    if _stored_period(req):  # the stored figures of the cells that are not stale (pu has the others)
        period.append(_fill(_STORED_PERIOD_PART, key=_CELL_KEY[req.level.kind]))
    rivals_sql = (
        "SELECT y.aid, json_object_agg(y.rival, y.n ORDER BY y.rival) FROM ("
        "SELECT x.aid, x.rival, sum(x.n)::bigint AS n FROM (\n"
        + _union(rivals, "SELECT NULL::bigint, NULL::text, 0 WHERE false")
        + "\n) x GROUP BY 1, 2 HAVING sum(x.n) <> 0) y GROUP BY y.aid"
    )
    return {
        "main": main_sql,
        "expiring": "SELECT y.aid, sum(y.n) FROM (\n"
        + _union(expiring, "SELECT NULL::bigint AS aid, 0 AS n WHERE false")
        + "\n) y GROUP BY y.aid",
        "period": "SELECT y.aid, sum(y.churned), sum(y.won), sum(y.new_own_lines) FROM (\n"
        + "\nUNION ALL\n".join(period)
        + "\n) y GROUP BY y.aid",
        "rivals": rivals_sql,
    }


def _area_sql(req: _Request) -> tuple[str, str]:
    """The areas of the level (aid, id, code, name, area_km2, sort[, cell columns]) and which to keep."""
    kind = req.level.kind
    bbox = req.filters.bbox is not None
    f = req.filters
    # a filter on units (characteristic grid, H3 cell, building) lists only the areas holding
    # some of them (or a member cell of the characteristic grid)
    narrow = "true"
    if kind in TERRITORY and ("feature_grid" in f.ids or f.h3 is not None or f.building is not None):
        key = _CELL_KEY[kind]
        outer = "sc.id" if kind == "cell" else "s.aid"
        narrow = "(" + outer + ")::bigint IN (SELECT m.aid FROM m)"
        if "feature_grid" in f.ids:
            narrow += (
                " OR (" + outer + ")::bigint IN (SELECT (" + key + ")::bigint FROM sc "
                "JOIN feature_grid_cell mc ON mc.cell_id = sc.id AND mc.feature_grid_id = :f_fg)"
            )
        narrow = "(" + narrow + ")"
    if kind == "cell":
        return (
            "SELECT c.id::bigint AS aid, c.code AS id, c.code, c.name, c.area_km2, c.code AS sort, "
            "g.code AS grid_code, g.name AS grid_name, d.code AS district_code, d.name AS district_name, "
            "c.type, c.source "
            "FROM sc JOIN cell c ON c.id = sc.id JOIN grid g ON g.id = c.grid_id "
            "JOIN region d ON d.id = c.district_id WHERE " + narrow,
            "true",
        )
    if kind in TERRITORY:
        key = _CELL_KEY[kind]
        table = "grid" if kind == "grid" else "region"
        stored = "CASE WHEN t.geom IS NOT NULL THEN t.area_km2 END" if kind == "grid" else "t.area_km2"
        all_key = key.replace("sc.", "k.")
        sql = _fill(
            """SELECT t.id::bigint AS aid, t.code AS id, t.code, t.name,
       CASE WHEN s.n_in = a.n_all THEN coalesce({{stored}}, a.a_all) ELSE s.a_in END AS area_km2,
       t.code AS sort
FROM (SELECT {{key}} AS aid, count(*) AS n_in, sum(sc.area_km2) AS a_in, bool_or(sc.inbox) AS inbox
      FROM sc GROUP BY 1) s
JOIN (SELECT {{all_key}} AS aid, count(*) AS n_all, sum(k.area_km2) AS a_all
      FROM (SELECT c.id, c.grid_id, c.district_id, c.city_id, ci.parent_id AS province_id, c.area_km2
            FROM cell c JOIN region ci ON ci.id = c.city_id) k
      WHERE {{all_key}} IN (SELECT {{key}} FROM sc) GROUP BY 1) a ON a.aid = s.aid
JOIN {{table}} t ON t.id = s.aid
WHERE s.inbox AND {{narrow}}""",
            stored=stored,
            key=key,
            all_key=all_key,
            table=table,
            narrow=narrow,
        )
        return sql, "true"
    if kind == "building":
        listed = "b.id IN (SELECT m.aid FROM m)"
        if not req.fg:
            listed += " OR b.cell_id IN (SELECT sc.id FROM sc)"
        conds = ["(" + listed + ")"]
        if req.filters.building is not None:
            conds.append("b.id = :f_building")
        if bbox:
            conds.append("b.geom && " + _ENV)
        return (
            "SELECT b.id AS aid, b.id::text AS id, b.code, coalesce(b.name, b.code) AS name, "
            "NULL::float8 AS area_km2, b.code AS sort FROM building b WHERE " + " AND ".join(conds),
            "true",
        )
    if kind == "feature_grid":
        members = (
            "SELECT 1 FROM feature_grid_cell mc JOIN sc ON sc.id = mc.cell_id WHERE mc.feature_grid_id = f.id"
        )
        conds = ["(f.id IN (SELECT m.aid FROM m) OR EXISTS (" + members + "))"]
        if "feature_grid" in req.filters.ids:
            conds.append("f.id = :f_fg")
        if bbox:
            conds.append("(f.geom && " + _ENV + " OR EXISTS (" + members + " AND sc.inbox))")
        return (
            "SELECT f.id::bigint AS aid, f.code AS id, f.code, f.name, NULL::float8 AS area_km2, "
            "f.code AS sort FROM feature_grid f WHERE " + " AND ".join(conds),
            "true",
        )
    # h3: the hexagons holding units (or period changes); area and bbox test in Python
    return (
        "SELECT m.aid, to_hex(m.aid) AS id, to_hex(m.aid) AS code, to_hex(m.aid) AS name, "
        "NULL::float8 AS area_km2, lpad(to_hex(m.aid), 16, '0') AS sort FROM m",
        "z.units <> 0 OR z.churned <> 0 OR z.won <> 0 OR z.new_own_lines <> 0",
    )


def _cell_filter(req: _Request) -> tuple[str, str]:
    """Conditions on cell c (and its city ci) from the filters; the bbox test of the cells."""
    f, conds = req.filters, []
    for key, cond in (
        ("province", "ci.parent_id = :f_province"),
        ("city", "c.city_id = :f_city"),
        ("district", "c.district_id = :f_district"),
        ("grid", "c.grid_id = :f_grid"),
        ("cell", "c.id = :f_cell"),
    ):
        if key in f.ids:
            conds.append(cond)
    inbox = "true"
    if f.bbox is not None:
        if req.level.kind == "cell":
            conds.append("c.geom && " + _ENV)
        elif req.level.kind == "h3":
            conds.append("c.geom && " + _ENVX)
        elif req.level.kind in TERRITORY:
            inbox = "c.geom && " + _ENV
    return (" AND ".join(conds) or "true"), inbox


_CELL_EXTRA = ", z.grid_code, z.grid_name, z.district_code, z.district_name, z.type, z.source"


def _template(name: str, level: Level) -> str:
    """A level template with the shared formulas (metrics_final.sql) in place."""
    final = sqlfiles.load("metrics_final.sql").replace(
        "{{extra}}", _CELL_EXTRA if level.kind == "cell" else ""
    )
    return sqlfiles.load(name).replace("{{final}}", final)


def _fast_cells(req: _Request) -> bool:
    """Whether the request is the plain map of cells (current, no filter on units): metrics_cells.sql."""
    return req.use_agg and req.level.kind == "cell" and not req.fg and req.t is None and not req.h3_base


def _build(req: _Request, scope: Scope, only_cells: list[int] | None = None) -> tuple[str, dict[str, Any]]:
    """The level query of ``req`` and its parameters; ``only_cells``: the fast cell map of those cells."""
    cell_scope, params = scope.cell_sql("c")
    cell_filter, inbox = _cell_filter(req)
    params.update(req.params)
    if _fast_cells(req):
        delta_cells, period_ctes, period_sums = "true", _PERIOD_CTES, _PERIOD_SUMS
        if only_cells is not None:
            cell_filter += " AND c.id = ANY(:only_cells)"
            delta_cells, period_ctes = "dd.cell_id = ANY(:only_cells)", _PERIOD_CTES_OF_CELLS
            params["only_cells"] = only_cells
        if req.month:
            period_ctes, period_sums = _PERIOD_CTES_STORED, _PERIOD_SUMS_STORED
        sql = _fill(
            _template("metrics_cells.sql", req.level),
            delta_sums=", ".join(_cast(n, f"sum(dd.{n})") + f" AS {n}" for n in SUM_NAMES),
            sums=", ".join(
                _cast(n, f"coalesce(b.{n}, 0) + coalesce(d.{n}, 0)") + f" AS {_Z[n]}" for n in SUM_NAMES
            ),
            period_ctes=period_ctes,
            period_sums=period_sums,
            delta_cells=delta_cells,
            cell_scope=cell_scope,
            cell_filter=cell_filter,
            keep="true",
        )
        return sql, params
    assert only_cells is None, "only the fast cell map re-reads single cells"
    ctes = ""
    units: list[str] = []
    if req.use_agg:
        if req.t is not None:  # as of t: current aggregates - current rows + rows at t of changed units
            ctes += _CHG
            m = "member" if req.fg else None
            units.append(_unit_part(req, at=False, sign=-1, member=m, changed=True))
            units.append(_unit_part(req, at=True, sign=1, member=m, changed=True))
        if req.fg:  # units counted by their customer's industry, outside the member cells
            units.append(_unit_part(req, at=req.t is not None, sign=1, member="industry", changed=False))
    else:
        for mem in ["member", "industry"] if req.fg else [None]:
            units.append(_unit_part(req, at=req.t is not None, sign=1, member=mem, changed=False))
    if req.fg:
        only = "f.id = :f_fg" if "feature_grid" in req.filters.ids else "true"
        instant = _NOW_RECORD if req.t is None else _AT_RECORD
        ctes += _fill(_FGI, record=_RECORD_COLS, instant=instant, only=only)
    if units:
        ctes += ",\nuk AS MATERIALIZED (\n" + "\nUNION ALL\n".join(units) + "\n)"
    ctes += _PERIOD_CTES_STORED_LEVEL if _stored_period(req) else _PERIOD_CTES
    areas, keep = _area_sql(req)
    sql = _fill(
        _template("metrics_level.sql", req.level),
        cell_scope=cell_scope,
        cell_filter=cell_filter,
        inbox=inbox,
        ctes=ctes,
        areas=areas,
        keep=keep,
        **_parts(req, units),
    )
    return sql, params


def _request(
    conn: Connection,
    level: str,
    as_of: dt.date | None,
    period: str | None,
    filters: dict[str, Any] | None,
    tz: str,
    from_base: bool,
) -> _Request:
    lvl = parse_level(level)
    zone = _zone(tz)
    now_day = today(tz)
    if as_of is None:
        as_of = now_day
    elif isinstance(as_of, dt.datetime) or not isinstance(as_of, dt.date):
        raise ValidationFailed("as_of must be a date", field="as_of")
    t = None
    if as_of < now_day:
        t = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    p_start, p_end = parse_period(period if period is not None else f"{as_of:%Y-%m}", tz)
    f = _resolve_filters(conn, filters)
    req = _Request(lvl, f, as_of, t, p_start, p_end, from_base)
    req.month = (p_start, p_end) == parse_period(f"{as_of:%Y-%m}", tz)
    p: dict[str, Any] = {
        "level": lvl.name,
        "as_of": as_of,
        "exp_end": as_of + dt.timedelta(days=90),
        "p_start": p_start,
        "p_end": p_end,
    }
    if t is not None:
        p["t"] = t
    if lvl.kind == "h3":
        p["lvl_res"] = lvl.res
    for key, value in f.ids.items():
        p["f_fg" if key == "feature_grid" else f"f_{key}"] = value
    if f.building is not None:
        p["f_building"] = f.building
    if f.h3 is not None:
        p["f_h3"], p["f_h3_res"] = f.h3, f.h3_res
    if f.status is not None:
        p["f_status"] = f.status
    if f.bbox is not None:
        p.update(zip(("bx0", "by0", "bx1", "by1"), f.bbox, strict=True))
        if lvl.kind == "h3":
            assert lvl.res is not None
            dx, dy = _hex_margin_deg(lvl.res, max(abs(f.bbox[1]), abs(f.bbox[3])))
            x0, y0, x1, y1 = f.bbox
            p.update(ex0=x0 - dx, ey0=y0 - dy, ex1=x1 + dx, ey1=y1 + dy)
    req.params = p
    return req


def _execute(conn: Connection, sql: str, params: dict[str, Any]) -> Any:
    """Run a metrics query with JIT off for this transaction; return the SQLAlchemy result.

    The planner's row estimates of these many-join queries are far above the truth, which makes
    PostgreSQL JIT-compile them: seconds of compilation for a 20 ms query.
    """
    conn.execute(text("SELECT set_config('jit', 'off', true)"))
    return conn.execute(text(sql), params)


def _fetch(conn: Connection, sql: str, params: dict[str, Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run a metrics query on the driver's cursor in binary mode (JIT off); return names and rows.

    Thousands of rows of some 40 values each: the binary protocol and orjson for the json
    column save a good part of the transfer (see the timings in the module docstring).
    """
    conn.execute(text("SELECT set_config('jit', 'off', true)"))
    compiled = text(sql).compile(dialect=conn.dialect)
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor(binary=True) as cur:
        set_json_loads(orjson.loads, cur)
        cur.execute(str(compiled), {k: v for k, v in params.items() if k in compiled.params})
        names = [c.name for c in cur.description or []]
        return names, cur.fetchall()


def _cacheable(req: _Request) -> bool:
    """Whether every input of the request moves the data version (see :func:`_data_version`).

    The aggregates and the territory do; so do the current records and each unit's cell and H3
    index (any change of those writes delta rows), which the finer H3 levels and a status
    filter read; characteristic grids' inputs (customers' industries, the grids and their member
    cells) move ``metrics_epoch.feature_grids`` (migration 0011). Buildings (a unit's building
    changes no figure of its cell), a bounding box over unit positions and past dates do not:
    those reads are never cached.
    """
    if req.from_base or req.t is not None or req.level.kind == "building":
        return False
    if req.filters.building is not None:
        return False
    return req.use_agg or req.filters.bbox is None


_VERSION_SQL = (
    "SELECT (SELECT d.oid FROM pg_database d WHERE d.datname = current_database()), "
    "pg_postmaster_start_time(), (SELECT e.epoch FROM metrics_epoch e), "
    "(SELECT e.compactions FROM metrics_epoch e), (SELECT e.feature_grids FROM metrics_epoch e), "
    "(SELECT count(*) FROM cell_metric_delta), pg_current_xact_id_if_assigned() IS NULL"
)


def _data_version(conn: Connection) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
    """The database's identity and the version of everything the cached reads depend on.

    Every statement that changes a current figure appends delta rows (the triggers of migration
    0004), and rows leave the delta table only with compaction or a recount, which count
    themselves in ``metrics_epoch`` in the same transaction, as does every change of region,
    grid or cell; changes of customers' industries and of characteristic grids count in
    ``feature_grids``. So (epoch, compactions, feature_grids, number of delta rows) read in the
    caller's snapshot changes with every committed change the cached reads could show. None
    when the caller's transaction has written something itself (its uncommitted view must
    neither be served from nor enter the cache).
    """
    oid, started, epoch, compactions, fgs, deltas, clean = conn.execute(text(_VERSION_SQL)).one()
    if not clean:
        return None
    return (oid, started), (epoch, compactions, fgs, deltas)


def data_version(conn: Connection) -> tuple[Any, ...] | None:
    """A value that changes with every committed change a metric read could show (None: uncached).

    For other per-process caches of reads over the territory and the aggregates (the city list).
    """
    version = _data_version(conn)
    return None if version is None else (*version[0], *version[1])


_CACHE_ENTRIES = 16
_CACHE_WEIGHT = 60_000
"""At most this many cached areas (a city's cells count as many as they are) and entries."""


@dataclass
class _Cached:
    version: tuple[Any, ...]
    rows: list[tuple[dict[str, Any], int]]
    json: bytes | None = None
    geojson: bytes | None = None
    snap: str | None = None  # the fast cell map: the snapshot its rows are at least as new as
    parts: list[bytes] | None = None  # ... and each row's JSON, in the order of rows
    taken: float = 0.0  # ... and when that snapshot was taken (time.monotonic)
    geoms: dict[int, bytes] | None = None  # ... and each cell's GeoJSON geometry (until the epoch moves)
    features: list[bytes | None] | None = None  # ... and each row's GeoJSON feature (None: to render)
    table: bytes | None = None  # the rows as a table (:func:`metrics_table`)
    cparts: list[bytes] | None = None  # the fast cell map: each row's values as a JSON array


_cache: OrderedDict[tuple[Any, ...], _Cached] = OrderedDict()
_cache_lock = threading.Lock()


def clear_cache() -> None:
    """Forget every cached read (tests; never needed for correctness)."""
    with _cache_lock:
        _cache.clear()


_Rows = list[tuple[dict[str, Any], int]]


def _query_rows(conn: Connection, req: _Request, sql: str, params: dict[str, Any]) -> _Rows:
    out: list[tuple[dict[str, Any], int]] = []
    bbox = req.filters.bbox
    probe = shapely_box(*bbox) if bbox is not None and req.level.kind == "h3" else None
    names, rows = _fetch(conn, sql, params)
    for row in rows:
        d = dict(zip(names, row, strict=True))
        aid = int(d.pop("aid"))
        if req.level.kind == "h3":
            if probe is not None and not cell_polygon(aid).intersects(probe):
                continue
            area = float(h3.cell_area(str(d["id"]), unit="km^2"))
            d["area_km2"] = area
            d["revenue_density"] = d["revenue"] / area if area else None
        out.append((d, aid))
    return out


def _cache_entry(conn: Connection, scope: Scope, req: _Request) -> tuple[_Cached | None, Any]:
    """The valid cache entry of a request (or None) and the key and version to store one under."""
    if not _cacheable(req):
        return None, None
    version = _data_version(conn)
    if version is None:
        return None, None
    sql, params = _build(req, scope)
    key = (version[0], sql, repr(sorted(params.items())))
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit.version == version[1]:
            _cache.move_to_end(key)
            return hit, None
    return None, (key, version[1])


def _cache_put(slot: Any, entry: _Cached) -> None:
    key, entry.version = slot
    with _cache_lock:
        _cache[key] = entry
        _cache.move_to_end(key)
        weight = sum(len(e.rows) or 1 for e in _cache.values())
        while len(_cache) > 1 and (len(_cache) > _CACHE_ENTRIES or weight > _CACHE_WEIGHT):
            _, old = _cache.popitem(last=False)
            weight -= len(old.rows) or 1


def _cached_rows(conn: Connection, scope: Scope, req: _Request) -> _Cached:
    """Run the level query; return (metrics dict, internal area id) pairs, H3 areas completed.

    Reads of the current state served by the aggregates are cached per process, keyed by the
    query and validated by :func:`_data_version` on every call: a change committed by anyone is
    never served stale. Cached dicts are shared between callers: do not modify them.
    """
    if _fast_cells(req):
        return _fast_entry(conn, scope, req)
    hit, slot = _cache_entry(conn, scope, req)
    if hit is not None and hit.rows:
        return hit
    sql, params = _build(req, scope)
    entry = hit or _Cached((), [])
    entry.rows = _query_rows(conn, req, sql, params)
    if slot is not None:
        _cache_put(slot, entry)
    return entry


_SNAP_SQL = (
    "SELECT (SELECT d.oid FROM pg_database d WHERE d.datname = current_database()), "
    "pg_postmaster_start_time(), (SELECT e.epoch FROM metrics_epoch e), "
    "pg_current_snapshot()::text, pg_current_xact_id_if_assigned() IS NULL"
)
# the cells with delta rows a snapshot did not see (written by transactions not visible in it);
# transaction ids below the snapshot's xmin were all visible to it (the index on tx)
_TOUCHED_SQL = (
    "SELECT dd.cell_id FROM cell_metric_delta dd "
    "WHERE dd.tx >= pg_snapshot_xmin(CAST(:snap AS pg_snapshot))::text::bigint "
    "AND NOT pg_visible_in_snapshot(dd.tx::text::xid8, CAST(:snap AS pg_snapshot)) "
    "UNION "
    "SELECT mc.cell_id FROM metrics_compaction mc "
    "WHERE mc.tx >= pg_snapshot_xmin(CAST(:snap AS pg_snapshot))::text::bigint "
    "AND NOT pg_visible_in_snapshot(mc.tx::text::xid8, CAST(:snap AS pg_snapshot)) "
    "ORDER BY 1"
)
_LOG_KEPT_S = 5.5 * 3600
"""A cached cell map older than this is read whole (compaction keeps its log six hours)."""


def _fast_entry(conn: Connection, scope: Scope, req: _Request) -> _Cached:
    """The map of a city's cells, re-reading only the cells changed since the cached read.

    A cached read keeps the snapshot taken just before it ran. The next read looks for delta
    rows written by transactions that snapshot did not see (``cell_metric_delta.tx``, migration
    0006), and for the cells of compactions it did not see (which removed delta rows;
    ``metrics_compaction``, migration 0007): only those cells are computed again and spliced
    into the cached rows and JSON. The new snapshot is again taken before the lookup, so a
    change committed meanwhile is either re-read now or found the next time; one still
    uncommitted is invisible to the new snapshot too. Territory changes and recounts bump
    ``metrics_epoch``: a full read, as for a cached map older than the compaction log.
    """
    taken = time.monotonic()
    oid, started, epoch, snap, clean = conn.execute(text(_SNAP_SQL)).one()
    sql, params = _build(req, scope)
    if not clean:  # this transaction wrote something: its view is its own
        return _Cached((), _query_rows(conn, req, sql, params))
    key = ("cells", (oid, started), sql, repr(sorted(params.items())))
    found = _fast_hit(conn, scope, req, key, epoch, snap, taken)
    if found is not None:
        return found
    # a whole read: one at a time per map (two requests of a page, e.g. the figures and the
    # outlines, arrive together after a territory change); whoever waited then patches the
    # entry just read, like any later reader, so a change committed meanwhile is not missed
    with _cache_lock:
        if len(_building) > 1000:
            _building.clear()
        gate = _building.setdefault(key, threading.Lock())
    with gate:
        found = _fast_hit(conn, scope, req, key, epoch, snap, taken)
        if found is not None:
            return found
        entry = _Cached((epoch,), _query_rows(conn, req, sql, params), snap=snap, taken=taken)
        _cache_put((key, (epoch,)), entry)
        return entry


_building: dict[tuple[Any, ...], threading.Lock] = {}


def _fast_hit(
    conn: Connection, scope: Scope, req: _Request, key: tuple[Any, ...], epoch: Any, snap: str, taken: float
) -> _Cached | None:
    """The cached cell map of ``key`` brought up to date by re-reading the changed cells, or None."""
    with _cache_lock:
        hit = _cache.get(key)
    if (
        hit is None
        or hit.snap is None
        or hit.version != (epoch,)
        or time.monotonic() - hit.taken >= _LOG_KEPT_S
    ):
        return None
    touched = [int(c) for c in conn.execute(text(_TOUCHED_SQL), {"snap": hit.snap}).scalars()]
    if not touched:
        with _cache_lock:
            if key in _cache:
                _cache.move_to_end(key)
        return hit
    patched = _patch(conn, scope, req, hit, touched)
    if patched is None:
        return None
    patched.version, patched.snap, patched.taken = (epoch,), snap, taken
    _cache_put((key, (epoch,)), patched)
    return patched


def _row_json(row: dict[str, Any]) -> bytes:
    return orjson.dumps(row, option=orjson.OPT_NON_STR_KEYS)


def _row_parts(entry: _Cached) -> list[bytes]:
    """Each row's JSON of a cell map entry, rendered once and then patched row by row."""
    if entry.parts is None:
        entry.parts = [_row_json(d) for d, _ in entry.rows]
    return entry.parts


def _patch(conn: Connection, scope: Scope, req: _Request, hit: _Cached, touched: list[int]) -> _Cached | None:
    """A copy of ``hit`` with the rows of the ``touched`` cells read again (None: read everything)."""
    sql, params = _build(req, scope, only_cells=touched)
    fresh = {aid: d for d, aid in _query_rows(conn, req, sql, params)}
    rows = list(hit.rows)
    parts = list(hit.parts) if hit.parts is not None else None
    cparts = list(hit.cparts) if hit.cparts is not None else None
    keys = _table_keys(hit.rows)
    features = list(hit.features) if hit.features is not None else None
    seen = 0
    for i, (_, aid) in enumerate(rows):
        d = fresh.get(aid)
        if d is None:
            continue
        seen += 1
        rows[i] = (d, aid)
        if parts is not None:
            parts[i] = _row_json(d)
        if cparts is not None:
            cparts[i] = _row_values(d, keys)
        if features is not None:
            features[i] = None
    if seen != len(fresh):  # a cell the cached read did not have: the territory changed under it
        return None
    return _Cached(hit.version, rows, parts=parts, geoms=hit.geoms, features=features, cparts=cparts)


def _rows(conn: Connection, scope: Scope, req: _Request) -> list[tuple[dict[str, Any], int]]:
    return list(_cached_rows(conn, scope, req).rows)


def metrics_for_level(
    conn: Connection,
    scope: Scope,
    level: str,
    *,
    as_of: dt.date | None = None,
    period: str | None = None,
    filters: dict[str, Any] | None = None,
    tz: str = DEFAULT_TZ,
    from_base: bool = False,
) -> list[dict[str, Any]]:
    """Every METRICS.md metric for every area of ``level`` the caller may read.

    ``level``: ``building``, ``cell``, ``grid``, ``feature_grid``, ``district``, ``city``,
    ``province`` or ``h3:<5..12>``. Each dict holds ``id`` (the code; a building's database id;
    the H3 index as a hex string), ``level``, ``name``, ``code``, ``area_km2`` and every key of
    METRICS.md (:data:`METRIC_KEYS`): ratios are fractions in [0, 1] and null when their
    denominator is 0, ``rival_mix`` an object (``{}`` when there is no rival), revenue in RMB.
    Cells also carry ``grid_code``, ``grid_name``, ``district_code``, ``district_name``,
    ``type`` and ``source``. Sorted by code (H3: by index).

    ``as_of`` (default today in ``tz``): a past date gives the state at that day's 24:00 from
    the record versions; ``expiring_90d`` counts contract ends in [as_of, as_of + 90 days].
    ``period`` (``YYYY-MM``, ``YYYY-Qn``, ``YYYY``; default the month of ``as_of``) is the
    window of ``churned``, ``won`` and ``new_own_lines``.

    ``filters`` restrict the areas: ``province``, ``city``, ``district``, ``grid``, ``cell``,
    ``feature_grid`` (codes; a characteristic grid keeps its member units), ``building`` (id),
    ``h3`` (an H3 index: units inside it), ``bbox`` (minx, miny, maxx, maxy in WGS84: areas
    meeting it, with their whole figures) and ``status`` (one or several statuses: only units
    with that status count). ``from_base`` bypasses the aggregates (slow; for checks).
    """
    req = _request(conn, level, as_of, period, filters, tz, from_base)
    return [d for d, _ in _rows(conn, scope, req)]


def metrics_json(
    conn: Connection,
    scope: Scope,
    level: str,
    *,
    as_of: dt.date | None = None,
    period: str | None = None,
    filters: dict[str, Any] | None = None,
    tz: str = DEFAULT_TZ,
) -> bytes:
    """:func:`metrics_for_level` as a JSON array (bytes, orjson), for APIs.

    A repeated read of an unchanged current state returns the bytes rendered the first time
    (see the read cache of :func:`metrics_for_level`), so the thousands of cells of a city cost
    a version check, not a query and a serialisation.
    """
    req = _request(conn, level, as_of, period, filters, tz, False)
    entry = _cached_rows(conn, scope, req)
    if entry.json is None:
        if _fast_cells(req):  # kept per row, so that a re-read of a few cells re-renders only those
            entry.json = b"[" + b",".join(_row_parts(entry)) + b"]"
        else:
            entry.json = orjson.dumps([d for d, _ in entry.rows], option=orjson.OPT_NON_STR_KEYS)
    return entry.json


def _table_keys(rows: _Rows) -> list[str]:
    return list(rows[0][0]) if rows else []


def _row_values(row: dict[str, Any], keys: list[str]) -> bytes:
    return orjson.dumps([row.get(k) for k in keys], option=orjson.OPT_NON_STR_KEYS)


def metrics_table(
    conn: Connection,
    scope: Scope,
    level: str,
    *,
    as_of: dt.date | None = None,
    period: str | None = None,
    filters: dict[str, Any] | None = None,
    tz: str = DEFAULT_TZ,
) -> bytes:
    """:func:`metrics_for_level` as one table: ``{"keys": [...], "rows": [[...], ...]}`` (bytes).

    The same figures as :func:`metrics_json` without repeating every key in every row: about
    half the bytes, and an array of arrays parses several times faster in a browser than an
    array of objects (the web map reads a city's 8,000 cells this way). Cached like
    :func:`metrics_json`; the fast cell map keeps each row's array and re-renders only the rows
    of changed cells.
    """
    req = _request(conn, level, as_of, period, filters, tz, False)
    entry = _cached_rows(conn, scope, req)
    if entry.table is None:
        keys = _table_keys(entry.rows)
        if _fast_cells(req):
            if entry.cparts is None:
                entry.cparts = [_row_values(d, keys) for d, _ in entry.rows]
            rows = b"[" + b",".join(entry.cparts) + b"]"
        else:
            table = [[d.get(k) for k in keys] for d, _ in entry.rows]
            rows = orjson.dumps(table, option=orjson.OPT_NON_STR_KEYS)
        entry.table = b'{"keys":' + orjson.dumps(keys) + b',"rows":' + rows + b"}"
    return entry.table


# -- GeoJSON ---------------------------------------------------------------------------------
_GEOMETRY = {
    "cell": "SELECT c.geom FROM cell c WHERE c.id = res.aid",
    "grid": "SELECT coalesce(g.geom, (SELECT ST_Multi(ST_Union(c.geom)) FROM cell c WHERE c.grid_id = g.id)) "
    "AS geom FROM grid g WHERE g.id = res.aid",
    "district": "SELECT coalesce(r.geom, (SELECT ST_Multi(ST_Union(c.geom)) FROM cell c "
    "WHERE c.district_id = r.id)) AS geom FROM region r WHERE r.id = res.aid",
    "city": "SELECT coalesce(r.geom, (SELECT ST_Multi(ST_Union(c.geom)) FROM cell c "
    "WHERE c.city_id = r.id)) AS geom FROM region r WHERE r.id = res.aid",
    "province": "SELECT r.geom FROM region r WHERE r.id = res.aid",
    "building": "SELECT b.geom FROM building b WHERE b.id = res.aid",
    "feature_grid": "SELECT coalesce(f.geom, (SELECT ST_Multi(ST_Union(c.geom)) FROM feature_grid_cell m "
    "JOIN cell c ON c.id = m.cell_id WHERE m.feature_grid_id = f.id)) AS geom "
    "FROM feature_grid f WHERE f.id = res.aid",
}


def metrics_geojson(
    conn: Connection,
    scope: Scope,
    level: str,
    *,
    as_of: dt.date | None = None,
    period: str | None = None,
    filters: dict[str, Any] | None = None,
    tz: str = DEFAULT_TZ,
) -> bytes:
    """The areas of :func:`metrics_for_level` as a GeoJSON FeatureCollection (WGS84), as bytes.

    Each feature has ``id`` = the area's id and the metrics dict as ``properties``. Cells, grids
    and regions are their polygons (a grid or region without a geometry: the union of its
    cells), buildings points, characteristic grids their own geometry or the union of their
    member cells (null when they have neither), H3 cells their hexagons. The territory and
    building features are built in the database (``metrics_geojson.sql``); H3 hexagons in Python.
    Repeated reads of an unchanged current state are served from the read cache.
    """
    req = _request(conn, level, as_of, period, filters, tz, False)
    if _fast_cells(req):
        return _cells_geojson(conn, scope, req)
    if req.level.kind == "h3":
        feats = []
        for d, aid in _rows(conn, scope, req):
            ring = [[round(x, 7), round(y, 7)] for x, y in cell_polygon(aid).exterior.coords]
            geometry = {"type": "Polygon", "coordinates": [ring]}
            feats.append({"type": "Feature", "id": d["id"], "geometry": geometry, "properties": d})
        return orjson.dumps({"type": "FeatureCollection", "features": feats})
    hit, slot = _cache_entry(conn, scope, req)
    if hit is not None and hit.geojson is not None:
        return hit.geojson
    sql, params = _build(req, scope)
    sql = _fill(sqlfiles.load("metrics_geojson.sql"), metrics=sql, geometry=_GEOMETRY[req.level.kind])
    body = str(_execute(conn, sql, params).scalar()).encode()
    if hit is not None:
        hit.geojson = body
    elif slot is not None:
        _cache_put(slot, _Cached((), [], geojson=body))
    return body


def _cells_geojson(conn: Connection, scope: Scope, req: _Request) -> bytes:
    """The map of cells as GeoJSON from the incrementally kept rows (:func:`_fast_entry`).

    Each feature is spliced from the cell's geometry (read once per territory epoch, as
    ``ST_AsGeoJSON(geom, 6)`` like metrics_geojson.sql) and its row's JSON, so a read after a
    field edit re-renders only the changed cells' properties.
    """
    entry = _fast_entry(conn, scope, req)
    if entry.geojson is not None:
        return entry.geojson
    parts = _row_parts(entry)
    geoms = entry.geoms or {}
    missing = [aid for _, aid in entry.rows if aid not in geoms]
    if missing:
        geoms = dict(geoms)
        found = conn.execute(
            text("SELECT c.id, ST_AsGeoJSON(c.geom, 6) FROM cell c WHERE c.id = ANY(:ids)"), {"ids": missing}
        )
        geoms.update((int(aid), str(g).encode()) for aid, g in found)
        entry.geoms = geoms
    features: list[bytes | None] = entry.features if entry.features is not None else [None] * len(entry.rows)
    for i, ((d, aid), part) in enumerate(zip(entry.rows, parts, strict=True)):
        if features[i] is None:
            head = b'{"type":"Feature","id":' + orjson.dumps(d["id"]) + b',"geometry":'
            features[i] = b"".join((head, geoms.get(aid, b"null"), b',"properties":', part, b"}"))
    entry.features = features
    body = b",".join(f or b"null" for f in features)
    entry.geojson = b'{"type":"FeatureCollection","features":[' + body + b"]}"
    return entry.geojson


# -- shapes: the areas' outlines, compact, for the web map ------------------------------------
SHAPE_SCALE = 100_000
"""Shape coordinates are integers of 1e-5 degree (about 1.1 m; finer than a screen pixel at z 16)."""

_shape_cache: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
_SHAPE_CACHE_AREAS = 200_000


def _encode_rings(geoms: Sequence[Any]) -> list[bytes]:
    """Each polygon's or multipolygon's rings as JSON arrays of delta-encoded integer coordinates.

    A ring is ``[x0, y0, dx1, dy1, ...]`` in units of 1/:data:`SHAPE_SCALE` degree, without the
    closing vertex: the first vertex absolute, each next one the step from the one before.
    Holes and the parts of a multipolygon are rings alike: drawn with the even-odd rule they
    need no nesting (the parts of a valid multipolygon do not overlap). None or an empty or
    non-areal geometry gives ``[]``. Vectorised over all the geometries at once (a city's
    8,000 cells in a few tens of milliseconds).
    """
    arr = np.array(geoms, dtype=object)
    if not len(arr):
        return []
    areal = shapely.get_type_id(arr)
    arr[(areal != 3) & (areal != 6)] = None  # polygons and multipolygons only
    parts, part_of = shapely.get_parts(arr, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, vertex_ring = shapely.get_coordinates(rings, return_index=True)
    # drop each ring's closing vertex (the last of each ring's run)
    last = np.r_[vertex_ring[1:] != vertex_ring[:-1], True]
    q = np.rint(coords[~last] * SHAPE_SCALE).astype(np.int64)
    vr = vertex_ring[~last]
    first = np.r_[True, vr[1:] != vr[:-1]]
    delta = np.diff(q, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    delta[first] = q[first]
    cuts = np.flatnonzero(first)[1:]
    flat = [piece.ravel() for piece in np.split(delta, cuts)] if len(q) else []
    ring_geom = part_of[ring_part][np.unique(vr)] if len(q) else np.array([], dtype=np.int64)
    out: list[list[Any]] = [[] for _ in range(len(arr))]
    for g, ring in zip(ring_geom.tolist(), flat, strict=True):
        if len(ring) >= 6:
            out[g].append(ring)
    return [orjson.dumps(r, option=orjson.OPT_SERIALIZE_NUMPY) for r in out]


_SHAPES_SQL = "SELECT res.aid, ST_AsBinary(({geometry})) FROM unnest(CAST(:ids AS bigint[])) AS res(aid)"


def metrics_shapes(
    conn: Connection,
    scope: Scope,
    level: str,
    *,
    as_of: dt.date | None = None,
    period: str | None = None,
    filters: dict[str, Any] | None = None,
    tz: str = DEFAULT_TZ,
) -> bytes:
    """The outlines of the areas :func:`metrics_for_level` lists, for drawing them (bytes).

    ``{"level": ..., "scale": 100000, "codes": [...], "rings": [[ring, ...], ...]}``: the areas'
    ids (as ``id`` of the metrics) and, in the same order, each one's rings (see
    :func:`_encode_rings`; ``[]`` for an area without a geometry). The areas are exactly those
    of the same request for metrics, scope included; their outlines are cached per territory
    epoch (H3 hexagons for good, characteristic grids never).
    """
    req = _request(conn, level, as_of, period, filters, tz, False)
    kind = req.level.kind
    if kind == "building":
        raise ValidationFailed("buildings are points: ask for the metrics of level building instead", "level")
    rows = _cached_rows(conn, scope, req).rows
    if kind == "h3":
        tag: tuple[Any, ...] = ("h3",)
    elif kind == "feature_grid":
        tag = ()
    else:
        oid, started, epoch, _, clean = conn.execute(text(_SNAP_SQL)).one()
        tag = (kind, oid, started, epoch) if clean else ()  # a writer's own view is never cached
    out: dict[int, bytes] = {}
    missing = []
    with _cache_lock:
        for _, aid in rows:
            hit = _shape_cache.get((*tag, aid)) if tag else None
            if hit is None:
                missing.append(aid)
            else:
                out[aid] = hit
    if missing:
        if kind == "h3":
            shapes = [cell_polygon(aid) for aid in missing]
        else:
            sql = _SHAPES_SQL.format(geometry=_GEOMETRY[kind])
            got: dict[int, Any] = {int(a): w for a, w in conn.execute(text(sql), {"ids": missing})}
            wkbs = [bytes(got[aid]) if got.get(aid) is not None else None for aid in missing]
            shapes = list(shapely.from_wkb(wkbs))
        found = dict(zip(missing, _encode_rings(shapes), strict=True))
        out.update(found)
        if tag:
            with _cache_lock:
                for aid, body in found.items():
                    _shape_cache[(*tag, aid)] = body
                while len(_shape_cache) > _SHAPE_CACHE_AREAS:
                    _shape_cache.popitem(last=False)
    head = orjson.dumps({"level": level, "scale": SHAPE_SCALE, "codes": [d["id"] for d, _ in rows]})
    body = b",".join(out.get(aid, b"[]") for _, aid in rows)
    return head[:-1] + b',"rings":[' + body + b"]}"


def cells_geojson(conn: Connection, city_id: int, scope: Scope, *, tz: str = DEFAULT_TZ) -> bytes:
    """Return the cells of a city in ``scope`` with every metric (METRICS.md) as GeoJSON bytes.

    A thin wrapper of :func:`metrics_geojson` at level ``cell`` filtered to the city; feature
    ``id`` and ``properties.code`` are the cell code.
    """
    code = conn.scalar(text("SELECT code FROM region WHERE id = :i"), {"i": city_id})
    if code is None:
        raise NotFound(f"no city {city_id}")
    return metrics_geojson(conn, scope, "cell", filters={"city": code}, tz=tz)


def cell_feature(conn: Connection, cell_id: int, *, tz: str = DEFAULT_TZ) -> dict[str, Any]:
    """Return one cell as a GeoJSON feature with its metrics (the caller has checked the scope)."""
    code = conn.scalar(text("SELECT code FROM cell WHERE id = :i"), {"i": cell_id})
    if code is None:
        raise NotFound(f"no cell {cell_id}")
    fc = orjson.loads(metrics_geojson(conn, system_scope(), "cell", filters={"cell": code}, tz=tz))
    return dict(fc["features"][0])


# -- drill-down, comparison, league tables --------------------------------------------------
def _area_filter(conn: Connection, level: Level, area_id: str) -> dict[str, Any]:
    """The filter selecting one area of ``level`` by its id (NotFound when there is none)."""
    kind = level.kind
    if kind == "h3":
        _, res = _h3_of(area_id)
        if res != level.res:
            raise ValidationFailed(f"{area_id} is not an H3 cell of resolution {level.res}", field="id")
        return {"h3": area_id}
    if kind == "building":
        try:
            bid = int(area_id)
        except (TypeError, ValueError) as exc:
            raise NotFound(f"no building {area_id!r}") from exc
        if conn.scalar(text("SELECT id FROM building WHERE id = :i"), {"i": bid}) is None:
            raise NotFound(f"no building {area_id!r}")
        return {"building": bid}
    return {kind: area_id}  # resolved (NotFound when missing) by _resolve_filters


def _one(conn: Connection, scope: Scope, level: Level, area_id: str, **kw: Any) -> dict[str, Any]:
    flt = {**(kw.pop("filters", None) or {}), **_area_filter(conn, level, area_id)}
    rows = metrics_for_level(conn, scope, level.name, filters=flt, **kw)
    rows = [r for r in rows if r["id"] == (area_id.lower() if level.kind == "h3" else str(area_id))]
    if not rows:
        raise Forbidden(f"{level.name} {area_id} is outside your scope")
    return rows[0]


def children(
    conn: Connection,
    scope: Scope,
    level: str,
    area_id: str,
    *,
    child_level: str | None = None,
    as_of: dt.date | None = None,
    period: str | None = None,
    filters: dict[str, Any] | None = None,
    tz: str = DEFAULT_TZ,
) -> list[dict[str, Any]]:
    """The areas of the next level inside one area (drill-down), with every metric.

    province → city → district → grid → cell → building; ``h3:r`` → ``h3:r+1`` (the hexagons
    of its units); ``feature_grid`` → cell (its member cells, and the cells of its members by
    industry, counting only its members). ``child_level`` asks for another finer level (for
    instance a city's cells). Raises NotFound for an unknown area, Forbidden when it lies
    wholly outside the caller's scope, ValidationFailed for a building (no children).
    """
    lvl = parse_level(level)
    if child_level is None:
        if lvl.kind == "h3":
            assert lvl.res is not None
            if lvl.res >= max(BINNING_RESOLUTIONS):
                raise ValidationFailed("an H3 cell of resolution 12 has no finer level here", field="level")
            child_level = f"h3:{lvl.res + 1}"
        elif lvl.kind == "feature_grid":
            child_level = "cell"
        elif lvl.kind in CHILD_LEVEL:
            child_level = CHILD_LEVEL[lvl.kind]
        else:
            raise ValidationFailed("a building has no finer level", field="level")
    _one(conn, scope, lvl, area_id, as_of=as_of, period=period, filters=filters, tz=tz)
    flt = {**(filters or {}), **_area_filter(conn, lvl, area_id)}
    return metrics_for_level(conn, scope, child_level, as_of=as_of, period=period, filters=flt, tz=tz)


def compare(
    conn: Connection,
    scope: Scope,
    areas: Sequence[tuple[str, str]],
    *,
    as_of: dt.date | None = None,
    period: str | None = None,
    tz: str = DEFAULT_TZ,
) -> list[dict[str, Any]]:
    """Every metric of 2 to 10 areas side by side: ``areas`` are (level, id) pairs, in that order.

    Raises ValidationFailed for fewer than 2 or more than 10 areas, NotFound for an unknown
    area and Forbidden for one wholly outside the caller's scope.
    """
    if not 2 <= len(areas) <= 10:
        raise ValidationFailed("compare takes 2 to 10 areas", field="areas")
    return [
        _one(conn, scope, parse_level(level), str(area_id), as_of=as_of, period=period, tz=tz)
        for level, area_id in areas
    ]


def rank(
    conn: Connection,
    scope: Scope,
    parent_level: str,
    parent_id: str,
    child_level: str,
    metric: str,
    *,
    as_of: dt.date | None = None,
    period: str | None = None,
    ascending: bool = False,
    tz: str = DEFAULT_TZ,
) -> list[dict[str, Any]]:
    """A league table: the ``child_level`` areas inside one area ordered by ``metric``.

    Best first (highest, or lowest with ``ascending``); each dict adds ``rank`` (1 = best, ties
    share a rank: 1, 2, 2, 4) and ``percentile`` (the share of ranked areas the area equals or
    beats, in (0, 1]; 1.0 for the best). Areas whose metric is null come last with rank and
    percentile null.
    """
    if metric not in NUMERIC_METRICS:
        raise ValidationFailed(f"cannot rank by {metric!r}", field="metric")
    rows = children(
        conn, scope, parent_level, parent_id, child_level=child_level, as_of=as_of, period=period, tz=tz
    )
    sign = 1 if ascending else -1
    valued = sorted((r for r in rows if r[metric] is not None), key=lambda r: (sign * r[metric], r["id"]))
    nulls = sorted((r for r in rows if r[metric] is None), key=lambda r: str(r["id"]))
    n = len(valued)
    out: list[dict[str, Any]] = []
    for i, r in enumerate(valued):
        better = i
        while better > 0 and valued[better - 1][metric] == r[metric]:
            better -= 1
        worse_or_equal = n - better
        out.append({**r, "rank": better + 1, "percentile": worse_or_equal / n})
    out.extend({**r, "rank": None, "percentile": None} for r in nulls)
    return out


# -- maintenance ----------------------------------------------------------------------------
def _compact_sql() -> str:
    return _fill(
        sqlfiles.load("metrics_compact.sql"),
        cols=", ".join(SUM_NAMES),
        sums=", ".join(f"sum(d.{n})" for n in SUM_NAMES),
        adds=", ".join(f"{n} = cell_metric.{n} + excluded.{n}" for n in SUM_NAMES),
        h3_adds=", ".join(f"{n} = cell_h3_metric.{n} + excluded.{n}" for n in SUM_NAMES),
    )


def compact_metrics(conn: Connection, *, tz: str = DEFAULT_TZ) -> int | None:
    """Fold the pending metric deltas into the base aggregates, in the caller's transaction.

    Also refreshes each cell's expiring_90d as of today in ``tz`` (all cells on the first
    compaction of a day). Returns the number of delta rows folded, or None when another
    compaction holds the lock (then this one does nothing). Writers and readers never wait for
    it; run it in its own short transaction after bulk loads and periodically (every minute or
    so, and once soon after midnight).
    """
    if not conn.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": METRICS_LOCK}):
        return None
    conn.execute(text("DROP TABLE IF EXISTS metrics_compacting"))
    folded = int(sqlfiles.run_script(conn, _compact_sql(), {"exp_day": today(tz)}).scalar_one())
    _store_period(conn, tz, "SELECT d.cell_id FROM metrics_compacting d")
    return folded


def vacuum_deltas(engine: Engine) -> None:
    """VACUUM (ANALYZE) the delta table after a compaction (its own connection, autocommit).

    Compaction deletes every delta row it folds; the dead rows would otherwise stay in the
    table's pages until autovacuum came by, and every read scans that table.
    """
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE) cell_metric_delta"))


def recount_metrics(conn: Connection, *, tz: str = DEFAULT_TZ) -> int:
    """Rebuild every metric aggregate from the current records (in the caller's transaction).

    Writers wait for the caller's commit (their triggers need the delta table); returns the
    number of current records counted.
    """
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": METRICS_LOCK})
    conn.execute(text("DROP TABLE IF EXISTS metrics_recounting"))
    sql = _fill(
        sqlfiles.load("metrics_recount.sql"),
        h3_8=parent_sql("a.h3_12", str(AGG_H3_RES)),
        cols=", ".join(SUM_NAMES),
        contrib_sums=", ".join(f"sum({_CONTRIB[n]})" for n in SUM_NAMES).replace("u.", "x."),
        sums=", ".join(f"sum(d.{n})" for n in SUM_NAMES),
        rival_key=_RIVAL_KEY.replace("u.", "x."),
        rivalry=_RIVALRY.replace("u.", "x."),
    )
    counted = int(sqlfiles.run_script(conn, sql, {"exp_day": today(tz)}).scalar_one())
    _store_period(conn, tz, None)
    return counted


def pending_deltas(conn: Connection) -> int:
    """Number of delta rows not compacted yet (for monitoring and tests)."""
    return int(conn.scalar(text("SELECT count(*) FROM cell_metric_delta")) or 0)
