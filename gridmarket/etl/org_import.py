"""Importing the organisation (CSV / XLSX, one row per assignment; CONTRACT.md "Territory and
organisation files").

Columns (English or Chinese headers): ``staff_code`` 员工编码, ``name`` 姓名, ``post`` 岗位,
``unit_code`` 组织编码, ``unit_name`` 组织名称, ``unit_kind`` 组织类型, ``unit_district`` 所属区县,
``parent_unit_code`` 上级组织编码 (optional), ``assign_kind`` 分配类型, ``assign_code`` 分配对象编码,
``valid_from`` 生效日期, ``valid_to`` 失效日期. Kinds may be the codes or their Chinese names
(地市政企部 / 区局营销中心 / 专业营销中心 / 专业团队; 网格单元 / 网格 / 特征网格 / 客户). Districts are
given by code or name; customers by their source-system code or unified code (统一编码). Dates are
ISO (2026-01-01), ``YYYY/MM/DD`` or Excel dates. A row without ``assign_kind``/``assign_code``
only creates or updates its staff member and unit.

Every row is validated before anything is written; any problem rejects the whole file with
:class:`~gridmarket.grids.org.ImportRejected`, listing (row, field, reason) for each. All rows of a
file belong to one city (that of its districts and assignment targets). The load is one
transaction and idempotent: org units and staff are upserted by code, assignments by (staff, kind,
target, valid_from), and unchanged rows are not touched. An empty cell leaves a stored unit or
staff value as it is; an assignment's ``valid_to`` is taken as given (empty = open-ended).
New regional and specialist centres without a parent are put under the city's 政企部 when the city
has exactly one.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from gridmarket.etl.tabular import normalize_header, read_table
from gridmarket.grids.errors import ValidationFailed
from gridmarket.grids.models import ASSIGN_KINDS, ORG_KINDS
from gridmarket.grids.org import (
    ASSIGN_KIND_NAMES,
    ORG_KIND_NAMES,
    AssignmentRow,
    ImportRejected,
    OrgUnitRow,
    StaffRow,
    upsert_assignments,
    upsert_org_units,
    upsert_staff,
)

__all__ = ["ORG_HEADERS", "import_org", "parse_date"]

Progress = Callable[[str], None]
Problem = tuple[int, str, str]

ORG_HEADERS: dict[str, str] = {
    "staff_code": "staff_code",
    "员工编码": "staff_code",
    "工号": "staff_code",
    "员工工号": "staff_code",
    "name": "name",
    "staff_name": "name",
    "姓名": "name",
    "员工姓名": "name",
    "post": "post",
    "岗位": "post",
    "unit_code": "unit_code",
    "组织编码": "unit_code",
    "部门编码": "unit_code",
    "unit_name": "unit_name",
    "组织名称": "unit_name",
    "部门名称": "unit_name",
    "unit_kind": "unit_kind",
    "组织类型": "unit_kind",
    "unit_district": "unit_district",
    "所属区县": "unit_district",
    "区县": "unit_district",
    "parent_unit_code": "parent_unit_code",
    "上级组织编码": "parent_unit_code",
    "assign_kind": "assign_kind",
    "分配类型": "assign_kind",
    "assign_code": "assign_code",
    "分配对象编码": "assign_code",
    "valid_from": "valid_from",
    "生效日期": "valid_from",
    "valid_to": "valid_to",
    "失效日期": "valid_to",
}
"""Accepted column names → canonical keys."""

_UNIT_KIND_VALUES = {
    "city_dept": ("地市政企部", "政企部", "市政企部", "地市政企客户部"),
    "regional_centre": ("区局营销中心", "区域营销中心", "区县营销中心", "区局"),
    "specialist_centre": ("专业营销中心",),
    "specialist_team": ("专业团队", "专业营销团队"),
}
_ASSIGN_KIND_VALUES = {
    "cell": ("网格单元", "单元"),
    "grid": ("网格",),
    "feature_grid": ("特征网格",),
    "customer": ("客户",),
}


def _value_map(extra: dict[str, tuple[str, ...]], names: dict[str, tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for code, words in extra.items():
        for w in (code, *names[code], *words):
            out[normalize_header(w)] = code
    return out


_UNIT_KIND = _value_map(_UNIT_KIND_VALUES, ORG_KIND_NAMES)
_ASSIGN_KIND = _value_map(_ASSIGN_KIND_VALUES, ASSIGN_KIND_NAMES)
_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_DATE_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_ASSIGN_LABEL = {
    "cell": "cell",
    "grid": "grid",
    "feature_grid": "characteristic grid",
    "customer": "customer",
}


def parse_date(value: Any) -> dt.date:
    """A date from a cell: a ``date``/``datetime``, or text ISO, ``YYYY/MM/DD``, ``YYYY.MM.DD``, ``YYYYMMDD``.

    Raises ValueError otherwise.
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    s = _as_text(value)
    if s is None:
        raise ValueError("empty")
    m = _DATE.match(s) or _DATE_COMPACT.match(s)
    if not m:
        raise ValueError(f"{s!r} is not a date (use YYYY-MM-DD or YYYY/MM/DD)")
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise ValueError(f"{s!r} is not a valid date") from None


def _as_text(value: Any) -> str | None:
    """Text of a cell: numbers from Excel lose a spurious ``.0``; empty → None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    s = str(value).strip()
    return s or None


@dataclass
class _Row:
    number: int
    staff_code: str | None
    name: str | None
    post: str | None
    unit_code: str | None
    unit_name: str | None
    unit_kind: str | None
    unit_district: str | None
    parent_code: str | None
    assign_kind: str | None
    assign_code: str | None
    valid_from: dt.date | None
    valid_to: dt.date | None
    district_id: int | None = None
    target_id: int | None = None


@dataclass
class _Unit:
    code: str
    row: int
    name: str | None = None
    kind: str | None = None
    district: str | None = None
    parent: str | None = None
    rows: dict[str, int] = field(default_factory=dict)  # field → row that gave it


@dataclass
class _Staff:
    code: str
    row: int
    name: str | None = None
    post: str | None = None
    unit: str | None = None
    rows: dict[str, int] = field(default_factory=dict)


def _parse_row(number: int, v: dict[str, Any], problems: list[Problem]) -> _Row:
    def bad(fld: str, reason: str) -> None:
        problems.append((number, fld, reason))

    t = {k: _as_text(v.get(k)) for k in ORG_HEADERS.values()}
    unit_kind = None
    if t["unit_kind"] is not None:
        unit_kind = _UNIT_KIND.get(normalize_header(t["unit_kind"]))
        if unit_kind is None:
            bad("unit_kind", f"unknown unit kind {t['unit_kind']!r} (one of {', '.join(ORG_KINDS)})")
    assign_kind = None
    if t["assign_kind"] is not None:
        assign_kind = _ASSIGN_KIND.get(normalize_header(t["assign_kind"]))
        if assign_kind is None:
            bad(
                "assign_kind",
                f"unknown assignment kind {t['assign_kind']!r} (one of {', '.join(ASSIGN_KINDS)})",
            )
    dates: dict[str, dt.date | None] = {"valid_from": None, "valid_to": None}
    for key in dates:
        if v.get(key) is not None:
            try:
                dates[key] = parse_date(v[key])
            except ValueError as e:
                bad(key, f"bad date: {e}")
    row = _Row(
        number,
        t["staff_code"],
        t["name"],
        t["post"],
        t["unit_code"],
        t["unit_name"],
        unit_kind,
        t["unit_district"],
        t["parent_unit_code"],
        assign_kind,
        t["assign_code"],
        dates["valid_from"],
        dates["valid_to"],
    )
    if row.staff_code is None:
        bad("staff_code", "staff_code is required")
    if row.name is None:
        bad("name", "name is required")
    if row.unit_code is None and any(
        t[k] is not None for k in ("unit_name", "unit_kind", "unit_district", "parent_unit_code")
    ):
        bad("unit_code", "unit_code is required when the row describes an org unit")
    has_assignment = t["assign_kind"] is not None or row.assign_code is not None
    if has_assignment:
        if t["assign_kind"] is None:
            bad("assign_kind", "assign_kind is required with assign_code")
        if row.assign_code is None:
            bad("assign_code", "assign_code is required with assign_kind")
        if v.get("valid_from") is None:
            bad("valid_from", "valid_from is required for an assignment")
    elif v.get("valid_from") is not None or v.get("valid_to") is not None:
        bad("assign_kind", "validity dates given but no assignment (assign_kind, assign_code)")
    if row.valid_from and row.valid_to and row.valid_to < row.valid_from:
        bad("valid_to", f"valid_to {row.valid_to} is before valid_from {row.valid_from}")
    return row


def _merge(
    item: _Unit | _Staff, row: int, fld: str, value: str | None, what: str, problems: list[Problem]
) -> None:
    """Take ``value`` for ``fld`` of a unit or staff member, or report it differs from an earlier row."""
    if value is None:
        return
    old = getattr(item, fld)
    if old is None:
        setattr(item, fld, value)
        item.rows[fld] = row
    elif old != value:
        problems.append(
            (row, _FIELD_OF[fld], f"{what} has {fld} {old!r} in row {item.rows[fld]}, here {value!r}")
        )


_FIELD_OF = {
    "name": "name",
    "post": "post",
    "unit": "unit_code",
    "kind": "unit_kind",
    "district": "unit_district",
    "parent": "parent_unit_code",
}


class _Lookups:
    """What the rows refer to, read from the database in a few set-based queries."""

    def __init__(self, conn: Connection, rows: list[_Row], units: dict[str, _Unit], staff: set[str]):
        def by_code(sql: str, codes: set[str]) -> dict[str, dict[str, Any]]:
            if not codes:
                return {}
            res = conn.execute(text(sql), {"codes": sorted(codes)}).mappings()
            return {str(r["code"]): dict(r) for r in res}

        targets: dict[str, set[str]] = {k: set() for k in ASSIGN_KINDS}
        for r in rows:
            if r.assign_kind and r.assign_code:
                targets[r.assign_kind].add(r.assign_code)
        self.cell = by_code("SELECT code, id, city_id FROM cell WHERE code = ANY(:codes)", targets["cell"])
        self.grid = by_code("SELECT code, id, city_id FROM grid WHERE code = ANY(:codes)", targets["grid"])
        self.feature_grid = by_code(
            "SELECT code, id, city_id FROM feature_grid WHERE code = ANY(:codes)", targets["feature_grid"]
        )
        self.customers: dict[str, list[dict[str, Any]]] = {}
        if targets["customer"]:
            res = conn.execute(
                text(
                    "SELECT id, city_id, source_code, unified_code FROM customer"
                    " WHERE source_code = ANY(:codes) OR unified_code = ANY(:codes) ORDER BY id"
                ),
                {"codes": sorted(targets["customer"])},
            ).mappings()
            for c in res:
                for code in {c["source_code"], c["unified_code"]} & targets["customer"]:
                    self.customers.setdefault(code, []).append(dict(c))
        districts = {r.unit_district for r in rows if r.unit_district}
        self.districts: dict[str, list[dict[str, Any]]] = {}
        if districts:
            res = conn.execute(
                text(
                    "SELECT id, code, name, city_id FROM region WHERE level = 'district'"
                    " AND (code = ANY(:v) OR name = ANY(:v)) ORDER BY id"
                ),
                {"v": sorted(districts)},
            ).mappings()
            for d in res:
                for key in {d["code"], d["name"]} & districts:
                    self.districts.setdefault(key, []).append(dict(d))
        unit_codes = set(units) | {u.parent for u in units.values() if u.parent}
        self.units = by_code(
            "SELECT o.code, o.id, o.name, o.kind, o.city_id, o.district_id, p.code AS parent"
            " FROM org_unit o LEFT JOIN org_unit p ON p.id = o.parent_id WHERE o.code = ANY(:codes)",
            unit_codes,
        )
        self.staff = by_code(
            "SELECT s.code, s.id, s.name, s.post, s.city_id, o.code AS unit FROM staff s"
            " LEFT JOIN org_unit o ON o.id = s.org_unit_id WHERE s.code = ANY(:codes)",
            staff,
        )
        self.city_names = {
            int(i): str(n) for i, n in conn.execute(text("SELECT id, name FROM region WHERE level = 'city'"))
        }

    def target_cities(self, kind: str, code: str) -> set[int]:
        if kind == "customer":
            return {int(c["city_id"]) for c in self.customers.get(code, [])}
        found = getattr(self, kind).get(code)
        return {int(found["city_id"])} if found else set()


def _choose_city(
    conn: Connection, city: str | None, rows: list[_Row], look: _Lookups, problems: list[Problem]
) -> int | None:
    if city is not None:
        cid = conn.scalar(text("SELECT id FROM region WHERE code = :c AND level = 'city'"), {"c": city})
        if cid is None:
            raise ValidationFailed(f"no city {city!r}", "city")
        return int(cid)
    votes: Counter[int] = Counter()
    for r in rows:
        seen: set[int] = set()
        if r.unit_district:
            seen |= {int(d["city_id"]) for d in look.districts.get(r.unit_district, [])}
        if r.assign_kind and r.assign_code:
            seen |= look.target_cities(r.assign_kind, r.assign_code)
        if r.unit_code and r.unit_code in look.units:
            seen.add(int(look.units[r.unit_code]["city_id"]))
        votes.update(seen)
    if not votes:
        problems.append(
            (0, "file", "cannot tell the city: no row names a known district, assignment target or org unit")
        )
        return None
    ranked = votes.most_common()
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        names = " and ".join(look.city_names.get(c, str(c)) for c, _ in ranked[:2])
        problems.append((0, "file", f"cannot tell the city: as many rows point to {names}"))
        return None
    return ranked[0][0]


def _resolve(
    rows: list[_Row],
    units: dict[str, _Unit],
    staff: dict[str, _Staff],
    look: _Lookups,
    city: int,
    problems: list[Problem],
) -> None:
    """Check every reference against the database and the file's city; set ids on the rows."""
    cname = look.city_names.get(city, str(city))

    def elsewhere(cities: set[int]) -> str:
        return "、".join(sorted(look.city_names.get(c, str(c)) for c in cities))

    for r in rows:
        if r.unit_district:
            found = look.districts.get(r.unit_district, [])
            mine = [d for d in found if d["city_id"] == city]
            if mine:
                r.district_id = int(mine[0]["id"])
            elif found:
                problems.append(
                    (
                        r.number,
                        "unit_district",
                        f"district {r.unit_district!r} is in {elsewhere({d['city_id'] for d in found})},"
                        f" not in {cname}",
                    )
                )
            else:
                problems.append((r.number, "unit_district", f"unknown district {r.unit_district!r}"))
        if r.assign_kind and r.assign_code:
            label = _ASSIGN_LABEL[r.assign_kind]
            if r.assign_kind == "customer":
                cands = look.customers.get(r.assign_code, [])
                mine = [c for c in cands if c["city_id"] == city]
                mine.sort(key=lambda c: (c["source_code"] != r.assign_code, c["id"]))
                if mine:
                    r.target_id = int(mine[0]["id"])
                    continue
                cities = {int(c["city_id"]) for c in cands}
            else:
                found = getattr(look, r.assign_kind).get(r.assign_code)
                if found and found["city_id"] == city:
                    r.target_id = int(found["id"])
                    continue
                cities = {int(found["city_id"])} if found else set()
            if cities:
                reason = f"{label} {r.assign_code!r} is in {elsewhere(cities)}, not in {cname}"
            else:
                reason = f"unknown {label} {r.assign_code!r}"
            problems.append((r.number, "assign_code", reason))
    # org units: city, required values for new ones, parents
    for u in units.values():
        db = look.units.get(u.code)
        if db is not None and db["city_id"] != city:
            problems.append(
                (
                    u.row,
                    "unit_code",
                    f"org unit {u.code!r} belongs to {elsewhere({db['city_id']})}, not {cname}",
                )
            )
            continue
        if db is None and u.name is None:
            problems.append((u.row, "unit_name", f"new org unit {u.code!r} needs unit_name"))
        if db is None and u.kind is None:
            problems.append((u.row, "unit_kind", f"new org unit {u.code!r} needs unit_kind"))
        kind = u.kind or (db["kind"] if db else None)
        if kind == "regional_centre" and u.district is None and (db is None or db["district_id"] is None):
            problems.append(
                (u.rows.get("kind", u.row), "unit_district", f"regional centre {u.code!r} needs its district")
            )
        if u.parent is not None:
            p_db = look.units.get(u.parent)
            if u.parent == u.code:
                problems.append(
                    (u.rows["parent"], "parent_unit_code", f"{u.code!r} cannot be its own parent")
                )
            elif u.parent not in units and p_db is None:
                problems.append((u.rows["parent"], "parent_unit_code", f"unknown org unit {u.parent!r}"))
            elif u.parent not in units and p_db is not None and p_db["city_id"] != city:
                problems.append(
                    (u.rows["parent"], "parent_unit_code", f"parent unit {u.parent!r} is in another city")
                )
    _check_cycles(units, look, problems)
    for s in staff.values():
        db = look.staff.get(s.code)
        if db is not None and db["city_id"] != city:
            problems.append(
                (
                    s.row,
                    "staff_code",
                    f"staff {s.code!r} belongs to {elsewhere({db['city_id']})}, not {cname}",
                )
            )


def _check_cycles(units: dict[str, _Unit], look: _Lookups, problems: list[Problem]) -> None:
    parent: dict[str, str | None] = {c: u.get("parent") for c, u in look.units.items()}
    for u in units.values():
        if u.parent is not None:
            parent[u.code] = u.parent
    for u in units.values():
        seen = {u.code}
        p = parent.get(u.code)
        while p is not None:
            if p in seen:
                problems.append(
                    (u.rows.get("parent", u.row), "parent_unit_code", f"{u.code!r} is in a parent cycle")
                )
                break
            seen.add(p)
            p = parent.get(p)


def import_org(
    engine: Engine,
    path: str | Path,
    *,
    encoding: str | None = None,
    city: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Load org units, staff and assignments from a CSV or XLSX file, all or nothing.

    ``encoding`` forces the CSV encoding (detected otherwise); ``city`` (a city code) names the
    city when the file does not tell it by its districts and targets. ``progress`` gets a line per
    phase. Returns ``rows``, ``city``, ``org_units_inserted``/``_updated``, ``staff_inserted``/
    ``_updated``, ``assignments_inserted``/``_updated``, ``warnings`` and ``seconds``.

    Raises :class:`~gridmarket.grids.org.ImportRejected` (with ``problems``: row, field, reason)
    when any row is wrong, nothing written; :class:`ValidationFailed` when the file cannot be read.
    """
    t0 = time.monotonic()
    say = progress or (lambda _m: None)
    p = Path(path)
    say(f"reading {p.name}")
    table = read_table(p, headers=ORG_HEADERS, encoding=encoding, required=("staff_code", "name"))
    warnings = list(table.warnings)
    problems: list[Problem] = []
    rows: list[_Row] = []
    for number, values in table:
        rows.append(_parse_row(number, values, problems))
        if len(rows) % 10_000 == 0:
            say(f"read {len(rows):,} rows")
    if not rows:
        raise ImportRejected([(0, "file", "the file has no data rows")])
    say(f"read {len(rows):,} rows ({table.format}{', ' + table.encoding if table.encoding else ''})")
    # cross-row consistency of staff and units, duplicates of assignments
    units: dict[str, _Unit] = {}
    staff: dict[str, _Staff] = {}
    keys: dict[tuple[str, str, str, dt.date], _Row] = {}
    for r in rows:
        if r.unit_code:
            u = units.setdefault(r.unit_code, _Unit(r.unit_code, r.number))
            what = f"org unit {r.unit_code!r}"
            _merge(u, r.number, "name", r.unit_name, what, problems)
            _merge(u, r.number, "kind", r.unit_kind, what, problems)
            _merge(u, r.number, "district", r.unit_district, what, problems)
            _merge(u, r.number, "parent", r.parent_code, what, problems)
        if r.staff_code:
            s = staff.setdefault(r.staff_code, _Staff(r.staff_code, r.number))
            what = f"staff {r.staff_code!r}"
            _merge(s, r.number, "name", r.name, what, problems)
            _merge(s, r.number, "post", r.post, what, problems)
            _merge(s, r.number, "unit", r.unit_code, what, problems)
        if r.staff_code and r.assign_kind and r.assign_code and r.valid_from:
            key = (r.staff_code, r.assign_kind, r.assign_code, r.valid_from)
            first = keys.setdefault(key, r)
            if first is not r:
                if first.valid_to != r.valid_to:
                    problems.append(
                        (
                            r.number,
                            "valid_to",
                            f"the same assignment is in row {first.number} with another valid_to",
                        )
                    )
                elif first.unit_code != r.unit_code:
                    problems.append(
                        (
                            r.number,
                            "unit_code",
                            f"the same assignment is in row {first.number} with another unit",
                        )
                    )
                else:
                    warnings.append(f"row {r.number} repeats row {first.number}")
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('gridmarket.org_import'))"))
        say("checking codes against the database")
        look = _Lookups(conn, rows, units, set(staff))
        city_id = _choose_city(conn, city, rows, look, problems)
        if city_id is not None:
            _resolve(rows, units, staff, look, city_id, problems)
        if problems or city_id is None:
            raise ImportRejected(sorted(set(problems)), what=p.name)
        summary = _write(conn, rows, units, staff, look, city_id, say)
        city_code = conn.scalar(text("SELECT code FROM region WHERE id = :i"), {"i": city_id})
    out: dict[str, Any] = {"rows": len(rows), "city": city_code, **summary}
    out["warnings"] = warnings
    out["seconds"] = round(time.monotonic() - t0, 3)
    say(
        f"org loaded: {summary['org_units_inserted']} units, {summary['staff_inserted']} staff,"
        f" {summary['assignments_inserted']} assignments new; {summary['org_units_updated']},"
        f" {summary['staff_updated']}, {summary['assignments_updated']} changed"
    )
    return out


def _write(
    conn: Connection,
    rows: list[_Row],
    units: dict[str, _Unit],
    staff: dict[str, _Staff],
    look: _Lookups,
    city_id: int,
    say: Progress,
) -> dict[str, int]:
    district_of: dict[str, int] = {}
    for r in rows:
        if r.unit_code and r.district_id is not None:
            district_of.setdefault(r.unit_code, r.district_id)
    # the city's 政企部, parent by default of new centres
    in_db = conn.scalars(
        text("SELECT code FROM org_unit WHERE city_id = :c AND kind = 'city_dept'"), {"c": city_id}
    ).all()
    depts = {c for c, u in units.items() if u.kind == "city_dept"}
    depts |= {c for c in in_db if c not in units or units[c].kind in (None, "city_dept")}
    default_parent = next(iter(depts)) if len(depts) == 1 else None
    unit_rows: list[OrgUnitRow] = []
    for code in sorted(units):
        u, db = units[code], look.units.get(code)
        kind = u.kind or (db["kind"] if db else None)
        assert kind is not None
        parent = u.parent or (db["parent"] if db else None)
        if parent is None and db is None and kind in ("regional_centre", "specialist_centre"):
            parent = default_parent
        unit_rows.append(
            OrgUnitRow(
                code=code,
                name=u.name or (db["name"] if db else code),
                kind=kind,
                city_id=city_id,
                district_id=district_of.get(code, db["district_id"] if db else None),
                parent_code=parent,
            )
        )
    staff_rows = []
    for code in sorted(staff):
        s, sdb = staff[code], look.staff.get(code)
        staff_rows.append(
            StaffRow(
                code=code,
                name=s.name or (sdb["name"] if sdb else code),
                post=s.post or (sdb["post"] if sdb else None),
                org_unit_code=s.unit or (sdb["unit"] if sdb else None),
                city_id=city_id,
            )
        )
    unit_of = {s.code: s.org_unit_code for s in staff_rows}
    assignment_rows = [
        AssignmentRow(
            staff_code=r.staff_code,
            kind=r.assign_kind,
            target_id=r.target_id,
            valid_from=r.valid_from,
            valid_to=r.valid_to,
            org_unit_code=r.unit_code or unit_of.get(r.staff_code),
        )
        for r in rows
        if r.staff_code and r.assign_kind and r.target_id is not None and r.valid_from is not None
    ]
    say(f"writing {len(unit_rows)} org units, {len(staff_rows)} staff, {len(assignment_rows)} assignments")
    nu = upsert_org_units(conn, unit_rows)
    ns = upsert_staff(conn, staff_rows)
    na = upsert_assignments(conn, assignment_rows)
    return {
        "org_units_inserted": nu["inserted"],
        "org_units_updated": nu["updated"],
        "staff_inserted": ns["inserted"],
        "staff_updated": ns["updated"],
        "assignments_inserted": na["inserted"],
        "assignments_updated": na["updated"],
    }
