"""Address units: a cell's units and one unit, scoped, with contact phones masked by role; field edits.

``GET /units/{id}`` carries the record's version as ``ETag: "<version>"`` (and ``version`` in the
body); ``PATCH /units/{id}`` needs it back in ``If-Match`` (or ``version`` in the body): 428 when
missing, 409 with the current record and who changed it when it is stale, 422 naming the field
for a bad value (grids/records.py).
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Header, Query, Response

from gridmarket.api.deps import ConnDep, ScopeDep, SessionDep
from gridmarket.grids import records, units_read
from gridmarket.grids.auth import Session
from gridmarket.grids.errors import ValidationFailed
from gridmarket.grids.scope import authorize

router = APIRouter(prefix="/api/v1", tags=["address units"])


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def etag(version: int) -> dict[str, str]:
    """The ETag header of a record version."""
    return {"ETag": f'"{version}"'}


def source_of(session: Session, body: dict[str, Any]) -> str:
    """The source of a client's change: explicit (field / api) or by login kind (cookie → field)."""
    if body.get("source") is not None:
        return records.check_source(body["source"])
    return "field" if session.kind == "cookie" else "api"


def expected_version(if_match: str | None, body: dict[str, Any], name: str = "version") -> int | None:
    """The version the client last read: ``If-Match``, else ``version`` in the body; None when neither."""
    if if_match is not None:
        return records.parse_version(if_match, "If-Match")
    if body.get(name) is not None:
        return records.parse_version(body[name], name)
    return None


def precondition_required() -> Response:
    """428: the change needs the version it is based on."""
    return _json(
        {
            "detail": 'send the version you read: If-Match: "<version>" (or version in the body)',
            "field": "version",
        },
        428,
    )


def stale(conn: ConnDep, scope: ScopeDep, exc: records.StaleVersion) -> Response:
    """409 with the current record (masked for the caller), who changed it and when."""
    current = units_read.unit_by_external_id(conn, scope, exc.external_id)
    return _json(
        {
            "detail": str(exc),
            "field": "version",
            "current": current,
            "changed_by": exc.changed_by,
            "changed_by_user": exc.changed_by_user,
            "changed_at": exc.changed_at.isoformat() if exc.changed_at else None,
        },
        409,
        etag(exc.current),
    )


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
    """One address unit with its current market record (403 outside your scope); ETag = its version."""
    row = units_read.unit_by_external_id(conn, scope, external_id)
    return _json(row, headers=etag(int(row["version"])))


@router.patch("/units/{external_id}", response_class=Response)
def edit(
    external_id: str,
    conn: ConnDep,
    scope: ScopeDep,
    session: SessionDep,
    body: Annotated[dict[str, Any], Body()],
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Change a unit's record: status, services, volumes, revenue, contract end, contact, customer, note.

    Body: the changed fields (``customer_code`` links a customer of the unit's city, null unlinks),
    optional ``note`` (of this change) and ``source`` (field / api). Needs ``If-Match: "<version>"``
    or ``version``. 200: the new record (``ETag``), ``changed`` fields and ``warnings`` (status
    contradicting the line counts: kept, reported).
    """
    authorize(session.user, "edit_units")
    version = expected_version(if_match, body)
    if version is None:
        return precondition_required()
    change = {k: v for k, v in body.items() if k not in ("version", "note", "source")}
    if not change and body.get("note") is None:
        raise ValidationFailed("give at least one field to change", "body")
    try:
        result = records.edit_unit(
            conn,
            scope,
            external_id,
            version,
            change,
            source=source_of(session, body),
            note=records.check_note(body.get("note")),
        )
    except records.StaleVersion as exc:
        return stale(conn, scope, exc)
    row = units_read.unit_by_external_id(conn, scope, external_id)
    out = {**row, "changed": result["changed"], "warnings": result["warnings"]}
    return _json(out, headers=etag(int(row["version"])))
