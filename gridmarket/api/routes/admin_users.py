"""Administration of logins and the audit log (admin only); every change is audited."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import text

from gridmarket.api.deps import ConnDep, SessionDep, require
from gridmarket.grids import auth
from gridmarket.grids.errors import NotFound
from gridmarket.grids.models import ROLES

router = APIRouter(prefix="/api/v1/admin", tags=["administration"])


class UserIn(BaseModel):
    """A new login; scope comes from ``staff_code`` or ``region_code``."""

    username: str = Field(min_length=1, max_length=64)
    role: str = Field(json_schema_extra={"enum": list(ROLES)})
    staff_code: str | None = None
    region_code: str | None = None
    password: str | None = Field(None, description="omit to have one generated and returned once")


class UserPatch(BaseModel):
    """Changes to a login."""

    disabled: bool | None = None
    reset_password: bool = Field(False, description="generate a new password, returned once")


_LIST_USERS = (
    "SELECT u.username, u.role, u.disabled, u.created_at, s.code AS staff_code, s.name AS staff_name, "
    "g.code AS region_code, g.name AS region_name FROM app_user u "
    "LEFT JOIN staff s ON s.id = u.staff_id LEFT JOIN region g ON g.id = u.region_id ORDER BY u.username"
)


@router.get("/users", dependencies=[require("manage_users")])
def list_users(conn: ConnDep) -> dict[str, Any]:
    """List every login with its role and the staff record or region its scope follows from."""
    return {"users": [dict(r) for r in conn.execute(text(_LIST_USERS)).mappings()]}


@router.post("/users", status_code=201, dependencies=[require("manage_users")])
def create_user(body: UserIn, conn: ConnDep, session: SessionDep) -> dict[str, Any]:
    """Create a login; a generated password is returned in this response only."""
    password = body.password or auth.generate_password()
    user = auth.add_user(
        conn, body.username, body.role, password, staff_code=body.staff_code, region_code=body.region_code
    )
    auth.audit(
        conn,
        session.user.id,
        "user.add",
        {"username": user.username, "role": user.role, "staff": body.staff_code, "region": body.region_code},
    )
    out: dict[str, Any] = {"username": user.username, "role": user.role}
    if not body.password:
        out["password"] = password
    return out


@router.patch("/users/{username}", dependencies=[require("manage_users")])
def patch_user(username: str, body: UserPatch, conn: ConnDep, session: SessionDep) -> dict[str, Any]:
    """Disable or enable a login, or reset its password (ends its sessions)."""
    out: dict[str, Any] = {"username": username}
    if auth.get_user(conn, username) is None:
        raise NotFound(f"no user {username!r}")
    if body.disabled is True:
        auth.disable_user(conn, username)
        auth.audit(conn, session.user.id, "user.disable", {"username": username})
    elif body.disabled is False:
        conn.execute(text("UPDATE app_user SET disabled = false WHERE username = :u"), {"u": username})
        auth.audit(conn, session.user.id, "user.enable", {"username": username})
    if body.reset_password:
        out["password"] = auth.generate_password()
        auth.set_password(conn, username, out["password"])
        auth.audit(conn, session.user.id, "user.passwd", {"username": username})
    return out


@router.get("/audit", dependencies=[require("read_audit")])
def audit_log(
    conn: ConnDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    action: str | None = None,
) -> dict[str, Any]:
    """The newest audit entries: admin actions, failed logins, lists and exports with unmasked phones."""
    rows = conn.execute(
        text(
            "SELECT l.id, l.at, u.username, l.action, l.detail, l.rows FROM audit_log l "
            "LEFT JOIN app_user u ON u.id = l.user_id "
            "WHERE CAST(:action AS text) IS NULL OR l.action = CAST(:action AS text) "
            "ORDER BY l.id DESC LIMIT :limit"
        ),
        {"limit": limit, "action": action},
    ).mappings()
    return {"entries": [dict(r) for r in rows]}
