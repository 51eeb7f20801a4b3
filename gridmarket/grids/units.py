"""Bulk load of address units and their market records, with write-time cell and H3 assignment.

The path is the one of ARCHITECTURE.md: COPY into a temporary (unlogged) staging table, assign
every row its drawn cell, or a generated H3 cell, or the unassigned area, in a few set-based
statements, then one ``INSERT … SELECT`` per target table and ``ANALYZE``.
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
    h3_12 bigint
) ON COMMIT DROP
"""

UNASSIGNED_CITY = "UNASSIGNED"
UNASSIGNED_DISTRICT = "UNASSIGNED-D"

Progress = Callable[[str], None]


def h3_index(lon: float, lat: float, res: int = 12) -> int:
    """Return the H3 index of a WGS84 point as a signed 64-bit integer (PostgreSQL ``bigint``)."""
    return int(h3.str_to_int(h3.latlng_to_cell(lat, lon, res)))


def _copy_rows(conn: Connection, rows: Iterable[tuple[Any, ...]], progress: Progress | None) -> int:
    cols = ("row_no", *UNIT_COLUMNS, "h3_12")
    raw = conn.connection.driver_connection
    assert raw is not None
    n = 0
    lon_i, lat_i = UNIT_COLUMNS.index("lon"), UNIT_COLUMNS.index("lat")
    with raw.cursor() as cur, cur.copy(f"COPY stage_unit ({', '.join(cols)}) FROM STDIN") as copy:
        for row in rows:
            n += 1
            copy.write_row((n, *row, h3_index(row[lon_i], row[lat_i])))
            if progress and n % 100_000 == 0:
                progress(f"staged {n:,} address units")
    return n


def _ensure_unassigned_area(conn: Connection) -> int:
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


def _generated_grid(conn: Connection, district_id: int) -> int:
    """Return the per-district grid of generated cells, creating it when missing."""
    gid = conn.scalar(
        text("SELECT id FROM grid WHERE district_id = :d AND kind = 'generated'"), {"d": district_id}
    )
    if gid is not None:
        return int(gid)
    return int(
        conn.scalar(
            text(
                "INSERT INTO grid (code, name, city_id, district_id, kind) "
                "SELECT r.code || '-H3', r.name || '生成网格', r.city_id, r.id, 'generated' "
                "FROM region r WHERE r.id = :d RETURNING id"
            ),
            {"d": district_id},
        )
    )


def create_generated_cells(conn: Connection, hexes: list[int], warnings: list[str]) -> int:
    """Create generated H3 cells for ``hexes``, each in the district holding its centre.

    A hexagon whose centre lies in no district goes to the district holding most of the staged
    addresses inside it, or else to the unassigned area (reported in ``warnings``).
    """
    if not hexes:
        return 0
    unassigned = 0
    for hx in hexes:
        poly = cell_polygon(hx)
        lat, lon = h3.cell_to_latlng(h3.int_to_str(hx))
        district = conn.scalar(
            text(
                "SELECT id FROM region WHERE level = 'district' AND NOT is_unassigned "
                "AND ST_Intersects(geom, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) ORDER BY id LIMIT 1"
            ),
            {"x": lon, "y": lat},
        )
        if district is None:
            district = conn.scalar(
                text(
                    "SELECT r.id FROM stage_assigned s JOIN region r ON r.level = 'district' "
                    "AND NOT r.is_unassigned AND ST_Intersects(r.geom, s.geom) "
                    "WHERE s.hex = :h GROUP BY r.id ORDER BY count(*) DESC, r.id LIMIT 1"
                ),
                {"h": hx},
            )
        if district is None:
            district = _ensure_unassigned_area(conn)
            unassigned += 1
        grid_id = _generated_grid(conn, int(district))
        code = h3.int_to_str(hx)
        conn.execute(
            text(
                "INSERT INTO cell (code, name, city_id, district_id, grid_id, source, h3_index, geom, "
                "area_km2) SELECT :code, :name, r.city_id, r.id, :grid, 'h3', :h, "
                "ST_Multi(ST_GeomFromText(:wkt, 4326)), :area FROM region r WHERE r.id = :d"
            ),
            {
                "code": f"H3-{code}",
                "name": f"生成单元 {code}",
                "grid": grid_id,
                "h": hx,
                "wkt": poly.wkt,
                "area": geodesic_area_km2(poly),
                "d": district,
            },
        )
    if unassigned:
        warnings.append(
            f"{unassigned} generated cell(s) lie in no loaded district: their addresses are in the "
            "unassigned area (区县未定) until regions covering them are imported"
        )
    return len(hexes)


def assign_staged(conn: Connection, h3_resolution: int, warnings: list[str]) -> dict[str, int]:
    """Assign every staged row a cell: drawn cell, else generated H3 cell (created when missing)."""
    script = sqlfiles.load("stage_assign.sql").replace(":parent_expr", parent_sql("s.h3_12", ":res"))
    sqlfiles.run_script(conn, script, {"res": h3_resolution})
    missing = [
        int(h)
        for h in conn.scalars(
            text(
                "SELECT DISTINCT s.hex FROM stage_assigned s WHERE s.cell_id IS NULL "
                "AND NOT EXISTS (SELECT 1 FROM cell c WHERE c.h3_index = s.hex) ORDER BY 1"
            )
        )
    ]
    created = create_generated_cells(conn, missing, warnings)
    conn.execute(
        text(
            "UPDATE stage_assigned s SET cell_id = c.id FROM cell c "
            "WHERE s.cell_id IS NULL AND c.h3_index = s.hex"
        )
    )
    counts = conn.execute(
        text(
            "SELECT count(*) FILTER (WHERE NOT generated), count(*) FILTER (WHERE generated) "
            "FROM (SELECT s.hex IS NOT NULL AND c.source = 'h3' AS generated FROM stage_assigned s "
            "JOIN cell c ON c.id = s.cell_id) t"
        )
    ).one()
    return {"in_drawn_cells": int(counts[0]), "in_generated_cells": int(counts[1]), "cells_created": created}


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
    conn.execute(text(_STAGE_DDL))
    n = _copy_rows(conn, rows, progress)
    if progress:
        progress(f"staged {n:,} address units; assigning cells")
    warnings: list[str] = []
    summary: dict[str, Any] = {"staged": n}
    summary.update(assign_staged(conn, h3_resolution, warnings))
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
