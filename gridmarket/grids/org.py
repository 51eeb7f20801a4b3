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

from gridmarket.grids.errors import Conflict, NotFound, ValidationFailed
from gridmarket.grids.errors import ImportRejected as BaseImportRejected
from gridmarket.grids.models import ASSIGN_KINDS, ORG_KINDS, SPECIALTIES

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
