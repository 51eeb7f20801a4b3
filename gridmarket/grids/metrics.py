"""Metrics per area, as defined in METRICS.md; the SQL lives in ``grids/sql``."""

from __future__ import annotations

from sqlalchemy import Connection, text

from gridmarket.grids import sqlfiles


def cells_geojson(conn: Connection, city_id: int) -> bytes:
    """Return every cell of a city with its counts by status and penetration, as GeoJSON bytes."""
    return str(conn.scalar(text(sqlfiles.load("cells_geojson.sql")), {"city": city_id})).encode()
