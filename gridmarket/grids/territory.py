"""Read queries over the territory (cities, districts) used by the API and the web app."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from gridmarket.grids import sqlfiles
from gridmarket.grids.scope import Scope


def list_cities(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """Return the cities in scope with bbox, unit and cell counts; most units first.

    Unit counts come from the metric aggregates (units in the cells the caller may read), not
    from a count over the address units on every call.
    """
    cond, params = scope.cell_sql("c")
    sql = sqlfiles.with_scope(sqlfiles.load("cities.sql"), cell_scope=cond)
    rows = [dict(r) for r in conn.execute(text(sql), {"cities": scope.city_ids(), **params}).mappings()]
    for row in rows:
        row["units"] = int(row["units"])
    rows.sort(key=lambda r: (-r["units"], r["code"]))
    return rows


def districts_geojson(conn: Connection, city_id: int) -> bytes:
    """Return the district outlines of a city as a GeoJSON FeatureCollection (built in the database)."""
    return str(conn.scalar(text(sqlfiles.load("districts_geojson.sql")), {"city": city_id})).encode()
