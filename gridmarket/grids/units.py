"""Bulk load of address units and their market records, with write-time cell and H3 assignment.

The path is the one of ARCHITECTURE.md: COPY into a temporary (unlogged) staging table, assign
every row its drawn cell, or a generated H3 cell, or the unassigned area, in a few set-based
statements, then one ``INSERT … SELECT`` per target table and ``ANALYZE``.

The assignment rule has one implementation, used at write time (:func:`load_units`) and again
when a territory import changes regions or cells (:func:`reassign_units`):
:func:`assign_points` runs ``sql/stage_assign.sql`` (drawn cell containing the point, lowest id on
a shared border; else the point's H3 hexagon) and :func:`create_generated_cells` makes the missing
generated cells, each in the district :func:`home_hexes` gives it (``sql/territory_hex_home.sql``:
the district holding the hexagon's centre, else the one holding most of its addresses, else the
unassigned area 区县未定). Writers of cells and assignments serialise on :func:`lock_territory`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Connection, text

import h3

from gridmarket.geo.geometry import geodesic_area_km2
from gridmarket.geo.h3util import cell_polygon, parent_sql
from gridmarket.grids import sqlfiles

UNIT_COLUMNS: tuple[str, ...] = (
    "external_id",
    "address",
    "building_code",
    "floor",
    "room",
    "lon",
    "lat",
    "customer_code",
    "status",
    "main_services",
    "fixed_lines_own",
    "fixed_lines_rival",
    "broadband_own",
    "broadband_rival",
    "ld_minutes_own",
    "ld_minutes_rival",
    "revenue_month",
    "rival_operator",
    "contract_end",
    "contact_name",
    "contact_phone",
    "surveyed_at",
)

_STAGE_DDL = """
CREATE TEMP TABLE stage_unit (
    row_no integer,
    external_id text, address text, building_code text, floor integer, room text,
    lon double precision, lat double precision, customer_code text, status text, main_services text,
    fixed_lines_own integer, fixed_lines_rival integer, broadband_own integer, broadband_rival integer,
    ld_minutes_own numeric(14, 2), ld_minutes_rival numeric(14, 2), revenue_month numeric(14, 2),
    rival_operator text, contract_end date, contact_name text, contact_phone text, surveyed_at date,
    building_name text, building_type text, customer_name text, credit_code text, industry text,
    dated_at timestamptz, unit_id bigint, needs_cell boolean,
    h3_12 bigint
) ON COMMIT DROP
"""

STAGE_EXTRA_COLUMNS: tuple[str, ...] = (
    "building_name",
    "building_type",
    "customer_name",
    "credit_code",
    "industry",
    "dated_at",
)
"""Further columns of ``stage_unit`` an importer may fill (the address importer does); the
importer also sets ``unit_id`` (the existing unit) and ``needs_cell`` (false: keep the stored
cell; null or true: assign one)."""

UNASSIGNED_CITY = "UNASSIGNED"
UNASSIGNED_DISTRICT = "UNASSIGNED-D"

Progress = Callable[[str], None]


def h3_index(lon: float, lat: float, res: int = 12) -> int:
    """Return the H3 index of a WGS84 point as a signed 64-bit integer (PostgreSQL ``bigint``)."""
    return int(h3.str_to_int(h3.latlng_to_cell(lat, lon, res)))


def stage_units(
    conn: Connection,
    rows: Iterable[tuple[Any, ...]],
    *,
    columns: tuple[str, ...] = UNIT_COLUMNS,
    numbered: bool = False,
    progress: Progress | None = None,
) -> int:
    """(Re-)create the temp table ``stage_unit`` and COPY ``rows`` into it, streamed; return the count.

    ``rows`` are tuples in ``columns`` order (which must include ``lon`` and ``lat``, WGS84),
    preceded by the row number when ``numbered`` (otherwise rows are numbered 1, 2, …). The H3
    index at resolution 12 of each point is computed on the way. Nothing holds all rows in memory.
    """
    conn.execute(text("DROP TABLE IF EXISTS stage_unit"))
    conn.execute(text(_STAGE_DDL))
    cols = ("row_no", *columns, "h3_12")
    raw = conn.connection.driver_connection
    assert raw is not None
    n = 0
    lon_i, lat_i = columns.index("lon"), columns.index("lat")
    with raw.cursor() as cur, cur.copy(f"COPY stage_unit ({', '.join(cols)}) FROM STDIN") as copy:
        for row in rows:
            n += 1
            if numbered:
                number, values = row[0], row[1:]
            else:
                number, values = n, row
            copy.write_row((number, *values, h3_index(values[lon_i], values[lat_i])))
            if progress and n % 100_000 == 0:
                progress(f"staged {n:,} address units")
    return n


TERRITORY_LOCK = 0x6772_6964_6D6B_7401
"""Advisory-lock key serialising writers of the territory and of cell assignments (one at a time)."""


def lock_territory(conn: Connection) -> None:
    """Hold the territory lock until the caller's transaction ends.

    Loads of address units and territory imports both read the drawn cells and create generated
    cells; taking this lock first means neither sees the other half-done.
    """
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": TERRITORY_LOCK})


def _replace(sql: str, **parts: str) -> str:
    """Fill ``{{name}}`` markers with fragments of our own code (allow-listed, never user text)."""
    for name, fragment in parts.items():
        sql = sql.replace("{{" + name + "}}", fragment)
    if "{{" in sql:
        raise KeyError("unfilled marker in the SQL")
    return sql


# target table and source rows of each use of the assignment rule (stage_assign.sql)
_ASSIGN_TARGETS: dict[str, tuple[str, str]] = {
    "stage": (
        "stage_assigned",
        "SELECT s.*, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326) AS geom FROM stage_unit s "
        "WHERE s.needs_cell IS NOT FALSE",
    ),
    "reassign": (
        "reassign_assigned",
        "SELECT a.id AS unit_id, a.cell_id AS old_cell_id, a.city_id AS old_city_id, a.building_id, "
        "a.geom, a.h3_12 FROM address_unit a JOIN reassign_scope r ON r.unit_id = a.id",
    ),
}
# the address points of hexagon x.h whose centre lies in no district (territory_hex_home.sql)
_HEX_POINTS: dict[str, str] = {
    "stage": "SELECT p.geom FROM stage_assigned p WHERE p.hex = x.h",
    "reassign": "SELECT p.geom FROM reassign_assigned p WHERE p.hex = x.h",
    "cells": "SELECT a.geom FROM cell c JOIN address_unit a ON a.cell_id = c.id WHERE c.h3_index = x.h",
}


def _copy(conn: Connection, sql: str, rows: Iterable[tuple[Any, ...]]) -> None:
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur, cur.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def ensure_unassigned_area(conn: Connection) -> int:
    """Return the id of the unassigned district (区县未定), creating it and its city when missing."""
    did = conn.scalar(text("SELECT id FROM region WHERE code = :c"), {"c": UNASSIGNED_DISTRICT})
    if did is not None:
        return int(did)
    province = conn.scalar(text("SELECT id FROM region WHERE level = 'province' ORDER BY id LIMIT 1"))
    city = conn.scalar(
        text(
            "INSERT INTO region (code, name, level, parent_id, is_unassigned) "
            "VALUES (:c, '未分配地市', 'city', :p, true) RETURNING id"
        ),
        {"c": UNASSIGNED_CITY, "p": province},
    )
    conn.execute(text("UPDATE region SET city_id = id WHERE id = :i"), {"i": city})
    return int(
        conn.scalar(
            text(
                "INSERT INTO region (code, name, level, parent_id, city_id, is_unassigned) "
                "VALUES (:c, '区县未定', 'district', :city, :city, true) RETURNING id"
            ),
            {"c": UNASSIGNED_DISTRICT, "city": city},
        )
    )


def generated_grids(conn: Connection, district_ids: Iterable[int]) -> dict[int, int]:
    """Return district id → id of its grid of generated cells, creating the missing grids."""
    ids = sorted(set(district_ids))
    if not ids:
        return {}
    conn.execute(
        text(
            "INSERT INTO grid (code, name, city_id, district_id, kind) "
            "SELECT r.code || '-H3', r.name || '生成网格', r.city_id, r.id, 'generated' "
            "FROM region r WHERE r.id = ANY(:ids) AND NOT EXISTS ("
            "  SELECT 1 FROM grid g WHERE g.district_id = r.id AND g.kind = 'generated') ORDER BY r.id"
        ),
        {"ids": ids},
    )
    rows = conn.execute(
        text(
            "SELECT DISTINCT ON (district_id) district_id, id FROM grid "
            "WHERE kind = 'generated' AND district_id = ANY(:ids) ORDER BY district_id, id"
        ),
        {"ids": ids},
    )
    return {int(d): int(g) for d, g in rows}


def home_hexes(conn: Connection, hexes: list[int], *, points: str) -> dict[int, int | None]:
    """Return hexagon → the district its generated cell belongs to (None: the unassigned area).

    The rule (``territory_hex_home.sql``): the district holding the hexagon's centre, else the
    district holding most of its address points (``points``: a key of ``_HEX_POINTS``).
    """
    fragment = _HEX_POINTS[points]
    conn.execute(text("DROP TABLE IF EXISTS hex_home"))
    conn.execute(
        text(
            "CREATE TEMP TABLE hex_home (h bigint PRIMARY KEY, lon float8, lat float8, district_id integer) "
            "ON COMMIT DROP"
        )
    )
    rows = []
    for hx in hexes:
        lat, lon = h3.cell_to_latlng(h3.int_to_str(hx))
        rows.append((hx, lon, lat))
    _copy(conn, "COPY hex_home (h, lon, lat) FROM STDIN", rows)
    conn.execute(text("ANALYZE hex_home"))
    sqlfiles.run_script(conn, _replace(sqlfiles.load("territory_hex_home.sql"), points=fragment))
    return {
        int(h): (None if d is None else int(d))
        for h, d in conn.execute(text("SELECT h, district_id FROM hex_home"))
    }


def _unassigned_warning(n: int) -> str:
    return (
        f"{n} generated cell(s) lie in no loaded district: their addresses are in the "
        "unassigned area (区县未定) until regions covering them are imported"
    )


def create_generated_cells(
    conn: Connection, hexes: list[int], warnings: list[str], *, points: str = "stage"
) -> int:
    """Create generated H3 cells for ``hexes``, each in the district holding its centre.

    A hexagon whose centre lies in no district goes to the district holding most of the address
    points being assigned inside it (``points``, see :func:`home_hexes`), or else to the
    unassigned area (reported in ``warnings``). Each cell sits in its district's grid of generated
    cells. Returns the number of cells created.
    """
    if not hexes:
        return 0
    homes = home_hexes(conn, sorted(hexes), points=points)
    lost = [hx for hx, d in homes.items() if d is None]
    if lost:
        unassigned = ensure_unassigned_area(conn)
        homes.update({hx: unassigned for hx in lost})
        warnings.append(_unassigned_warning(len(lost)))
    grids = generated_grids(conn, (d for d in homes.values() if d is not None))
    conn.execute(text("DROP TABLE IF EXISTS new_hex_cell"))
    conn.execute(
        text(
            "CREATE TEMP TABLE new_hex_cell (h bigint, code text, name text, district_id integer, "
            "grid_id integer, geom text, area_km2 float8) ON COMMIT DROP"
        )
    )
    rows = []
    for hx in sorted(homes):
        district = homes[hx]
        assert district is not None
        poly = cell_polygon(hx)
        code = h3.int_to_str(hx)
        rows.append(
            (
                hx,
                f"H3-{code}",
                f"生成单元 {code}",
                district,
                grids[district],
                poly.wkt,
                geodesic_area_km2(poly),
            )
        )
    cols = "h, code, name, district_id, grid_id, geom, area_km2"
    _copy(conn, f"COPY new_hex_cell ({cols}) FROM STDIN", rows)
    created = conn.execute(
        text(
            "INSERT INTO cell (code, name, city_id, district_id, grid_id, source, h3_index, geom, area_km2) "
            "SELECT n.code, n.name, r.city_id, r.id, "
            "n.grid_id, 'h3', n.h, ST_Multi(ST_GeomFromText(n.geom, 4326)), n.area_km2 "
            "FROM new_hex_cell n JOIN region r ON r.id = n.district_id ORDER BY n.h"
        )
    )
    return int(created.rowcount)


def rehome_generated_cells(conn: Connection, cell_ids: list[int], warnings: list[str]) -> list[int]:
    """Move generated cells to the district the rule gives them now; return the ids of moved cells.

    After regions change, a generated cell's centre may lie in another district (or, for a cell of
    the unassigned area, in a newly loaded one): the cell, with its units, then belongs to that
    district's grid of generated cells and city. Cells of ``cell_ids`` that are not generated are
    ignored.
    """
    if not cell_ids:
        return []
    current = {
        int(h): (int(i), int(d))
        for i, h, d in conn.execute(
            text("SELECT id, h3_index, district_id FROM cell WHERE source = 'h3' AND id = ANY(:ids)"),
            {"ids": sorted(set(cell_ids))},
        )
    }
    if not current:
        return []
    homes = home_hexes(conn, sorted(current), points="cells")
    unassigned_id = conn.scalar(text("SELECT id FROM region WHERE code = :c"), {"c": UNASSIGNED_DISTRICT})
    lost = [hx for hx, d in homes.items() if d is None and current[hx][1] != unassigned_id]
    if lost:
        unassigned_id = ensure_unassigned_area(conn)
        warnings.append(_unassigned_warning(len(lost)))
    target = {hx: (d if d is not None else unassigned_id) for hx, d in homes.items()}
    moves = [(current[hx][0], d) for hx, d in sorted(target.items()) if d != current[hx][1] and d is not None]
    if not moves:
        return []
    grids = generated_grids(conn, (d for _, d in moves))
    moved = conn.execute(
        text(
            "UPDATE cell c SET district_id = r.id, city_id = r.city_id, grid_id = m.grid_id "
            "FROM unnest(CAST(:cells AS integer[]), CAST(:districts AS integer[]), "
            "CAST(:grids AS integer[])) AS m(cell_id, district_id, grid_id) "
            "JOIN region r ON r.id = m.district_id "
            "WHERE c.id = m.cell_id AND (c.district_id, c.city_id, c.grid_id) "
            "IS DISTINCT FROM (r.id, r.city_id, m.grid_id) RETURNING c.id"
        ),
        {
            "cells": [c for c, _ in moves],
            "districts": [d for _, d in moves],
            "grids": [grids[d] for _, d in moves],
        },
    )
    return sorted(int(i) for i in moved.scalars())


def assign_points(conn: Connection, kind: str, h3_resolution: int, warnings: list[str]) -> dict[str, int]:
    """Give every point of an assignment batch its cell, by the one rule of the territory.

    ``kind`` is ``"stage"`` (the rows of ``stage_unit``, into ``stage_assigned``) or
    ``"reassign"`` (the units listed in ``reassign_scope``, into ``reassign_assigned``); staged rows
    with ``needs_cell`` false keep their stored cell and are left out. Each
    point gets the drawn cell containing it, else the generated cell of its H3 hexagon at
    ``h3_resolution`` (created when missing, see :func:`create_generated_cells`).
    """
    target, source = _ASSIGN_TARGETS[kind]
    script = _replace(
        sqlfiles.load("stage_assign.sql"),
        target=target,
        source=source,
        parent_expr=parent_sql("s.h3_12", ":res"),
    )
    sqlfiles.run_script(conn, script, {"res": h3_resolution})
    missing = [
        int(h)
        for h in conn.scalars(
            text(
                _replace(
                    "SELECT DISTINCT s.hex FROM {{target}} s WHERE s.cell_id IS NULL "
                    "AND NOT EXISTS (SELECT 1 FROM cell c WHERE c.h3_index = s.hex) ORDER BY 1",
                    target=target,
                )
            )
        )
    ]
    created = create_generated_cells(conn, missing, warnings, points=kind)
    conn.execute(
        text(
            _replace(
                "UPDATE {{target}} s SET cell_id = c.id FROM cell c "
                "WHERE s.cell_id IS NULL AND c.h3_index = s.hex",
                target=target,
            )
        )
    )
    counts = conn.execute(
        text(
            _replace(
                "SELECT count(*) FILTER (WHERE NOT generated), count(*) FILTER (WHERE generated) "
                "FROM (SELECT s.hex IS NOT NULL AND c.source = 'h3' AS generated "
                "FROM {{target}} s JOIN cell c ON c.id = s.cell_id) t",
                target=target,
            )
        )
    ).one()
    return {"in_drawn_cells": int(counts[0]), "in_generated_cells": int(counts[1]), "cells_created": created}


def assign_staged(conn: Connection, h3_resolution: int, warnings: list[str]) -> dict[str, int]:
    """Assign every row of ``stage_unit`` a cell, into ``stage_assigned`` (see :func:`assign_points`)."""
    return assign_points(conn, "stage", h3_resolution, warnings)


REASSIGN_SCOPE_DDL = (
    "CREATE TEMP TABLE IF NOT EXISTS reassign_scope (unit_id bigint PRIMARY KEY) ON COMMIT DROP"
)
"""The temp table a caller fills with the ids of the address units :func:`reassign_units` re-checks."""


def reassign_units(
    conn: Connection,
    *,
    h3_resolution: int = 9,
    warnings: list[str] | None = None,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Re-assign the units listed in ``reassign_scope`` with the write-time rule, in the caller's transaction.

    Each unit gets the drawn cell containing it, else its generated H3 cell at ``h3_resolution``
    (created in the district holding the hexagon's centre), else the unassigned area; only units
    whose cell or city changes are written, their market records follow the unit's city (nothing
    else of them changes), buildings follow their first unit, and generated cells left without
    units (and referenced by nothing) are deleted. The caller holds :func:`lock_territory`.

    Returns ``units_in_scope``, ``units_reassigned``, ``records_moved``, ``buildings_updated``,
    ``generated_cells_created`` and ``generated_cells_deleted``.
    """
    warns = warnings if warnings is not None else []
    conn.execute(text(REASSIGN_SCOPE_DDL))
    conn.execute(text("ANALYZE reassign_scope"))
    in_scope = int(conn.scalar(text("SELECT count(*) FROM reassign_scope")) or 0)
    out = {
        "units_in_scope": in_scope,
        "units_reassigned": 0,
        "records_moved": 0,
        "buildings_updated": 0,
        "generated_cells_created": 0,
        "generated_cells_deleted": 0,
    }
    if not in_scope:
        return out
    if progress:
        progress(f"re-checking the cells of {in_scope:,} address units")
    assigned = assign_points(conn, "reassign", h3_resolution, warns)
    out["generated_cells_created"] = assigned["cells_created"]
    if progress:
        progress(
            f"cells found: {assigned['in_drawn_cells']:,} units in drawn cells, "
            f"{assigned['in_generated_cells']:,} in generated ones; writing the changes"
        )
    keys = ("units_reassigned", "records_moved", "buildings_updated", "generated_cells_deleted")
    for key, stmt in zip(keys, sqlfiles.statements(sqlfiles.load("reassign_units.sql")), strict=True):
        out[key] = int(conn.execute(text(stmt)).rowcount)
    if out["units_reassigned"]:
        for table in ("address_unit", "market_record", "cell"):
            conn.execute(text(f"ANALYZE {table}"))
    if progress:
        progress(
            f"{out['units_reassigned']:,} address units reassigned; generated cells: "
            f"{out['generated_cells_created']:,} created, {out['generated_cells_deleted']:,} deleted"
        )
    return out


def load_units(
    conn: Connection,
    rows: Iterable[tuple[Any, ...]],
    *,
    source: str,
    valid_from: dt.datetime,
    h3_resolution: int = 9,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Load new address units with their first market record (version 1) in the caller's transaction.

    ``rows`` are tuples in ``UNIT_COLUMNS`` order (lon/lat in WGS84). Units whose ``external_id``
    already exists are left alone (the address importer handles updates).
    """
    n = stage_units(conn, rows, progress=progress)
    lock_territory(conn)
    if progress:
        progress(f"staged {n:,} address units; assigning cells")
    warnings: list[str] = []
    summary: dict[str, Any] = {"staged": n}
    summary.update(assign_points(conn, "stage", h3_resolution, warnings))
    conn.execute(text("CREATE INDEX ON stage_assigned (external_id)"))
    if progress:
        progress("writing address units and market records")
    inserted = sqlfiles.run_script(
        conn, sqlfiles.load("insert_units.sql"), {"source": source, "valid_from": valid_from}
    )
    summary["inserted"] = inserted.rowcount
    conn.execute(
        text(
            "UPDATE building b SET cell_id = u.cell_id FROM ("
            "  SELECT DISTINCT ON (building_id) building_id, cell_id FROM address_unit "
            "  WHERE building_id IS NOT NULL ORDER BY building_id, id) u "
            "WHERE b.id = u.building_id AND b.cell_id IS DISTINCT FROM u.cell_id"
        )
    )
    for table in ("address_unit", "market_record", "cell", "building"):
        conn.execute(text(f"ANALYZE {table}"))
    summary["warnings"] = warnings
    return summary
