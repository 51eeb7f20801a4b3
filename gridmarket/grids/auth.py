"""Users, password hashing (Argon2id), login sessions and the audit log. Knows nothing of HTTP."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, text

from gridmarket.grids.db import driver_cursor
from gridmarket.grids.errors import Conflict, NotFound, ValidationFailed
from gridmarket.grids.models import ROLES

_hasher = PasswordHasher()
# verified against when the user does not exist, so a wrong name costs as much time as a wrong password
_DUMMY_HASH = _hasher.hash("not-a-password")

MIN_PASSWORD_LENGTH = 10

# roles whose scope comes from a staff member's assignments, and roles scoped by a region
STAFF_ROLES = frozenset({"specialist_lead", "grid_manager", "account_manager"})
REGION_ROLES = frozenset({"city_manager", "regional_head", "planner"})


@dataclass(frozen=True)
class User:
    """A login as the rest of the code sees it."""

    id: int
    username: str
    role: str
    staff_id: int | None
    region_id: int | None
    disabled: bool


@dataclass(frozen=True)
class Session:
    """A valid, unexpired login session."""

    id: int
    user: User
    kind: str
    csrf_token: str | None
    expires_at: dt.datetime


def hash_password(password: str) -> str:
    """Hash a password with Argon2id."""
    return _hasher.hash(password)


def check_password_strength(password: str) -> None:
    """Refuse passwords too short to be safe."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"a password needs at least {MIN_PASSWORD_LENGTH} characters", "password")


def generate_password() -> str:
    """Return a random password for a new login (printed once, never stored in clear)."""
    return secrets.token_urlsafe(15)


def _user_from_row(row: Any) -> User:
    return User(
        id=row.id,
        username=row.username,
        role=row.role,
        staff_id=row.staff_id,
        region_id=row.region_id,
        disabled=row.disabled,
    )


def get_user(conn: Connection, username: str) -> User | None:
    """Return the user called ``username``, or None."""
    row = conn.execute(
        text("SELECT id, username, role, staff_id, region_id, disabled FROM app_user WHERE username = :u"),
        {"u": username},
    ).one_or_none()
    return _user_from_row(row) if row else None


def add_user(
    conn: Connection,
    username: str,
    role: str,
    password: str,
    *,
    staff_code: str | None = None,
    region_code: str | None = None,
) -> User:
    """Create a login; scope comes from its staff record or region, never typed in by hand."""
    if role not in ROLES:
        raise ValidationFailed(f"unknown role {role!r}; one of {', '.join(ROLES)}", "role")
    if not username or len(username) > 64 or not username.isprintable() or " " in username:
        raise ValidationFailed("a user name is 1-64 printable characters without spaces", "username")
    check_password_strength(password)
    if get_user(conn, username):
        raise Conflict(f"user {username!r} exists already")
    if role in STAFF_ROLES and not staff_code:
        raise ValidationFailed(f"a {role} login needs the staff record its scope follows from", "staff_code")
    if role in REGION_ROLES and not (region_code or staff_code):
        raise ValidationFailed(f"a {role} login needs its region (or staff record)", "region_code")
    staff_id = region_id = None
    if staff_code:
        staff_id = conn.scalar(text("SELECT id FROM staff WHERE code = :c"), {"c": staff_code})
        if staff_id is None:
            raise NotFound(f"no staff record with code {staff_code!r}")
    if region_code:
        region = conn.execute(
            text("SELECT id, level FROM region WHERE code = :c"), {"c": region_code}
        ).one_or_none()
        if region is None:
            raise NotFound(f"no region with code {region_code!r}")
        if role == "regional_head" and region.level != "district":
            raise ValidationFailed("a regional head's region is a district", "region_code")
        region_id = region.id
    row = conn.execute(
        text(
            "INSERT INTO app_user (username, password_hash, role, staff_id, region_id) "
            "VALUES (:u, :h, :r, :s, :g) RETURNING id, username, role, staff_id, region_id, disabled"
        ),
        {"u": username, "h": hash_password(password), "r": role, "s": staff_id, "g": region_id},
    ).one()
    return _user_from_row(row)


def set_password(conn: Connection, username: str, password: str) -> None:
    """Change a password and end the user's open sessions."""
    check_password_strength(password)
    uid = conn.scalar(
        text("UPDATE app_user SET password_hash = :h WHERE username = :u RETURNING id"),
        {"h": hash_password(password), "u": username},
    )
    if uid is None:
        raise NotFound(f"no user {username!r}")
    conn.execute(text("UPDATE auth_session SET revoked = true WHERE user_id = :i"), {"i": uid})


def disable_user(conn: Connection, username: str) -> None:
    """Disable a login and end its open sessions."""
    uid = conn.scalar(
        text("UPDATE app_user SET disabled = true WHERE username = :u RETURNING id"), {"u": username}
    )
    if uid is None:
        raise NotFound(f"no user {username!r}")
    conn.execute(text("UPDATE auth_session SET revoked = true WHERE user_id = :i"), {"i": uid})


def authenticate(conn: Connection, username: str, password: str) -> User | None:
    """Return the user when the password is right and the login enabled, else None."""
    row = conn.execute(
        text(
            "SELECT id, username, role, staff_id, region_id, disabled, password_hash "
            "FROM app_user WHERE username = :u"
        ),
        {"u": username},
    ).one_or_none()
    try:
        _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or row.disabled:
        return None
    if _hasher.check_needs_rehash(row.password_hash):
        conn.execute(
            text("UPDATE app_user SET password_hash = :h WHERE id = :i"),
            {"h": hash_password(password), "i": row.id},
        )
    return _user_from_row(row)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def open_session(conn: Connection, user: User, kind: str, ttl_minutes: int) -> tuple[str, Session]:
    """Open a session; return its secret token (shown once) and the session."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24) if kind == "cookie" else None
    row = conn.execute(
        text(
            "INSERT INTO auth_session (token_hash, user_id, kind, csrf_token, expires_at) "
            "VALUES (:h, :u, :k, :c, now() + make_interval(mins => :ttl)) RETURNING id, expires_at"
        ),
        {"h": _digest(token), "u": user.id, "k": kind, "c": csrf, "ttl": ttl_minutes},
    ).one()
    return token, Session(id=row.id, user=user, kind=kind, csrf_token=csrf, expires_at=row.expires_at)


_SESSION_SQL = (
    "SELECT s.id, s.kind, s.csrf_token, s.expires_at, "
    "u.id, u.username, u.role, u.staff_id, u.region_id, u.disabled "
    "FROM auth_session s JOIN app_user u ON u.id = s.user_id "
    "WHERE s.token_hash = %(h)s AND s.kind = %(k)s AND NOT s.revoked AND s.expires_at > now() "
    "AND NOT u.disabled"
)


def session_for_token(conn: Connection, token: str, kind: str) -> Session | None:
    """Return the live session of ``token`` (not expired, not revoked, user enabled), or None.

    Checked on every request, so it runs on the driver's cursor (:func:`~gridmarket.grids.db.driver_cursor`).
    """
    with driver_cursor(conn) as cur:
        cur.execute(_SESSION_SQL, {"h": _digest(token), "k": kind})
        row = cur.fetchone()
    if row is None:
        return None
    sid, skind, csrf, expires_at, uid, username, role, staff_id, region_id, disabled = row
    user = User(
        id=uid, username=username, role=role, staff_id=staff_id, region_id=region_id, disabled=disabled
    )
    return Session(id=sid, user=user, kind=skind, csrf_token=csrf, expires_at=expires_at)


def close_session(conn: Connection, session_id: int) -> None:
    """Revoke a session (logout)."""
    conn.execute(text("UPDATE auth_session SET revoked = true WHERE id = :i"), {"i": session_id})


def audit(
    conn: Connection, user_id: int | None, action: str, detail: dict[str, Any], rows: int | None = None
) -> None:
    """Append an entry to the audit log."""
    conn.execute(
        text("INSERT INTO audit_log (user_id, action, detail, rows) VALUES (:u, :a, CAST(:d AS jsonb), :r)"),
        {"u": user_id, "a": action, "d": _json(detail), "r": rows},
    )


def _json(value: dict[str, Any]) -> str:
    import orjson

    return orjson.dumps(value, default=str).decode()


def ensure_first_admin(conn: Connection, password: str | None) -> str | None:
    """Create the first admin when no admin exists; return the generated password, if one was made."""
    exists = conn.scalar(text("SELECT count(*) FROM app_user WHERE role = 'admin'"))
    if exists:
        return None
    generated = None
    if not password:
        password = generated = generate_password()
    add_user(conn, "admin", "admin", password)
    audit(conn, None, "user.add", {"username": "admin", "role": "admin", "first_run": True})
    return generated
