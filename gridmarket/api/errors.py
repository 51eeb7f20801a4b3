"""The one place domain errors become HTTP responses."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg import errors as pg_errors
from sqlalchemy.exc import DBAPIError

from gridmarket.grids.errors import (
    Conflict,
    DatabaseError,
    Forbidden,
    GridmarketError,
    NotFound,
    TooManyRequests,
    Unauthorized,
    ValidationFailed,
)

DEFAULT_STATUS_CODES: dict[type[GridmarketError], int] = {
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    ValidationFailed: 422,
    TooManyRequests: 429,
    DatabaseError: 503,
}


CONTENTION = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure)
"""Database errors that mean "two writers crossed": answered 409 with Retry-After, never 500."""


def status_for(exc: GridmarketError) -> int:
    """Return the HTTP status of a domain error (its nearest mapped class; 400 otherwise)."""
    for cls in type(exc).__mro__:
        if cls in DEFAULT_STATUS_CODES:
            return DEFAULT_STATUS_CODES[cls]
    return 400


def add_exception_handlers(app: FastAPI) -> None:
    """Register the domain error handler on ``app``."""

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, GridmarketError)
        status = status_for(exc)
        body: dict[str, object] = {"detail": str(exc)}
        if isinstance(exc, ValidationFailed) and exc.field:
            body["field"] = exc.field
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(body, status_code=status, headers=headers)

    async def handle_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = exc.errors()
        first = errors[0] if errors else {}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
        field = ".".join(loc) or None
        detail = (
            f"{field}: {first.get('msg', 'invalid')}" if field else str(first.get("msg", "invalid input"))
        )
        body = {"detail": detail, "field": field, "errors": jsonable_encoder(errors)}
        return JSONResponse(body, status_code=422)

    async def handle_contention(request: Request, exc: Exception) -> JSONResponse:
        # two writers crossing (a deadlock PostgreSQL broke, a serialization failure): the
        # transaction was rolled back whole; the client may simply send the same request again
        assert isinstance(exc, DBAPIError)
        if not isinstance(exc.orig, CONTENTION):
            raise exc
        body = {
            "detail": "another change to the same data was being written at the same moment; "
            "nothing of this request was saved: send it again",
            "field": None,
        }
        return JSONResponse(body, status_code=409, headers={"Retry-After": "1"})

    app.add_exception_handler(GridmarketError, handle)
    app.add_exception_handler(DBAPIError, handle_contention)
    app.add_exception_handler(RequestValidationError, handle_validation)
