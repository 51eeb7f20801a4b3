"""Read queries over the territory (cities, districts) used by the API and the web app."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from sqlalchemy import Connection, text

from gridmarket.grids import sqlfiles
from gridmarket.grids.metrics import data_version
from gridmarket.grids.scope import CITY_WIDE, Scope

_cities_cache: OrderedDict[tuple[Any, ...], list[dict[str, Any]]] = OrderedDict()
_cities_lock = threading.Lock()


def list_cities(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """Return the cities in scope with bbox, unit and cell counts; most units first.

    Unit counts come from the metric aggregates (units in the cells the caller may read), not
    from a count over the address units on every call.

    The answer is kept per process for each scope and reused while the data version of the
    metric reads holds (every change of a unit count, a cell or a region moves it), so the page's
    first request costs a version check, not a pass over every cell.
    """
    cond, params = scope.cell_sql("c")
    sql = sqlfiles.with_scope(sqlfiles.load("cities.sql"), cell_scope=cond)
    bound = {"cities": scope.city_ids(), **params}
    version = data_version(conn)
    key = (version, sql, repr(sorted(bound.items()))) if version is not None else None
    if key is not None:
        with _cities_lock:
            hit = _cities_cache.get(key)
        if hit is not None:
            return [dict(r) for r in hit]
    rows = [dict(r) for r in conn.execute(text(sql), bound).mappings()]
    for row in rows:
        row["units"] = int(row["units"])
    rows.sort(key=lambda r: (-r["units"], r["code"]))
    if key is not None:
        with _cities_lock:
            _cities_cache[key] = [dict(r) for r in rows]
            while len(_cities_cache) > 256:
                _cities_cache.popitem(last=False)
    return rows


def districts_geojson(conn: Connection, city_id: int) -> bytes:
    """Return the district outlines of a city as a GeoJSON FeatureCollection (built in the database)."""
    return str(conn.scalar(text(sqlfiles.load("districts_geojson.sql")), {"city": city_id})).encode()


_FEATURE_GRIDS_SQL = """
SELECT f.code, f.name, f.type, r.code AS city_code, r.name AS city_name,
       (SELECT count(*) FROM feature_grid_cell m WHERE m.feature_grid_id = f.id) AS cells
FROM feature_grid f JOIN region r ON r.id = f.city_id
WHERE (CAST(:cities AS integer[]) IS NULL OR f.city_id = ANY(CAST(:cities AS integer[])))
  AND (:all_of_city
       OR f.id = ANY(CAST(:held AS integer[]))
       OR EXISTS (SELECT 1 FROM feature_grid_cell m JOIN cell c ON c.id = m.cell_id
                  WHERE m.feature_grid_id = f.id AND ({{cell_scope}})))
ORDER BY f.code
"""


def list_feature_grids(conn: Connection, scope: Scope) -> list[dict[str, Any]]:
    """The characteristic grids the caller may pick: code, name, type, city and member cells.

    Every characteristic grid of the cities in scope for the admin, the city-wide roles and
    specialist leads; for the others those they hold and those with a member cell they may read.
    A list for pickers: no figures (the metrics of level ``feature_grid`` have them, at the cost
    of counting the customers of the grids' industries across the city).
    """
    cond, params = scope.cell_sql("c")
    all_of_city = scope.everything or scope.role in CITY_WIDE or scope.role == "specialist_lead"
    sql = sqlfiles.with_scope(_FEATURE_GRIDS_SQL, cell_scope=cond)
    bound = {"cities": scope.city_ids(), "all_of_city": all_of_city, "held": sorted(scope.feature_grids)}
    rows = conn.execute(text(sql), {**bound, **params}).mappings()
    return [{**r, "cells": int(r["cells"])} for r in rows]
