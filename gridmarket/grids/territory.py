"""Read queries over the territory (cities, districts) used by the API and the web app."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from gridmarket.grids import sqlfiles
from gridmarket.grids.scope import Scope


def list_cities(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """Return the cities in scope with bbox, unit and cell counts; most units first."""
    cond, params = scope.cell_sql("c")
    sql = sqlfiles.with_scope(sqlfiles.load("cities.sql"), cell_scope=cond)
    rows = conn.execute(text(sql), {"cities": scope.city_ids(), **params}).mappings()
    return [dict(r) for r in rows]


def districts_geojson(conn: Connection, city_id: int) -> bytes:
    """Return the district outlines of a city as a GeoJSON FeatureCollection (built in the database)."""
    return str(conn.scalar(text(sqlfiles.load("districts_geojson.sql")), {"city": city_id})).encode()
