"""Reading address units with their current record, scoped, with contact phones masked by role."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from gridmarket.grids import sqlfiles
from gridmarket.grids.auth import audit
from gridmarket.grids.errors import NotFound
from gridmarket.grids.scope import Scope, mask_phone


def _query(conn: Connection, scope: Scope, **where: Any) -> list[dict[str, Any]]:
    read, rp = scope.unit_sql("a", "r", "read")
    phone, pp = scope.phone_sql("a", "r")
    # phone_sql uses the same parameter names as unit_sql with the same values, so one dict holds both
    sql = sqlfiles.with_scope(sqlfiles.load("units_list.sql"), unit_scope=read, phone_scope=phone)
    params = {"cell": None, "external_id": None, "limit": 500, "offset": 0, **rp, **pp, **where}
    rows = [dict(r) for r in conn.execute(text(sql), params).mappings()]
    for row in rows:
        for k, v in row.items():
            if isinstance(v, Decimal):
                row[k] = float(v)
        if not row.pop("phone_visible"):
            row["contact_phone"] = mask_phone(row["contact_phone"])
            row["phone_masked"] = True
        else:
            row["phone_masked"] = False
    return rows


def _audit_phones(conn: Connection, scope: Scope, rows: list[dict[str, Any]], what: dict[str, Any]) -> None:
    shown = sum(1 for r in rows if r["contact_phone"] and not r["phone_masked"])
    if shown:
        audit(conn, scope.user.id or None, "phones.shown", what, rows=shown)


def cell_units(
    conn: Connection, scope: Scope, cell_code: str, *, limit: int = 500, offset: int = 0
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Return a cell and the units of it the caller may read (phones masked where required)."""
    cell = scope.readable_cell(conn, cell_code)
    rows = _query(conn, scope, cell=cell.id, limit=limit, offset=offset)
    total = count_units(conn, scope, cell.id)
    _audit_phones(conn, scope, rows, {"list": "cell_units", "cell": cell_code, "offset": offset})
    return {"code": cell.code, "name": cell.name, "total": total}, rows


def count_units(conn: Connection, scope: Scope, cell_id: int) -> int:
    """Count the live units of a cell the caller may read."""
    read, params = scope.unit_sql("a", "r", "read")
    sql = sqlfiles.with_scope(sqlfiles.load("units_count.sql"), unit_scope=read)
    return int(conn.scalar(text(sql), {**params, "cell": cell_id}) or 0)


def unit_by_external_id(conn: Connection, scope: Scope, external_id: str) -> dict[str, Any]:
    """Return one unit by its address id; NotFound when missing, Forbidden outside the scope."""
    uid = conn.scalar(
        text("SELECT id FROM address_unit WHERE external_id = :e AND retired_at IS NULL"), {"e": external_id}
    )
    if uid is None:
        raise NotFound(f"no address unit {external_id!r}")
    scope.check_unit(conn, uid, "read")
    rows = _query(conn, scope, external_id=external_id, limit=1)
    _audit_phones(conn, scope, rows, {"item": "unit", "external_id": external_id})
    return rows[0]
