"""Visits (走访) and sweeps (扫楼): log a visit to a unit, list a unit's visits, sweep coverage."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from gridmarket.api.deps import ConnDep, ScopeDep, SettingsDep
from gridmarket.grids import visits

router = APIRouter(prefix="/api/v1", tags=["field work"])


def _json(body: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(body), media_type="application/json", status_code=status_code)


class VisitIn(BaseModel):
    """A visit: outcome, optional note, time (default now) and GPS fix (WGS84 lon/lat, accuracy in m)."""

    model_config = ConfigDict(extra="forbid")

    outcome: str = Field(description="met, not_met, refused, interested, signed or vacant")
    note: str | None = None
    visited_at: dt.datetime | None = Field(None, description="default now; not in the future")
    lon: float | None = None
    lat: float | None = None
    accuracy_m: float | None = None


@router.post("/units/{external_id}/visits", status_code=201, response_class=Response)
def add_visit(
    external_id: str, body: VisitIn, conn: ConnDep, scope: ScopeDep, settings: SettingsDep
) -> Response:
    """Log a visit to a unit you may edit (422 naming the field on a bad value)."""
    visit = visits.add_visit(conn, scope, external_id, **body.model_dump(), tz=settings.timezone)
    return _json(visit, 201)


@router.get("/units/{external_id}/visits", response_class=Response)
def unit_visits(
    external_id: str,
    conn: ConnDep,
    scope: ScopeDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """The visits of a unit you may read, newest first."""
    return _json(visits.unit_visits(conn, scope, external_id, limit=limit, offset=offset))


FromQuery = Annotated[
    dt.date | None, Query(alias="from", description="first day (default: 1st of this month)")
]
ToQuery = Annotated[dt.date | None, Query(alias="to", description="last day (default: end of from's month)")]


@router.get("/cells/{code}/sweep", response_class=Response)
def cell_sweep(
    code: str,
    conn: ConnDep,
    scope: ScopeDep,
    settings: SettingsDep,
    start: FromQuery = None,
    end: ToQuery = None,
    stale_days: Annotated[int, Query(ge=0, le=3650)] = 30,
    limit: Annotated[int, Query(ge=1, le=2000)] = 500,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """Sweep coverage of a cell (units visited in the period / units) and the units not visited for N days."""
    return _json(
        visits.cell_sweep(
            conn,
            scope,
            code,
            start=start,
            end=end,
            stale_days=stale_days,
            limit=limit,
            offset=offset,
            tz=settings.timezone,
        )
    )


@router.get("/cities/{code}/sweep", response_class=Response)
def city_sweep(
    code: str,
    conn: ConnDep,
    scope: ScopeDep,
    settings: SettingsDep,
    start: FromQuery = None,
    end: ToQuery = None,
) -> Response:
    """Per-cell sweep coverage of the city's cells in your scope: rows of [cell, units, visited, coverage]."""
    return _json(visits.city_sweep(conn, scope, code, start=start, end=end, tz=settings.timezone))
