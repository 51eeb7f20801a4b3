"""Doors and history: add a unit found in the field, split, merge, retire; per-unit and per-cell history.

Every write needs the edit right (the planner never edits: 403), the touched units in the caller's
edit scope (403) and their current versions (``If-Match`` or ``version`` in the body; 428 when
missing, 409 with the current record when stale). See grids/doors.py and grids/history.py.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Header, Query, Response

from gridmarket.api.deps import ConnDep, ScopeDep, SessionDep, SettingsDep
from gridmarket.api.routes.units import etag, expected_version, precondition_required, source_of, stale
from gridmarket.grids import doors, history, records, units_read
from gridmarket.grids.scope import authorize

router = APIRouter(prefix="/api/v1", tags=["address units"])

Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0)]


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


@router.post("/units", response_class=Response, status_code=201)
def add(
    conn: ConnDep,
    scope: ScopeDep,
    session: SessionDep,
    settings: SettingsDep,
    body: Annotated[dict[str, Any], Body()],
) -> Response:
    """Add a unit found in the field: ``address``, ``lon``/``lat`` (WGS84, from the map or the phone),
    optional ``external_id`` (generated otherwise), ``building_code``, ``floor``, ``room`` and record
    fields (top level or under ``fields``). Its cell and H3 index are assigned as the loaders do; it
    must lie in your edit scope (403, nothing written). 201: the new unit (``ETag``)."""
    authorize(session.user, "edit_units")
    result = doors.add_unit(
        conn,
        scope,
        body,
        source=source_of(session, body),
        note=records.check_note(body.get("note")),
        h3_resolution=settings.h3_resolution,
    )
    row = units_read.unit_by_external_id(conn, scope, result["external_id"])
    return _json({**row, "warnings": result["warnings"]}, 201, etag(int(row["version"])))


@router.post("/units/merge", response_class=Response)
def merge(
    conn: ConnDep, scope: ScopeDep, session: SessionDep, body: Annotated[dict[str, Any], Body()]
) -> Response:
    """Merge 2+ units of a city into one: ``units`` [{external_id, version}], optional ``survivor``
    (else the first), ``fields`` (changes of the survivor's record), ``note``. The others are retired."""
    authorize(session.user, "edit_units")
    try:
        result = doors.merge_units(
            conn,
            scope,
            body.get("units"),
            body.get("survivor"),
            body.get("fields"),
            source=source_of(session, body),
            note=records.check_note(body.get("note")),
        )
    except records.StaleVersion as exc:
        return stale(conn, scope, exc)
    row = units_read.unit_by_external_id(conn, scope, result["survivor"])
    return _json({**result, "unit": row}, headers=etag(int(row["version"])))


@router.post("/units/{external_id}/split", response_class=Response, status_code=201)
def split(
    external_id: str,
    conn: ConnDep,
    scope: ScopeDep,
    session: SessionDep,
    settings: SettingsDep,
    body: Annotated[dict[str, Any], Body()],
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Split a unit into 2+ new doors (``parts``: each optional external_id, address, lon/lat,
    building_code, floor, room, record fields; place defaults to the original's). The original is
    retired; its history stays. 201: the new units."""
    authorize(session.user, "edit_units")
    version = expected_version(if_match, body)
    if version is None:
        return precondition_required()
    try:
        result = doors.split_unit(
            conn,
            scope,
            external_id,
            version,
            body.get("parts"),
            source=source_of(session, body),
            note=records.check_note(body.get("note")),
            h3_resolution=settings.h3_resolution,
        )
    except records.StaleVersion as exc:
        return stale(conn, scope, exc)
    units = [units_read.unit_by_external_id(conn, scope, e) for e in result["units"]]
    return _json({**result, "units": units}, 201)


@router.post("/units/{external_id}/retire", response_class=Response)
def retire(
    external_id: str,
    conn: ConnDep,
    scope: ScopeDep,
    session: SessionDep,
    body: Annotated[dict[str, Any], Body()],
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Retire a unit (building demolished, rooms joined): ``note`` says why. It leaves the figures."""
    authorize(session.user, "edit_units")
    version = expected_version(if_match, body)
    if version is None:
        return precondition_required()
    try:
        result = doors.retire_unit(
            conn, scope, external_id, version, note=records.check_note(body.get("note"))
        )
    except records.StaleVersion as exc:
        return stale(conn, scope, exc)
    return _json(result)


@router.get("/units/{external_id}/history", response_class=Response)
def unit_history(
    external_id: str, conn: ConnDep, scope: ScopeDep, limit: Limit = 50, offset: Offset = 0
) -> Response:
    """A unit's record versions (who, when, source, note, batch, diff) and events, newest first."""
    return _json(history.unit_history(conn, scope, external_id, limit=limit, offset=offset))


@router.get("/cells/{code}/history", response_class=Response)
def cell_history(
    code: str, conn: ConnDep, scope: ScopeDep, limit: Limit = 50, offset: Offset = 0
) -> Response:
    """The history of every unit of the cell you may read, newest first, with the total."""
    return _json(history.cell_history(conn, scope, code, limit=limit, offset=offset))
