"""The domain's error classes; ``api.errors`` maps each to one HTTP status."""

from __future__ import annotations


class GridmarketError(Exception):
    """Base class of every error gridmarket reports to a user."""


class DatabaseError(GridmarketError):
    """The database is unreachable or not set up."""


class NotFound(GridmarketError):
    """The item asked for does not exist (or is outside the caller's scope for listings)."""


class Forbidden(GridmarketError):
    """The caller may not see or change this item."""


class Unauthorized(GridmarketError):
    """No valid login."""


class ValidationFailed(GridmarketError):
    """Input that breaks a rule; ``field`` names where."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Conflict(GridmarketError):
    """The change conflicts with the stored state (stale version, duplicate key)."""


class TooManyRequests(GridmarketError):
    """Rate limit hit."""


class ImportRejected(ValidationFailed):
    """A file refused as a whole: nothing was written.

    ``problems`` lists every problem as (row or feature number, field, reason); ``numbered`` says
    which ("row" for tables, "feature" for GIS files).
    """

    numbered = "row"

    def __init__(self, message: str, problems: list[tuple[int, str, str]], field: str | None = None) -> None:
        super().__init__(message, field)
        self.problems = problems
