"""Typed dependencies: settings, a database connection per request, the caller's session and scope."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import Connection, Engine

from gridmarket.grids import auth
from gridmarket.grids.errors import Forbidden, Unauthorized
from gridmarket.grids.scope import Scope, authorize, scope_for
from gridmarket.grids.settings import Settings

SESSION_COOKIE = "gm_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def get_settings(request: Request) -> Settings:
    """Return the settings the app was built with (async: no thread hop for a dictionary lookup)."""
    return request.app.state.settings


async def get_engine(request: Request) -> Engine:
    """Return the app's engine (owned by the lifespan)."""
    return request.app.state.engine


def get_conn(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Connection]:
    """Yield a connection in a transaction, committed when the request succeeds."""
    with engine.begin() as conn:
        yield conn


SettingsDep = Annotated[Settings, Depends(get_settings)]
# scope="function": commit before the response is sent, so the next request sees the change
ConnDep = Annotated[Connection, Depends(get_conn, scope="function")]


@dataclass(frozen=True)
class Credential:
    """The secret a request logs in with: a bearer token or the session cookie (not checked yet)."""

    token: str
    kind: str  # "bearer" or "cookie"


async def get_credential(
    request: Request, bearer: Annotated[str | None, Depends(oauth2_scheme)]
) -> Credential:
    """Return the request's bearer token, else its session cookie; 401 when it has neither.

    Reads headers only (no database), so it needs no worker thread; :func:`session_for` checks it.
    """
    if bearer:
        return Credential(bearer, "bearer")
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return Credential(cookie, "cookie")
    raise Unauthorized("log in first")


CredentialDep = Annotated[Credential, Depends(get_credential)]


def session_for(conn: Connection, credential: Credential, method: str, csrf: str | None) -> auth.Session:
    """Return the live session of ``credential`` (one statement), or raise Unauthorized.

    Cookie sessions must send the CSRF token (``csrf``, from ``X-CSRF-Token``) on state-changing
    methods.
    """
    session = auth.session_for_token(conn, credential.token, credential.kind)
    if credential.kind == "bearer":
        if session is None:
            raise Unauthorized("the token is invalid or has expired")
        return session
    if session is None:
        raise Unauthorized("the session has expired; log in again")
    if method not in SAFE_METHODS and (not csrf or csrf != session.csrf_token):
        raise Forbidden("missing or wrong CSRF token")
    return session


def get_session(request: Request, credential: CredentialDep, conn: ConnDep) -> auth.Session:
    """Return the caller's live session from a bearer token or the session cookie.

    Cookie sessions must send the CSRF token in ``X-CSRF-Token`` on state-changing requests.
    """
    return session_for(conn, credential, request.method, request.headers.get(CSRF_HEADER))


SessionDep = Annotated[auth.Session, Depends(get_session)]


def get_scope(session: SessionDep, conn: ConnDep, settings: SettingsDep) -> Scope:
    """Return the caller's scope (role, staff assignments in force today, region)."""
    return scope_for(conn, session.user, tz=settings.timezone)


ScopeDep = Annotated[Scope, Depends(get_scope)]


def require(action: str) -> Any:
    """Dependency refusing (403) callers whose role may not perform ``action`` (grids.scope.ACTIONS)."""

    def dep(session: SessionDep) -> auth.Session:
        authorize(session.user, action)
        return session

    dep.__name__ = f"require_{action}"
    return Depends(dep)
