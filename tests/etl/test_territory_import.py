"""Territory import (regions, grids, cells, characteristic grids) and the territory rules.

Fixtures: tests/etl/fixtures/territory/ (made by make_fixtures.py there, which documents the
territory: districts TD1 = [120.0, 120.1] × [30.0, 30.1] and TD2 = [120.1, 120.2] × [30.0, 30.1]
of city TC; grid G1 in TD1 with cells C1 = [120.00, 120.02] × [30.00, 30.02] and C2 east of it;
grid G2 in TD2 with cell C3; characteristic grids F1 (C1, C3) and F2 (geometry only)).
Each test gets a fresh database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

import geopandas as gpd
import h3
from shapely.geometry import box

from gridmarket.etl.territory_import import ImportRejected, import_grids, import_regions
from gridmarket.etl.territory_io import read_features
from gridmarket.geo.geometry import geodesic_area_km2
from gridmarket.grids.errors import ValidationFailed
from gridmarket.grids.units import UNIT_COLUMNS, load_units

FIX = Path(__file__).parent / "fixtures" / "territory"
VALID_FROM = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)

# every territory row and every unit's cell and city, by natural keys, with xmin: equal before and
# after means not one row was written
CHECKSUM_QUERIES = (
    """SELECT r.xmin::text, r.code, r.name, r.level, p.code, c.code, r.is_unassigned,
              md5(ST_AsEWKB(r.geom)), r.area_km2
       FROM region r LEFT JOIN region p ON p.id = r.parent_id LEFT JOIN region c ON c.id = r.city_id
       ORDER BY r.code""",
    """SELECT g.xmin::text, g.code, g.name, c.code, d.code, g.kind, md5(ST_AsEWKB(g.geom)), g.area_km2
       FROM grid g JOIN region c ON c.id = g.city_id JOIN region d ON d.id = g.district_id ORDER BY g.code""",
    """SELECT x.xmin::text, x.code, x.name, c.code, d.code, g.code, x.type, x.source, x.h3_index,
              md5(ST_AsEWKB(x.geom)), x.area_km2
       FROM cell x JOIN region c ON c.id = x.city_id JOIN region d ON d.id = x.district_id
       JOIN grid g ON g.id = x.grid_id ORDER BY x.code""",
    """SELECT f.xmin::text, f.code, f.name, c.code, f.type, f.industries, md5(ST_AsEWKB(f.geom))
       FROM feature_grid f JOIN region c ON c.id = f.city_id ORDER BY f.code""",
    """SELECT fc.xmin::text, f.code, c.code FROM feature_grid_cell fc
       JOIN feature_grid f ON f.id = fc.feature_grid_id JOIN cell c ON c.id = fc.cell_id ORDER BY 2, 3""",
    """SELECT a.xmin::text, a.external_id, x.code, c.code FROM address_unit a
       JOIN cell x ON x.id = a.cell_id JOIN region c ON c.id = a.city_id ORDER BY a.external_id""",
    """SELECT m.xmin::text, a.external_id, m.version, c.code FROM market_record m
       JOIN address_unit a ON a.id = m.address_unit_id JOIN region c ON c.id = m.city_id ORDER BY 2, 3""",
)


def checksum(eng: Engine) -> list[list[tuple[Any, ...]]]:
    with eng.connect() as conn:
        return [[tuple(r) for r in conn.execute(text(q))] for q in CHECKSUM_QUERIES]


def counts(eng: Engine) -> dict[str, int]:
    with eng.connect() as conn:
        return {
            t: int(conn.scalar(text(f"SELECT count(*) FROM {t}")) or 0)
            for t in ("region", "grid", "cell", "feature_grid", "feature_grid_cell", "address_unit")
        }


def write(tmp_path: Path, name: str, rows: list[dict[str, Any]], crs: str = "EPSG:4326") -> Path:
    path = tmp_path / name
    gpd.GeoDataFrame(rows, geometry="geometry", crs=crs).to_file(path, driver="GeoJSON", engine="pyogrio")
    return path


def unit(ext: str, lon: float, lat: float, status: str = "stock", **kw: object) -> tuple[object, ...]:
    values: dict[str, object] = {c: None for c in UNIT_COLUMNS}
    values.update(external_id=ext, address=f"测试路{ext}号", lon=lon, lat=lat, status=status)
    values.update(kw)
    return tuple(values[c] for c in UNIT_COLUMNS)


def load(eng: Engine, rows: list[tuple[object, ...]]) -> dict[str, Any]:
    with eng.begin() as conn:
        return load_units(conn, iter(rows), source="import", valid_from=VALID_FROM, h3_resolution=9)


def placement(eng: Engine) -> dict[str, tuple[str, str, str, str, str]]:
    """external id → (cell code, cell source, district code, unit's city code, records' city codes)."""
    with eng.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT a.external_id, x.code, x.source, d.code, c.code, "
                "  (SELECT string_agg(DISTINCT mc.code, ',') FROM market_record m "
                "   JOIN region mc ON mc.id = m.city_id WHERE m.address_unit_id = a.id) "
                "FROM address_unit a JOIN cell x ON x.id = a.cell_id JOIN region d ON d.id = x.district_id "
                "JOIN region c ON c.id = a.city_id"
            )
        )
        return {r[0]: tuple(r[1:]) for r in rows}


def units_per_cell(eng: Engine) -> dict[str, int]:
    with eng.connect() as conn:
        return dict(
            conn.execute(
                text(
                    "SELECT x.code, count(*) FROM address_unit a JOIN cell x ON x.id = a.cell_id "
                    "JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL GROUP BY x.code"
                )
            ).all()
        )


def records(eng: Engine) -> list[tuple[Any, ...]]:
    """Every market record with every column but city_id (the only one reassignment may change)."""
    with eng.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT id, address_unit_id, version, customer_id, status, fixed_lines_own, "
                    "revenue_month, contact_phone, source, valid_from, valid_to "
                    "FROM market_record ORDER BY id"
                )
            )
        ]


@pytest.fixture
def db(new_database: Callable[[str], Engine]) -> Engine:
    return new_database("terr")


@pytest.fixture
def territory(db: Engine) -> Engine:
    import_regions(db, FIX / "regions.geojson")
    import_grids(db, FIX / "grids.geojson")
    return db


def problems_of(exc: pytest.ExceptionInfo[ImportRejected]) -> list[tuple[int, str, str]]:
    return exc.value.problems


def has(problems: list[tuple[int, str, str]], row: int, field: str, *words: str) -> bool:
    return any(p[0] == row and p[1] == field and all(w in p[2] for w in words) for p in problems)


# ------------------------------------------------------------------------------------------------
# reading: formats and coordinate systems
# ------------------------------------------------------------------------------------------------


def test_three_formats_give_the_same_rows(db: Engine) -> None:
    fields = ("code", "name", "level", "parent_code")
    read = {f: read_features(FIX / f, fields) for f in ("regions.geojson", "regions.gpkg", "regions.shp")}
    first = read["regions.geojson"].features
    for name, data in read.items():
        assert [f.values for f in data.features] == [f.values for f in first], name
        assert [f.geom.wkb for f in data.features if f.geom] == [f.geom.wkb for f in first if f.geom], name
    assert read["regions.shp"].features[2].values["parent_code"] == "TC"  # truncated column parent_cod

    assert import_regions(db, FIX / "regions.geojson")["regions_inserted"] == 4
    before = checksum(db)
    for other in ("regions.gpkg", "regions.shp"):
        s = import_regions(db, FIX / other)
        assert (s["regions_inserted"], s["regions_updated"], s["regions_unchanged"]) == (0, 0, 4), other
    assert checksum(db) == before
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT r.code, r.level, p.code, c.code FROM region r "
                "LEFT JOIN region p ON p.id = r.parent_id LEFT JOIN region c ON c.id = r.city_id "
                "ORDER BY r.code"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("TC", "city", "TP", "TC"),
        ("TD1", "district", "TC", "TC"),
        ("TD2", "district", "TC", "TC"),
        ("TP", "province", None, None),
    ]


def test_a_file_in_another_crs_is_reprojected_to_wgs84(db: Engine, tmp_path: Path) -> None:
    summary = import_regions(db, FIX / "regions_3857.geojson")
    assert summary["crs"] == "EPSG:3857" and summary["reprojected"] is True
    assert any("reprojected" in w for w in summary["warnings"])
    with db.connect() as conn:
        bounds = conn.execute(
            text(
                "SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom), area_km2 "
                "FROM region WHERE code = 'TD1'"
            )
        ).one()
    assert bounds[:4] == pytest.approx((120.0, 30.0, 120.1, 30.1), abs=1e-7)
    assert bounds[4] == pytest.approx(geodesic_area_km2(box(120.0, 30.0, 120.1, 30.1)), rel=1e-6)
    # CGCS2000 (EPSG:4490), the national datum, is converted too
    cgcs = write(
        tmp_path, "cgcs.geojson", [{"code": "Q", "geometry": box(120.0, 30.0, 120.1, 30.1)}], "EPSG:4490"
    )
    data = read_features(cgcs, ("code",))
    assert data.crs == "EPSG:4490" and data.reprojected
    assert data.features[0].geom is not None
    assert data.features[0].geom.bounds == pytest.approx((120.0, 30.0, 120.1, 30.1), abs=1e-6)


def test_an_unreadable_file_is_refused_in_one_line(db: Engine, tmp_path: Path) -> None:
    bad = tmp_path / "nonsense.geojson"
    bad.write_text("this is not GeoJSON", encoding="utf-8")
    with pytest.raises(ValidationFailed, match="cannot read"):
        import_regions(db, bad)


# ------------------------------------------------------------------------------------------------
# rule 1: validation before anything is written, problems with feature number, field and reason
# ------------------------------------------------------------------------------------------------


def test_region_problems_are_listed_and_nothing_is_written(db: Engine) -> None:
    with pytest.raises(ImportRejected) as exc:
        import_regions(db, FIX / "regions_broken.geojson")
    assert str(exc.value).startswith("6 of 7 features rejected")
    p = problems_of(exc)
    assert has(p, 2, "parent_code", "unknown parent", "NOWHERE")
    assert has(p, 3, "parent_code", "must be a city", "province")
    assert has(p, 4, "level", "unknown level", "county")
    assert has(p, 5, "code", "duplicate", "feature 1")
    assert has(p, 6, "geometry", "missing or empty")
    assert has(p, 7, "geometry", "projected", ".prj")
    assert not any(x[0] == 1 for x in p)
    assert counts(db)["region"] == 0


def test_grid_problems_are_listed_and_nothing_is_written(db: Engine) -> None:
    import_regions(db, FIX / "regions.geojson")
    before = checksum(db)
    with pytest.raises(ImportRejected) as exc:
        import_grids(db, FIX / "grids_broken.geojson")
    p = problems_of(exc)
    assert str(exc.value).startswith("10 of 12 features rejected")
    assert has(p, 2, "level", "missing")
    assert has(p, 3, "level", "unknown level", "block")
    assert has(p, 4, "parent_code", "unknown grid", "NOPE")
    assert has(p, 5, "type", "unknown type", "casino")
    assert has(p, 6, "geometry", "no polygonal part")
    assert has(p, 7, "geometry", "projected")
    assert has(p, 9, "code", "duplicate", "CD", "feature 8")
    assert has(p, 10, "member_cells", "C404")
    assert not has(p, 10, "member_cells", "CD")  # CD is in the file
    assert has(p, 11, "district_code", "TC", "not a district")
    assert has(p, 12, "geometry", "no polygonal part")
    assert not any(x[0] in (1, 8) for x in p)
    assert checksum(db) == before
    assert counts(db)["grid"] == counts(db)["cell"] == 0


# ------------------------------------------------------------------------------------------------
# rule 2: drawn cells do not overlap
# ------------------------------------------------------------------------------------------------


def test_overlapping_cells_are_refused_naming_both(territory: Engine, tmp_path: Path) -> None:
    before = checksum(territory)
    with pytest.raises(ImportRejected) as exc:
        import_grids(territory, FIX / "cells_overlap.geojson")
    p = problems_of(exc)
    assert has(p, 1, "geometry", "'C9'", "'C10'", "feature 2")
    assert has(p, 1, "geometry", "'C9'", "'C1'", "database")
    assert has(p, 1, "geometry", "'C9'", "'C2'", "database")
    assert checksum(territory) == before

    # a cell may be redrawn over its own old outline (same code), and a corner overlap below
    # 1 m² (about 0.5 m × 0.55 m here) is tolerated
    ok = write(
        tmp_path,
        "ok.geojson",
        [
            {
                "code": "C1",
                "name": "金融街单元",
                "level": "cell",
                "parent_code": "G1",
                "type": "commercial_building",
                "geometry": box(120.0, 30.0, 120.019, 30.025),
            },
            {
                "code": "C4",
                "name": "角落单元",
                "level": "cell",
                "parent_code": "G1",
                "type": "mixed",
                "geometry": box(120.04 - 5e-6, 30.02 - 5e-6, 120.05, 30.03),
            },
        ],
    )
    s = import_grids(territory, ok)
    assert (s["cells_inserted"], s["cells_updated"]) == (1, 1)


# ------------------------------------------------------------------------------------------------
# rule 3: a cell lies in one grid, a grid in one district
# ------------------------------------------------------------------------------------------------


def test_cells_take_district_and_city_from_their_grid(territory: Engine, tmp_path: Path) -> None:
    with territory.connect() as conn:
        got = {
            r[0]: tuple(r[1:])
            for r in conn.execute(
                text(
                    "SELECT x.code, g.code, d.code, c.code, x.type, x.area_km2 FROM cell x "
                    "JOIN grid g ON g.id = x.grid_id JOIN region d ON d.id = x.district_id "
                    "JOIN region c ON c.id = x.city_id"
                )
            )
        }
        grids = dict(
            conn.execute(
                text("SELECT g.code, d.code FROM grid g JOIN region d ON d.id = g.district_id")
            ).all()
        )
    assert grids == {"G1": "TD1", "G2": "TD2"}
    assert got["C1"][:4] == ("G1", "TD1", "TC", "commercial_building")
    assert got["C3"][:4] == ("G2", "TD2", "TC", "campus")
    assert got["C1"][4] == pytest.approx(geodesic_area_km2(box(120.0, 30.0, 120.02, 30.02)), rel=1e-9)

    wrong = write(
        tmp_path,
        "wrong.geojson",
        [
            {
                "code": "C5",
                "name": "错区单元",
                "level": "cell",
                "parent_code": "G1",
                "district_code": "TD2",
                "geometry": box(120.0, 30.03, 120.01, 30.04),
            }
        ],
    )
    with pytest.raises(ImportRejected) as exc:
        import_grids(territory, wrong)
    assert has(problems_of(exc), 1, "district_code", "G1", "TD1")

    # a grid moved to another district takes its cells along, even those not in the file
    moved = write(
        tmp_path,
        "moved.geojson",
        [
            {
                "code": "G2",
                "name": "西一网格",
                "level": "grid",
                "district_code": "TD1",
                "geometry": box(120.10, 30.00, 120.15, 30.05),
            }
        ],
    )
    s = import_grids(territory, moved)
    assert s["grids_updated"] == 1
    with territory.connect() as conn:
        assert (
            conn.scalar(
                text("SELECT d.code FROM cell x JOIN region d ON d.id = x.district_id WHERE x.code = 'C3'")
            )
            == "TD1"
        )


# ------------------------------------------------------------------------------------------------
# rule 4: characteristic grids
# ------------------------------------------------------------------------------------------------


def fg_rows(eng: Engine) -> dict[str, tuple[Any, ...]]:
    with eng.connect() as conn:
        return {
            r[0]: tuple(r[1:])
            for r in conn.execute(
                text(
                    "SELECT f.code, c.code, f.type, f.industries, f.geom IS NOT NULL, "
                    "  coalesce((SELECT array_agg(x.code ORDER BY x.code) FROM feature_grid_cell fc "
                    "   JOIN cell x ON x.id = fc.cell_id WHERE fc.feature_grid_id = f.id), '{}') "
                    "FROM feature_grid f JOIN region c ON c.id = f.city_id"
                )
            )
        }


def test_characteristic_grids(territory: Engine, tmp_path: Path) -> None:
    got = fg_rows(territory)
    assert got["F1"] == ("TC", "commercial_building", ["金融", "信息技术"], False, ["C1", "C3"])
    assert got["F2"] == ("TC", "campus", ["教育"], True, [])  # city from the geometry's location

    # re-import: the file's member list replaces the stored one; the city may come from district_code
    again = write(
        tmp_path,
        "fg.geojson",
        [
            {
                "code": "F1",
                "name": "商务楼宇特征网格",
                "level": "feature_grid",
                "type": "commercial_building",
                "industries": "金融；信息技术",
                "member_cells": "C2",
                "geometry": None,
            },
            {
                "code": "F3",
                "name": "医院特征网格",
                "level": "feature_grid",
                "type": "hospital",
                "industries": "医疗",
                "district_code": "TD2",
                "geometry": None,
            },
        ],
    )
    s = import_grids(territory, again)
    assert (s["feature_grids_inserted"], s["feature_grids_updated"]) == (1, 1)
    got = fg_rows(territory)
    assert got["F1"][4] == ["C2"]
    assert got["F3"] == ("TC", "hospital", ["医疗"], False, [])

    # a second city: member cells in two cities, and a grid whose city cannot be told, are refused
    city2 = write(
        tmp_path,
        "city2.geojson",
        [
            {
                "code": "TX",
                "name": "邻市",
                "level": "city",
                "parent_code": "TP",
                "geometry": box(120.2, 30.0, 120.3, 30.1),
            },
            {
                "code": "TX1",
                "name": "邻区",
                "level": "district",
                "parent_code": "TX",
                "geometry": box(120.2, 30.0, 120.3, 30.1),
            },
        ],
    )
    import_regions(territory, city2)
    bad = write(
        tmp_path,
        "bad_fg.geojson",
        [
            {
                "code": "GX",
                "name": "邻网格",
                "level": "grid",
                "district_code": "TX1",
                "geometry": box(120.2, 30.0, 120.25, 30.05),
            },
            {
                "code": "CX1",
                "name": "邻单元",
                "level": "cell",
                "parent_code": "GX",
                "geometry": box(120.2, 30.0, 120.21, 30.01),
            },
            {
                "code": "F4",
                "name": "跨市",
                "level": "feature_grid",
                "member_cells": "C1;CX1",
                "geometry": None,
            },
            {"code": "F5", "name": "无处", "level": "feature_grid", "industries": "金融", "geometry": None},
            {"code": "F6", "name": "海外", "level": "feature_grid", "geometry": box(10.0, 10.0, 10.1, 10.1)},
        ],
    )
    with pytest.raises(ImportRejected) as exc:
        import_grids(territory, bad)
    p = problems_of(exc)
    assert has(p, 3, "member_cells", "several cities", "TC", "TX")
    assert has(p, 4, "member_cells", "cannot tell the city")
    assert has(p, 5, "geometry", "no loaded city")
    assert len(p) == 3


# ------------------------------------------------------------------------------------------------
# rule 5: atomic and idempotent
# ------------------------------------------------------------------------------------------------


def test_importing_the_same_files_twice_changes_nothing(territory: Engine) -> None:
    load(territory, [unit("a", 120.005, 30.005), unit("b", 120.06, 30.06), unit("c", 121.5, 31.0)])
    before = checksum(territory)
    messages: list[str] = []
    r = import_regions(territory, FIX / "regions.geojson", progress=messages.append)
    g = import_grids(territory, FIX / "grids.geojson", progress=messages.append)
    assert (r["regions_inserted"], r["regions_updated"], r["regions_unchanged"]) == (0, 0, 4)
    for kind, n in (("grids", 2), ("cells", 3), ("feature_grids", 2)):
        assert (g[f"{kind}_inserted"], g[f"{kind}_updated"], g[f"{kind}_unchanged"]) == (0, 0, n)
    assert r["units_reassigned"] == g["units_reassigned"] == 0
    assert g["generated_cells_created"] == g["generated_cells_deleted"] == 0
    assert checksum(territory) == before
    assert any("reading" in m for m in messages) and any("valid" in m for m in messages)


# ------------------------------------------------------------------------------------------------
# rules 6 and 7: re-import reassigns the affected addresses; nothing is dropped
# ------------------------------------------------------------------------------------------------


def test_unassigned_addresses_move_to_their_district_then_into_a_drawn_cell(
    db: Engine, tmp_path: Path
) -> None:
    coords = {
        "u1": (120.005, 30.005),  # in C1
        "u2": (120.015, 30.015),  # in C1
        "u3": (120.06, 30.06),  # in TD1, no drawn cell
        "u4": (120.11, 30.01),  # in C3 (TD2)
        "u5": (121.5, 31.0),  # in no district at all
    }
    units = [
        unit("u1", *coords["u1"], "stock", fixed_lines_own=1, revenue_month=100),
        unit("u2", *coords["u2"], "potential", contact_phone="13800000000"),
        unit("u3", *coords["u3"], "other_network"),
        unit("u4", *coords["u4"], "competing", fixed_lines_own=1, fixed_lines_rival=1),
        unit("u5", *coords["u5"], "unknown"),
    ]
    summary = load(db, units)
    assert any("unassigned" in w for w in summary["warnings"])
    first = placement(db)
    assert {p[2] for p in first.values()} == {"UNASSIGNED-D"}
    assert {p[3] for p in first.values()} == {"UNASSIGNED"}
    recs = records(db)

    r = import_regions(db, FIX / "regions.geojson")
    assert r["generated_cells_moved"] == 4 and r["units_reassigned"] == 4 and r["records_moved"] == 4
    after_regions = placement(db)
    for ext, district in (("u1", "TD1"), ("u2", "TD1"), ("u3", "TD1"), ("u4", "TD2")):
        cell, source, got_district, city, rec_city = after_regions[ext]
        lon, lat = coords[ext]
        hex9 = h3.latlng_to_cell(lat, lon, 9)
        assert (cell, source, got_district, city, rec_city) == (f"H3-{hex9}", "h3", district, "TC", "TC")
    assert after_regions["u5"][2:] == ("UNASSIGNED-D", "UNASSIGNED", "UNASSIGNED")
    with db.connect() as conn:
        assert (
            conn.scalar(
                text("SELECT g.code FROM cell x JOIN grid g ON g.id = x.grid_id WHERE x.code = :c"),
                {"c": after_regions["u1"][0]},
            )
            == "TD1-H3"
        )

    g = import_grids(db, FIX / "grids.geojson")
    assert g["units_reassigned"] == 3 and g["generated_cells_deleted"] == 3
    after_grids = placement(db)
    assert after_grids["u1"][:3] == after_grids["u2"][:3] == ("C1", "drawn", "TD1")
    assert after_grids["u4"][:3] == ("C3", "drawn", "TD2")
    assert after_grids["u3"] == after_regions["u3"]
    per_cell = units_per_cell(db)
    assert per_cell == {"C1": 2, "C3": 1, after_regions["u3"][0]: 1, after_regions["u5"][0]: 1}
    with db.connect() as conn:
        generated = set(conn.scalars(text("SELECT code FROM cell WHERE source = 'h3'")))
    assert generated == {after_regions["u3"][0], after_regions["u5"][0]}

    # C1 redrawn smaller: u2 is no longer covered and goes back to its generated cell
    smaller = write(
        tmp_path,
        "c1.geojson",
        [
            {
                "code": "C1",
                "name": "金融街单元",
                "level": "cell",
                "parent_code": "G1",
                "type": "commercial_building",
                "geometry": box(120.0, 30.0, 120.01, 30.01),
            }
        ],
    )
    s = import_grids(db, smaller)
    assert s["cells_updated"] == 1 and s["units_reassigned"] == 1 and s["generated_cells_created"] == 1
    last = placement(db)
    assert last["u1"][0] == "C1" and last["u2"][:3] == (after_regions["u2"][0], "h3", "TD1")
    # nothing dropped, records untouched but for their city
    assert set(last) == {"u1", "u2", "u3", "u4", "u5"}
    assert records(db) == recs


def test_a_redrawn_district_takes_the_generated_cells_whose_centre_it_now_holds(
    db: Engine, tmp_path: Path
) -> None:
    import_regions(db, FIX / "regions.geojson")
    load(db, [unit("w", 120.06, 30.06), unit("e", 120.15, 30.06)])
    assert {k: v[2] for k, v in placement(db).items()} == {"w": "TD1", "e": "TD2"}
    border = write(
        tmp_path,
        "border.geojson",
        [
            {
                "code": "TD1",
                "name": "东区",
                "level": "district",
                "parent_code": "TC",
                "geometry": box(120.0, 30.0, 120.05, 30.1),
            },
            {
                "code": "TD2",
                "name": "西区",
                "level": "district",
                "parent_code": "TC",
                "geometry": box(120.05, 30.0, 120.2, 30.1),
            },
        ],
    )
    s = import_regions(db, border)
    assert s["regions_updated"] == 2 and s["generated_cells_moved"] == 1
    got = placement(db)
    assert got["w"][1:] == ("h3", "TD2", "TC", "TC")
    with db.connect() as conn:
        assert (
            conn.scalar(
                text("SELECT g.code FROM cell x JOIN grid g ON g.id = x.grid_id WHERE x.code = :c"),
                {"c": got["w"][0]},
            )
            == "TD2-H3"
        )


def test_overlapping_districts_are_reported(db: Engine, tmp_path: Path) -> None:
    import_regions(db, FIX / "regions.geojson")
    wide = write(
        tmp_path,
        "wide.geojson",
        [
            {
                "code": "TD1",
                "name": "东区",
                "level": "district",
                "parent_code": "TC",
                "geometry": box(120.0, 30.0, 120.12, 30.1),
            }
        ],
    )
    s = import_regions(db, wide)
    assert any("TD1 and TD2 overlap" in w for w in s["warnings"])
