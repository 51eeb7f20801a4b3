"""Search: addresses, customers (name or code), cells and buildings the caller may read."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Response

from gridmarket.api.deps import ConnDep, ScopeDep
from gridmarket.grids import org
from gridmarket.grids import search as search_db

router = APIRouter(prefix="/api/v1/search", tags=["search"])


@router.get("", response_class=Response)
def search(
    conn: ConnDep,
    scope: ScopeDep,
    q: Annotated[str, Query(description="address, customer name or code, cell or building code")],
    limit: Annotated[int, Query(description="at most this many results (1-50)")] = 20,
) -> Response:
    """Matches best first, each with where to fly to.

    Each result: ``{kind (unit|customer|cell|building), code, label, sub, city_code, cell_code, lon, lat}``.
    """
    results = search_db.search(conn, scope, q, limit)
    return Response(orjson.dumps({"q": q, "results": results}), media_type="application/json")


areas_router = APIRouter(prefix="/api/v1/areas", tags=["search"])


@areas_router.get("/{level}/{area}/top-customers", response_class=Response)
def top_customers(
    level: str,
    area: str,
    conn: ConnDep,
    scope: ScopeDep,
    limit: Annotated[int, Query(description="at most this many customers (1-50)")] = 10,
) -> Response:
    """The customers of an area (cell, grid, district, city, feature_grid) with the most monthly revenue.

    Counted over the area's address units the caller may read; each customer with its units, revenue,
    own and rival units and one unit id (``first_unit``) to open.
    """
    rows = search_db.top_customers(conn, scope, level, area, limit)
    return Response(
        orjson.dumps({"level": level, "area": area, "customers": rows}), media_type="application/json"
    )


@areas_router.get("/{level}/{area}/people")
def people(
    level: str,
    area: str,
    conn: ConnDep,
    scope: ScopeDep,
    limit: Annotated[int, Query(description="at most this many people per list (1-500)")] = 50,
) -> dict[str, Any]:
    """Who answers for an area (cell, grid, district, city, feature_grid) today, on both matrix axes.

    ``regional`` (区局营销中心): the regional centres of the area's districts with their heads (and
    the city's 政企部 for a city), per district the coverage counts, the grid managers and account
    managers with what they hold in the area; ``specialist`` (专业营销中心): the specialist teams and
    leads whose characteristic grids have member cells in the area; ``coverage``: cells with an
    account manager, grids with a grid manager. Counted over the area's cells you may read
    (``partial`` when that is not all of them); 403 for an area outside your scope.
    """
    return org.responsible_for_area(conn, scope, level, area, limit=limit)
