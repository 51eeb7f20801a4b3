"""Heavy SQL lives in ``grids/sql/*.sql``; this module loads and runs those files with bound parameters."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from sqlalchemy import Connection, CursorResult, text


@cache
def load(name: str) -> str:
    """Return the text of ``grids/sql/<name>``."""
    return (resources.files("gridmarket.grids") / "sql" / name).read_text(encoding="utf-8")


def with_scope(sql: str, **conditions: str) -> str:
    """Put scope conditions (built by ``grids.scope`` from code, never from user text) into ``sql``.

    A file marks each place with ``{{name}}``; every marker must be filled.
    """
    for name, cond in conditions.items():
        marker = "{{" + name + "}}"
        if marker not in sql:
            raise KeyError(f"no {marker} in the SQL")
        sql = sql.replace(marker, cond)
    if "{{" in sql:
        raise KeyError("unfilled scope marker in the SQL")
    return sql


def statements(sql: str) -> list[str]:
    """Split a script into statements at semicolons that end a line."""
    parts = [p.strip() for p in sql.split(";\n")]
    out = []
    for p in parts:
        body = "\n".join(line for line in p.splitlines() if not line.strip().startswith("--")).strip()
        if body:
            out.append(p.rstrip(";"))
    return out


def run_script(conn: Connection, sql: str, params: dict[str, Any] | None = None) -> CursorResult[Any]:
    """Run every statement of ``sql`` with the parameters each one uses; return the last result."""
    result: CursorResult[Any] | None = None
    for stmt in statements(sql):
        clause = text(stmt)
        used = {k: v for k, v in (params or {}).items() if k in clause.compile().params}
        result = conn.execute(clause, used)
    assert result is not None
    return result
