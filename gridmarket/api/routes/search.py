"""Search: addresses, customers (name or code), cells and buildings the caller may read."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Response

from gridmarket.api.deps import ConnDep, ScopeDep
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
