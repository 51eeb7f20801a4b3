"""The one place domain errors become HTTP responses."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

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

    app.add_exception_handler(GridmarketError, handle)
