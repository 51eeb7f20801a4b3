"""Writing territory (regions, grids, cells, characteristic grids) with the territory rules.

The file readers (``etl.territory_import``) turn a file into :class:`RegionRow` or
:class:`GridRow` values, already in WGS84 with repaired geometries. Here, inside the caller's
transaction and holding :func:`gridmarket.grids.units.lock_territory`:

1. :func:`prepare_regions` / :func:`prepare_grids` check every rule against the file and the
   database and return the problems (1-based feature number, field, reason) with a plan; the
   caller raises :class:`ImportRejected` when there is any problem, so nothing is written;
2. :func:`write_regions` / :func:`write_grids` upsert by code (only rows that change are
   written), then re-assign every address unit whose cell could change with the write-time rule
   (:func:`gridmarket.grids.units.reassign_units`), in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

import shapely
from shapely.geometry import MultiPolygon

from gridmarket.geo.geometry import geodesic_area_km2
from gridmarket.grids import sqlfiles
from gridmarket.grids.errors import ImportRejected as BaseImportRejected
from gridmarket.grids.models import CELL_TYPES, REGION_LEVELS
from gridmarket.grids.units import (
    REASSIGN_SCOPE_DDL,
    UNASSIGNED_CITY,
    UNASSIGNED_DISTRICT,
    Progress,
    reassign_units,
    rehome_generated_cells,
)

__all__ = [
    "GRID_LEVELS",
    "MAX_OVERLAP_M2",
    "GridPlan",
    "GridRow",
    "ImportRejected",
    "Problem",
    "RegionPlan",
    "RegionRow",
    "prepare_grids",
    "prepare_regions",
    "write_grids",
    "write_regions",
]

GRID_LEVELS = ("grid", "cell", "feature_grid")
MAX_OVERLAP_M2 = 1.0
"""Two drawn cells may overlap by at most this many square metres (geodesic)."""
GENERATED_GRID_SUFFIX = "-H3"
GENERATED_CELL_PREFIX = "H3-"

Problem = tuple[int, str, str]
"""(1-based feature number, field, reason); feature 0 stands for the file as a whole."""


class ImportRejected(BaseImportRejected):
    """A territory file broke the rules: nothing was written.

    The message is a one-line summary ("3 of 40 features rejected"); :attr:`problems` lists every
    problem as (feature number, field, reason), sorted by feature number.
    """

    numbered = "feature"

    def __init__(self, problems: Iterable[Problem], total: int) -> None:
        listed = sorted(problems, key=lambda p: (p[0], p[1]))
        self.total = total
        bad = len({p[0] for p in listed})
        super().__init__(f"{bad} of {total} features rejected ({len(listed)} problems)", listed)


@dataclass(frozen=True)
class RegionRow:
    """One feature of a regions file: text fields stripped (``None`` when empty), WGS84 geometry.

    ``geom`` is the repaired boundary or ``None``; ``geom_error`` says why a present geometry
    cannot be used (it is ``None`` when the geometry is fine or simply absent).
    """

    row: int
    code: str | None
    name: str | None
    level: str | None
    parent_code: str | None
    geom: MultiPolygon | None
    geom_error: str | None = None


@dataclass(frozen=True)
class GridRow:
    """One feature of a grids file (grid, cell or characteristic grid), as :class:`RegionRow`."""

    row: int
    code: str | None
    name: str | None
    level: str | None
    parent_code: str | None = None
    district_code: str | None = None
    type: str | None = None
    industries: tuple[str, ...] = ()
    member_cells: tuple[str, ...] | None = None
    geom: MultiPolygon | None = None
    geom_error: str | None = None


@dataclass
class RegionPlan:
    """Validated regions, ready for :func:`write_regions`."""

    rows: list[RegionRow]


@dataclass
class GridPlan:
    """Validated grids, ready for :func:`write_grids`; ``feature_grid_city`` maps code → city id."""

    rows: list[GridRow]
    feature_grid_city: dict[str, int] = field(default_factory=dict)
    staged: bool = False  # the rows are in temp table stage_grid of the current transaction


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------


def _ewkb(geom: MultiPolygon | None) -> str | None:
    if geom is None:
        return None
    return str(shapely.to_wkb(shapely.set_srid(geom, 4326), hex=True, include_srid=True))


def _copy(conn: Connection, sql: str, rows: Iterable[tuple[Any, ...]]) -> None:
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur, cur.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def _run_each(conn: Connection, name: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
    """Run every statement of ``grids/sql/<name>``; return each one's rows (empty when none)."""
    out: list[list[Any]] = []
    for stmt in sqlfiles.statements(sqlfiles.load(name)):
        clause = text(stmt)
        used = {k: v for k, v in (params or {}).items() if k in clause.compile().params}
        result = conn.execute(clause, used)
        out.append(list(result.all()) if result.returns_rows else [])
    return out


def _duplicates(rows: Sequence[RegionRow | GridRow], key: Any) -> list[Problem]:
    first: dict[Any, int] = {}
    problems: list[Problem] = []
    for r in rows:
        k = key(r)
        if k is None:
            continue
        if k in first:
            problems.append((r.row, "code", f"duplicate code {r.code!r} (also feature {first[k]})"))
        else:
            first[k] = r.row
    return problems


def _common(r: RegionRow | GridRow, levels: tuple[str, ...]) -> list[Problem]:
    problems: list[Problem] = []
    if r.code is None:
        problems.append((r.row, "code", "missing"))
    if r.name is None:
        problems.append((r.row, "name", "missing"))
    if r.level is None:
        problems.append((r.row, "level", "missing"))
    elif r.level not in levels:
        problems.append((r.row, "level", f"unknown level {r.level!r} (expected {', '.join(levels)})"))
    return problems


def _geometry(r: RegionRow | GridRow, required: bool) -> list[Problem]:
    if r.geom_error is not None:
        return [(r.row, "geometry", r.geom_error)]
    if r.geom is None and required:
        return [(r.row, "geometry", "missing or empty")]
    return []


def _lookup(conn: Connection, sql: str, codes: Iterable[str | None]) -> dict[str, Any]:
    wanted = sorted({c for c in codes if c})
    if not wanted:
        return {}
    return {row.code: row for row in conn.execute(text(sql), {"codes": wanted})}


def _reserved_region(code: str | None) -> bool:
    return code in (UNASSIGNED_CITY, UNASSIGNED_DISTRICT)


# ------------------------------------------------------------------------------------------------
# regions
# ------------------------------------------------------------------------------------------------


def prepare_regions(conn: Connection, rows: list[RegionRow]) -> tuple[list[Problem], RegionPlan]:
    """Check regions against the rules and the database; return the problems and the plan.

    Rules: code, name and level present; level one of province, city, district and the same as a
    stored region of that code; codes unique in the file and not those of the unassigned area; a
    province has no parent, a city's parent (optional) is a province, a district's parent is a
    city (in the file or the database, not the unassigned city); a valid polygonal geometry.
    """
    problems: list[Problem] = []
    stored = _lookup(
        conn,
        "SELECT code, level, is_unassigned FROM region WHERE code = ANY(:codes)",
        [r.code for r in rows] + [r.parent_code for r in rows],
    )
    in_file: dict[str, RegionRow] = {}
    for r in rows:
        if r.code is not None and r.code not in in_file:
            in_file[r.code] = r
    problems += _duplicates(rows, lambda r: r.code)
    for r in rows:
        problems += _common(r, REGION_LEVELS)
        problems += _geometry(r, required=True)
        if _reserved_region(r.code):
            problems.append((r.row, "code", f"{r.code!r} is reserved for the unassigned area (区县未定)"))
            continue
        if r.code in stored and r.level in REGION_LEVELS and stored[r.code].level != r.level:
            problems.append(
                (
                    r.row,
                    "level",
                    f"{r.code!r} is a {stored[r.code].level} in the database; a region's level cannot change",
                )
            )
        problems += _region_parent(r, in_file, stored)
    return problems, RegionPlan(rows=rows)


def _region_parent(r: RegionRow, in_file: dict[str, RegionRow], stored: dict[str, Any]) -> list[Problem]:
    if r.level not in REGION_LEVELS:
        return []
    pc = r.parent_code
    if r.level == "province":
        return [(r.row, "parent_code", "a province has no parent")] if pc else []
    if pc is None:
        return (
            [(r.row, "parent_code", "missing (a district lies in a city)")] if r.level == "district" else []
        )
    if pc == r.code:
        return [(r.row, "parent_code", "a region cannot be its own parent")]
    if pc in in_file:
        parent_level = in_file[pc].level
    elif pc in stored:
        if stored[pc].is_unassigned:
            return [(r.row, "parent_code", f"{pc!r} is the unassigned area (区县未定): it takes no regions")]
        parent_level = stored[pc].level
    else:
        return [(r.row, "parent_code", f"unknown parent {pc!r} (neither in the file nor in the database)")]
    want = "province" if r.level == "city" else "city"
    if parent_level != want:
        return [
            (r.row, "parent_code", f"the parent of a {r.level} must be a {want}; {pc!r} is a {parent_level}")
        ]
    return []


def write_regions(
    conn: Connection,
    plan: RegionPlan,
    *,
    h3_resolution: int = 9,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Upsert validated regions and re-assign the address units they affect (caller's transaction).

    New or redrawn districts re-home the generated cells around them (a generated cell belongs to
    the district holding its hexagon's centre), so addresses of the unassigned area move to the
    district now covering them; a district moved to another city takes its grids, cells, address
    units and their market records along. Returns counts (``regions_inserted``,
    ``regions_updated``, ``regions_unchanged``, ``generated_cells_moved`` and those of
    :func:`gridmarket.grids.units.reassign_units`) and ``warnings``.
    """
    say = progress or (lambda _msg: None)
    warnings: list[str] = []
    sqlfiles.run_script(conn, sqlfiles.load("territory_stage.sql"))
    _copy(
        conn,
        "COPY stage_region (row_no, code, name, level, parent_code, geom, area_km2) FROM STDIN",
        (
            (r.row, r.code, r.name, r.level, r.parent_code, _ewkb(r.geom), geodesic_area_km2(r.geom))
            for r in plan.rows
            if r.geom is not None
        ),
    )
    conn.execute(text("DROP TABLE IF EXISTS region_before"))
    conn.execute(
        text(
            "CREATE TEMP TABLE region_before ON COMMIT DROP AS "
            "SELECT r.id, r.code, r.level, r.city_id, r.geom "
            "FROM region r JOIN stage_region s ON s.code = r.code"
        )
    )
    say(f"writing {len(plan.rows):,} regions")
    upsert = sqlfiles.statements(sqlfiles.load("territory_regions.sql"))[0]
    written: list[Any] = []
    for level in REGION_LEVELS:
        written += conn.execute(text(upsert), {"level": level}).all()
        if level == "city":
            conn.execute(
                text(
                    "UPDATE region SET city_id = id WHERE level = 'city' AND city_id IS DISTINCT FROM id "
                    "AND code IN (SELECT code FROM stage_region)"
                )
            )
    inserted = sum(1 for w in written if w.inserted)
    summary: dict[str, Any] = {
        "features": len(plan.rows),
        "regions_inserted": inserted,
        "regions_updated": len(written) - inserted,
        "regions_unchanged": len(plan.rows) - len(written),
    }
    ids = [int(w.id) for w in written]
    # districts whose boundary is new or changed, and districts now in another city
    redrawn = [
        int(i)
        for i in conn.scalars(
            text(
                "SELECT r.id FROM region r LEFT JOIN region_before b ON b.id = r.id "
                "WHERE r.id = ANY(:ids) AND r.level = 'district' "
                "AND (b.id IS NULL OR CASE WHEN b.geom IS NOT DISTINCT FROM r.geom THEN false "
                "ELSE NOT ST_Equals(b.geom, r.geom) END) ORDER BY r.id"
            ),
            {"ids": ids},
        )
    ]
    moved_city = [
        int(i)
        for i in conn.scalars(
            text(
                "SELECT r.id FROM region r JOIN region_before b ON b.id = r.id "
                "WHERE r.id = ANY(:ids) AND r.level = 'district' AND b.city_id IS DISTINCT FROM r.city_id"
            ),
            {"ids": ids},
        )
    ]
    recheck: list[int] = []
    if moved_city:
        conn.execute(
            text(
                "UPDATE grid g SET city_id = d.city_id FROM region d "
                "WHERE d.id = g.district_id AND d.id = ANY(:ids) AND g.city_id IS DISTINCT FROM d.city_id"
            ),
            {"ids": moved_city},
        )
        recheck += conn.scalars(
            text(
                "UPDATE cell c SET city_id = d.city_id FROM region d "
                "WHERE d.id = c.district_id AND d.id = ANY(:ids) AND c.city_id IS DISTINCT FROM d.city_id "
                "RETURNING c.id"
            ),
            {"ids": moved_city},
        ).all()
    conn.execute(text("ANALYZE region"))
    rehomed: list[int] = []
    if redrawn:
        for code, other, km2 in conn.execute(
            text(sqlfiles.load("territory_district_overlaps.sql")), {"districts": redrawn}
        ):
            warnings.append(
                f"districts {code} and {other} overlap by {km2:,.3f} km²; generated cells centred "
                "there go to the one loaded first"
            )
        say(f"{len(redrawn)} district(s) new or redrawn: re-homing the generated cells around them")
        candidates = [
            int(i) for i in conn.scalars(text(sqlfiles.load("reassign_rehome.sql")), {"districts": redrawn})
        ]
        rehomed = rehome_generated_cells(conn, candidates, warnings)
    summary["generated_cells_moved"] = len(rehomed)
    summary.update(
        _reassign(
            conn,
            moved=recheck + rehomed,
            redrawn=[],
            covering=[],
            h3_resolution=h3_resolution,
            warnings=warnings,
            progress=progress,
        )
    )
    summary["warnings"] = warnings
    return summary


def _reassign(
    conn: Connection,
    *,
    moved: list[int],
    redrawn: list[int],
    covering: list[int],
    h3_resolution: int,
    warnings: list[str],
    progress: Progress | None,
) -> dict[str, int]:
    """Collect the units whose cell could change into ``reassign_scope`` and re-assign them.

    ``moved``: cells whose district or city changed (all their units); ``redrawn``: drawn cells
    with a new outline (their units outside it); ``covering``: new or redrawn drawn cells (units
    inside what they gained; needs temp table ``cell_before``).
    """
    conn.execute(text("DROP TABLE IF EXISTS reassign_scope"))
    conn.execute(text(REASSIGN_SCOPE_DDL))
    if moved or redrawn:
        sqlfiles.run_script(
            conn,
            sqlfiles.load("reassign_scope.sql"),
            {"moved": sorted(set(moved)), "redrawn": sorted(set(redrawn))},
        )
    if covering:
        sqlfiles.run_script(conn, sqlfiles.load("reassign_covering.sql"), {"covering": sorted(set(covering))})
    return reassign_units(conn, h3_resolution=h3_resolution, warnings=warnings, progress=progress)


# ------------------------------------------------------------------------------------------------
# grids, cells and characteristic grids
# ------------------------------------------------------------------------------------------------


def prepare_grids(conn: Connection, rows: list[GridRow]) -> tuple[list[Problem], GridPlan]:
    """Check grids, cells and characteristic grids against the rules and the database.

    Rules: code, name and level (grid, cell, feature_grid) present; codes unique per level in the
    file and not of the generated kind (``…-H3`` grids, ``H3-…`` cells); a grid lies in one loaded
    district (``district_code``); a cell lies in one drawn grid (``parent_code``, in the file or
    the database) and so in that grid's district (a ``district_code`` given must agree); a type is
    one of ``models.CELL_TYPES``; grids and cells have a valid polygonal geometry; drawn cells do
    not overlap by more than :data:`MAX_OVERLAP_M2` (in the file, or with stored drawn cells the
    file does not replace); a characteristic grid's member cells exist (file or database) and
    give it one city, else its ``district_code`` or its geometry's location does.
    """
    problems: list[Problem] = []
    regions = _lookup(
        conn,
        "SELECT code, id, level, city_id, is_unassigned FROM region WHERE code = ANY(:codes)",
        [r.district_code for r in rows],
    )
    grids = _lookup(
        conn,
        "SELECT g.code, g.kind, g.city_id, d.code AS district_code FROM grid g "
        "JOIN region d ON d.id = g.district_id WHERE g.code = ANY(:codes)",
        [r.code for r in rows if r.level == "grid"] + [r.parent_code for r in rows if r.level == "cell"],
    )
    cells = _lookup(
        conn,
        "SELECT code, source, city_id FROM cell WHERE code = ANY(:codes)",
        [r.code for r in rows if r.level == "cell"] + [m for r in rows for m in (r.member_cells or ())],
    )
    file_grids: dict[str, GridRow] = {}
    file_cells: dict[str, GridRow] = {}
    for r in rows:
        if r.code is not None and r.level == "grid":
            file_grids.setdefault(r.code, r)
        if r.code is not None and r.level == "cell":
            file_cells.setdefault(r.code, r)
    problems += _duplicates(rows, lambda r: (r.level, r.code) if r.code else None)
    for r in rows:
        problems += _common(r, GRID_LEVELS)
        problems += _geometry(r, required=r.level in ("grid", "cell"))
        if r.type is not None and r.level in ("cell", "feature_grid") and r.type not in CELL_TYPES:
            problems.append(
                (r.row, "type", f"unknown type {r.type!r} (expected one of {', '.join(CELL_TYPES)})")
            )
        if r.level == "grid":
            problems += _check_grid(r, regions, grids)
        elif r.level == "cell":
            problems += _check_cell(r, file_grids, grids, cells)
    plan = GridPlan(rows=rows)
    for r in rows:
        if r.level == "feature_grid":
            problems += _check_feature_grid(conn, r, file_cells, file_grids, grids, cells, regions, plan)
    _stage_grids(conn, plan)
    problems += _overlaps(conn)
    return problems, plan


def _check_grid(r: GridRow, regions: dict[str, Any], grids: dict[str, Any]) -> list[Problem]:
    out: list[Problem] = []
    if r.code is not None and (
        r.code.endswith(GENERATED_GRID_SUFFIX) or (r.code in grids and grids[r.code].kind == "generated")
    ):
        out.append(
            (r.row, "code", f"{r.code!r}: codes ending in {GENERATED_GRID_SUFFIX} are for generated grids")
        )
    dc = r.district_code
    if dc is None:
        out.append((r.row, "district_code", "missing (a grid lies in one district)"))
    elif dc not in regions:
        out.append((r.row, "district_code", f"unknown district {dc!r} (import it with the regions first)"))
    elif regions[dc].is_unassigned:
        out.append((r.row, "district_code", f"{dc!r} is the unassigned area (区县未定): it takes no grids"))
    elif regions[dc].level != "district":
        out.append((r.row, "district_code", f"{dc!r} is a {regions[dc].level}, not a district"))
    return out


def _check_cell(
    r: GridRow, file_grids: dict[str, GridRow], grids: dict[str, Any], cells: dict[str, Any]
) -> list[Problem]:
    out: list[Problem] = []
    if r.code is not None and (
        r.code.startswith(GENERATED_CELL_PREFIX) or (r.code in cells and cells[r.code].source == "h3")
    ):
        out.append(
            (
                r.row,
                "code",
                f"{r.code!r}: codes starting with {GENERATED_CELL_PREFIX} are for generated cells",
            )
        )
    gc = r.parent_code
    if gc is None:
        return [*out, (r.row, "parent_code", "missing (a cell lies in one grid)")]
    if gc in file_grids:
        district = file_grids[gc].district_code
    elif gc in grids:
        if grids[gc].kind != "drawn":
            return [
                *out,
                (r.row, "parent_code", f"{gc!r} holds generated cells; a drawn cell needs a drawn grid"),
            ]
        district = grids[gc].district_code
    else:
        return [
            *out,
            (r.row, "parent_code", f"unknown grid {gc!r} (neither in the file nor in the database)"),
        ]
    if r.district_code is not None and district is not None and r.district_code != district:
        out.append(
            (
                r.row,
                "district_code",
                f"the cell's grid {gc!r} lies in district {district!r}; a cell lies in its grid's district",
            )
        )
    return out


def _check_feature_grid(
    conn: Connection,
    r: GridRow,
    file_cells: dict[str, GridRow],
    file_grids: dict[str, GridRow],
    grids: dict[str, Any],
    cells: dict[str, Any],
    regions: dict[str, Any],
    plan: GridPlan,
) -> list[Problem]:
    out: list[Problem] = []
    members = r.member_cells or ()
    unknown = [m for m in members if m not in file_cells and m not in cells]
    if unknown:
        out.append(
            (
                r.row,
                "member_cells",
                f"unknown cell(s) {', '.join(unknown)} (neither in the file nor in the database)",
            )
        )
    cities: set[int] = set()
    for m in members:
        if m in file_cells:
            gc = file_cells[m].parent_code
            if gc in file_grids:
                dc = file_grids[gc].district_code
                if dc in regions and regions[dc].city_id is not None:
                    cities.add(int(regions[dc].city_id))
            elif gc in grids:
                cities.add(int(grids[gc].city_id))
        elif m in cells:
            cities.add(int(cells[m].city_id))
    from_district: int | None = None
    if r.district_code is not None:
        reg = regions.get(r.district_code)
        if reg is None or reg.level == "province" or reg.city_id is None:
            out.append((r.row, "district_code", f"unknown district {r.district_code!r}"))
        else:
            from_district = int(reg.city_id)
    if len(cities) > 1:
        names = _region_codes(conn, cities)
        out.append(
            (r.row, "member_cells", f"member cells lie in several cities ({', '.join(names)}); one city only")
        )
        return out
    city = next(iter(cities), None)
    if city is not None and from_district is not None and city != from_district:
        out.append((r.row, "district_code", "lies in another city than the member cells"))
        return out
    city = city if city is not None else from_district
    if city is None and r.geom is not None:
        found = conn.scalar(
            text(
                "SELECT r.id FROM region r WHERE r.level = 'city' AND NOT r.is_unassigned "
                "AND ST_Intersects(r.geom, ST_PointOnSurface(ST_GeomFromEWKB(decode(:g, 'hex')))) "
                "ORDER BY r.id LIMIT 1"
            ),
            {"g": _ewkb(r.geom)},
        )
        if found is None:
            out.append((r.row, "geometry", "lies in no loaded city"))
            return out
        city = int(found)
    if city is None:
        if not unknown:
            out.append(
                (
                    r.row,
                    "member_cells",
                    "cannot tell the city of this characteristic grid: give member_cells, "
                    "district_code or a geometry",
                )
            )
        return out
    if r.code is not None:
        plan.feature_grid_city[r.code] = city
    return out


def _region_codes(conn: Connection, ids: Iterable[int]) -> list[str]:
    return [
        str(c)
        for c in conn.scalars(
            text("SELECT code FROM region WHERE id = ANY(:ids) ORDER BY code"), {"ids": sorted(ids)}
        )
    ]


def _stage_grids(conn: Connection, plan: GridPlan) -> None:
    sqlfiles.run_script(conn, sqlfiles.load("territory_stage.sql"))
    cols = (
        "row_no, code, name, level, parent_code, district_code, type, industries, member_cells, city_id, "
        "geom, area_km2"
    )
    _copy(
        conn,
        f"COPY stage_grid ({cols}) FROM STDIN",
        (
            (
                r.row,
                r.code,
                r.name,
                r.level,
                r.parent_code,
                r.district_code,
                r.type,
                list(r.industries),
                None if r.member_cells is None else list(r.member_cells),
                plan.feature_grid_city.get(r.code or ""),
                _ewkb(r.geom),
                None if r.geom is None else geodesic_area_km2(r.geom),
            )
            for r in plan.rows
            if r.code is not None and r.name is not None and r.level in GRID_LEVELS
        ),
    )
    conn.execute(text("CREATE INDEX ON stage_grid USING gist (geom)"))
    conn.execute(text("CREATE INDEX ON stage_grid (code)"))
    conn.execute(text("ANALYZE stage_grid"))
    plan.staged = True


def _overlaps(conn: Connection) -> list[Problem]:
    out: list[Problem] = []
    for row_no, code, other_row, other_code, m2 in conn.execute(
        text(sqlfiles.load("territory_overlaps.sql")), {"min_m2": MAX_OVERLAP_M2}
    ):
        where = f"feature {other_row}" if other_row is not None else "already in the database"
        out.append(
            (
                int(row_no),
                "geometry",
                f"drawn cell {code!r} overlaps drawn cell {other_code!r} ({where}) by {m2:,.1f} m²",
            )
        )
    return out


def write_grids(
    conn: Connection,
    plan: GridPlan,
    *,
    h3_resolution: int = 9,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Upsert validated grids, cells and characteristic grids and re-assign the affected units.

    Units in new or redrawn drawn cells move into them; units of a redrawn cell that it no longer
    covers go to another drawn cell or to their generated H3 cell; a cell whose grid changed
    district takes its units to the new city; generated cells left empty are deleted. Member cells
    of characteristic grids are replaced by the file's list. Returns counts per kind
    (``grids_*``, ``cells_*``, ``feature_grids_*`` with ``inserted``, ``updated``, ``unchanged``),
    those of :func:`gridmarket.grids.units.reassign_units` and ``warnings``.
    """
    say = progress or (lambda _msg: None)
    warnings: list[str] = []
    if not (plan.staged and conn.scalar(text("SELECT to_regclass('pg_temp.stage_grid') IS NOT NULL"))):
        _stage_grids(conn, plan)
    conn.execute(text("DROP TABLE IF EXISTS cell_before"))
    conn.execute(
        text(
            "CREATE TEMP TABLE cell_before ON COMMIT DROP AS SELECT c.id, c.geom, c.city_id, c.district_id "
            "FROM cell c JOIN stage_grid s ON s.code = c.code AND s.level = 'cell'"
        )
    )
    say(f"writing {len(plan.rows):,} grids, cells and characteristic grids")
    grid_w, cell_w, cell_sync, fg_w, member_del, member_ins = _run_each(conn, "territory_grids.sql")
    summary: dict[str, Any] = {"features": len(plan.rows)}
    for kind, level, written in (("grids", "grid", grid_w), ("cells", "cell", cell_w)):
        ins = sum(1 for w in written if w.inserted)
        summary[f"{kind}_inserted"] = ins
        summary[f"{kind}_updated"] = len(written) - ins
        summary[f"{kind}_unchanged"] = sum(1 for r in plan.rows if r.level == level) - len(written)
    fg_new = {int(w.id) for w in fg_w if w.inserted}
    fg_changed = {int(w.id) for w in fg_w if not w.inserted} | (
        {int(w.id) for w in member_del + member_ins} - fg_new
    )
    summary["feature_grids_inserted"] = len(fg_new)
    summary["feature_grids_updated"] = len(fg_changed)
    summary["feature_grids_unchanged"] = sum(1 for r in plan.rows if r.level == "feature_grid") - len(
        fg_new | fg_changed
    )
    written_cells = [int(w.id) for w in cell_w]
    changed = conn.execute(
        text(
            "SELECT c.id, b.id IS NULL AS new, "
            "CASE WHEN b.geom IS NOT DISTINCT FROM c.geom THEN false ELSE NOT ST_Equals(b.geom, c.geom) END "
            "AS redrawn, "
            "(b.city_id, b.district_id) IS DISTINCT FROM (c.city_id, c.district_id) AS moved "
            "FROM cell c LEFT JOIN cell_before b ON b.id = c.id WHERE c.id = ANY(:ids)"
        ),
        {"ids": written_cells},
    ).all()
    for table in ("grid", "cell", "feature_grid", "feature_grid_cell"):
        conn.execute(text(f"ANALYZE {table}"))
    summary.update(
        _reassign(
            conn,
            moved=[int(c.id) for c in changed if c.moved] + [int(w.id) for w in cell_sync],
            redrawn=[int(c.id) for c in changed if c.redrawn],
            covering=[int(c.id) for c in changed if c.new or c.redrawn],
            h3_resolution=h3_resolution,
            warnings=warnings,
            progress=progress,
        )
    )
    summary["warnings"] = warnings
    return summary
