"""Login: bearer tokens for scripts (OAuth2 password form) and an HttpOnly cookie for the web app."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from gridmarket.api.deps import SESSION_COOKIE, ConnDep, SessionDep, SettingsDep
from gridmarket.grids import auth
from gridmarket.grids.errors import Forbidden, TooManyRequests, Unauthorized
from gridmarket.grids.models import ROLE_NAMES

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class TokenOut(BaseModel):
    """A bearer token."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int


class LoginIn(BaseModel):
    """Credentials for a cookie login."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class UserOut(BaseModel):
    """The logged-in user as the web app shows it."""

    username: str
    role: str
    role_name_zh: str
    role_name_en: str
    scope_name: str | None


class SessionOut(BaseModel):
    """A cookie session: the user and the CSRF token to send on state-changing requests."""

    user: UserOut
    csrf_token: str | None


def _check(request: Request, conn: ConnDep, username: str, password: str) -> auth.User:
    limiter = request.app.state.login_limiter
    client = request.client.host if request.client else "?"
    keys = (f"user:{username.lower()}", f"ip:{client}")
    if limiter.blocked(*keys):
        raise TooManyRequests("too many failed logins; wait a minute and try again")
    user = auth.authenticate(conn, username, password)
    if user is None:
        limiter.failed(*keys)
        auth.audit(conn, None, "login.failed", {"username": username, "client": client})
        raise Unauthorized("wrong user name or password")
    limiter.succeeded(keys[0])
    return user


def _user_out(conn: ConnDep, user: auth.User) -> UserOut:
    from sqlalchemy import text

    scope_name = None
    if user.region_id is not None:
        scope_name = conn.scalar(text("SELECT name FROM region WHERE id = :i"), {"i": user.region_id})
    elif user.staff_id is not None:
        scope_name = conn.scalar(
            text("SELECT r.name FROM staff s JOIN region r ON r.id = s.city_id WHERE s.id = :i"),
            {"i": user.staff_id},
        )
    zh, en = ROLE_NAMES[user.role]
    return UserOut(
        username=user.username, role=user.role, role_name_zh=zh, role_name_en=en, scope_name=scope_name
    )


@router.post("/token", response_model=TokenOut)
def token(
    request: Request,
    conn: ConnDep,
    settings: SettingsDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> TokenOut:
    """Exchange a user name and password (OAuth2 password form) for a bearer token."""
    user = _check(request, conn, form.username, form.password)
    secret, _ = auth.open_session(conn, user, "bearer", settings.token_ttl_minutes)
    return TokenOut(access_token=secret, expires_in=settings.token_ttl_minutes * 60)


def _same_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin and origin.rstrip("/") != str(request.base_url).rstrip("/"):
        raise Forbidden("cross-site login refused")


@router.post("/login", response_model=SessionOut)
def login(
    request: Request, response: Response, body: LoginIn, conn: ConnDep, settings: SettingsDep
) -> SessionOut:
    """Log in the web app: sets an HttpOnly, SameSite=Strict session cookie."""
    _same_origin(request)
    user = _check(request, conn, body.username, body.password)
    secret, session = auth.open_session(conn, user, "cookie", settings.token_ttl_minutes)
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=settings.token_ttl_minutes * 60,
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
        path="/",
    )
    return SessionOut(user=_user_out(conn, user), csrf_token=session.csrf_token)


@router.get("/me", response_model=SessionOut)
def me(session: SessionDep, conn: ConnDep) -> SessionOut:
    """Return the logged-in user (and, for a cookie session, its CSRF token)."""
    return SessionOut(user=_user_out(conn, session.user), csrf_token=session.csrf_token)


@router.post("/logout", status_code=204)
def logout(session: SessionDep, conn: ConnDep, response: Response) -> Response:
    """End the current session."""
    auth.close_session(conn, session.id)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.status_code = 204
    return response
