"""Address units: a cell's units and one unit, scoped, with contact phones masked by role."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Response

from gridmarket.api.deps import ConnDep, ScopeDep
from gridmarket.grids import units_read

router = APIRouter(prefix="/api/v1", tags=["address units"])


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


@router.get("/cells/{code}/units", response_class=Response)
def cell_units(
    code: str,
    conn: ConnDep,
    scope: ScopeDep,
    limit: Annotated[int, Query(ge=1, le=2000)] = 500,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """The address units of a cell that you may read, with their current market record."""
    cell, rows = units_read.cell_units(conn, scope, code, limit=limit, offset=offset)
    body: dict[str, Any] = {
        "cell": cell,
        "units": rows,
        "total": cell["total"],
        "limit": limit,
        "offset": offset,
    }
    return _json(body)


@router.get("/units/{external_id}", response_class=Response)
def unit(external_id: str, conn: ConnDep, scope: ScopeDep) -> Response:
    """One address unit with its current market record (403 outside your scope)."""
    return _json(units_read.unit_by_external_id(conn, scope, external_id))
