"""Follow-ups (商机跟进): open on an opportunity unit, my list, change, close; a cell's summary."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from gridmarket.api.deps import ConnDep, ScopeDep, SettingsDep
from gridmarket.grids import followups

router = APIRouter(prefix="/api/v1", tags=["field work"])


def _json(body: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(body), media_type="application/json", status_code=status_code)


class FollowUpIn(BaseModel):
    """A new follow-up: due date, next step, owner (a username; default you)."""

    model_config = ConfigDict(extra="forbid")

    due_date: dt.date
    next_step: str
    owner: str | None = None


class FollowUpPatch(BaseModel):
    """Changes to an open follow-up (fields left out stay as they are)."""

    model_config = ConfigDict(extra="forbid")

    due_date: dt.date | None = None
    next_step: str | None = None
    owner: str | None = None


class CloseIn(BaseModel):
    """Closing a follow-up: won (only when the unit is stock or competing now), lost or dropped."""

    model_config = ConfigDict(extra="forbid")

    outcome: str = Field(description="won, lost or dropped")
    note: str | None = None


@router.post("/units/{external_id}/follow-ups", status_code=201, response_class=Response)
def create_follow_up(
    external_id: str, body: FollowUpIn, conn: ConnDep, scope: ScopeDep, settings: SettingsDep
) -> Response:
    """Open a follow-up on a unit you may edit whose status is other-network or potential or whose
    contract ends within 90 days (otherwise 422, field ``reason``)."""
    item = followups.create(
        conn,
        scope,
        external_id,
        due_date=body.due_date,
        next_step=body.next_step,
        owner=body.owner,
        tz=settings.timezone,
    )
    return _json(item, 201)


@router.get("/me/follow-ups", response_class=Response)
def my_follow_ups(
    conn: ConnDep,
    scope: ScopeDep,
    settings: SettingsDep,
    state: Annotated[Literal["open", "closed", "all"], Query()] = "open",
) -> Response:
    """Your follow-ups by due date, with an overdue flag, the unit's status now and the won flag."""
    return _json(followups.mine(conn, scope, state, tz=settings.timezone))


@router.patch("/follow-ups/{follow_up_id}", response_class=Response)
def update_follow_up(
    follow_up_id: int, body: FollowUpPatch, conn: ConnDep, scope: ScopeDep, settings: SettingsDep
) -> Response:
    """Change the due date, next step or owner of an open follow-up (its owner, or an editor of the unit)."""
    item = followups.update(
        conn,
        scope,
        follow_up_id,
        due_date=body.due_date,
        next_step=body.next_step,
        owner=body.owner,
        tz=settings.timezone,
    )
    return _json(item)


@router.post("/follow-ups/{follow_up_id}/close", response_class=Response)
def close_follow_up(
    follow_up_id: int, body: CloseIn, conn: ConnDep, scope: ScopeDep, settings: SettingsDep
) -> Response:
    """Close an open follow-up with its outcome (409 when already closed)."""
    item = followups.close(
        conn, scope, follow_up_id, outcome=body.outcome, note=body.note, tz=settings.timezone
    )
    return _json(item)


@router.get("/cells/{code}/follow-ups", response_class=Response)
def cell_follow_ups(
    code: str,
    conn: ConnDep,
    scope: ScopeDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=2000)] = 500,
) -> Response:
    """A cell's follow-ups on units you may read: open, overdue, won, lost, dropped and the items."""
    return _json(followups.cell_summary(conn, scope, code, limit=limit, tz=settings.timezone))
