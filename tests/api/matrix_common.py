"""What every part of the permission matrix shares: the roles, the fixture world, the case types.

The matrix is split by room so that each feature's routes are listed next to the feature's
tests: ``test_permissions.MATRIX`` (territory, metrics, admin), and one module per later feature
(``matrix_*.py``), each with ``ROWS`` and an optional ``prepare(engine, world)`` that adds the
items its cases need to ``world.extra``. ``test_permissions`` merges them and fails on any route
of the app that no part lists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ROLES = (
    "admin",
    "city_manager",
    "regional_head",
    "specialist_lead",
    "grid_manager",
    "account_manager",
    "planner",
    "anonymous",
)
PASSWORD = "matrix-password-1"
PUBLIC_PATHS = {"/", "/healthz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
PUBLIC_PREFIXES = ("/static/",)


@dataclass
class World:
    """The fixture territory the matrix refers to (demo codes found at run time)."""

    city: str  # main city, where every scoped user lives
    other_city: str
    district: str  # the regional head's district
    am_cell: str  # the account manager's cell (in another district)
    am_unit: str  # a unit with a contact phone in that cell
    gm_grid: str  # the grid manager's grid (a third district)
    gm_cell: str
    fg_cell: str  # member cell of the specialist lead's characteristic grid
    outside_cell: str  # a cell in the regional head's district that nobody else holds
    outside_unit: str
    users: dict[str, dict[str, str]]
    x_assignment: int  # an assignment of staff T-X that PATCH cases change
    del_assignments: dict[str, int]  # one assignment per role for DELETE cases
    extra: dict[str, Any] = field(default_factory=dict)  # what the matrix_* parts prepare


A, CM, RH, SL, GM, AM, PL, ANON = ROLES

# (method, route path) → list of cases: (concrete path maker, body, {role: expected status})
# path and body makers get the world and the role asking (so each role can create its own item)
PathMaker = Callable[[World, str], str]
Body = dict[str, Any] | Callable[[World, str], dict[str, Any]] | None
Case = tuple[PathMaker, Body, dict[str, int]]


def everyone(code: int, anon: int = 401) -> dict[str, int]:
    return {**{r: code for r in ROLES if r != ANON}, ANON: anon}


def only(allowed: dict[str, int], others: int = 403) -> dict[str, int]:
    return {r: allowed.get(r, others) for r in ROLES if r != ANON} | {ANON: 401}
