"""Mapbox Vector Tiles of the address units and the cells, one ST_AsMVT statement per tile.

Layers (:data:`LAYERS`):

* ``units`` — at ``z >= point_zoom`` (setting ``tiles_point_zoom``, default 15) every address
  unit the caller may read (:meth:`Scope.unit_sql` "read") as a point in the MVT layer
  ``units`` with ``external_id``, ``status``, ``building`` (code), ``floor`` and ``room`` (the
  feature id is the unit's database id). Below that zoom never a point per unit: the MVT layer
  ``units_agg`` holds one point per H3 cell (resolution :func:`agg_resolution` of the zoom,
  parent of ``address_unit.h3_12``) at the mean position of all its units, with
  ``h3``, ``resolution``, ``units``, ``n_<status>`` counts and the most frequent ``status``;
  at ``z <= 13`` (:data:`CELL_AGG_MAX_ZOOM`) one point per cell instead (``cell`` = its code,
  at ST_PointOnSurface of the cell, same counts, read from the metric aggregates: a few
  milliseconds instead of a row per unit) when the caller's unit scope is made of whole cells
  (:func:`units_cell_scope`; otherwise the H3 aggregation of the unit rows goes on). An
  aggregate belongs to the one tile whose square holds its point; the neighbouring tiles carry
  it in their buffer too (so it is drawn whole): the features inside the squares of a zoom's
  tiles add up to the units once.
* ``cells`` — the cell polygons the caller may read (:meth:`Scope.cell_sql`, as the cells of
  ``/api/v1/cities/{code}/cells``) with ``code``, ``name``, ``grid``, ``type``, ``units``, the
  ``n_<status>`` counts, ``coverage``, ``penetration``, ``exclusivity`` and ``opportunity``
  (METRICS.md; a ratio with a zero denominator is left out of the feature, i.e. null).

Tiles are 4096 units wide. The filter is a bounding-box ``&&`` in EPSG:4326 on the GiST index
of ``address_unit.geom`` / ``cell.geom``, the geometry transformed to 3857 for ST_AsMVTGeom
(plans in the SQL files).

Freshness: :func:`tile_etag` is a strong validator, a hash of the tile's bytes (and of the
tile format's revision): a revalidation with ``If-None-Match`` runs the tile's statement and
answers 304 when the bytes are the same, so an edit of anything the tile shows (a record's
status, a unit's room or position, a building code, a cell's outline) gives a new ETag on the
very next request, and nothing else does. The saving is the transfer and the client's decoding;
a validator from the database's state would also spare the statement, but none both changes
with every edit a tile shows and stays put otherwise.
"""

from __future__ import annotations

import functools
import hashlib
import math
from typing import Any

from sqlalchemy import Connection, Dialect, Engine, text

import h3

from gridmarket.geo.h3util import parent_sql
from gridmarket.geo.tiles import MERCATOR_HALF_WORLD, tile_bounds_wgs84, validate_tile
from gridmarket.grids import sqlfiles
from gridmarket.grids.db import driver_cursor, side_engine
from gridmarket.grids.errors import NotFound
from gridmarket.grids.scope import Scope

__all__ = [
    "CELL_AGG_MAX_ZOOM",
    "EXTENT",
    "LAYERS",
    "MEDIA_TYPE",
    "PLANNER_SETTINGS",
    "TILE_APPLICATION",
    "agg_resolution",
    "check_tile",
    "tile",
    "tile_engine",
    "tile_etag",
    "tile_sql",
    "units_cell_scope",
]

LAYERS = ("units", "cells")
MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
EXTENT = 4096
BUFFER = 128
"""Buffer around a tile in tile units (128/4096 of a 256 px tile = 8 px): whole point symbols."""
AGG_BUFFER = 416
"""Buffer of the aggregated features (26 px of a 256 px tile): their circles are up to 24 px wide."""
FORMAT_REVISION = "1"
"""Part of every ETag: bump when the tile content changes for the same data (new properties)."""

PLANNER_SETTINGS = {"jit": "off", "max_parallel_workers_per_gather": "0"}
"""The settings of every tile statement: the connections of :func:`tile_engine` start with them,
:func:`tile` sets them for the caller's transaction on any other connection. A tile is a
short query served many at a time: JIT compilation (the PostGIS functions' high declared costs
push a street-zoom tile past ``jit_above_cost``) added 8-30 ms to a 10-50 ms tile, and parallel
workers on a 2-core server only compete with the other clients' tiles (1M-unit bench: z 16-17
tiles 50-90 ms → 12 ms, a z 12 aggregate 2.4 s → 0.7 s on a loaded machine)."""
_SETTINGS_SQL = (
    "SELECT set_config('jit', 'off', true), set_config('max_parallel_workers_per_gather', '0', true)"
)


CELL_AGG_MAX_ZOOM = 13
"""Up to this zoom the ``units`` layer counts per cell from the metric aggregates (see
:func:`units_cell_scope`); above it, up to the point zoom, per H3 cell from the unit rows."""


def agg_resolution(z: int) -> int:
    """H3 resolution of the aggregated ``units`` features at zoom ``z``: ``z - 4`` within 5..10.

    A hexagon then spans about 10 to 20 pixels (res 10 ≈ 76 m edge at z 14 ≈ 8 m/px; res 8 ≈
    530 m at z 12 ≈ 33 m/px).
    """
    return max(5, min(10, z - 4))


def check_tile(layer: str, z: int, x: int, y: int) -> None:
    """Raise NotFound for an unknown layer or a tile address outside the XYZ pyramid."""
    if layer not in LAYERS:
        raise NotFound(f"no tile layer {layer!r}; layers: {', '.join(LAYERS)}")
    try:
        validate_tile(z, x, y)
    except (TypeError, ValueError) as exc:
        raise NotFound(f"no such tile: {exc}") from exc


def tile_sql(
    scope: Scope, layer: str, z: int, x: int, y: int, *, point_zoom: int
) -> tuple[str, dict[str, Any]]:
    """The one SQL statement of a tile and its parameters (bound, never formatted in)."""
    check_tile(layer, z, x, y)
    params: dict[str, Any] = {"z": z, "x": x, "y": y, "extent": EXTENT}
    if layer == "cells":
        cond, sp = scope.cell_sql("c")
        sql = sqlfiles.with_scope(sqlfiles.load("tiles_cells.sql"), scope=cond)
        params.update(buffer=BUFFER, margin=BUFFER / EXTENT)
    elif z >= point_zoom:
        cond, sp = scope.unit_sql("a", "r", "read")
        sql = sqlfiles.with_scope(sqlfiles.load("tiles_units.sql"), scope=cond)
        params.update(buffer=BUFFER, margin=BUFFER / EXTENT)
    elif z <= CELL_AGG_MAX_ZOOM and (whole := units_cell_scope(scope)) is not None:
        cond, sp = whole
        sql = sqlfiles.with_scope(sqlfiles.load("tiles_units_cells.sql"), scope=cond)
        params.update(buffer=AGG_BUFFER, margin=AGG_BUFFER / EXTENT)
    else:
        cond, sp = scope.unit_sql("a", "r", "read")
        sql = sqlfiles.with_scope(
            sqlfiles.load("tiles_units_agg.sql"), scope=cond, parent=parent_sql("a.h3_12", ":res")
        )
        res = agg_resolution(z)
        params.update(
            buffer=AGG_BUFFER,
            margin=AGG_BUFFER / EXTENT,
            res=res,
            reach=AGG_BUFFER / EXTENT + _hex_reach(z, y, res),
        )
    return sql, {**params, **sp}


def _hex_reach(z: int, y: int, res: int) -> float:
    """A generous H3 hexagon diameter at ``res`` as a fraction of the width of tile row ``y``."""
    _, south, _, north = tile_bounds_wgs84(z, 0, y)
    lat = min(max(abs(south), abs(north)), 85.0)
    tile_m = 2.0 * MERCATOR_HALF_WORLD / (1 << z) * math.cos(math.radians(lat))  # on the ground
    return 2.5 * float(h3.average_hexagon_edge_length(res, unit="m")) / tile_m


def units_cell_scope(scope: Scope) -> tuple[str, dict[str, Any]] | None:
    """The caller's unit read scope as a condition on cell ``c`` when it is a set of whole cells.

    Mirrors :meth:`Scope.unit_sql` ("read"): everything; the cities of a city manager or planner
    (a unit's city is its cell's); a regional head's districts; the cells of a grid manager, and
    of an account manager or specialist lead without customers / industries of their own. None
    otherwise (their units are read one by one).
    """
    if scope.everything:
        return "true", {}
    role = scope.role
    if role in ("planner", "city_manager"):
        return "c.city_id = ANY(CAST(:su_cities AS integer[]))", {"su_cities": sorted(scope.cities)}
    if role == "regional_head":
        return "c.district_id = ANY(CAST(:su_districts AS integer[]))", {
            "su_districts": sorted(scope.districts)
        }
    if role == "grid_manager" or (role == "account_manager" and not scope.customers):
        return "c.id = ANY(CAST(:su_cells AS integer[]))", {"su_cells": sorted(scope.cells)}
    if role == "specialist_lead" and not scope.industries:
        return "c.id = ANY(CAST(:su_cells AS integer[]))", {"su_cells": sorted(scope.cells)}
    return None


TILE_APPLICATION = "gridmarket-tiles"
"""``application_name`` of the connections of :func:`tile_engine` (seen in pg_stat_activity)."""


def tile_engine(engine: Engine, pool_size: int) -> Engine:
    """The tile connections of ``engine``'s database: autocommit, :data:`PLANNER_SETTINGS` set
    once per connection, at most ``pool_size`` of them (:func:`gridmarket.grids.db.side_engine`).

    A tile request then costs two statements (session, tile) and no BEGIN, COMMIT, settings or
    pre-ping round trip; and a map's burst of tiles never takes the API's own connections.
    """
    return side_engine(
        engine, pool_size=pool_size, settings=PLANNER_SETTINGS, application_name=TILE_APPLICATION
    )


def tile(
    conn: Connection,
    scope: Scope,
    layer: str,
    z: int,
    x: int,
    y: int,
    *,
    point_zoom: int = 15,
    planner_settings: bool = True,
) -> bytes:
    """The MVT bytes of one tile (``b""`` when the caller may read nothing in it).

    Sets the planner settings of tile statements (no JIT, no parallel workers) for the rest of
    the caller's transaction first, unless ``planner_settings`` is False (a connection of
    :func:`tile_engine`, which has them already).
    """
    sql, params = tile_sql(scope, layer, z, x, y, point_zoom=point_zoom)
    if planner_settings:
        conn.execute(text(_SETTINGS_SQL))
    # on the driver's cursor (one of a few fixed texts); the result in binary format: the bytea
    # as is, not hex-encoded by the server (twice the bytes) and decoded here. Never prepared:
    # psycopg prepares a statement run 5 times on a connection, and PostgreSQL then soon plans it
    # once for any bounds; a plan for the tile's own bounds (0.3 ms of planning) is faster (1M
    # demo, the bench's 32 street tiles one after another: 12.1 ms instead of 15.6 ms a tile on
    # average; see tiles_units.sql)
    with driver_cursor(conn, binary=True) as cur:
        cur.execute(_driver_sql(sql, conn.dialect), params, prepare=False)
        row = cur.fetchone()
    return bytes(row[0]) if row and row[0] else b""


@functools.lru_cache(maxsize=64)
def _driver_sql(sql: str, dialect: Dialect) -> str:
    """A tile statement's text in the driver's parameter style (SQLAlchemy's own rendering)."""
    return str(text(sql).compile(dialect=dialect))


def tile_etag(body: bytes) -> str:
    """The strong ETag (quoted) of a tile's bytes: 24 hex digits of their SHA-256.

    SHA-256 (hardware-accelerated on current CPUs: 0.13 ms for a 180 kB street tile, BLAKE2b
    took 0.34 ms) is computed on every tile served.
    """
    digest = hashlib.sha256(_ETAG_PREFIX)
    digest.update(body)
    return '"' + digest.hexdigest()[:24] + '"'


_ETAG_PREFIX = FORMAT_REVISION.encode() + b"\0"
