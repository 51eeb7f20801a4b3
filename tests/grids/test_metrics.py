"""Every METRICS.md metric at every level, current, as of a past date and over periods (grids.metrics).

A tiny hand-made territory (WGS84 degrees), every expected figure worked out by hand below:

    province P (area 1000 km²) → city C (100 km²) → districts D1 (4 km²), D2 (4 km²)
    grid G1 in D1, no geometry (area = its cells' 2 + 1 = 3 km²); grid G2 in D2 (5 km²)
    cell A  = [120.00, 120.01] × [30.00, 30.02], G1, 2 km²
    cell B  = [120.01, 120.02] × [30.00, 30.02], G1, 1 km²
    cell E  = [120.02, 120.04] × [30.00, 30.02], G2, 2.5 km²
    cell Z  = [120.02, 120.03] × [30.02, 30.03], G2, 0.5 km²  (no unit)
    customers CU1 (industry hospital), CU2 (finance); buildings BA (cell A), BB (cell B)
    characteristic grids F1 = member cell B + industry hospital; F2 = industry finance

Units are loaded on 2025-01-01 00:00 (Asia/Shanghai); D is today in that zone. Cell E carries a
history (h1..h7, written as field edits: close the current version, insert version + 1).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, Engine, text

import h3

from gridmarket.grids import metrics
from gridmarket.grids.auth import User
from gridmarket.grids.errors import Forbidden, NotFound, ValidationFailed
from gridmarket.grids.scope import Scope, system_scope, today
from gridmarket.grids.units import UNIT_COLUMNS, load_units

TZ = "Asia/Shanghai"
SH = ZoneInfo(TZ)
LOADED = dt.datetime(2025, 1, 1, tzinfo=SH)
D = today(TZ)
ADMIN = system_scope()


def box(x0: float, y0: float, x1: float, y1: float) -> str:
    return f"MULTIPOLYGON((({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0})))"


def unit(ext: str, lon: float, lat: float, status: str | None, **kw: object) -> tuple[object, ...]:
    values: dict[str, object] = {c: None for c in UNIT_COLUMNS}
    values.update(external_id=ext, address=f"测试路{ext}号", lon=lon, lat=lat, status=status)
    values.update(kw)
    return tuple(values[c] for c in UNIT_COLUMNS)


def make_territory(conn: Connection) -> dict[str, int]:
    """Create the territory of the module docstring; return cell code → id."""
    conn.execute(
        text(
            "INSERT INTO region (id, code, name, level, area_km2) VALUES (1, 'P', '测试省', 'province', 1000)"
        )
    )
    conn.execute(
        text(
            "INSERT INTO region (id, code, name, level, parent_id, city_id, geom, area_km2) VALUES "
            "(2, 'C', '测试市', 'city', 1, 2, ST_GeomFromText(:c, 4326), 100),"
            "(3, 'D1', '一区', 'district', 2, 2, ST_GeomFromText(:d1, 4326), 4),"
            "(4, 'D2', '二区', 'district', 2, 2, ST_GeomFromText(:d2, 4326), 4)"
        ),
        {
            "c": box(119.9, 29.9, 120.1, 30.1),
            "d1": box(120.0, 30.0, 120.02, 30.02),
            "d2": box(120.02, 30.0, 120.04, 30.03),
        },
    )
    conn.execute(
        text(
            "INSERT INTO grid (id, code, name, city_id, district_id, geom, area_km2) VALUES "
            "(1, 'G1', '网格一', 2, 3, NULL, NULL), (2, 'G2', '网格二', 2, 4, ST_GeomFromText(:g2, 4326), 5)"
        ),
        {"g2": box(120.02, 30.0, 120.04, 30.03)},
    )
    for code, grid, district, geom, area in (
        ("A", 1, 3, box(120.0, 30.0, 120.01, 30.02), 2.0),
        ("B", 1, 3, box(120.01, 30.0, 120.02, 30.02), 1.0),
        ("E", 2, 4, box(120.02, 30.0, 120.04, 30.02), 2.5),
        ("Z", 2, 4, box(120.02, 30.02, 120.03, 30.03), 0.5),
    ):
        conn.execute(
            text(
                "INSERT INTO cell (code, name, city_id, district_id, grid_id, source, geom, area_km2) "
                "VALUES (:code, :name, 2, :d, :g, 'drawn', ST_GeomFromText(:geom, 4326), :area)"
            ),
            {"code": code, "name": f"单元{code}", "d": district, "g": grid, "geom": geom, "area": area},
        )
    conn.execute(
        text(
            "INSERT INTO customer (city_id, source_code, name, industry) VALUES "
            "(2, 'CU1', '人民医院', 'hospital'), (2, 'CU2', '城商银行', 'finance')"
        )
    )
    conn.execute(
        text(
            "INSERT INTO building (city_id, code, name, geom) VALUES "
            "(2, 'BA', '甲楼', ST_SetSRID(ST_MakePoint(120.005, 30.005), 4326)),"
            "(2, 'BB', '乙楼', ST_SetSRID(ST_MakePoint(120.015, 30.005), 4326))"
        )
    )
    conn.execute(
        text(
            "INSERT INTO feature_grid (code, name, city_id, type, industries) VALUES "
            "('F1', '医院网格', 2, 'hospital', ARRAY['hospital']), "
            "('F2', '金融网格', 2, NULL, ARRAY['finance'])"
        )
    )
    conn.execute(
        text(
            "INSERT INTO feature_grid_cell (feature_grid_id, cell_id) "
            "SELECT f.id, c.id FROM feature_grid f, cell c WHERE f.code = 'F1' AND c.code = 'B'"
        )
    )
    conn.execute(text("SELECT setval('region_id_seq', 10), setval('grid_id_seq', 10)"))
    return dict(conn.execute(text("SELECT code, id FROM cell")).all())  # type: ignore[arg-type]


def d(days: int) -> dt.date:
    return D + dt.timedelta(days=days)


UNITS_A_B = [
    # cell A
    unit("a1", 120.001, 30.001, "stock", fixed_lines_own=2, broadband_own=1, ld_minutes_own=100,
         revenue_month=1000, building_code="BA", customer_code="CU1"),
    unit("a2", 120.002, 30.002, "competing", fixed_lines_own=1, fixed_lines_rival=1, broadband_rival=1,
         ld_minutes_own=50, ld_minutes_rival=150, revenue_month=500, rival_operator="中国移动",
         contract_end=d(90), building_code="BA"),
    unit("a3", 120.003, 30.003, "other_network", fixed_lines_rival=2, ld_minutes_rival=300,
         rival_operator="", contract_end=d(0)),
    unit("a4", 120.004, 30.004, "other_network", broadband_rival=1, rival_operator="中国联通",
         contract_end=d(91), customer_code="CU2"),
    unit("a5", 120.005, 30.005, "potential"),
    unit("a6", 120.006, 30.006, "vacant"),
    unit("a7", 120.007, 30.007, None),  # no counts → derived unknown
    unit("a8", 120.008, 30.008, None, fixed_lines_own=1, broadband_rival=1, revenue_month=300,
         rival_operator="中国联通", contract_end=d(-1)),  # derived competing
    # cell B: nobody in demand
    unit("b1", 120.011, 30.001, "vacant"),
    unit("b2", 120.012, 30.002, "unknown"),
    unit("b3", 120.013, 30.003, "vacant", customer_code="CU1", building_code="BB"),
]  # fmt: skip
UNITS_E = [
    unit("e1", 120.021, 30.001, "other_network", fixed_lines_rival=1, ld_minutes_rival=10,
         rival_operator="中国移动", customer_code="CU1"),
    unit("e2", 120.022, 30.002, "potential", customer_code="CU2"),
    unit("h1", 120.023, 30.003, "stock", fixed_lines_own=2, broadband_own=1),
    unit("h2", 120.024, 30.004, "potential"),
    unit("h3", 120.025, 30.005, "competing", fixed_lines_own=1, fixed_lines_rival=1,
         rival_operator="中国联通", contract_end=dt.date(2025, 3, 1)),
    unit("h4", 120.026, 30.006, "other_network", broadband_rival=1, rival_operator="中国移动",
         contract_end=dt.date(2025, 4, 1)),
    unit("h5", 120.027, 30.007, "stock", fixed_lines_own=1),
    unit("h6", 120.028, 30.008, "unknown"),
]  # fmt: skip
H7 = unit("h7", 120.029, 30.009, "stock", fixed_lines_own=2)


def at(y: int, m: int, day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(y, m, day, hour, tzinfo=SH)


def write_version(conn: Connection, external_id: str, when: dt.datetime, **changes: Any) -> None:
    """Write a new version as a field edit does: close the current one at ``when``, insert version + 1."""
    cur = (
        conn.execute(
            text(
                "SELECT r.* FROM market_record r JOIN address_unit a ON a.id = r.address_unit_id "
                "WHERE a.external_id = :e AND r.valid_to IS NULL"
            ),
            {"e": external_id},
        )
        .mappings()
        .one()
    )
    conn.execute(text("UPDATE market_record SET valid_to = :w WHERE id = :i"), {"w": when, "i": cur["id"]})
    new = {k: v for k, v in cur.items() if k != "id"}
    new.update(version=cur["version"] + 1, valid_from=when, valid_to=None, source="field")
    new.update(changes)
    cols = ", ".join(new)
    conn.execute(text(f"INSERT INTO market_record ({cols}) VALUES ({', '.join(':' + c for c in new)})"), new)


# the history of cell E's units (METRICS.md: a field edit closes the old version, adds a new one)
def write_history(conn: Connection) -> None:
    reset = {"fixed_lines_own": 0, "fixed_lines_rival": 0, "broadband_own": 0, "broadband_rival": 0}
    # h1 stock → other_network on 03-10 → stock again on 03-20 (left and came back)
    gone = {**reset, "fixed_lines_rival": 3}
    back = {**reset, "fixed_lines_own": 2, "broadband_own": 1}
    write_version(conn, "h1", at(2025, 3, 10), status="other_network", rival_operator="中国移动", **gone)
    write_version(conn, "h1", at(2025, 3, 20), status="stock", rival_operator=None, **back)
    # h2 potential → stock with 2 own lines on 03-15 (won)
    write_version(conn, "h2", at(2025, 3, 15), status="stock", fixed_lines_own=2)
    # h3 competing (1 own line) → other_network on 03-05 (churned)
    write_version(conn, "h3", at(2025, 3, 5), status="other_network", **{**reset, "fixed_lines_rival": 2})
    # h4 other_network → competing with 3 own lines on 04-02 (won in Q2)
    write_version(conn, "h4", at(2025, 4, 2), status="competing", fixed_lines_own=3)
    # h5 stock 1 own line → 4 own lines, revenue 400, on 03-25
    write_version(conn, "h5", at(2025, 3, 25), fixed_lines_own=4, revenue_month=400)
    # h6 retired on 03-12 at noon
    conn.execute(
        text("UPDATE address_unit SET retired_at = :w WHERE external_id = 'h6'"), {"w": at(2025, 3, 12, 12)}
    )


@pytest.fixture(scope="module")
def tiny(new_database: Callable[[str], Engine]) -> Iterator[Engine]:
    """The territory with its units and cell E's history (read-only for the tests of this module)."""
    eng = new_database("metrics")
    with eng.begin() as conn:
        make_territory(conn)
        load_units(conn, iter(UNITS_A_B + UNITS_E), source="import", valid_from=LOADED)
        load_units(conn, iter([H7]), source="field", valid_from=at(2025, 3, 18))  # a unit new in March
        write_history(conn)
    yield eng
    eng.dispose()


@pytest.fixture
def conn(tiny: Engine) -> Iterator[Connection]:
    with tiny.connect() as c:
        yield c


def by_id(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(r["id"]): r for r in rows}


def level(conn: Connection, lvl: str, scope: Scope = ADMIN, **kw: Any) -> dict[str, dict[str, Any]]:
    rows = metrics.metrics_for_level(conn, scope, lvl, tz=TZ, **kw)
    raw = metrics.metrics_for_level(conn, scope, lvl, tz=TZ, from_base=True, **kw)
    assert rows == raw, f"aggregates and base tables differ at {lvl} {kw}"
    return by_id(rows)


def test_every_metrics_key_is_returned(conn: Connection) -> None:
    for lvl in metrics.LEVELS:
        for row in metrics.metrics_for_level(conn, ADMIN, lvl, tz=TZ):
            assert set(metrics.METRIC_KEYS) <= set(row), lvl
            assert {"id", "name", "level", "code", "area_km2"} <= set(row)
            assert row["level"] == lvl


def test_cell_a_by_hand(conn: Connection) -> None:
    a = level(conn, "cell")["A"]
    # units a1..a8: stock a1; competing a2, a8 (derived: own 1, rival 1); other_network a3, a4;
    # potential a5; vacant a6; unknown a7 (derived: no counts)
    assert a["units"] == 8
    assert (a["n_stock"], a["n_competing"], a["n_other_network"]) == (1, 2, 2)
    assert (a["n_potential"], a["n_vacant"], a["n_unknown"]) == (1, 1, 1)
    assert a["surveyed"] == 7 and a["coverage"] == pytest.approx(7 / 8)
    assert a["demand"] == 6  # 1 + 2 + 2 + 1
    assert a["penetration"] == pytest.approx(3 / 6)
    assert a["fixed_line_penetration"] == pytest.approx(3 / 6)  # a1, a2, a8 have own fixed lines
    assert a["broadband_penetration"] == pytest.approx(1 / 6)  # a1
    assert a["long_distance_share"] == pytest.approx(150 / 600)  # own 100 + 50; rival 150 + 300
    # own lines a1 3 + a2 1 + a8 1 = 5; all four: a1 3 + a2 3 + a3 2 + a4 1 + a8 2 = 11
    assert a["line_share"] == pytest.approx(5 / 11)
    assert a["exclusivity"] == pytest.approx(1 / 3)
    assert a["revenue"] == pytest.approx(1800)  # 1000 + 500 + 300
    assert a["revenue_density"] == pytest.approx(1800 / 2.0)
    assert a["arpa"] == pytest.approx(1800 / 3)
    assert a["opportunity"] == 3  # 2 other_network + 1 potential
    # competing/other_network with D ≤ contract_end ≤ D+90: a2 (D+90) and a3 (D); not a4 (D+91), a8 (D-1)
    assert a["expiring_90d"] == 2
    # a2 中国移动, a3 empty name → unknown, a4 and a8 中国联通
    assert a["rival_mix"] == {"中国移动": 1, "unknown": 1, "中国联通": 2}
    assert (a["churned"], a["won"], a["new_own_lines"]) == (0, 0, 0)  # nothing changed this month
    assert (a["grid_code"], a["district_code"], a["source"]) == ("G1", "D1", "drawn")


def test_zero_denominators_give_null(conn: Connection) -> None:
    cells = level(conn, "cell")
    b = cells["B"]  # vacant, unknown, vacant: nobody in demand
    assert (b["units"], b["n_vacant"], b["n_unknown"], b["surveyed"], b["demand"]) == (3, 2, 1, 2, 0)
    assert b["coverage"] == pytest.approx(2 / 3)
    for key in ("penetration", "fixed_line_penetration", "broadband_penetration", "exclusivity", "arpa"):
        assert b[key] is None, key
    assert b["long_distance_share"] is None and b["line_share"] is None  # no minutes, no lines
    assert b["revenue"] == 0 and b["revenue_density"] == 0  # the area is not zero
    assert b["rival_mix"] == {} and b["expiring_90d"] == 0
    z = cells["Z"]  # no unit at all
    assert z["units"] == 0 and z["coverage"] is None and z["penetration"] is None
    assert z["revenue_density"] == 0


def test_cell_e_after_its_history(conn: Connection) -> None:
    e = level(conn, "cell")["E"]
    # now: e1 other, e2 potential, h1 stock (3 own), h2 stock (2), h3 other, h4 competing (3 own +
    # 1 rival bb), h5 stock (4, revenue 400), h7 stock (2); h6 is retired
    assert e["units"] == 8
    assert (e["n_stock"], e["n_competing"], e["n_other_network"], e["n_potential"]) == (4, 1, 2, 1)
    assert e["n_unknown"] == 0 and e["coverage"] == 1.0
    assert e["penetration"] == pytest.approx(5 / 8)
    assert e["fixed_line_penetration"] == pytest.approx(5 / 8)  # h1 h2 h4 h5 h7
    assert e["broadband_penetration"] == pytest.approx(1 / 8)  # h1
    assert e["long_distance_share"] == 0.0  # own 0 of 10 minutes
    # own lines 3 + 2 + 3 + 4 + 2 = 14; rival lines e1 1 + h3 2 + h4 1 = 4
    assert e["line_share"] == pytest.approx(14 / 18)
    assert e["exclusivity"] == pytest.approx(4 / 5)
    assert e["revenue"] == pytest.approx(400) and e["revenue_density"] == pytest.approx(160)
    assert e["arpa"] == pytest.approx(80)
    assert e["rival_mix"] == {"中国移动": 2, "中国联通": 1}  # e1, h4 (kept from v1), h3


def test_roll_up_to_grid_district_city_province(conn: Connection) -> None:
    g = level(conn, "grid")
    g1, g2 = g["G1"], g["G2"]
    assert g1["units"] == 11 and g1["n_vacant"] == 3 and g1["n_unknown"] == 2
    assert g1["coverage"] == pytest.approx(9 / 11) and g1["penetration"] == pytest.approx(3 / 6)
    assert g1["area_km2"] == pytest.approx(3.0)  # no geometry: its cells' 2 + 1
    assert g1["revenue_density"] == pytest.approx(1800 / 3)
    assert g2["area_km2"] == pytest.approx(5.0) and g2["revenue_density"] == pytest.approx(400 / 5)
    dist = level(conn, "district")
    assert dist["D1"]["revenue_density"] == pytest.approx(1800 / 4)
    assert dist["D2"]["units"] == 8 and dist["D2"]["revenue_density"] == pytest.approx(400 / 4)
    city = level(conn, "city")["C"]
    assert city["units"] == 19 and city["revenue"] == pytest.approx(2200)
    assert city["revenue_density"] == pytest.approx(22)
    assert city["rival_mix"] == {"中国移动": 3, "中国联通": 3, "unknown": 1}
    assert level(conn, "province")["P"]["revenue_density"] == pytest.approx(2.2)
    # every count and sum of a parent is the sum of its children's
    cells = level(conn, "cell")
    for key in ("units", "n_stock", "n_competing", "n_other_network", "demand", "revenue", "expiring_90d"):
        assert g1[key] == pytest.approx(cells["A"][key] + cells["B"][key])
        assert g2[key] == pytest.approx(cells["E"][key] + cells["Z"][key])
        assert dist["D1"][key] == pytest.approx(g1[key]) and dist["D2"][key] == pytest.approx(g2[key])
        assert city[key] == pytest.approx(g1[key] + g2[key])


def test_buildings_and_characteristic_grids(conn: Connection) -> None:
    b = {r["code"]: r for r in level(conn, "building").values()}
    assert b["BA"]["units"] == 2 and (b["BA"]["n_stock"], b["BA"]["n_competing"]) == (1, 1)  # a1, a2
    assert b["BA"]["revenue"] == pytest.approx(1500) and b["BA"]["revenue_density"] is None
    assert b["BB"]["units"] == 1 and b["BB"]["n_vacant"] == 1
    f = level(conn, "feature_grid")
    # F1: the units of member cell B (b1, b2, b3) plus hospital customers elsewhere: a1 and e1;
    # b3 is both in B and a hospital's: it counts once
    f1 = f["F1"]
    assert f1["units"] == 5
    assert (f1["n_stock"], f1["n_other_network"], f1["n_vacant"], f1["n_unknown"]) == (1, 1, 2, 1)
    assert f1["penetration"] == pytest.approx(1 / 2) and f1["revenue"] == pytest.approx(1000)
    assert f1["revenue_density"] is None and f1["rival_mix"] == {"中国移动": 1}
    # F2: finance customers a4 (other_network) and e2 (potential)
    assert f["F2"]["units"] == 2 and f["F2"]["opportunity"] == 2 and f["F2"]["penetration"] == 0.0
    # filtering another level by a characteristic grid keeps its members only
    cells = level(conn, "cell", filters={"feature_grid": "F1"})
    assert {k: v["units"] for k, v in cells.items()} == {"A": 1, "B": 3, "E": 1}
    grids = level(conn, "grid", filters={"feature_grid": "F2"})
    assert {k: v["units"] for k, v in grids.items()} == {"G1": 1, "G2": 1}  # a4, e2


def test_h3_levels(conn: Connection) -> None:
    hx = h3.latlng_to_cell(30.001, 120.001, 12)  # a1's hexagon, alone in it
    cell = level(conn, "h3:12")[hx]
    assert cell["units"] == 1 and cell["n_stock"] == 1 and cell["revenue"] == pytest.approx(1000)
    area = h3.cell_area(hx, unit="km^2")
    assert cell["area_km2"] == pytest.approx(area) and cell["revenue_density"] == pytest.approx(1000 / area)
    for res in metrics_res():
        rows = level(conn, f"h3:{res}")
        assert sum(r["units"] for r in rows.values()) == 19, res


def metrics_res() -> range:
    return range(5, 13)


def test_as_of_a_past_date(conn: Connection) -> None:
    # 2025-03-11 24:00: h1 other_network (since 03-10), h2 potential, h3 other_network (03-05),
    # h4 other_network, h5 stock, h6 unknown (retired only on 03-12 noon), h7 not there yet
    e = level(conn, "cell", as_of=dt.date(2025, 3, 11))["E"]
    assert e["units"] == 8
    assert (e["n_stock"], e["n_competing"], e["n_other_network"], e["n_potential"], e["n_unknown"]) == (
        1, 0, 4, 2, 1,
    )  # fmt: skip
    # 2024-12-31 24:00 = the load instant: the first versions
    e0 = level(conn, "cell", as_of=dt.date(2024, 12, 31))["E"]
    assert (e0["units"], e0["n_stock"], e0["n_competing"], e0["n_other_network"]) == (8, 2, 1, 2)
    # expiring in [2024-12-31, 2025-03-31]: h3 competing ends 03-01; h4's 04-01 is one day late
    assert e0["expiring_90d"] == 1
    assert level(conn, "cell", as_of=dt.date(2025, 1, 2))["E"]["expiring_90d"] == 2  # to 04-02
    # before anything was loaded
    assert level(conn, "city", as_of=dt.date(2024, 12, 30))["C"]["units"] == 0
    # an area without a change is as it is now, and a parent is the sum of its cells
    assert level(conn, "cell", as_of=dt.date(2025, 3, 11))["B"]["units"] == 3
    city = level(conn, "city", as_of=dt.date(2025, 3, 11))["C"]
    assert city["units"] == 8 + 8 + 3 and city["n_other_network"] == 2 + 4


def test_period_metrics(conn: Connection) -> None:
    # March 2025: churned h3 (competing → other_network); h1 left and came back: neither;
    # won h2 (potential → stock); new own lines h2 +2, h5 +3, h7 +2 (new unit: 0 at the start) = 7
    march = level(conn, "cell", period="2025-03", as_of=dt.date(2025, 3, 31))["E"]
    assert (march["churned"], march["won"], march["new_own_lines"]) == (1, 1, 7)
    # the period is independent of the as-of date
    now = level(conn, "city", period="2025-03")["C"]
    assert (now["churned"], now["won"], now["new_own_lines"]) == (1, 1, 7)
    # Q2: h4 other_network → competing with 3 own lines
    q2 = level(conn, "district", period="2025-Q2")["D2"]
    assert (q2["churned"], q2["won"], q2["new_own_lines"]) == (0, 1, 3)
    # the year: h3 churned; h2, h4 won; new own lines 2 + 3 + 3 + 2 = 10
    year = level(conn, "grid", period="2025")["G2"]
    assert (year["churned"], year["won"], year["new_own_lines"]) == (1, 2, 10)
    assert level(conn, "cell", period="2025")["A"]["won"] == 0


def test_parse_period() -> None:
    s, e = metrics.parse_period("2025-03", TZ)
    assert (s, e) == (at(2025, 3, 1), at(2025, 4, 1))
    assert metrics.parse_period("2025-Q4", TZ) == (at(2025, 10, 1), at(2026, 1, 1))
    assert metrics.parse_period("2025", TZ) == (at(2025, 1, 1), at(2026, 1, 1))
    assert metrics.parse_period("2025-12", "UTC")[1] == dt.datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC"))
    for bad in ("2025-13", "2025-Q5", "25-01", "2025-1", "march"):
        with pytest.raises(ValidationFailed):
            metrics.parse_period(bad, TZ)


def test_scope_account_manager_sees_only_its_cells(conn: Connection, tiny: Engine) -> None:
    a_id = conn.scalar(text("SELECT id FROM cell WHERE code = 'A'"))
    user = User(id=99, username="am", role="account_manager", staff_id=None, region_id=None, disabled=False)
    scope = Scope(user, cities=frozenset({2}), cells=frozenset({a_id}))
    assert list(level(conn, "cell", scope)) == ["A"]
    g = level(conn, "grid", scope)
    assert list(g) == ["G1"] and g["G1"]["units"] == 8  # only cell A's part of G1
    assert g["G1"]["area_km2"] == pytest.approx(2.0)  # the area of its part in scope
    assert level(conn, "city", scope)["C"]["units"] == 8
    f = level(conn, "feature_grid", scope)
    assert list(f) == ["F1", "F2"] and f["F1"]["units"] == 1 and f["F2"]["units"] == 1  # a1; a4
    assert {r["code"] for r in level(conn, "building", scope).values()} == {"BA"}
    assert sum(r["units"] for r in level(conn, "h3:7", scope).values()) == 8
    with pytest.raises(Forbidden):
        metrics.compare(conn, scope, [("cell", "A"), ("cell", "E")], tz=TZ)


def test_filters(conn: Connection) -> None:
    assert list(level(conn, "cell", filters={"district": "D2"})) == ["E", "Z"]
    # status: only the units with that status count
    st = level(conn, "cell", filters={"status": ["other_network"]})["A"]
    assert st["units"] == 2 and st["n_other_network"] == 2 and st["n_stock"] == 0
    # bbox: the cells meeting it, whole
    assert list(level(conn, "cell", filters={"bbox": (120.001, 30.001, 120.002, 30.002)})) == ["A"]
    assert list(level(conn, "grid", filters={"bbox": "120.025,30.025,120.026,30.026"})) == ["G2"]
    for bad in ({"city": "NOPE"}, {"nope": 1}, {"status": "lost"}, {"bbox": (1, 2)}):
        with pytest.raises((NotFound, ValidationFailed)):
            metrics.metrics_for_level(conn, ADMIN, "cell", filters=bad, tz=TZ)
    with pytest.raises(ValidationFailed):
        metrics.metrics_for_level(conn, ADMIN, "h3:4", tz=TZ)


def test_children_compare_rank(conn: Connection) -> None:
    assert [r["id"] for r in metrics.children(conn, ADMIN, "city", "C", tz=TZ)] == ["D1", "D2"]
    assert [r["id"] for r in metrics.children(conn, ADMIN, "grid", "G1", tz=TZ)] == ["A", "B"]
    kids = metrics.children(conn, ADMIN, "cell", "A", tz=TZ)
    assert {r["code"]: r["units"] for r in kids if r["units"]} == {"BA": 2}
    hx = h3.latlng_to_cell(30.001, 120.001, 7)
    sub = metrics.children(conn, ADMIN, "h3:7", hx, tz=TZ)
    parent = metrics.compare(conn, ADMIN, [("h3:7", hx), ("cell", "A")], tz=TZ)[0]
    assert sum(r["units"] for r in sub) == parent["units"]
    assert all(h3.cell_to_parent(r["id"], 7) == hx for r in sub)
    both = metrics.compare(conn, ADMIN, [("cell", "A"), ("grid", "G2"), ("feature_grid", "F2")], tz=TZ)
    assert [r["units"] for r in both] == [8, 8, 2]
    with pytest.raises(ValidationFailed):
        metrics.compare(conn, ADMIN, [("cell", "A")], tz=TZ)
    with pytest.raises(NotFound):
        metrics.compare(conn, ADMIN, [("cell", "A"), ("cell", "NOPE")], tz=TZ)
    # penetration: A 0.5, E 0.625, B and Z null (last, no rank)
    table = metrics.rank(conn, ADMIN, "city", "C", "cell", "penetration", tz=TZ)
    assert [(r["id"], r["rank"], r["percentile"]) for r in table] == [
        ("E", 1, 1.0), ("A", 2, 0.5), ("B", None, None), ("Z", None, None),
    ]  # fmt: skip
    units = metrics.rank(conn, ADMIN, "city", "C", "cell", "units", tz=TZ)
    assert [(r["id"], r["rank"]) for r in units] == [("A", 1), ("E", 1), ("B", 3), ("Z", 4)]


def test_geojson(conn: Connection) -> None:
    fc = json.loads(metrics.metrics_geojson(conn, ADMIN, "cell", filters={"city": "C"}, tz=TZ))
    feats = {f["id"]: f for f in fc["features"]}
    assert list(feats) == ["A", "B", "E", "Z"]
    assert feats["A"]["geometry"]["type"] == "MultiPolygon"
    assert feats["A"]["properties"]["penetration"] == pytest.approx(0.5)
    assert feats["B"]["properties"]["penetration"] is None
    assert feats["A"]["properties"]["rival_mix"] == {"中国移动": 1, "unknown": 1, "中国联通": 2}
    grids = json.loads(metrics.metrics_geojson(conn, ADMIN, "grid", tz=TZ))["features"]
    assert grids[0]["geometry"]["type"] == "MultiPolygon"  # G1: the union of its cells
    bld = json.loads(metrics.metrics_geojson(conn, ADMIN, "building", tz=TZ))["features"]
    assert {f["geometry"]["type"] for f in bld} == {"Point"}
    fgs = {
        f["id"]: f
        for f in json.loads(metrics.metrics_geojson(conn, ADMIN, "feature_grid", tz=TZ))["features"]
    }
    assert fgs["F1"]["geometry"]["type"] == "MultiPolygon" and fgs["F2"]["geometry"] is None
    hexes = json.loads(metrics.metrics_geojson(conn, ADMIN, "h3:9", tz=TZ))["features"]
    assert hexes and all(len(f["geometry"]["coordinates"][0]) == 7 for f in hexes)
    # the thin wrappers the API uses
    one = metrics.cell_feature(conn, conn.scalar(text("SELECT id FROM cell WHERE code = 'A'")), tz=TZ)
    assert one["properties"]["code"] == "A" and one["properties"]["grid_name"] == "网格一"
    assert json.loads(metrics.cells_geojson(conn, 2, ADMIN, tz=TZ))["features"][0]["id"] == "A"


# -- the shared 2,000-unit demo (read-only) ---------------------------------------------------
def test_demo_aggregates_equal_the_base_tables(engine: Engine) -> None:
    with engine.connect() as c:
        for lvl in metrics.LEVELS:
            fast = metrics.metrics_for_level(c, ADMIN, lvl, tz=TZ)
            assert fast == metrics.metrics_for_level(c, ADMIN, lvl, tz=TZ, from_base=True), lvl


def test_demo_h3_roll_up_is_consistent(engine: Engine) -> None:
    keys = ("units", "n_stock", "n_competing", "n_other_network", "n_unknown", "demand", "expiring_90d")
    with engine.connect() as c:
        total = sum(r["units"] for r in metrics.metrics_for_level(c, ADMIN, "province", tz=TZ))
        levels = {
            res: by_id(metrics.metrics_for_level(c, ADMIN, f"h3:{res}", tz=TZ)) for res in metrics_res()
        }
    for res in metrics_res():
        assert sum(r["units"] for r in levels[res].values()) == total, res
        if res == 12:
            continue
        sums: dict[str, dict[str, float]] = {}
        for hx, row in levels[res + 1].items():
            acc = sums.setdefault(h3.cell_to_parent(hx, res), {k: 0 for k in (*keys, "revenue")})
            for k in (*keys, "revenue"):
                acc[k] += row[k]
        assert set(sums) == set(levels[res]), res
        for hx, acc in sums.items():
            parent = levels[res][hx]
            for k in keys:
                assert acc[k] == parent[k], (res, hx, k)
            assert acc["revenue"] == pytest.approx(parent["revenue"]), (res, hx)


def test_demo_territory_roll_up_is_consistent(engine: Engine) -> None:
    with engine.connect() as c:
        cells = metrics.metrics_for_level(c, ADMIN, "cell", tz=TZ)
        grids = by_id(metrics.metrics_for_level(c, ADMIN, "grid", tz=TZ))
        districts = by_id(metrics.metrics_for_level(c, ADMIN, "district", tz=TZ))
        cities = by_id(metrics.metrics_for_level(c, ADMIN, "city", tz=TZ))
    for parent_key, parents in (("grid_code", grids), ("district_code", districts)):
        sums: dict[str, int] = {}
        for r in cells:
            sums[r[parent_key]] = sums.get(r[parent_key], 0) + r["units"]
        assert sums == {k: v["units"] for k, v in parents.items()}
    assert sum(r["units"] for r in cities.values()) == sum(r["units"] for r in cells)


def test_metrics_json(conn: Connection) -> None:
    body = metrics.metrics_json(conn, ADMIN, "cell", filters={"city": "C"}, tz=TZ)
    assert json.loads(body) == metrics.metrics_for_level(conn, ADMIN, "cell", filters={"city": "C"}, tz=TZ)
    assert metrics.metrics_json(conn, ADMIN, "cell", filters={"city": "C"}, tz=TZ) is body  # cached
