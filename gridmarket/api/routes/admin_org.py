"""Administration of the matrix organisation: org units, staff and assignments.

Admins manage every city; a city manager manages their own city (CONTRACT.md "Roles and scope").
A change is checked against the caller's cities after it is made and before the transaction
commits, so an item moved or created outside the caller's city is refused and rolled back.
Every change is written to the audit log.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from gridmarket.api.deps import ConnDep, ScopeDep, SessionDep, require
from gridmarket.grids import auth, org
from gridmarket.grids.errors import Forbidden
from gridmarket.grids.scope import Scope

router = APIRouter(prefix="/api/v1/admin", tags=["administration"], dependencies=[require("manage_org")])


def _in_city(scope: Scope, item: dict[str, Any]) -> dict[str, Any]:
    if not scope.everything and item["city_id"] not in scope.cities:
        raise Forbidden("outside your city")
    return item


def _changed(
    conn: ConnDep, session: SessionDep, scope: Scope, action: str, item: dict[str, Any], **detail: Any
) -> dict[str, Any]:
    _in_city(scope, item)
    auth.audit(conn, session.user.id, action, {**detail, "city": item.get("city_code")})
    return item


def _patch(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(exclude_unset=True)


# -- org units ------------------------------------------------------------------------------------


class OrgUnitIn(BaseModel):
    """A new org unit."""

    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(description="city_dept, regional_centre, specialist_centre or specialist_team")
    city_code: str
    district_code: str | None = None
    parent_code: str | None = None


class OrgUnitPatch(BaseModel):
    """Changes to an org unit (send only what changes; null clears district or parent)."""

    name: str | None = None
    kind: str | None = None
    district_code: str | None = None
    parent_code: str | None = None


@router.get("/org-units")
def list_org_units(conn: ConnDep, scope: ScopeDep, kind: str | None = None) -> dict[str, Any]:
    """Org units of your cities."""
    return {"org_units": org.list_org_units(conn, cities=scope.city_ids(), kind=kind)}


@router.post("/org-units", status_code=201)
def create_org_unit(body: OrgUnitIn, conn: ConnDep, scope: ScopeDep, session: SessionDep) -> dict[str, Any]:
    """Create an org unit."""
    item = org.create_org_unit(conn, **body.model_dump())
    return _changed(conn, session, scope, "org_unit.add", item, code=item["code"])


@router.patch("/org-units/{code}")
def patch_org_unit(
    code: str, body: OrgUnitPatch, conn: ConnDep, scope: ScopeDep, session: SessionDep
) -> dict[str, Any]:
    """Change an org unit."""
    _in_city(scope, org.get_org_unit(conn, code))
    item = org.update_org_unit(conn, code, _patch(body))
    return _changed(conn, session, scope, "org_unit.change", item, code=code, changes=_patch(body))


@router.delete("/org-units/{code}", status_code=204)
def delete_org_unit(code: str, conn: ConnDep, scope: ScopeDep, session: SessionDep) -> Response:
    """Delete an org unit nobody refers to any more."""
    item = _in_city(scope, org.get_org_unit(conn, code))
    org.delete_org_unit(conn, code)
    _changed(conn, session, scope, "org_unit.delete", item, code=code)
    return Response(status_code=204)


# -- staff ----------------------------------------------------------------------------------------


class StaffIn(BaseModel):
    """A new staff member (in an org unit, or directly in a city)."""

    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=100)
    post: str | None = None
    org_unit_code: str | None = None
    city_code: str | None = None


class StaffPatch(BaseModel):
    """Changes to a staff member."""

    name: str | None = None
    post: str | None = None
    org_unit_code: str | None = None


@router.get("/staff")
def list_staff(conn: ConnDep, scope: ScopeDep, org_unit: str | None = None) -> dict[str, Any]:
    """Staff of your cities."""
    return {"staff": org.list_staff(conn, cities=scope.city_ids(), org_unit_code=org_unit)}


@router.post("/staff", status_code=201)
def create_staff(body: StaffIn, conn: ConnDep, scope: ScopeDep, session: SessionDep) -> dict[str, Any]:
    """Create a staff member."""
    item = org.create_staff(conn, **body.model_dump())
    return _changed(conn, session, scope, "staff.add", item, code=item["code"])


@router.patch("/staff/{code}")
def patch_staff(
    code: str, body: StaffPatch, conn: ConnDep, scope: ScopeDep, session: SessionDep
) -> dict[str, Any]:
    """Change a staff member."""
    _in_city(scope, org.get_staff(conn, code))
    item = org.update_staff(conn, code, _patch(body))
    return _changed(conn, session, scope, "staff.change", item, code=code, changes=_patch(body))


@router.delete("/staff/{code}", status_code=204)
def delete_staff(code: str, conn: ConnDep, scope: ScopeDep, session: SessionDep) -> Response:
    """Delete a staff member (refused while a login or assignment refers to them)."""
    item = _in_city(scope, org.get_staff(conn, code))
    org.delete_staff(conn, code)
    _changed(conn, session, scope, "staff.delete", item, code=code)
    return Response(status_code=204)


# -- assignments ----------------------------------------------------------------------------------


class AssignmentIn(BaseModel):
    """A new assignment: a cell, grid, characteristic grid or customer to a staff member."""

    staff_code: str
    kind: str = Field(description="cell, grid, feature_grid or customer")
    target_code: str
    valid_from: dt.date
    valid_to: dt.date | None = None
    org_unit_code: str | None = None


class AssignmentPatch(BaseModel):
    """Changes to an assignment (set ``valid_to`` to end it)."""

    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    org_unit_code: str | None = None


@router.get("/assignments")
def list_assignments(
    conn: ConnDep,
    scope: ScopeDep,
    staff: str | None = None,
    kind: str | None = None,
    on: Annotated[dt.date | None, Query(description="only those in force on this date")] = None,
) -> dict[str, Any]:
    """Assignments of your cities."""
    return {
        "assignments": org.list_assignments(conn, cities=scope.city_ids(), staff_code=staff, kind=kind, on=on)
    }


@router.post("/assignments", status_code=201)
def create_assignment(
    body: AssignmentIn, conn: ConnDep, scope: ScopeDep, session: SessionDep
) -> dict[str, Any]:
    """Create an assignment."""
    item = org.create_assignment(conn, **body.model_dump())
    return _changed(conn, session, scope, "assignment.add", item, id=item["id"], staff=body.staff_code)


@router.patch("/assignments/{assignment_id}")
def patch_assignment(
    assignment_id: int, body: AssignmentPatch, conn: ConnDep, scope: ScopeDep, session: SessionDep
) -> dict[str, Any]:
    """Change or end an assignment."""
    _in_city(scope, org.get_assignment(conn, assignment_id))
    item = org.update_assignment(conn, assignment_id, _patch(body))
    return _changed(conn, session, scope, "assignment.change", item, id=assignment_id, changes=_patch(body))


@router.delete("/assignments/{assignment_id}", status_code=204)
def delete_assignment(assignment_id: int, conn: ConnDep, scope: ScopeDep, session: SessionDep) -> Response:
    """Delete an assignment made by mistake (end it with ``valid_to`` to keep history)."""
    item = _in_city(scope, org.get_assignment(conn, assignment_id))
    org.delete_assignment(conn, assignment_id)
    _changed(conn, session, scope, "assignment.delete", item, id=assignment_id)
    return Response(status_code=204)
