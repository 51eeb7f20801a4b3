"""Rosters: one building one book (一楼一册) and one market one book (一场一册).

A building roster lays the building out as floors (highest first) × rooms, every live unit the
caller may read with its current market record; a market roster lists every unit of a
characteristic grid (PRODUCT.md: the unit's cell is a member cell, or its customer has one of the
grid's industries, in the grid's city). Contact phones are masked exactly as in
:mod:`gridmarket.grids.units_read` (``Scope.phone_sql``), and every list carrying unmasked phones
is written to the audit log (``phones.shown``).
"""

# SQL text here is put together only from constant fragments and the scope conditions of
# grids.scope (built from code, never from user text); every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from gridmarket.grids.auth import audit
from gridmarket.grids.errors import Forbidden, NotFound, ValidationFailed
from gridmarket.grids.records import STATUS_NAMES
from gridmarket.grids.scope import CITY_WIDE, Scope, mask_phone

MAX_EMPTY_FLOORS = 200

# The columns of a roster line; ``{{phone}}`` is the caller's phone_sql condition.
_UNIT_COLUMNS = """
    a.id, a.external_id, a.address, a.floor, a.room, ST_X(a.geom) AS lon, ST_Y(a.geom) AS lat,
    c.code AS cell_code, b.code AS building_code, b.name AS building_name,
    cu.source_code AS customer_code, cu.name AS customer_name, cu.industry,
    r.status, r.main_services,
    r.fixed_lines_own, r.fixed_lines_rival, r.broadband_own, r.broadband_rival,
    r.ld_minutes_own, r.ld_minutes_rival, r.revenue_month, r.rival_operator, r.contract_end,
    r.contact_name, r.contact_phone, r.version
"""
_UNIT_FROM = """
FROM address_unit a
JOIN cell c ON c.id = a.cell_id
JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL
LEFT JOIN building b ON b.id = a.building_id
LEFT JOIN customer cu ON cu.id = r.customer_id
"""


def _finish(conn: Connection, scope: Scope, rows: list[dict[str, Any]]) -> int:
    """Mask phones the caller may not see, add the Chinese status; return the unmasked phone count."""
    shown = 0
    for row in rows:
        for k, v in row.items():
            if isinstance(v, Decimal):
                row[k] = float(v)
        row["status_zh"] = STATUS_NAMES.get(row["status"], row["status"])
        if row.pop("phone_visible"):
            row["phone_masked"] = False
            if row["contact_phone"]:
                shown += 1
        else:
            row["contact_phone"] = mask_phone(row["contact_phone"])
            row["phone_masked"] = True
    return shown


def audit_phones(conn: Connection, scope: Scope, shown: int, what: dict[str, Any]) -> None:
    """Write a ``phones.shown`` audit row when ``shown`` unmasked phones were listed or exported."""
    if shown:
        audit(conn, scope.user.id or None, "phones.shown", what, rows=shown)


# -- building roster (一楼一册) -------------------------------------------------------------------
def find_building(conn: Connection, code: str, city: str | None = None) -> dict[str, Any]:
    """Return the building ``code`` (in city ``city`` when given); 404 when missing, 422 when ambiguous."""
    rows = [
        dict(r)
        for r in conn.execute(
            text(
                "SELECT b.id, b.code, b.name, b.type, b.floors, b.city_id, ct.code AS city_code, "
                "ct.name AS city_name, b.cell_id, c.code AS cell_code, c.name AS cell_name "
                "FROM building b JOIN region ct ON ct.id = b.city_id LEFT JOIN cell c ON c.id = b.cell_id "
                "WHERE b.code = :code AND (CAST(:city AS text) IS NULL OR ct.code = CAST(:city AS text)) "
                "ORDER BY ct.code"
            ),
            {"code": code, "city": city},
        ).mappings()
    ]
    if not rows:
        where = f" in city {city!r}" if city else ""
        raise NotFound(f"no building {code!r}{where}")
    if len(rows) > 1:
        cities = ", ".join(r["city_code"] for r in rows)
        raise ValidationFailed(
            f"building code {code!r} exists in several cities ({cities}); give ?city=", field="city"
        )
    return rows[0]


def building_units(conn: Connection, scope: Scope, building_id: int) -> list[dict[str, Any]]:
    """The live units of a building the caller may read, highest floor first (phones masked)."""
    read, rp = scope.unit_sql("a", "r", "read")
    phone, pp = scope.phone_sql("a", "r")
    sql = (
        f"SELECT {_UNIT_COLUMNS}, ({phone}) AS phone_visible {_UNIT_FROM} "
        f"WHERE a.retired_at IS NULL AND a.building_id = :b AND ({read}) "
        "ORDER BY a.floor DESC NULLS LAST, length(a.room) NULLS LAST, a.room, a.external_id"
    )
    return [dict(r) for r in conn.execute(text(sql), {**rp, **pp, "b": building_id}).mappings()]


def building_roster(
    conn: Connection, scope: Scope, code: str, city: str | None = None, *, audit_what: str = "building_roster"
) -> dict[str, Any]:
    """The roster of one building: floors (highest first) × rooms with every unit the caller may read.

    A building of which the caller may read no unit is refused (403); units outside the scope are
    simply not listed. Units without a floor are in a last row with ``floor`` null.
    """
    b = find_building(conn, code, city)
    units = building_units(conn, scope, b["id"])
    if not units:
        live = conn.scalar(
            text("SELECT count(*) FROM address_unit WHERE building_id = :b AND retired_at IS NULL"),
            {"b": b["id"]},
        )
        # an empty building is visible to whoever may read its cell (or its city, without a cell)
        if live or not _may_read_empty_building(conn, scope, b):
            raise Forbidden(f"building {code!r} is outside your scope")
    shown = _finish(conn, scope, units)
    audit_phones(
        conn,
        scope,
        shown,
        {"list": audit_what, "building": b["code"], "city": b["city_code"]},
    )
    by_floor: dict[int | None, list[dict[str, Any]]] = {}
    for u in units:
        by_floor.setdefault(u["floor"], []).append(u)
    known = {f for f in by_floor if f is not None}
    if b["floors"]:  # every floor of the building, empty ones too (capped against bad data)
        known |= set(range(1, min(int(b["floors"]), MAX_EMPTY_FLOORS) + 1))
    floors = [
        {"floor": f, "label": f"{f}层", "rooms": by_floor.get(f, [])} for f in sorted(known, reverse=True)
    ]
    if None in by_floor:
        floors.append({"floor": None, "label": "楼层不详", "rooms": by_floor[None]})
    building = {
        "code": b["code"],
        "name": b["name"],
        "type": b["type"],
        "floors": b["floors"],
        "city": b["city_code"],
        "cell": b["cell_code"],
        "cell_name": b["cell_name"],
    }
    return {"building": building, "units": len(units), "phones_shown": shown, "floors": floors}


def _may_read_empty_building(conn: Connection, scope: Scope, b: dict[str, Any]) -> bool:
    if scope.everything:
        return True
    if b["cell_id"] is not None:
        try:
            scope.check_cell(conn, int(b["cell_id"]))
        except Forbidden:
            return False
        return True
    return scope.role in CITY_WIDE and scope.allows_city(int(b["city_id"]))


def cell_buildings(conn: Connection, scope: Scope, cell_code: str) -> dict[str, Any]:
    """The buildings with units in a cell: per building the units the caller may read and their status mix."""
    cell = scope.readable_cell(conn, cell_code)
    read, rp = scope.unit_sql("a", "r", "read")
    counts = ", ".join(f"count(*) FILTER (WHERE r.status = '{s}') AS n_{s}" for s in STATUS_NAMES)
    rows = conn.execute(
        text(
            f"SELECT b.code, b.name, b.type, b.floors, ct.code AS city, count(*) AS units, {counts}, "
            "ST_X(b.geom) AS lon, ST_Y(b.geom) AS lat "
            "FROM address_unit a JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL "
            "JOIN building b ON b.id = a.building_id JOIN region ct ON ct.id = b.city_id "
            f"WHERE a.cell_id = :cell AND a.retired_at IS NULL AND ({read}) "
            "GROUP BY b.id, ct.code ORDER BY b.code"
        ),
        {**rp, "cell": cell.id},
    ).mappings()
    buildings = []
    for r in rows:
        item = {k: r[k] for k in ("code", "name", "type", "floors", "city", "units", "lon", "lat")}
        item["status_mix"] = {s: int(r[f"n_{s}"]) for s in STATUS_NAMES}
        buildings.append(item)
    return {"cell": {"code": cell.code, "name": cell.name}, "buildings": buildings}


# -- market roster (一场一册) ---------------------------------------------------------------------
# The ids of a characteristic grid's members (PRODUCT.md): units in a member cell, and units whose
# current record's customer (of the grid's city) has one of the grid's industries. Two indexed
# lookups united, rather than one OR over every unit of the city.
_MEMBERS = """
WITH members AS (
    SELECT a.id FROM address_unit a
    WHERE a.cell_id IN (SELECT cell_id FROM feature_grid_cell WHERE feature_grid_id = :fg)
    UNION
    SELECT r.address_unit_id FROM customer cu
    JOIN market_record r ON r.customer_id = cu.id AND r.valid_to IS NULL
    WHERE cu.city_id = :fg_city AND cu.industry = ANY(CAST(:fg_industries AS text[]))
)
"""
_MEMBER_FROM = """
FROM members m
JOIN address_unit a ON a.id = m.id
JOIN cell c ON c.id = a.cell_id
JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL
LEFT JOIN building b ON b.id = a.building_id
LEFT JOIN customer cu ON cu.id = r.customer_id
"""


def find_feature_grid(conn: Connection, scope: Scope, code: str) -> dict[str, Any]:
    """Return the characteristic grid ``code``; 404 when missing, 403 when the caller may read none of it.

    City-wide readers (and specialist leads) of its city may list it (seeing the units they may
    read); other roles when they may read at least one of its units.
    """
    row = (
        conn.execute(
            text(
                "SELECT f.id, f.code, f.name, f.type, f.city_id, f.industries, ct.code AS city_code, "
                "ARRAY(SELECT c.code FROM feature_grid_cell m JOIN cell c ON c.id = m.cell_id "
                "      WHERE m.feature_grid_id = f.id ORDER BY c.code) AS member_cells "
                "FROM feature_grid f JOIN region ct ON ct.id = f.city_id WHERE f.code = :c"
            ),
            {"c": code},
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        raise NotFound(f"no characteristic grid {code!r}")
    fg = dict(row)
    fg["industries"] = list(fg["industries"] or [])
    fg["member_cells"] = list(fg["member_cells"] or [])
    if scope.everything or fg["id"] in scope.feature_grids:
        return fg
    if (scope.role in CITY_WIDE or scope.role == "specialist_lead") and scope.allows_city(fg["city_id"]):
        return fg
    read, rp = scope.unit_sql("a", "r", "read")
    anything = conn.scalar(
        text(f"{_MEMBERS} SELECT EXISTS (SELECT 1 {_MEMBER_FROM} WHERE a.retired_at IS NULL AND ({read}))"),
        {**rp, **_fg_params(fg)},
    )
    if not anything:
        raise Forbidden(f"characteristic grid {code!r} is outside your scope")
    return fg


def _fg_params(fg: dict[str, Any]) -> dict[str, Any]:
    return {"fg": fg["id"], "fg_city": fg["city_id"], "fg_industries": fg["industries"]}


def feature_grid_units(
    conn: Connection, scope: Scope, fg: dict[str, Any], *, limit: int | None, offset: int = 0
) -> tuple[int, list[dict[str, Any]]]:
    """The total and one page of a characteristic grid's units the caller may read (phones not masked yet).

    Each line says why it is a member: ``member_by`` = ``cell``, ``industry`` or ``both``.
    """
    read, rp = scope.unit_sql("a", "r", "read")
    phone, pp = scope.phone_sql("a", "r")
    params = {**rp, **pp, **_fg_params(fg), "limit": limit, "offset": offset}
    where = f"WHERE a.retired_at IS NULL AND ({read})"
    by_cell = "a.cell_id IN (SELECT cell_id FROM feature_grid_cell WHERE feature_grid_id = :fg)"
    by_industry = (
        "(cu.city_id = :fg_city AND coalesce(cu.industry = ANY(CAST(:fg_industries AS text[])), false))"
    )
    sql = (
        f"{_MEMBERS} SELECT {_UNIT_COLUMNS}, ({phone}) AS phone_visible, "
        f"CASE WHEN {by_cell} AND {by_industry} THEN 'both' WHEN {by_cell} THEN 'cell' ELSE 'industry' END "
        f"AS member_by, count(*) OVER () AS total_ {_MEMBER_FROM} {where} "
        "ORDER BY c.code, b.code NULLS LAST, a.floor NULLS LAST, length(a.room) NULLS LAST, a.room, "
        "a.external_id LIMIT :limit OFFSET :offset"
    )
    # the total comes with the page (one pass over the members); only a page past the end counts again
    rows = [dict(r) for r in conn.execute(text(sql), params).mappings()]
    if rows:
        total = int(rows[0]["total_"])
    elif offset:
        total = int(conn.scalar(text(f"{_MEMBERS} SELECT count(*) {_MEMBER_FROM} {where}"), params) or 0)
    else:
        total = 0
    for row in rows:
        del row["total_"]
    return total, rows


def feature_grid_roster(
    conn: Connection, scope: Scope, code: str, *, limit: int = 500, offset: int = 0
) -> dict[str, Any]:
    """One page of the roster of a characteristic grid (一场一册), with the total."""
    fg = find_feature_grid(conn, scope, code)
    total, units = feature_grid_units(conn, scope, fg, limit=limit, offset=offset)
    shown = _finish(conn, scope, units)
    audit_phones(
        conn, scope, shown, {"list": "feature_grid_roster", "feature_grid": fg["code"], "offset": offset}
    )
    grid = {k: fg[k] for k in ("code", "name", "type", "industries", "member_cells")} | {
        "city": fg["city_code"]
    }
    return {
        "feature_grid": grid,
        "total": total,
        "limit": limit,
        "offset": offset,
        "phones_shown": shown,
        "units": units,
    }


def building_export_rows(
    conn: Connection, scope: Scope, code: str, city: str | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The building and all its roster lines (floor by floor) for an export; audited as an export."""
    roster = building_roster(conn, scope, code, city, audit_what="building_roster.xlsx")
    rows = [u for f in roster["floors"] for u in f["rooms"]]
    return roster["building"], rows


def feature_grid_export_rows(
    conn: Connection, scope: Scope, code: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The characteristic grid and all its roster lines for an export; audited as an export."""
    fg = find_feature_grid(conn, scope, code)
    _, units = feature_grid_units(conn, scope, fg, limit=None)
    shown = _finish(conn, scope, units)
    audit_phones(conn, scope, shown, {"list": "feature_grid_roster.xlsx", "feature_grid": fg["code"]})
    return {"code": fg["code"], "name": fg["name"], "city": fg["city_code"]}, units
