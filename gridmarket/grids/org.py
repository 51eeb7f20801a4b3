"""The matrix sales organisation (矩阵式销售组织): org units, staff and their assignments.

Everything here works on a SQLAlchemy :class:`~sqlalchemy.Connection` inside the caller's
transaction and knows nothing of HTTP: the admin API and the org importer call it. Items are
addressed by their codes (org units, staff) or ids (assignments, which have no code); references
in a body (city, district, parent unit, assignment target) are codes too.

Rules checked here: kinds from :data:`~gridmarket.grids.models.ORG_KINDS` and
:data:`~gridmarket.grids.models.ASSIGN_KINDS`; a unit's district is a district of the unit's city
(and a regional centre has one); a parent unit is in the same city and makes no cycle; a staff
member's unit is in the staff member's city; an assignment's target exists and is in the staff
member's city, and ``valid_to ≥ valid_from``. Broken rules raise :class:`ValidationFailed` with the
field, missing items :class:`NotFound`, duplicates and deletions that would orphan rows
:class:`Conflict`.

Assignments are in force from ``valid_from`` to ``valid_to``, both inclusive; ``valid_to`` null
is open-ended. The natural key of an assignment is (staff, kind, target, valid_from).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from gridmarket.grids import sqlfiles
from gridmarket.grids.errors import Conflict, Forbidden, NotFound, ValidationFailed
from gridmarket.grids.errors import ImportRejected as BaseImportRejected
from gridmarket.grids.models import ASSIGN_KINDS, ORG_KINDS, SPECIALTIES
from gridmarket.grids.scope import CITY_WIDE, Scope

__all__ = [
    "ASSIGN_KIND_NAMES",
    "ORG_KIND_NAMES",
    "SPECIALTY_NAMES",
    "AssignmentRow",
    "ImportRejected",
    "OrgUnitRow",
    "StaffRow",
    "assignments_in_force",
    "create_assignment",
    "create_org_unit",
    "create_staff",
    "delete_assignment",
    "delete_org_unit",
    "delete_staff",
    "get_assignment",
    "get_org_unit",
    "get_staff",
    "list_assignments",
    "list_org_units",
    "list_staff",
    "resolve_target",
    "responsible_for_area",
    "responsible_for_cell",
    "update_assignment",
    "update_org_unit",
    "update_staff",
    "upsert_assignments",
    "upsert_org_units",
    "upsert_staff",
]

ORG_KIND_NAMES: dict[str, tuple[str, str]] = {
    "city_dept": ("地市政企部", "City G&E department"),
    "regional_centre": ("区局营销中心", "Regional marketing centre"),
    "specialist_centre": ("专业营销中心", "Specialist marketing centre"),
    "specialist_team": ("专业团队", "Specialist team"),
}
ASSIGN_KIND_NAMES: dict[str, tuple[str, str]] = {
    "cell": ("网格单元", "Grid cell"),
    "grid": ("网格", "Grid"),
    "feature_grid": ("特征网格", "Characteristic grid"),
    "customer": ("客户", "Customer"),
}
SPECIALTY_NAMES: dict[str, tuple[str, str]] = {
    "government": ("党政军", "Party, government & military"),
    "finance": ("金融", "Finance"),
    "large_enterprise": ("大企业", "Large enterprises"),
    "specialist_market": ("专业市场", "Specialist markets"),
    "campus": ("校园", "Campuses"),
    "hospital": ("医院", "Hospitals"),
    "hotel": ("宾馆酒店", "Hotels"),
}
assert set(ORG_KIND_NAMES) == set(ORG_KINDS) and set(ASSIGN_KIND_NAMES) == set(ASSIGN_KINDS)
assert set(SPECIALTY_NAMES) == set(SPECIALTIES)

_TARGET_TABLE = {"cell": "cell", "grid": "grid", "feature_grid": "feature_grid"}


class ImportRejected(BaseImportRejected):
    """An organisation file refused as a whole: ``problems`` lists (row number, field, reason)."""

    def __init__(self, problems: Sequence[tuple[int, str, str]], what: str = "file") -> None:
        listed = list(problems)
        n = len(listed)
        first = listed[0] if listed else (0, "", "")
        where = f"row {first[0]}, {first[1]}" if first[0] else first[1] or "file"
        plural = "s" if n != 1 else ""
        message = f"{what} rejected, nothing written: {n} problem{plural}; first: {where}: {first[2]}"
        super().__init__(message, listed, first[1] or None)


# ------------------------------------------------------------------------------------------------
# small helpers
# ------------------------------------------------------------------------------------------------


def _text(value: Any, field: str, *, required: bool = True) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationFailed(f"{field} is required", field)
        return None
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be text", field)
    return value.strip()


def _date(value: Any, field: str, *, required: bool = True) -> dt.date | None:
    if value is None:
        if required:
            raise ValidationFailed(f"{field} is required", field)
        return None
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise ValidationFailed(f"{field} must be a date", field)
    return value


def _kind(value: Any, allowed: tuple[str, ...], field: str) -> str:
    kind = _text(value, field)
    if kind not in allowed:
        raise ValidationFailed(f"{field} must be one of {', '.join(allowed)} (got {kind!r})", field)
    return kind


def _check_changes(changes: Mapping[str, Any], allowed: set[str]) -> None:
    for key in changes:
        if key not in allowed:
            raise ValidationFailed(f"{key} cannot be changed here", key)


def _one(conn: Connection, sql: str, params: dict[str, Any]) -> dict[str, Any] | None:
    row = conn.execute(text(sql), params).mappings().first()
    return dict(row) if row is not None else None


def _city_id(conn: Connection, code: str, field: str = "city_code") -> int:
    cid = conn.scalar(text("SELECT id FROM region WHERE code = :c AND level = 'city'"), {"c": code})
    if cid is None:
        raise ValidationFailed(f"no city {code!r}", field)
    return int(cid)


def _city_name(conn: Connection, city_id: int) -> str:
    return str(conn.scalar(text("SELECT name FROM region WHERE id = :i"), {"i": city_id}))


def _district_id(conn: Connection, code: str | None, city_id: int) -> int | None:
    if code is None:
        return None
    row = _one(
        conn, "SELECT id, city_id, name FROM region WHERE code = :c AND level = 'district'", {"c": code}
    )
    if row is None:
        raise ValidationFailed(f"no district {code!r}", "district_code")
    if row["city_id"] != city_id:
        raise ValidationFailed(
            f"district {code!r} ({row['name']}) is not a district of {_city_name(conn, city_id)}",
            "district_code",
        )
    return int(row["id"])


# ------------------------------------------------------------------------------------------------
# org units
# ------------------------------------------------------------------------------------------------

_UNIT_SELECT = """
SELECT o.id, o.code, o.name, o.kind, o.city_id, c.code AS city_code, c.name AS city_name,
       o.district_id, d.code AS district_code, d.name AS district_name,
       o.parent_id, p.code AS parent_code, p.name AS parent_name,
       (SELECT count(*) FROM staff s WHERE s.org_unit_id = o.id) AS staff_count
FROM org_unit o
JOIN region c ON c.id = o.city_id
LEFT JOIN region d ON d.id = o.district_id
LEFT JOIN org_unit p ON p.id = o.parent_id
"""


def list_org_units(
    conn: Connection, *, cities: Sequence[int] | None = None, kind: str | None = None
) -> list[dict[str, Any]]:
    """Return the org units (of ``cities`` when given, of ``kind`` when given), by city and code."""
    if kind is not None:
        kind = _kind(kind, ORG_KINDS, "kind")
    rows = conn.execute(
        text(
            _UNIT_SELECT
            + " WHERE (CAST(:cities AS integer[]) IS NULL OR o.city_id = ANY(CAST(:cities AS integer[])))"
            " AND (CAST(:kind AS text) IS NULL OR o.kind = CAST(:kind AS text)) ORDER BY c.code, o.code"
        ),
        {"cities": None if cities is None else list(cities), "kind": kind},
    ).mappings()
    return [dict(r) for r in rows]


def get_org_unit(conn: Connection, code: str) -> dict[str, Any]:
    """Return org unit ``code`` with its city, district and parent; NotFound when missing."""
    row = _one(conn, _UNIT_SELECT + " WHERE o.code = :code", {"code": code})
    if row is None:
        raise NotFound(f"no org unit {code!r}")
    return row


def _parent_id(conn: Connection, parent_code: str | None, city_id: int, own_id: int | None) -> int | None:
    if parent_code is None:
        return None
    row = _one(conn, "SELECT id, city_id FROM org_unit WHERE code = :c", {"c": parent_code})
    if row is None:
        raise ValidationFailed(f"no org unit {parent_code!r}", "parent_code")
    if row["city_id"] != city_id:
        raise ValidationFailed(f"parent unit {parent_code!r} is in another city", "parent_code")
    pid = int(row["id"])
    if own_id is not None:
        ancestors = conn.scalars(
            text(
                "WITH RECURSIVE up(id, parent_id) AS (SELECT id, parent_id FROM org_unit WHERE id = :p"
                " UNION SELECT o.id, o.parent_id FROM org_unit o JOIN up ON o.id = up.parent_id)"
                " SELECT id FROM up"
            ),
            {"p": pid},
        ).all()
        if own_id in ancestors:
            raise ValidationFailed(f"parent unit {parent_code!r} would make a cycle", "parent_code")
    return pid


def create_org_unit(
    conn: Connection,
    *,
    code: str,
    name: str,
    kind: str,
    city_code: str,
    district_code: str | None = None,
    parent_code: str | None = None,
) -> dict[str, Any]:
    """Create an org unit in city ``city_code``; return it as :func:`get_org_unit` does.

    A ``regional_centre`` needs ``district_code`` (a district of that city). Conflict when the code
    is taken.
    """
    code_ = _text(code, "code")
    name_ = _text(name, "name")
    kind_ = _kind(kind, ORG_KINDS, "kind")
    city = _city_id(conn, _text(city_code, "city_code") or "")
    district = _district_id(conn, _text(district_code, "district_code", required=False), city)
    if kind_ == "regional_centre" and district is None:
        raise ValidationFailed("a regional centre needs its district", "district_code")
    parent = _parent_id(conn, _text(parent_code, "parent_code", required=False), city, None)
    if conn.scalar(text("SELECT 1 FROM org_unit WHERE code = :c"), {"c": code_}):
        raise Conflict(f"org unit {code_!r} exists already")
    conn.execute(
        text(
            "INSERT INTO org_unit (code, name, kind, city_id, district_id, parent_id)"
            " VALUES (:code, :name, :kind, :city, :district, :parent)"
        ),
        {"code": code_, "name": name_, "kind": kind_, "city": city, "district": district, "parent": parent},
    )
    return get_org_unit(conn, code_ or "")


def update_org_unit(conn: Connection, code: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Change ``name``, ``kind``, ``district_code`` or ``parent_code`` (None clears the last two)."""
    _check_changes(changes, {"name", "kind", "district_code", "parent_code"})
    unit = get_org_unit(conn, code)
    name = _text(changes["name"], "name") if "name" in changes else unit["name"]
    kind = _kind(changes["kind"], ORG_KINDS, "kind") if "kind" in changes else unit["kind"]
    district = unit["district_id"]
    if "district_code" in changes:
        district_code = _text(changes["district_code"], "district_code", required=False)
        district = _district_id(conn, district_code, unit["city_id"])
    if kind == "regional_centre" and district is None:
        raise ValidationFailed("a regional centre needs its district", "district_code")
    parent = unit["parent_id"]
    if "parent_code" in changes:
        parent_code = _text(changes["parent_code"], "parent_code", required=False)
        parent = _parent_id(conn, parent_code, unit["city_id"], unit["id"])
    conn.execute(
        text("UPDATE org_unit SET name = :n, kind = :k, district_id = :d, parent_id = :p WHERE id = :i"),
        {"n": name, "k": kind, "d": district, "p": parent, "i": unit["id"]},
    )
    return get_org_unit(conn, code)


def delete_org_unit(conn: Connection, code: str) -> None:
    """Delete an org unit; Conflict while staff, sub-units or assignments refer to it."""
    unit = get_org_unit(conn, code)
    uses = conn.execute(
        text(
            "SELECT (SELECT count(*) FROM staff WHERE org_unit_id = :i),"
            " (SELECT count(*) FROM org_unit WHERE parent_id = :i),"
            " (SELECT count(*) FROM assignment WHERE org_unit_id = :i)"
        ),
        {"i": unit["id"]},
    ).one()
    if any(uses):
        raise Conflict(
            f"org unit {code!r} still has {uses[0]} staff, {uses[1]} sub-units and {uses[2]} assignments"
        )
    conn.execute(text("DELETE FROM org_unit WHERE id = :i"), {"i": unit["id"]})


# ------------------------------------------------------------------------------------------------
# staff
# ------------------------------------------------------------------------------------------------

_STAFF_SELECT = """
SELECT s.id, s.code, s.name, s.post, s.city_id, c.code AS city_code, c.name AS city_name,
       s.org_unit_id, o.code AS org_unit_code, o.name AS org_unit_name, o.kind AS org_unit_kind
FROM staff s
JOIN region c ON c.id = s.city_id
LEFT JOIN org_unit o ON o.id = s.org_unit_id
"""


def list_staff(
    conn: Connection, *, cities: Sequence[int] | None = None, org_unit_code: str | None = None
) -> list[dict[str, Any]]:
    """Return the staff (of ``cities`` / of org unit ``org_unit_code`` when given), by city and code."""
    rows = conn.execute(
        text(
            _STAFF_SELECT
            + " WHERE (CAST(:cities AS integer[]) IS NULL OR s.city_id = ANY(CAST(:cities AS integer[])))"
            " AND (CAST(:unit AS text) IS NULL OR o.code = CAST(:unit AS text)) ORDER BY c.code, s.code"
        ),
        {"cities": None if cities is None else list(cities), "unit": org_unit_code},
    ).mappings()
    return [dict(r) for r in rows]


def get_staff(conn: Connection, code: str) -> dict[str, Any]:
    """Return staff member ``code`` with their org unit and city; NotFound when missing."""
    row = _one(conn, _STAFF_SELECT + " WHERE s.code = :code", {"code": code})
    if row is None:
        raise NotFound(f"no staff member {code!r}")
    return row


def _unit_in_city(conn: Connection, unit_code: str, city_id: int | None, field: str) -> tuple[int, int]:
    row = _one(conn, "SELECT id, city_id FROM org_unit WHERE code = :c", {"c": unit_code})
    if row is None:
        raise ValidationFailed(f"no org unit {unit_code!r}", field)
    if city_id is not None and row["city_id"] != city_id:
        raise ValidationFailed(f"org unit {unit_code!r} is in another city", field)
    return int(row["id"]), int(row["city_id"])


def create_staff(
    conn: Connection,
    *,
    code: str,
    name: str,
    post: str | None = None,
    org_unit_code: str | None = None,
    city_code: str | None = None,
) -> dict[str, Any]:
    """Create a staff member in org unit ``org_unit_code`` (their city is the unit's) or ``city_code``."""
    code_ = _text(code, "code")
    name_ = _text(name, "name")
    post_ = _text(post, "post", required=False)
    unit_code = _text(org_unit_code, "org_unit_code", required=False)
    city_c = _text(city_code, "city_code", required=False)
    city = _city_id(conn, city_c) if city_c else None
    unit: int | None = None
    if unit_code is not None:
        unit, city = _unit_in_city(conn, unit_code, city, "org_unit_code")
    if city is None:
        raise ValidationFailed("give the staff member's org unit or city", "org_unit_code")
    if conn.scalar(text("SELECT 1 FROM staff WHERE code = :c"), {"c": code_}):
        raise Conflict(f"staff member {code_!r} exists already")
    conn.execute(
        text(
            "INSERT INTO staff (code, name, post, org_unit_id, city_id)"
            " VALUES (:code, :name, :post, :unit, :city)"
        ),
        {"code": code_, "name": name_, "post": post_, "unit": unit, "city": city},
    )
    return get_staff(conn, code_ or "")


def update_staff(conn: Connection, code: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Change ``name``, ``post`` or ``org_unit_code`` (a unit of the same city; None: no unit)."""
    _check_changes(changes, {"name", "post", "org_unit_code"})
    staff = get_staff(conn, code)
    name = _text(changes["name"], "name") if "name" in changes else staff["name"]
    post = _text(changes["post"], "post", required=False) if "post" in changes else staff["post"]
    unit = staff["org_unit_id"]
    if "org_unit_code" in changes:
        unit_code = _text(changes["org_unit_code"], "org_unit_code", required=False)
        unit = _unit_in_city(conn, unit_code, staff["city_id"], "org_unit_code")[0] if unit_code else None
    conn.execute(
        text("UPDATE staff SET name = :n, post = :p, org_unit_id = :u WHERE id = :i"),
        {"n": name, "p": post, "u": unit, "i": staff["id"]},
    )
    return get_staff(conn, code)


def delete_staff(conn: Connection, code: str) -> None:
    """Delete a staff member and their assignments; Conflict while a login is linked to them."""
    staff = get_staff(conn, code)
    users = conn.scalars(
        text("SELECT username FROM app_user WHERE staff_id = :i ORDER BY username"), {"i": staff["id"]}
    ).all()
    if users:
        raise Conflict(f"staff member {code!r} is linked to the login(s) {', '.join(users)}")
    conn.execute(text("DELETE FROM staff WHERE id = :i"), {"i": staff["id"]})


# ------------------------------------------------------------------------------------------------
# assignments
# ------------------------------------------------------------------------------------------------

_ASSIGNMENT_SELECT = """
SELECT a.id, a.kind, a.valid_from, a.valid_to,
       coalesce(a.cell_id, a.grid_id, a.feature_grid_id, a.customer_id) AS target_id,
       coalesce(x.code, g.code, f.code, u.source_code) AS target_code,
       coalesce(x.name, g.name, f.name, u.name) AS target_name,
       a.staff_id, s.code AS staff_code, s.name AS staff_name, s.post AS staff_post,
       s.city_id, c.code AS city_code,
       coalesce(a.org_unit_id, s.org_unit_id) AS org_unit_id, o.code AS org_unit_code,
       o.name AS org_unit_name, o.kind AS org_unit_kind
FROM assignment a
JOIN staff s ON s.id = a.staff_id
JOIN region c ON c.id = s.city_id
LEFT JOIN org_unit o ON o.id = coalesce(a.org_unit_id, s.org_unit_id)
LEFT JOIN cell x ON x.id = a.cell_id
LEFT JOIN grid g ON g.id = a.grid_id
LEFT JOIN feature_grid f ON f.id = a.feature_grid_id
LEFT JOIN customer u ON u.id = a.customer_id
"""
_IN_FORCE = "a.valid_from <= :on AND (a.valid_to IS NULL OR a.valid_to >= :on)"


def list_assignments(
    conn: Connection,
    *,
    cities: Sequence[int] | None = None,
    staff_code: str | None = None,
    kind: str | None = None,
    on: dt.date | None = None,
) -> list[dict[str, Any]]:
    """Return assignments, filtered by cities, staff member, kind and being in force ``on`` a date.

    ``org_unit_*`` is the assignment's own unit, else the staff member's.
    """
    if kind is not None:
        kind = _kind(kind, ASSIGN_KINDS, "kind")
    sql = (
        _ASSIGNMENT_SELECT
        + " WHERE (CAST(:cities AS integer[]) IS NULL OR s.city_id = ANY(CAST(:cities AS integer[])))"
        " AND (CAST(:staff AS text) IS NULL OR s.code = CAST(:staff AS text))"
        " AND (CAST(:kind AS text) IS NULL OR a.kind = CAST(:kind AS text))"
        " AND (CAST(:on AS date) IS NULL OR (a.valid_from <= CAST(:on AS date)"
        " AND (a.valid_to IS NULL OR a.valid_to >= CAST(:on AS date))))"
        " ORDER BY s.code, a.kind, target_code, a.valid_from"
    )
    params = {"cities": None if cities is None else list(cities), "staff": staff_code, "kind": kind, "on": on}
    return [dict(r) for r in conn.execute(text(sql), params).mappings()]


def get_assignment(conn: Connection, assignment_id: int) -> dict[str, Any]:
    """Return assignment ``assignment_id`` with its staff member, unit and target; NotFound when missing."""
    row = _one(conn, _ASSIGNMENT_SELECT + " WHERE a.id = :i", {"i": assignment_id})
    if row is None:
        raise NotFound(f"no assignment {assignment_id}")
    return row


def resolve_target(conn: Connection, kind: str, code: str, city_id: int) -> int:
    """Return the id of the ``kind`` target with ``code`` in city ``city_id``.

    Cells, grids and characteristic grids go by their code; customers by their source-system code
    (``customer.source_code``) or else their unified code (统一编码; the oldest record carrying it).
    ValidationFailed (field ``target_code``) when there is none or it is in another city.
    """
    kind = _kind(kind, ASSIGN_KINDS, "kind")
    label = "characteristic grid" if kind == "feature_grid" else kind
    if kind == "customer":
        row = _one(
            conn,
            "SELECT id, city_id FROM customer"
            " WHERE city_id = :city AND (source_code = :c OR unified_code = :c)"
            " ORDER BY (source_code = :c) DESC, id LIMIT 1",
            {"c": code, "city": city_id},
        )
        if row is None:
            raise ValidationFailed(f"no customer {code!r} in {_city_name(conn, city_id)}", "target_code")
        return int(row["id"])
    table = _TARGET_TABLE[kind]
    row = _one(conn, "SELECT id, city_id FROM " + table + " WHERE code = :c", {"c": code})  # noqa: S608
    if row is None:
        raise ValidationFailed(f"no {label} {code!r}", "target_code")
    if row["city_id"] != city_id:
        raise ValidationFailed(
            f"{label} {code!r} is not in the staff member's city ({_city_name(conn, city_id)})", "target_code"
        )
    return int(row["id"])


def _target_columns(kind: str, target: int) -> dict[str, int | None]:
    cols: dict[str, int | None] = {"cell": None, "grid": None, "feature_grid": None, "customer": None}
    cols[kind] = target
    return cols


def _key_exists(
    conn: Connection, staff_id: int, kind: str, target: int, valid_from: dt.date, other_than: int | None
) -> bool:
    return bool(
        conn.scalar(
            text(
                "SELECT 1 FROM assignment WHERE staff_id = :s AND kind = :k AND valid_from = :f"
                " AND coalesce(cell_id, grid_id, feature_grid_id, customer_id) = :t"
                " AND id IS DISTINCT FROM :other"
            ),
            {"s": staff_id, "k": kind, "f": valid_from, "t": target, "other": other_than},
        )
    )


def create_assignment(
    conn: Connection,
    *,
    staff_code: str,
    kind: str,
    target_code: str,
    valid_from: dt.date,
    valid_to: dt.date | None = None,
    org_unit_code: str | None = None,
) -> dict[str, Any]:
    """Assign a cell, grid, characteristic grid or customer to a staff member from ``valid_from``.

    ``org_unit_code`` (the team acting, e.g. a specialist team for a characteristic grid) defaults
    to the staff member's unit. Conflict when the same (staff, kind, target, valid_from) exists.
    """
    scode = _text(staff_code, "staff_code") or ""
    staff = _one(conn, "SELECT id, city_id, org_unit_id FROM staff WHERE code = :c", {"c": scode})
    if staff is None:
        raise ValidationFailed(f"no staff member {scode!r}", "staff_code")
    kind_ = _kind(kind, ASSIGN_KINDS, "kind")
    target = resolve_target(conn, kind_, _text(target_code, "target_code") or "", staff["city_id"])
    vf = _date(valid_from, "valid_from")
    vt = _date(valid_to, "valid_to", required=False)
    if vt is not None and vf is not None and vt < vf:
        raise ValidationFailed("valid_to is before valid_from", "valid_to")
    unit = staff["org_unit_id"]
    unit_code = _text(org_unit_code, "org_unit_code", required=False)
    if unit_code is not None:
        unit = _unit_in_city(conn, unit_code, staff["city_id"], "org_unit_code")[0]
    assert vf is not None
    if _key_exists(conn, staff["id"], kind_, target, vf, None):
        raise Conflict(f"{scode} already has this {kind_} from {vf.isoformat()}")
    t = _target_columns(kind_, target)
    new_id = conn.scalar(
        text(
            "INSERT INTO assignment (staff_id, org_unit_id, kind, cell_id, grid_id, feature_grid_id,"
            " customer_id, valid_from, valid_to) VALUES (:s, :u, :k, :cell, :grid, :feature_grid,"
            " :customer, :f, :t) RETURNING id"
        ),
        {"s": staff["id"], "u": unit, "k": kind_, "f": vf, "t": vt, **t},
    )
    return get_assignment(conn, int(new_id))


def update_assignment(conn: Connection, assignment_id: int, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Change ``valid_from``, ``valid_to`` (None: open-ended; a date ends it) or ``org_unit_code``."""
    _check_changes(changes, {"valid_from", "valid_to", "org_unit_code"})
    a = get_assignment(conn, assignment_id)
    vf = a["valid_from"]
    if "valid_from" in changes:
        vf = _date(changes["valid_from"], "valid_from")
    assert isinstance(vf, dt.date)
    vt = _date(changes["valid_to"], "valid_to", required=False) if "valid_to" in changes else a["valid_to"]
    if vt is not None and vt < vf:
        raise ValidationFailed("valid_to is before valid_from", "valid_to")
    raw_unit = conn.scalar(text("SELECT org_unit_id FROM assignment WHERE id = :i"), {"i": assignment_id})
    unit = raw_unit
    if "org_unit_code" in changes:
        unit_code = _text(changes["org_unit_code"], "org_unit_code", required=False)
        unit = _unit_in_city(conn, unit_code, a["city_id"], "org_unit_code")[0] if unit_code else None
    if vf != a["valid_from"] and _key_exists(conn, a["staff_id"], a["kind"], a["target_id"], vf, a["id"]):
        raise Conflict(f"{a['staff_code']} already has this {a['kind']} from {vf.isoformat()}")
    conn.execute(
        text("UPDATE assignment SET valid_from = :f, valid_to = :t, org_unit_id = :u WHERE id = :i"),
        {"f": vf, "t": vt, "u": unit, "i": assignment_id},
    )
    return get_assignment(conn, assignment_id)


def delete_assignment(conn: Connection, assignment_id: int) -> None:
    """Delete an assignment (to end one and keep its history, set ``valid_to`` instead)."""
    if conn.execute(text("DELETE FROM assignment WHERE id = :i"), {"i": assignment_id}).rowcount == 0:
        raise NotFound(f"no assignment {assignment_id}")


def assignments_in_force(conn: Connection, staff_id: int, on: dt.date) -> list[dict[str, Any]]:
    """Return the staff member's assignments in force on ``on`` (valid_from ≤ on ≤ valid_to, or open).

    Each has ``kind``, ``target_id``, ``target_code``, ``target_name``, the validity and the unit;
    this is what a login's scope follows from (CONTRACT.md "Roles and scope").
    """
    sql = _ASSIGNMENT_SELECT + " WHERE a.staff_id = :s AND " + _IN_FORCE + " ORDER BY a.kind, target_code"
    return [dict(r) for r in conn.execute(text(sql), {"s": staff_id, "on": on}).mappings()]


_RESPONSIBLE_SQL = """
WITH c AS (SELECT id, grid_id FROM cell WHERE id = :cell)
SELECT a.id AS assignment_id, a.kind AS via, a.valid_from, a.valid_to,
       s.id AS staff_id, s.code AS staff_code, s.name, s.post,
       o.code AS org_unit_code, o.name AS org_unit_name, o.kind AS org_unit_kind,
       coalesce(x.code, g.code, f.code) AS target_code, coalesce(x.name, g.name, f.name) AS target_name
FROM c
JOIN assignment a ON (a.kind = 'cell' AND a.cell_id = c.id)
    OR (a.kind = 'grid' AND a.grid_id = c.grid_id)
    OR (a.kind = 'feature_grid' AND a.feature_grid_id IN
        (SELECT feature_grid_id FROM feature_grid_cell WHERE cell_id = c.id))
JOIN staff s ON s.id = a.staff_id
LEFT JOIN org_unit o ON o.id = coalesce(a.org_unit_id, s.org_unit_id)
LEFT JOIN cell x ON x.id = a.cell_id
LEFT JOIN grid g ON g.id = a.grid_id
LEFT JOIN feature_grid f ON f.id = a.feature_grid_id
WHERE a.valid_from <= :on AND (a.valid_to IS NULL OR a.valid_to >= :on)
ORDER BY CASE a.kind WHEN 'cell' THEN 0 WHEN 'grid' THEN 1 ELSE 2 END, target_code, s.code
"""


def responsible_for_cell(conn: Connection, cell_id: int, on: dt.date) -> dict[str, Any]:
    """Who answers for a cell on a date, on both axes of the matrix.

    Returns ``{"cell": {...}, "regional": [...], "specialist": [...]}``: ``regional`` holds the
    account managers of the cell (``via`` ``"cell"``) and the grid manager(s) of its grid (``via``
    ``"grid"``); ``specialist`` the specialist teams and their leads whose characteristic grids
    have the cell as a member cell (``via`` ``"feature_grid"``, with the characteristic grid's code
    and name as ``target_*``). Each entry: ``staff_id``, ``staff_code``, ``name``, ``post``,
    ``org_unit_code``, ``org_unit_name``, ``org_unit_kind``, validity and the assignment id.
    NotFound when the cell does not exist.
    """
    cell = _one(
        conn,
        "SELECT x.id, x.code, x.name, x.type, x.city_id, x.district_id, d.name AS district_name,"
        " x.grid_id, g.code AS grid_code, g.name AS grid_name FROM cell x JOIN grid g ON g.id = x.grid_id"
        " JOIN region d ON d.id = x.district_id WHERE x.id = :i",
        {"i": cell_id},
    )
    if cell is None:
        raise NotFound(f"no cell {cell_id}")
    rows = [dict(r) for r in conn.execute(text(_RESPONSIBLE_SQL), {"cell": cell_id, "on": on}).mappings()]
    return {
        "cell": cell,
        "regional": [r for r in rows if r["via"] in ("cell", "grid")],
        "specialist": [r for r in rows if r["via"] == "feature_grid"],
    }


# ------------------------------------------------------------------------------------------------
# the people of an area above the cell (grid, district, city, characteristic grid)
# ------------------------------------------------------------------------------------------------

AREA_LEVELS = ("cell", "grid", "district", "city", "feature_grid")
"""The levels :func:`responsible_for_area` answers for."""
CODES_PER_PERSON = 20
"""At most this many cell / grid codes are listed per person (the counts are exact)."""
HEAD_POST = r"(主任|负责人|团队长|部经理|总经理)$|\m(head|director|chief)\M"
"""A post matching this (case-insensitive) marks the head of the staff member's org unit."""
_HEAD_ROLE = {"regional_centre": "regional_head", "city_dept": "city_manager"}
"""A login of this role linked to a staff member of the unit marks a head too."""

_AREA_OF = {
    "cell": "SELECT x.id, x.code, x.name, x.city_id, x.district_id FROM cell x WHERE x.code = :code",
    "grid": "SELECT x.id, x.code, x.name, x.city_id, x.district_id FROM grid x WHERE x.code = :code",
    "district": "SELECT x.id, x.code, x.name, x.city_id, x.id AS district_id FROM region x"
    " WHERE x.code = :code AND x.level = 'district'",
    "city": "SELECT x.id, x.code, x.name, x.id AS city_id, NULL::integer AS district_id FROM region x"
    " WHERE x.code = :code AND x.level = 'city'",
    "feature_grid": "SELECT x.id, x.code, x.name, x.city_id, NULL::integer AS district_id"
    " FROM feature_grid x WHERE x.code = :code",
}
_CELLS_OF = {
    "cell": "c.id = :area_id",
    "grid": "c.grid_id = :area_id",
    "district": "c.district_id = :area_id",
    "city": "c.city_id = :area_id",
    "feature_grid": "EXISTS (SELECT 1 FROM feature_grid_cell m WHERE m.feature_grid_id = :area_id"
    " AND m.cell_id = c.id)",
}

_COUNT_SQL = "SELECT count(*), count(*) FILTER (WHERE {{cell_scope}}) FROM cell c WHERE {{cells}}"

# {{cells}} below: the area's cells the caller may read (the level's cells AND the scope)

# coverage per district of the area and for the whole area (grouping set ()); distinct people.
# Cells are first summed per (district, grid) so that the distinct counts sort a few rows only.
_COVERAGE_SQL = """
WITH area AS MATERIALIZED (
    SELECT c.id, c.grid_id, c.district_id FROM cell c WHERE {{cells}}
), am AS MATERIALIZED (
    SELECT DISTINCT area.district_id, a.cell_id, a.staff_id
    FROM assignment a JOIN area ON area.id = a.cell_id
    WHERE a.kind = 'cell' AND a.valid_from <= :on AND (a.valid_to IS NULL OR a.valid_to >= :on)
), dg AS MATERIALIZED (
    SELECT area.district_id, area.grid_id, count(*) AS cells,
           count(*) FILTER (WHERE area.id IN (SELECT cell_id FROM am)) AS cells_am
    FROM area GROUP BY area.district_id, area.grid_id
), gm AS MATERIALIZED (
    SELECT DISTINCT dg.district_id, a.grid_id, a.staff_id
    FROM assignment a JOIN dg ON dg.grid_id = a.grid_id
    WHERE a.kind = 'grid' AND a.valid_from <= :on AND (a.valid_to IS NULL OR a.valid_to >= :on)
), cov AS (
    SELECT dg.district_id, grouping(dg.district_id) AS total, sum(dg.cells)::bigint AS cells,
           sum(dg.cells_am)::bigint AS cells_with_account_manager,
           count(DISTINCT dg.grid_id) AS grids,
           count(DISTINCT dg.grid_id) FILTER (WHERE dg.grid_id IN (SELECT grid_id FROM gm))
               AS grids_with_grid_manager
    FROM dg GROUP BY GROUPING SETS ((dg.district_id), ())
), pa AS (
    SELECT x.district_id, grouping(x.district_id) AS total, count(DISTINCT x.staff_id) AS n
    FROM (SELECT DISTINCT district_id, staff_id FROM am) x GROUP BY GROUPING SETS ((x.district_id), ())
), pg AS (
    SELECT x.district_id, grouping(x.district_id) AS total, count(DISTINCT x.staff_id) AS n
    FROM (SELECT DISTINCT district_id, staff_id FROM gm) x GROUP BY GROUPING SETS ((x.district_id), ())
)
SELECT cov.total = 1 AS total, cov.district_id, d.code AS district_code, d.name AS district_name,
       coalesce(cov.cells, 0) AS cells,
       coalesce(cov.cells_with_account_manager, 0) AS cells_with_account_manager,
       cov.grids, cov.grids_with_grid_manager,
       coalesce(pa.n, 0) AS account_managers, coalesce(pg.n, 0) AS grid_managers
FROM cov
LEFT JOIN pa ON pa.total = cov.total AND pa.district_id IS NOT DISTINCT FROM cov.district_id
LEFT JOIN pg ON pg.total = cov.total AND pg.district_id IS NOT DISTINCT FROM cov.district_id
LEFT JOIN region d ON d.id = cov.district_id
ORDER BY cov.total DESC, d.code
"""

# the grid managers (via grid) and account managers (via cell) of the area's cells, one row per
# person and unit (the assignment's, else the person's), the first :lim of each by what they hold.
# Counting and ranking use integer keys only (hash aggregates); the codes are looked up for those
# :lim people only, through the index on assignment (staff_id, kind). Codes sort bytewise
# (COLLATE "C"; they are ASCII).
_REGIONAL_PEOPLE_SQL = """
WITH area AS MATERIALIZED (
    SELECT c.id, c.grid_id FROM cell c WHERE {{cells}}
), gc AS MATERIALIZED (
    SELECT grid_id, count(*) AS cells FROM area GROUP BY grid_id
), d AS (
    SELECT 1 AS via, a.staff_id, coalesce(a.org_unit_id, s.org_unit_id, 0) AS unit_id, a.cell_id AS item,
           1 AS cells, min(a.valid_from) AS valid_from, bool_or(a.valid_to IS NULL) AS open,
           max(a.valid_to) AS valid_to
    FROM assignment a JOIN area ON area.id = a.cell_id JOIN staff s ON s.id = a.staff_id
    WHERE a.kind = 'cell' AND a.valid_from <= :on AND (a.valid_to IS NULL OR a.valid_to >= :on)
    GROUP BY 1, 2, 3, 4
    UNION ALL
    SELECT 0, a.staff_id, coalesce(a.org_unit_id, s.org_unit_id, 0), a.grid_id, min(gc.cells),
           min(a.valid_from), bool_or(a.valid_to IS NULL), max(a.valid_to)
    FROM assignment a JOIN gc ON gc.grid_id = a.grid_id JOIN staff s ON s.id = a.staff_id
    WHERE a.kind = 'grid' AND a.valid_from <= :on AND (a.valid_to IS NULL OR a.valid_to >= :on)
    GROUP BY 1, 2, 3, 4
), agg AS (
    SELECT via, staff_id, unit_id, count(*) AS items, sum(cells)::bigint AS cells,
           min(valid_from) AS valid_from, bool_or(open) AS open, max(valid_to) AS valid_to
    FROM d GROUP BY via, staff_id, unit_id
), top AS (
    SELECT * FROM (
        SELECT agg.*, s.code AS staff_code, s.name, s.post,
               row_number() OVER (PARTITION BY agg.via ORDER BY agg.items DESC, agg.cells DESC,
                                  s.code COLLATE "C", agg.unit_id) AS n
        FROM agg JOIN staff s ON s.id = agg.staff_id
    ) r WHERE r.n <= :lim
), held AS (
    SELECT top.via, top.n, c.code AS cell_code, g.code AS grid_code
    FROM top
    JOIN staff s ON s.id = top.staff_id
    JOIN assignment a ON a.staff_id = top.staff_id
         AND a.kind = CASE top.via WHEN 0 THEN 'grid' ELSE 'cell' END
         AND coalesce(a.org_unit_id, s.org_unit_id, 0) = top.unit_id
         AND a.valid_from <= :on AND (a.valid_to IS NULL OR a.valid_to >= :on)
    JOIN cell c ON c.id = a.cell_id OR c.grid_id = a.grid_id
    JOIN grid g ON g.id = c.grid_id
    WHERE {{cells}}
), codes AS (
    SELECT via, n, count(DISTINCT grid_code) AS grids,
           (array_agg(DISTINCT cell_code COLLATE "C" ORDER BY cell_code COLLATE "C"))
               [1:CAST(:codes AS integer)] AS cell_codes,
           (array_agg(DISTINCT grid_code COLLATE "C" ORDER BY grid_code COLLATE "C"))
               [1:CAST(:codes AS integer)] AS grid_codes
    FROM held GROUP BY via, n
)
SELECT CASE top.via WHEN 0 THEN 'grid' ELSE 'cell' END AS via, top.staff_code, top.name, top.post,
       o.code AS org_unit_code, o.name AS org_unit_name, o.kind AS org_unit_kind, top.valid_from,
       CASE WHEN top.open THEN NULL ELSE top.valid_to END AS valid_to,
       codes.grids, codes.grid_codes, top.cells, codes.cell_codes
FROM top
JOIN codes ON codes.via = top.via AND codes.n = top.n
LEFT JOIN org_unit o ON o.id = top.unit_id
ORDER BY top.via, top.n
"""

# the characteristic grids with member cells in the area (and :extra_fg / those of :extra_city),
# each with the people holding it on :on; staff_cells: the distinct member cells in the area
# of all the person's characteristic grids
_SPECIALIST_SQL = """
WITH area AS MATERIALIZED (
    SELECT c.id, c.code, c.grid_id, g.code AS grid_code, c.district_id
    FROM cell c JOIN grid g ON g.id = c.grid_id
    WHERE {{cells}}
), fm AS (
    SELECT fc.feature_grid_id, count(*) AS cells
    FROM feature_grid_cell fc JOIN area ON area.id = fc.cell_id GROUP BY fc.feature_grid_id
), fg AS (
    SELECT f.id, f.code, f.name, f.type, coalesce(fm.cells, 0) AS cells
    FROM feature_grid f LEFT JOIN fm ON fm.feature_grid_id = f.id
    WHERE fm.feature_grid_id IS NOT NULL OR f.id = CAST(:extra_fg AS integer)
       OR f.city_id = CAST(:extra_city AS integer)
), held AS (
    SELECT a.* FROM assignment a JOIN fg ON fg.id = a.feature_grid_id
    WHERE a.kind = 'feature_grid' AND a.valid_from <= :on
      AND (a.valid_to IS NULL OR a.valid_to >= :on)
), sc AS (
    SELECT held.staff_id, count(DISTINCT area.id) AS cells
    FROM held JOIN feature_grid_cell fc ON fc.feature_grid_id = held.feature_grid_id
    JOIN area ON area.id = fc.cell_id GROUP BY held.staff_id
)
SELECT fg.code AS fg_code, fg.name AS fg_name, fg.type AS fg_type, fg.cells AS fg_cells,
       s.code AS staff_code, s.name, s.post, o.code AS org_unit_code, o.name AS org_unit_name,
       o.kind AS org_unit_kind, pu.code AS parent_unit_code, pu.name AS parent_unit_name,
       held.valid_from, held.valid_to, coalesce(sc.cells, 0) AS staff_cells
FROM fg
LEFT JOIN held ON held.feature_grid_id = fg.id
LEFT JOIN staff s ON s.id = held.staff_id
LEFT JOIN org_unit o ON o.id = coalesce(held.org_unit_id, s.org_unit_id)
LEFT JOIN org_unit pu ON pu.id = o.parent_id
LEFT JOIN sc ON sc.staff_id = held.staff_id
ORDER BY fg.code, s.code, o.code
"""

# regional centres of the area's districts (and the city's 政企部 for a city) with their heads;
# the post pattern is matched once per distinct post (a centre has hundreds of 客户经理)
_UNITS_SQL = """
WITH u AS (
    SELECT o.* FROM org_unit o
    WHERE (o.kind = 'regional_centre' AND o.district_id = ANY(CAST(:districts AS integer[])))
       OR (o.kind = 'city_dept' AND o.city_id = CAST(:dept_city AS integer))
), st AS MATERIALIZED (
    SELECT s.id, s.code, s.name, s.post, s.org_unit_id FROM staff s WHERE s.org_unit_id IN (SELECT id FROM u)
), head_post AS (
    SELECT p.post FROM (SELECT DISTINCT post FROM st) p WHERE p.post ~* :head_post
), head_login AS (
    SELECT l.staff_id, l.role FROM app_user l WHERE NOT l.disabled AND l.staff_id IN (SELECT id FROM st)
), h AS (
    SELECT st.org_unit_id,
           json_agg(json_build_object('staff_code', st.code, 'name', st.name, 'post', st.post)
                    ORDER BY st.code) AS heads
    FROM st JOIN u ON u.id = st.org_unit_id
    WHERE st.post IN (SELECT post FROM head_post)
       OR (st.id, CASE u.kind WHEN 'regional_centre' THEN :rc_role WHEN 'city_dept' THEN :cd_role END)
          IN (SELECT staff_id, role FROM head_login)
    GROUP BY st.org_unit_id
), n AS (
    SELECT org_unit_id, count(*) AS staff_count FROM st GROUP BY org_unit_id
)
SELECT u.code AS org_unit_code, u.name AS org_unit_name, u.kind AS org_unit_kind,
       d.code AS district_code, d.name AS district_name,
       pu.code AS parent_unit_code, pu.name AS parent_unit_name,
       coalesce(h.heads, '[]'::json) AS heads, coalesce(n.staff_count, 0) AS staff_count
FROM u
LEFT JOIN region d ON d.id = u.district_id
LEFT JOIN org_unit pu ON pu.id = u.parent_id
LEFT JOIN h ON h.org_unit_id = u.id
LEFT JOIN n ON n.org_unit_id = u.id
ORDER BY CASE u.kind WHEN 'city_dept' THEN 0 ELSE 1 END, d.code, u.code
"""


def _readable_area(conn: Connection, scope: Scope, level: str, area: dict[str, Any]) -> tuple[str, bool]:
    """The caller's part of the area as a condition on cell ``c``, and whether it is only a part.

    The rule of the area's metrics: an area is readable when it holds a cell the caller may read
    (``Scope.cell_sql``; a cell as the cell card opens it, ``Scope.check_cell``), and the caller
    sees the people of those cells. A characteristic grid is readable too by the city-wide roles
    and specialist leads of its city and by whoever holds it, member cells or not. Forbidden else.
    """
    cells = _CELLS_OF[level]
    if level == "cell":
        scope.check_cell(conn, int(area["id"]))
        return cells, False
    cond, params = scope.cell_sql("c")
    sql = sqlfiles.with_scope(_COUNT_SQL, cell_scope=cond, cells=cells)
    n_all, n_in = conn.execute(text(sql), {**params, "area_id": area["id"]}).one()
    ok = n_in > 0
    if level == "feature_grid" and not ok:
        ok = (
            scope.everything
            or int(area["id"]) in scope.feature_grids
            or (
                (scope.role in CITY_WIDE or scope.role == "specialist_lead")
                and scope.allows_city(int(area["city_id"]))
            )
        )
    if not ok:
        raise Forbidden(f"{level.replace('_', ' ')} {area['code']!r} is outside your scope")
    return "(" + cells + ") AND (" + cond + ")", n_in < n_all


def responsible_for_area(
    conn: Connection, scope: Scope, level: str, code: str, *, limit: int = 50
) -> dict[str, Any]:
    """Who answers for an area (cell, grid, district, city, characteristic grid) on ``scope.on``.

    Counted over the area's cells the caller may read (``partial`` when that is not all of them),
    with the assignments in force on ``scope.on``:

    * ``regional`` (区局营销中心 side): ``units``: the regional centres of the area's districts
      (and the city's 政企部 for a city) with their ``heads`` (staff of the unit whose post matches
      :data:`HEAD_POST` or whose login has the unit's head role); ``districts``: per district of
      the area the cells, grids and people counts; ``grid_managers`` (``via`` grid) and
      ``account_managers`` (``via`` cell): per person the grids / cells they hold in the area
      (counts, and up to :data:`CODES_PER_PERSON` codes), the first ``limit`` by what they hold;
    * ``specialist`` (专业营销中心 side): ``people``: per person holding a characteristic grid with
      member cells in the area (for a characteristic grid: itself; for a whole city: every one of
      the city) the grids concerned and the member cells in the area; ``feature_grids``: those
      grids with their member cells in the area and their holders;
    * ``coverage``: cells and how many have an account manager, grids and how many have a grid
      manager, people counts, characteristic grids and how many have a holder.

    NotFound for an unknown area, Forbidden for one outside the caller's scope, ValidationFailed
    for an unknown level or a limit outside 1..500.
    """
    if level not in AREA_LEVELS:
        raise ValidationFailed(f"level is one of {', '.join(AREA_LEVELS)}", "level")
    if not 1 <= limit <= 500:
        raise ValidationFailed("limit is 1 to 500", "limit")
    area = _one(conn, _AREA_OF[level], {"code": code})
    if area is None:
        raise NotFound(f"no {level.replace('_', ' ')} {code!r}")
    cells, partial = _readable_area(conn, scope, level, area)
    _, scope_params = scope.cell_sql("c")
    on = scope.on
    params: dict[str, Any] = {**scope_params, "area_id": area["id"], "on": on}

    cov_rows = [
        dict(r)
        for r in conn.execute(text(sqlfiles.with_scope(_COVERAGE_SQL, cells=cells)), params).mappings()
    ]
    total = next((r for r in cov_rows if r["total"]), None)
    districts = [r for r in cov_rows if not r["total"]]
    people = [
        dict(r)
        for r in conn.execute(
            text(sqlfiles.with_scope(_REGIONAL_PEOPLE_SQL, cells=cells)),
            {**params, "codes": CODES_PER_PERSON, "lim": limit},
        ).mappings()
    ]
    spec_rows = [
        dict(r)
        for r in conn.execute(
            text(sqlfiles.with_scope(_SPECIALIST_SQL, cells=cells)),
            {
                **params,
                "extra_fg": area["id"] if level == "feature_grid" else None,
                "extra_city": area["id"] if level == "city" and not partial else None,
            },
        ).mappings()
    ]
    units = [
        dict(r)
        for r in conn.execute(
            text(_UNITS_SQL),
            {
                "districts": [int(d["district_id"]) for d in districts],
                "dept_city": area["id"] if level == "city" else None,
                "head_post": HEAD_POST,
                "rc_role": _HEAD_ROLE["regional_centre"],
                "cd_role": _HEAD_ROLE["city_dept"],
            },
        ).mappings()
    ]
    centres: dict[str, list[str]] = {}
    for u in units:
        if u["org_unit_kind"] == "regional_centre":
            centres.setdefault(u["district_code"], []).append(u["org_unit_code"])
    district_rows = [
        {
            "district_code": d["district_code"],
            "district_name": d["district_name"],
            "regional_centres": centres.get(d["district_code"], []),
            **{k: d[k] for k in _COUNTS},
        }
        for d in districts
    ]

    feature_grids: dict[str, dict[str, Any]] = {}
    spec_people: dict[tuple[str, str | None], dict[str, Any]] = {}
    for r in spec_rows:
        fg = feature_grids.setdefault(
            r["fg_code"],
            {
                "code": r["fg_code"],
                "name": r["fg_name"],
                "type": r["fg_type"],
                "cells": r["fg_cells"],
                "holders": [],
            },
        )
        if r["staff_code"] is None:
            continue
        fg["holders"].append({k: r[k] for k in ("staff_code", "name", "org_unit_code", "org_unit_name")})
        person = spec_people.setdefault(
            (r["staff_code"], r["org_unit_code"]),
            {
                **{k: r[k] for k in _PERSON_KEYS},
                "parent_unit_code": r["parent_unit_code"],
                "parent_unit_name": r["parent_unit_name"],
                "via": "feature_grid",
                "valid_from": r["valid_from"],
                "valid_to": r["valid_to"],
                "cells": r["staff_cells"],
                "feature_grids": [],
            },
        )
        person["valid_from"] = min(person["valid_from"], r["valid_from"])
        if person["valid_to"] is not None:
            person["valid_to"] = None if r["valid_to"] is None else max(person["valid_to"], r["valid_to"])
        if not any(f["code"] == r["fg_code"] for f in person["feature_grids"]):
            person["feature_grids"].append(
                {"code": r["fg_code"], "name": r["fg_name"], "type": r["fg_type"], "cells": r["fg_cells"]}
            )
    spec_list = sorted(spec_people.values(), key=lambda p: (-p["cells"], p["staff_code"]))

    none = dict.fromkeys(_COUNTS, 0)
    coverage = {
        **{k: (total or none)[k] for k in _COUNTS},
        "districts": len(districts),
        "districts_with_regional_centre": sum(1 for d in district_rows if d["regional_centres"]),
        "feature_grids": len(feature_grids),
        "feature_grids_with_holder": sum(1 for f in feature_grids.values() if f["holders"]),
        "specialists": len({p["staff_code"] for p in spec_list}),
    }
    area_out = _area_names(conn, level, area)
    return {
        "level": level,
        "area": area_out,
        "on": on,
        "partial": partial,
        "coverage": coverage,
        "regional": {
            "units": units,
            "districts": district_rows,
            "grid_managers": [_person(p) for p in people if p["via"] == "grid"],
            "account_managers": [_person(p) for p in people if p["via"] == "cell"],
        },
        "specialist": {"people": spec_list[:limit], "feature_grids": list(feature_grids.values())},
    }


_COUNTS = (
    "cells",
    "cells_with_account_manager",
    "grids",
    "grids_with_grid_manager",
    "account_managers",
    "grid_managers",
)
_PERSON_KEYS = ("staff_code", "name", "post", "org_unit_code", "org_unit_name", "org_unit_kind")


def _person(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **{k: row[k] for k in _PERSON_KEYS},
        "via": row["via"],
        "valid_from": row["valid_from"],
        "valid_to": row["valid_to"],
        "grids": row["grids"],
        "grid_codes": list(row["grid_codes"] or []),
        "cells": row["cells"],
        "cell_codes": list(row["cell_codes"] or []),
    }


def _area_names(conn: Connection, level: str, area: dict[str, Any]) -> dict[str, Any]:
    row = _one(
        conn,
        "SELECT ci.code AS city_code, ci.name AS city_name, d.code AS district_code, d.name AS district_name"
        " FROM region ci LEFT JOIN region d ON d.id = CAST(:d AS integer) WHERE ci.id = :c",
        {"c": area["city_id"], "d": area["district_id"]},
    )
    return {"level": level, "code": area["code"], "name": area["name"], **(row or {})}


# ------------------------------------------------------------------------------------------------
# bulk upserts (the importer and the demo)
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrgUnitRow:
    """An org unit to insert or update by ``code``; ``parent_code`` may name a unit of the same batch."""

    code: str
    name: str
    kind: str
    city_id: int
    district_id: int | None = None
    parent_code: str | None = None


@dataclass(frozen=True)
class StaffRow:
    """A staff member to insert or update by ``code``."""

    code: str
    name: str
    post: str | None
    org_unit_code: str | None
    city_id: int


@dataclass(frozen=True)
class AssignmentRow:
    """An assignment to insert or update by its key (staff, kind, target, valid_from)."""

    staff_code: str
    kind: str
    target_id: int
    valid_from: dt.date
    valid_to: dt.date | None = None
    org_unit_code: str | None = None


def upsert_org_units(conn: Connection, rows: Sequence[OrgUnitRow]) -> dict[str, int]:
    """Insert or update org units by code (validated by the caller; city never changes).

    Units whose values are unchanged are not touched. Returns ``inserted`` and ``updated`` counts.
    """
    if not rows:
        return {"inserted": 0, "updated": 0}
    res = conn.execute(
        text(
            "INSERT INTO org_unit (code, name, kind, city_id, district_id)"
            " SELECT * FROM unnest(CAST(:code AS text[]), CAST(:name AS text[]), CAST(:kind AS text[]),"
            " CAST(:city AS integer[]), CAST(:district AS integer[]))"
            " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,"
            " district_id = EXCLUDED.district_id"
            " WHERE (org_unit.name, org_unit.kind, org_unit.district_id)"
            " IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.kind, EXCLUDED.district_id)"
            " RETURNING code, (xmax = 0) AS inserted"
        ),
        {
            "code": [r.code for r in rows],
            "name": [r.name for r in rows],
            "kind": [r.kind for r in rows],
            "city": [r.city_id for r in rows],
            "district": [r.district_id for r in rows],
        },
    ).all()
    inserted = {c for c, ins in res if ins}
    updated = {c for c, ins in res if not ins}
    moved = conn.scalars(
        text(
            "UPDATE org_unit o SET parent_id = p.id"
            " FROM unnest(CAST(:code AS text[]), CAST(:parent AS text[])) AS s(code, parent)"
            " LEFT JOIN org_unit p ON p.code = s.parent"
            " WHERE o.code = s.code AND o.parent_id IS DISTINCT FROM p.id RETURNING o.code"
        ),
        {"code": [r.code for r in rows], "parent": [r.parent_code for r in rows]},
    ).all()
    updated |= set(moved) - inserted
    return {"inserted": len(inserted), "updated": len(updated)}


def upsert_staff(conn: Connection, rows: Sequence[StaffRow]) -> dict[str, int]:
    """Insert or update staff by code (validated by the caller); unchanged rows are not touched."""
    if not rows:
        return {"inserted": 0, "updated": 0}
    res = conn.execute(
        text(
            "INSERT INTO staff (code, name, post, org_unit_id, city_id)"
            " SELECT s.code, s.name, s.post, o.id, s.city"
            " FROM unnest(CAST(:code AS text[]), CAST(:name AS text[]), CAST(:post AS text[]),"
            " CAST(:unit AS text[]), CAST(:city AS integer[])) AS s(code, name, post, unit, city)"
            " LEFT JOIN org_unit o ON o.code = s.unit"
            " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, post = EXCLUDED.post,"
            " org_unit_id = EXCLUDED.org_unit_id, city_id = EXCLUDED.city_id"
            " WHERE (staff.name, staff.post, staff.org_unit_id, staff.city_id)"
            " IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.post, EXCLUDED.org_unit_id, EXCLUDED.city_id)"
            " RETURNING (xmax = 0) AS inserted"
        ),
        {
            "code": [r.code for r in rows],
            "name": [r.name for r in rows],
            "post": [r.post for r in rows],
            "unit": [r.org_unit_code for r in rows],
            "city": [r.city_id for r in rows],
        },
    ).all()
    ins = sum(1 for (i,) in res if i)
    return {"inserted": ins, "updated": len(res) - ins}


_UPSERT_ASSIGNMENTS = """
WITH src AS (
    SELECT DISTINCT ON (st.id, s.kind, s.target, s.valid_from)
           st.id AS staff_id, o.id AS org_unit_id, s.kind, s.target, s.valid_from, s.valid_to
    FROM unnest(CAST(:staff AS text[]), CAST(:kind AS text[]), CAST(:target AS bigint[]),
                CAST(:vf AS date[]), CAST(:vt AS date[]), CAST(:unit AS text[]))
         AS s(staff, kind, target, valid_from, valid_to, unit)
    JOIN staff st ON st.code = s.staff
    LEFT JOIN org_unit o ON o.code = s.unit
    ORDER BY st.id, s.kind, s.target, s.valid_from
), upd AS (
    UPDATE assignment a SET valid_to = src.valid_to, org_unit_id = src.org_unit_id
    FROM src
    WHERE a.staff_id = src.staff_id AND a.kind = src.kind AND a.valid_from = src.valid_from
      AND coalesce(a.cell_id, a.grid_id, a.feature_grid_id, a.customer_id) = src.target
      AND (a.valid_to, a.org_unit_id) IS DISTINCT FROM (src.valid_to, src.org_unit_id)
    RETURNING a.id
), ins AS (
    INSERT INTO assignment (staff_id, org_unit_id, kind, cell_id, grid_id, feature_grid_id, customer_id,
                            valid_from, valid_to)
    SELECT src.staff_id, src.org_unit_id, src.kind,
           CASE WHEN src.kind = 'cell' THEN src.target END,
           CASE WHEN src.kind = 'grid' THEN src.target END,
           CASE WHEN src.kind = 'feature_grid' THEN src.target END,
           CASE WHEN src.kind = 'customer' THEN src.target END,
           src.valid_from, src.valid_to
    FROM src
    WHERE NOT EXISTS (
        SELECT 1 FROM assignment a
        WHERE a.staff_id = src.staff_id AND a.kind = src.kind AND a.valid_from = src.valid_from
          AND coalesce(a.cell_id, a.grid_id, a.feature_grid_id, a.customer_id) = src.target)
    RETURNING id
)
SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM upd)
"""


def upsert_assignments(conn: Connection, rows: Sequence[AssignmentRow]) -> dict[str, int]:
    """Insert or update assignments by (staff, kind, target, valid_from); staff must exist already.

    ``valid_to`` and the unit of an existing assignment are set to the given values (the batch is
    the truth for the assignments it names); unchanged rows are not touched.
    """
    if not rows:
        return {"inserted": 0, "updated": 0}
    ins, upd = conn.execute(
        text(_UPSERT_ASSIGNMENTS),
        {
            "staff": [r.staff_code for r in rows],
            "kind": [r.kind for r in rows],
            "target": [r.target_id for r in rows],
            "vf": [r.valid_from for r in rows],
            "vt": [r.valid_to for r in rows],
            "unit": [r.org_unit_code for r in rows],
        },
    ).one()
    return {"inserted": int(ins), "updated": int(upd)}
