"""Metrics per area, as defined in METRICS.md; the SQL lives in ``grids/sql``."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, text

from gridmarket.grids import sqlfiles
from gridmarket.grids.scope import Scope


def cells_geojson(conn: Connection, city_id: int, scope: Scope) -> bytes:
    """Return the cells of a city in ``scope`` with counts by status and penetration.

    The GeoJSON FeatureCollection is built in the database and returned as bytes.
    """
    cond, params = scope.cell_sql("c")
    sql = sqlfiles.with_scope(sqlfiles.load("cells_geojson.sql"), cell_scope=cond)
    return str(conn.scalar(text(sql), {"city": city_id, "cell": None, **params})).encode()


def cell_feature(conn: Connection, cell_id: int) -> dict[str, Any]:
    """Return one cell as a GeoJSON feature with its metrics (the caller has checked the scope)."""
    sql = sqlfiles.with_scope(sqlfiles.load("cells_geojson.sql"), cell_scope="true")
    city = conn.scalar(text("SELECT city_id FROM cell WHERE id = :i"), {"i": cell_id})
    fc = orjson.loads(str(conn.scalar(text(sql), {"city": city, "cell": cell_id})))
    return dict(fc["features"][0])
