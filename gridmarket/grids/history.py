"""History of address units: every record version (who, when, source, note, batch, diff) and unit event.

Per unit and per cell, newest first, paged. A version's ``diff`` compares it with the version
before it (``{field: [old, new]}``; version 1 against nothing, so every field it sets). Unit
events (add, split, merge, retire) are interleaved by time. Contact phones are masked in values
and diffs where the caller may not see them (:meth:`Scope.phone_sql`); a page showing unmasked
phones is written to the audit log (``phones.shown``). Retired units' history stays readable by
whoever may read the unit.
"""

# SQL here is composed only from column lists of this module and Scope conditions (code, never user
# text); every value is a bound parameter: hence no S608.
# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from gridmarket.grids import records
from gridmarket.grids.auth import audit
from gridmarket.grids.errors import NotFound
from gridmarket.grids.scope import Scope, mask_phone

_FIELDS = [f for f in records.RECORD_FIELDS if f != "customer_id"]
_SHOWN = ("customer_code", *_FIELDS)

_ITEMS = """
WITH u AS (SELECT unnest(CAST(:units AS bigint[])) AS id),
items AS (
    SELECT 'version' AS kind, r.valid_from AS at, r.id AS ref, r.version AS ord
    FROM market_record r WHERE r.address_unit_id IN (SELECT id FROM u)
    UNION ALL
    SELECT 'event', e.at, e.id, 0
    FROM unit_event e
    WHERE e.from_units && CAST(:units AS bigint[]) OR e.to_units && CAST(:units AS bigint[])
)
SELECT kind, ref, count(*) OVER () AS total FROM items
ORDER BY at DESC, kind, ord DESC, ref DESC
LIMIT :limit OFFSET :offset
"""

_VERSIONS = f"""
SELECT r.id, a.external_id, r.version, r.valid_from, r.valid_to, r.source, r.note, r.batch_id,
       u.username, coalesce(s.name, u.username) AS changed_by_name,
       c.source_code AS customer_code, {", ".join("r." + f for f in _FIELDS)},
       pc.source_code AS p_customer_code, {", ".join(f"p.{f} AS p_{f}" for f in _FIELDS)},
       p.id IS NOT NULL AS has_previous
FROM market_record r
JOIN address_unit a ON a.id = r.address_unit_id
LEFT JOIN market_record p ON p.address_unit_id = r.address_unit_id AND p.version = r.version - 1
LEFT JOIN customer c ON c.id = r.customer_id
LEFT JOIN customer pc ON pc.id = p.customer_id
LEFT JOIN app_user u ON u.id = r.changed_by
LEFT JOIN staff s ON s.id = u.staff_id
WHERE r.id = ANY(CAST(:ids AS bigint[]))
"""

_EVENTS = """
SELECT e.id, e.kind, e.at, e.note, e.from_units, e.to_units, u.username,
       coalesce(s.name, u.username) AS changed_by_name
FROM unit_event e
LEFT JOIN app_user u ON u.id = e.changed_by
LEFT JOIN staff s ON s.id = u.staff_id
WHERE e.id = ANY(CAST(:ids AS bigint[]))
"""


def _plain(v: Any) -> Any:
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, dt.datetime | dt.date):
        return v.isoformat()
    return v


def _visible_phones(conn: Connection, scope: Scope, unit_ids: list[int]) -> set[str]:
    """External ids of the units whose phones the caller sees unmasked."""
    cond, params = scope.phone_sql("a", "r")
    return set(
        conn.scalars(
            text(
                "SELECT a.external_id FROM address_unit a "
                "JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL "
                f"WHERE a.id = ANY(CAST(:ids AS bigint[])) AND ({cond})"
            ),
            {**params, "ids": unit_ids},
        )
    )


def _page(
    conn: Connection, scope: Scope, unit_ids: list[int], limit: int, offset: int, what: dict[str, Any]
) -> tuple[list[dict[str, Any]], int]:
    refs = conn.execute(text(_ITEMS), {"units": unit_ids, "limit": limit, "offset": offset}).all()
    total = int(refs[0].total) if refs else 0
    if not refs and offset:
        total = _count(conn, unit_ids)
    version_ids = [int(r.ref) for r in refs if r.kind == "version"]
    event_ids = [int(r.ref) for r in refs if r.kind == "event"]
    versions = {int(r["id"]): dict(r) for r in conn.execute(text(_VERSIONS), {"ids": version_ids}).mappings()}
    events = {int(r["id"]): dict(r) for r in conn.execute(text(_EVENTS), {"ids": event_ids}).mappings()}
    ext_of: dict[int, str] = {}
    wanted = {i for e in events.values() for i in (*e["from_units"], *e["to_units"])}
    if wanted:
        ext_of = dict(
            conn.execute(
                text("SELECT id, external_id FROM address_unit WHERE id = ANY(CAST(:ids AS bigint[]))"),
                {"ids": sorted(wanted)},
            ).all()
        )
    visible = _visible_phones(conn, scope, unit_ids)
    items: list[dict[str, Any]] = []
    for ref in refs:
        if ref.kind == "version":
            items.append(_version(versions[int(ref.ref)], visible))
        else:
            e = events[int(ref.ref)]
            items.append(
                {
                    "kind": "event",
                    "event": e["kind"],
                    "id": int(e["id"]),
                    "at": e["at"].isoformat(),
                    "changed_by": _who(e),
                    "note": e["note"],
                    "from": [ext_of.get(int(i)) for i in e["from_units"]],
                    "to": [ext_of.get(int(i)) for i in e["to_units"]],
                }
            )
    # a page listing unmasked phones (in values or diffs) is written to the audit log (CONTRACT.md)
    shown = sum(1 for i in items if i["kind"] == "version" and not i["phone_masked"] and _has_phone(i))
    if shown:
        audit(conn, scope.user.id or None, "phones.shown", {**what, "offset": offset}, rows=shown)
    return items, total


def _has_phone(item: dict[str, Any]) -> bool:
    return bool(item["values"]["contact_phone"] or item["diff"].get("contact_phone", [None])[0])


def _count(conn: Connection, unit_ids: list[int]) -> int:
    return int(
        conn.scalar(
            text(
                "SELECT (SELECT count(*) FROM market_record "
                "WHERE address_unit_id = ANY(CAST(:u AS bigint[]))) "
                "+ (SELECT count(*) FROM unit_event WHERE from_units && CAST(:u AS bigint[]) "
                "OR to_units && CAST(:u AS bigint[]))"
            ),
            {"u": unit_ids},
        )
        or 0
    )


def _who(row: dict[str, Any]) -> dict[str, Any] | None:
    if row["username"] is None:
        return None
    return {"username": row["username"], "name": row["changed_by_name"]}


def _version(row: dict[str, Any], visible: set[str]) -> dict[str, Any]:
    show = row["external_id"] in visible
    values = {f: _plain(row[f]) for f in _SHOWN}
    before = {f: _plain(row["p_" + f]) for f in _SHOWN} if row["has_previous"] else dict.fromkeys(_SHOWN)
    if not show:
        values["contact_phone"] = mask_phone(values["contact_phone"])
        before["contact_phone"] = mask_phone(before["contact_phone"])
    diff = {f: [before[f], values[f]] for f in _SHOWN if before[f] != values[f]}
    return {
        "kind": "version",
        "external_id": row["external_id"],
        "version": int(row["version"]),
        "at": row["valid_from"].isoformat(),
        "until": row["valid_to"].isoformat() if row["valid_to"] else None,
        "source": row["source"],
        "note": row["note"],
        "batch_id": row["batch_id"],
        "changed_by": _who(row),
        "phone_masked": not show,
        "values": values,
        "diff": diff,
    }


def unit_history(
    conn: Connection, scope: Scope, external_id: str, *, limit: int = 50, offset: int = 0
) -> dict[str, Any]:
    """A unit's versions and events, newest first (retired units too); 404 / 403 as for reading it."""
    row = conn.execute(
        text(
            "SELECT a.id, a.external_id, a.retired_at, c.code AS cell_code FROM address_unit a "
            "JOIN cell c ON c.id = a.cell_id WHERE a.external_id = :e"
        ),
        {"e": external_id},
    ).one_or_none()
    if row is None:
        raise NotFound(f"no address unit {external_id!r}")
    scope.check_unit(conn, int(row.id), "read")
    items, total = _page(
        conn, scope, [int(row.id)], limit, offset, {"list": "unit_history", "external_id": row.external_id}
    )
    return {
        "unit": {
            "external_id": row.external_id,
            "cell_code": row.cell_code,
            "retired_at": row.retired_at.isoformat() if row.retired_at else None,
        },
        "items": items,
        "total": total,
        "limit": limit,
        "offset": offset,
    }


def cell_history(
    conn: Connection, scope: Scope, code: str, *, limit: int = 50, offset: int = 0
) -> dict[str, Any]:
    """The history of every unit of a cell the caller may read (retired ones included), newest first."""
    cell = scope.readable_cell(conn, code)
    cond, params = scope.unit_sql("a", "r", "read")
    unit_ids = [
        int(i)
        for i in conn.scalars(
            text(
                "SELECT a.id FROM address_unit a "
                "JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL "
                f"WHERE a.cell_id = :cell AND ({cond})"
            ),
            {**params, "cell": cell.id},
        )
    ]
    items, total = _page(conn, scope, unit_ids, limit, offset, {"list": "cell_history", "cell": cell.code})
    return {
        "cell": {"code": cell.code, "name": cell.name},
        "items": items,
        "total": total,
        "limit": limit,
        "offset": offset,
    }
