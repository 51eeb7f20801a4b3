"""Write-time assignment of address units and the cell metrics, on a tiny hand-made territory.

Territory (WGS84 degrees): district D = [120.00, 120.02] × [30.00, 30.02];
drawn cell A = [120.00, 120.01] × [30.00, 30.02], drawn cell B = [120.01, 120.02] × [30.00, 30.01];
the north-east quarter of D is covered by no drawn cell. Expected figures are worked out by hand
from METRICS.md in each test.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, text

import h3

from gridmarket.grids import metrics
from gridmarket.grids.scope import system_scope
from gridmarket.grids.units import load_units
from tests.helpers import make_tiny_territory, unit

VALID_FROM = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


@pytest.fixture
def tiny(new_database: Callable[[str], Engine]) -> Engine:
    eng = new_database("tiny")
    return make_tiny_territory(eng)


def _load(eng: Engine, rows: list[tuple[object, ...]]) -> dict[str, object]:
    with eng.begin() as conn:
        return load_units(conn, iter(rows), source="import", valid_from=VALID_FROM, h3_resolution=9)


def test_units_get_drawn_generated_or_unassigned_cells(tiny: Engine) -> None:
    ne = (120.017, 30.017)  # in D, outside A and B
    far = (121.5, 31.0)  # in no district
    summary = _load(
        tiny,
        [
            unit("a1", 120.005, 30.005, "stock", fixed_lines_own=1),
            unit("b1", 120.015, 30.005, "vacant"),
            unit("n1", *ne, "potential"),
            unit("x1", *far, "unknown"),
        ],
    )
    assert summary["inserted"] == 4
    assert summary["in_drawn_cells"] == 2
    assert summary["in_generated_cells"] == 2
    assert any("unassigned" in w for w in summary["warnings"])  # type: ignore[attr-defined]
    with tiny.connect() as conn:
        rows = {
            r.external_id: r
            for r in conn.execute(
                text(
                    "SELECT a.external_id, c.code, c.source, c.h3_index, d.code AS district, a.h3_12, "
                    "g.kind AS grid_kind FROM address_unit a JOIN cell c ON c.id = a.cell_id "
                    "JOIN region d ON d.id = c.district_id JOIN grid g ON g.id = c.grid_id"
                )
            )
        }
    assert rows["a1"].code == "A" and rows["b1"].code == "B"
    hex_ne = h3.str_to_int(h3.latlng_to_cell(ne[1], ne[0], 9))
    assert rows["n1"].source == "h3" and rows["n1"].h3_index == hex_ne
    assert rows["n1"].district == "D" and rows["n1"].grid_kind == "generated"
    assert rows["x1"].district == "UNASSIGNED-D"
    assert rows["a1"].h3_12 == h3.str_to_int(h3.latlng_to_cell(30.005, 120.005, 12))


def test_missing_status_is_derived_from_counts(tiny: Engine) -> None:
    _load(
        tiny,
        [
            unit("s", 120.001, 30.001, None, fixed_lines_own=2),
            unit("c", 120.002, 30.001, None, broadband_own=1, broadband_rival=1),
            unit("o", 120.003, 30.001, None, fixed_lines_rival=3),
            unit("u", 120.004, 30.001, None),
            unit("z", 120.005, 30.001, None, fixed_lines_own=0, fixed_lines_rival=0),
        ],
    )
    with tiny.connect() as conn:
        got = dict(
            conn.execute(
                text(
                    "SELECT a.external_id, r.status FROM address_unit a "
                    "JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL"
                )
            ).all()
        )
    assert got == {"s": "stock", "c": "competing", "o": "other_network", "u": "unknown", "z": "unknown"}


def test_reloading_the_same_ids_adds_nothing(tiny: Engine) -> None:
    rows = [unit("a1", 120.005, 30.005, "stock", fixed_lines_own=1)]
    _load(tiny, rows)
    again = _load(tiny, rows)
    assert again["inserted"] == 0
    with tiny.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM market_record")) == 1


def test_cell_metrics_by_hand(tiny: Engine) -> None:
    # Cell A: one unit of each status. units 6, unknown 1 → surveyed 5, coverage 5/6;
    # demand = stock + competing + other_network + potential = 4; penetration (1+1)/4 = 0.5;
    # revenue 1200.50 + 300 = 1500.50.
    # Cell B: vacant, vacant, unknown → demand 0 → penetration null; coverage 2/3.
    _load(
        tiny,
        [
            unit("a-s", 120.001, 30.001, "stock", fixed_lines_own=1, revenue_month=1200.5),
            unit(
                "a-c", 120.002, 30.002, "competing", fixed_lines_own=1, fixed_lines_rival=1, revenue_month=300
            ),
            unit("a-o", 120.003, 30.003, "other_network", broadband_rival=1),
            unit("a-p", 120.004, 30.004, "potential"),
            unit("a-v", 120.005, 30.005, "vacant"),
            unit("a-u", 120.006, 30.006, "unknown"),
            unit("b-v1", 120.011, 30.001, "vacant"),
            unit("b-v2", 120.012, 30.002, "vacant"),
            unit("b-u", 120.013, 30.003, "unknown"),
        ],
    )
    with tiny.connect() as conn:
        fc = json.loads(metrics.cells_geojson(conn, 2, system_scope()))
    props = {f["id"]: f["properties"] for f in fc["features"]}
    a, b = props["A"], props["B"]
    assert (a["units"], a["n_stock"], a["n_competing"], a["n_other_network"]) == (6, 1, 1, 1)
    assert (a["n_potential"], a["n_vacant"], a["n_unknown"]) == (1, 1, 1)
    assert a["surveyed"] == 5 and a["demand"] == 4
    assert a["coverage"] == pytest.approx(5 / 6)
    assert a["penetration"] == pytest.approx(0.5)
    assert a["revenue"] == pytest.approx(1500.5)
    assert b["units"] == 3 and b["demand"] == 0
    assert b["penetration"] is None
    assert b["coverage"] == pytest.approx(2 / 3)
    assert fc["features"][0]["geometry"]["type"] == "MultiPolygon"


def test_a_hexagon_centred_outside_every_district_goes_to_the_district_of_its_addresses(tiny: Engine) -> None:
    # a point of D (outside cells A and B) near D's east border whose hexagon's centre lies east of D
    candidates = [(120.0199, 30.011 + k * 0.0002) for k in range(40)]
    point = next(
        (x, y)
        for x, y in candidates
        if h3.cell_to_latlng(h3.latlng_to_cell(y, x, 9))[1] > 120.02
        or h3.cell_to_latlng(h3.latlng_to_cell(y, x, 9))[0] > 30.02
    )
    summary = _load(tiny, [unit("edge", *point, "stock")])
    assert summary["cells_created"] == 1
    assert not summary["warnings"]
    with tiny.connect() as conn:
        district, grid = conn.execute(
            text(
                "SELECT d.code, g.code FROM address_unit a JOIN cell c ON c.id = a.cell_id "
                "JOIN region d ON d.id = c.district_id JOIN grid g ON g.id = c.grid_id"
            )
        ).one()
    assert (district, grid) == ("D", "D-H3")


def test_two_loads_in_one_transaction(tiny: Engine) -> None:
    with tiny.begin() as conn:
        first = load_units(
            conn, iter([unit("t1", 120.005, 30.005, "stock")]), source="import", valid_from=VALID_FROM
        )
        second = load_units(
            conn, iter([unit("t2", 120.017, 30.017, "stock")]), source="import", valid_from=VALID_FROM
        )
    assert (first["inserted"], second["inserted"]) == (1, 1)
    assert (second["in_generated_cells"], second["cells_created"]) == (1, 1)
