"""Bulk changes: preview, apply as one batch, read a batch, undo it (grids/bulk.py)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Response

from gridmarket.api.deps import ConnDep, ScopeDep, SessionDep
from gridmarket.grids import bulk, records
from gridmarket.grids.scope import authorize

router = APIRouter(prefix="/api/v1/bulk", tags=["bulk changes"])


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


@router.post("/preview", response_class=Response)
def preview(
    conn: ConnDep, scope: ScopeDep, session: SessionDep, body: Annotated[dict[str, Any], Body()]
) -> Response:
    """Count and sample the units a change would touch: ``selection`` ({polygon: GeoJSON Polygon in
    WGS84} or {units: [address ids]}) and ``change`` ({status: …, other fields}). Nothing is written."""
    authorize(session.user, "edit_units")
    return _json(bulk.preview(conn, scope, body))


@router.post("", response_class=Response, status_code=201)
def apply(
    conn: ConnDep, scope: ScopeDep, session: SessionDep, body: Annotated[dict[str, Any], Body()]
) -> Response:
    """Apply a change to the selected units you may edit, in one transaction, as one batch (201)."""
    authorize(session.user, "edit_units")
    return _json(bulk.apply(conn, scope, body, records.check_note(body.get("note"))), 201)


@router.get("/{batch_id}", response_class=Response)
def batch(batch_id: int, conn: ConnDep, scope: ScopeDep) -> Response:
    """A batch: who, when, selection, change, note, the units and versions it wrote, its undo."""
    return _json(bulk.batch_info(conn, scope, batch_id))


@router.post("/{batch_id}/undo", response_class=Response, status_code=201)
def undo(
    batch_id: int,
    conn: ConnDep,
    scope: ScopeDep,
    session: SessionDep,
    body: Annotated[dict[str, Any] | None, Body()] = None,
) -> Response:
    """Undo a batch: each unit gets back its values from before the batch, as a new version (201).

    409 listing the units (who, when) when any changed after the batch: nothing is undone then.
    """
    authorize(session.user, "edit_units")
    note = records.check_note((body or {}).get("note"))
    try:
        return _json(bulk.undo(conn, scope, batch_id, note), 201)
    except bulk.BatchConflict as exc:
        return _json({"detail": str(exc), "batch_id": exc.batch_id, "conflicts": exc.units}, 409)
