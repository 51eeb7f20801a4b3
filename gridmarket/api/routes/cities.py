"""Cities in the caller's scope, their district outlines and their cells with metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from gridmarket.api.deps import ConnDep, ScopeDep
from gridmarket.grids import metrics, territory
from gridmarket.grids.scope import city_by_code

router = APIRouter(prefix="/api/v1/cities", tags=["territory"])
feature_grids_router = APIRouter(prefix="/api/v1/feature-grids", tags=["territory"])

GEOJSON = "application/geo+json"


@router.get("")
def list_cities(conn: ConnDep, scope: ScopeDep) -> dict[str, Any]:
    """List the city branches in scope, with bbox and counts of units and cells."""
    return {"cities": territory.list_cities(conn, scope)}


@router.get("/{code}/districts", response_class=Response, responses={200: {"content": {GEOJSON: {}}}})
def city_districts(code: str, conn: ConnDep, scope: ScopeDep) -> Response:
    """District outlines of a city (GeoJSON)."""
    city_id = city_by_code(conn, scope, code)
    return Response(territory.districts_geojson(conn, city_id), media_type=GEOJSON)


@router.get("/{code}/cells", response_class=Response, responses={200: {"content": {GEOJSON: {}}}})
def city_cells(code: str, conn: ConnDep, scope: ScopeDep) -> Response:
    """Every cell of a city with its counts by status, coverage and penetration (METRICS.md), as GeoJSON."""
    city_id = city_by_code(conn, scope, code)
    return Response(metrics.cells_geojson(conn, city_id, scope), media_type=GEOJSON)


@feature_grids_router.get("")
def list_feature_grids(conn: ConnDep, scope: ScopeDep) -> dict[str, Any]:
    """The characteristic grids you may pick (code, name, type, city, member cells), by code.

    All of your cities' for the admin, city-wide roles and specialist leads; otherwise those you
    hold and those with a member cell you may read. No figures: ask the metrics of level
    ``feature_grid`` for those.
    """
    return {"feature_grids": territory.list_feature_grids(conn, scope)}
