"""Rosters: one building one book (一楼一册) and one market one book (一场一册), as JSON and XLSX."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Query, Response

from gridmarket.api.deps import ConnDep, ScopeDep
from gridmarket.etl.roster_export import roster_xlsx
from gridmarket.grids import rosters

router = APIRouter(prefix="/api/v1", tags=["rosters"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def _xlsx(content: bytes, filename: str) -> Response:
    ascii_name = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in filename)
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    return Response(content, media_type=XLSX, headers={"Content-Disposition": disposition})


CityQuery = Annotated[
    str | None, Query(description="the city code, when the building code is in several cities")
]


@router.get("/buildings/{code}/roster", response_class=Response)
def building_roster(code: str, conn: ConnDep, scope: ScopeDep, city: CityQuery = None) -> Response:
    """A building's roster (一楼一册): floors, highest first, × rooms, with every unit you may read.

    Contact phones are masked unless you may edit the unit (a planner always sees them masked);
    a roster showing unmasked phones is written to the audit log.
    """
    return _json(rosters.building_roster(conn, scope, code, city))


@router.get(
    "/buildings/{code}/roster.xlsx", response_class=Response, responses={200: {"content": {XLSX: {}}}}
)
def building_roster_xlsx(code: str, conn: ConnDep, scope: ScopeDep, city: CityQuery = None) -> Response:
    """The building roster as an XLSX workbook with Chinese headers (audited when phones are shown)."""
    building, rows = rosters.building_export_rows(conn, scope, code, city)
    title = f"一楼一册 {building['code']} {building['name'] or ''}".strip()
    return _xlsx(roster_xlsx(title, rows), f"一楼一册-{building['code']}.xlsx")


@router.get("/cells/{code}/buildings", response_class=Response)
def cell_buildings(code: str, conn: ConnDep, scope: ScopeDep) -> Response:
    """The buildings of a cell with the units you may read in each and their status mix."""
    return _json(rosters.cell_buildings(conn, scope, code))


@router.get("/feature-grids/{code}/roster", response_class=Response)
def feature_grid_roster(
    code: str,
    conn: ConnDep,
    scope: ScopeDep,
    limit: Annotated[int, Query(ge=1, le=2000)] = 500,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """A characteristic grid's roster (一场一册): every unit of it you may read (member cell or industry)."""
    return _json(rosters.feature_grid_roster(conn, scope, code, limit=limit, offset=offset))


@router.get(
    "/feature-grids/{code}/roster.xlsx", response_class=Response, responses={200: {"content": {XLSX: {}}}}
)
def feature_grid_roster_xlsx(code: str, conn: ConnDep, scope: ScopeDep) -> Response:
    """The whole characteristic grid roster as an XLSX workbook (audited when phones are shown)."""
    grid, rows = rosters.feature_grid_export_rows(conn, scope, code)
    return _xlsx(
        roster_xlsx(f"一场一册 {grid['code']} {grid['name']}", rows), f"一场一册-{grid['code']}.xlsx"
    )
