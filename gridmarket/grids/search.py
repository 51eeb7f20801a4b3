"""Search by address, customer name or code, cell code and building code — within the caller's scope.

One query (grids/sql/search.sql) with a part per kind, each filtered by the scope (units and
customers by ``Scope.unit_sql``, cells and buildings by ``Scope.cell_sql``), the text matched with
ILIKE on a bound, escaped pattern. Exact code matches rank first, then prefix matches, then
matches anywhere.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from gridmarket.grids import sqlfiles
from gridmarket.grids.errors import NotFound, ValidationFailed
from gridmarket.grids.scope import Scope

MAX_QUERY = 100


def _pattern(q: str) -> str:
    """ILIKE pattern matching q anywhere, with its own % _ and \\ taken literally."""
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _check(q: str, limit: int) -> str:
    q = " ".join(q.split())
    if len(q) < 2:
        raise ValidationFailed("type at least 2 characters", "q")
    if len(q) > MAX_QUERY:
        raise ValidationFailed(f"at most {MAX_QUERY} characters", "q")
    if not 1 <= limit <= 50:
        raise ValidationFailed("limit is 1 to 50", "limit")
    return q


def search(conn: Connection, scope: Scope, q: str, limit: int = 20) -> list[dict[str, Any]]:
    """Matches of every kind, best first: {kind, code, label, sub, city_code, cell_code, lon, lat}."""
    q = _check(q, limit)
    unit_cond, unit_params = scope.unit_sql("a", "r", "read")
    cell_cond, cell_params = scope.cell_sql("c")
    sql = sqlfiles.with_scope(sqlfiles.load("search.sql"), unit_scope=unit_cond, cell_scope=cell_cond)
    pat = _pattern(q)
    params = {**unit_params, **cell_params, "q": q, "pat": pat, "pre": pat[1:], "lim": limit}
    return [dict(r) for r in conn.execute(text(sql), params).mappings()]


AREA_LEVELS = ("cell", "grid", "district", "city", "feature_grid")
_AREA_TABLE = {
    "cell": "SELECT 1 FROM cell WHERE code = :area",
    "grid": "SELECT 1 FROM grid WHERE code = :area",
    "district": "SELECT 1 FROM region WHERE code = :area AND level = 'district'",
    "city": "SELECT 1 FROM region WHERE code = :area AND level = 'city'",
    "feature_grid": "SELECT 1 FROM feature_grid WHERE code = :area",
}


def top_customers(
    conn: Connection, scope: Scope, level: str, area: str, limit: int = 10
) -> list[dict[str, Any]]:
    """The customers of an area by monthly revenue, over the units of it the caller may read.

    Each: ``{code, name, industry, units, revenue, own_units, rival_units, first_unit}``.
    """
    if level not in AREA_LEVELS:
        raise ValidationFailed(f"level is one of {', '.join(AREA_LEVELS)}", "level")
    if not 1 <= limit <= 50:
        raise ValidationFailed("limit is 1 to 50", "limit")
    if conn.scalar(text(_AREA_TABLE[level]), {"area": area}) is None:
        raise NotFound(f"no {level} {area!r}")
    cond, params = scope.unit_sql("a", "r", "read")
    sql = sqlfiles.with_scope(sqlfiles.load("top_customers.sql"), unit_scope=cond)
    rows = conn.execute(text(sql), {**params, "level": level, "area": area, "lim": limit}).mappings()
    return [dict(r) for r in rows]
