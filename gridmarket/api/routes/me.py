"""The caller's own area ("my area")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from gridmarket.api.deps import ConnDep, ScopeDep
from gridmarket.grids.area import my_area

router = APIRouter(prefix="/api/v1/me", tags=["me"])


@router.get("/area")
def area(conn: ConnDep, scope: ScopeDep) -> dict[str, Any]:
    """What your scope covers: cities, districts, grids, characteristic grids, your cells, bbox."""
    return my_area(conn, scope)
