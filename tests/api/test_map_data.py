"""What the web map reads: the figures as a table and the areas' outlines (GET /api/v1/metrics/shapes).

Expected outlines are the hand-made rectangles of the tiny territory (tests.helpers) in 1e-5
degree integers, first vertex absolute and each next one as a step; figures are compared with
the plain JSON answer of the same request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from shapely.geometry import Polygon

from tests.helpers import tiny_app, unit

# cell A = [120.00, 120.01] × [30.00, 30.02], cell B = [120.01, 120.02] × [30.00, 30.01],
# district D = [120.00, 120.02] × [30.00, 30.02], each drawn from its south-west corner anticlockwise
RING_A = [12_000_000, 3_000_000, 1_000, 0, 0, 2_000, -1_000, 0]
RING_B = [12_001_000, 3_000_000, 1_000, 0, 0, 1_000, -1_000, 0]
RING_D = [12_000_000, 3_000_000, 2_000, 0, 0, 2_000, -2_000, 0]


@pytest.fixture(scope="module")
def tiny(new_database: Callable[[str], Engine]) -> Iterator[tuple[TestClient, Engine, dict[str, str]]]:
    eng = new_database("mapdata")
    rows = [unit("M1", 120.005, 30.005, "stock"), unit("M2", 120.006, 30.006, "other_network")]
    rows.append(unit("M3", 120.015, 30.005, "potential"))
    with tiny_app(eng, rows, "mapdata-admin-password") as (c, headers):
        yield c, eng, headers


def _shapes(c: TestClient, headers: dict[str, str], **params: str) -> Any:
    r = c.get("/api/v1/metrics/shapes", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_shapes_are_the_drawn_outlines(tiny: tuple[TestClient, Engine, dict[str, str]]) -> None:
    c, _, headers = tiny
    cells = _shapes(c, headers, level="cell", city="C")
    assert cells == {"level": "cell", "scale": 100_000, "codes": ["A", "B"], "rings": [[RING_A], [RING_B]]}
    districts = _shapes(c, headers, level="district", city="C")
    assert districts["codes"] == ["D"] and districts["rings"] == [[RING_D]]
    # a grid without a geometry of its own is the union of its cells: one L-shaped ring
    grids = _shapes(c, headers, level="grid", city="C")
    assert grids["codes"] == ["G"]
    (ring,) = grids["rings"][0]
    xy = []
    x = y = 0
    for i in range(0, len(ring), 2):
        x, y = x + ring[i], y + ring[i + 1]
        xy.append((x, y))
    corners = [(0, 0), (2000, 0), (2000, 1000), (1000, 1000), (1000, 2000), (0, 2000)]
    want = Polygon([(12_000_000 + dx, 3_000_000 + dy) for dx, dy in corners])
    assert Polygon(xy).equals(want)
    r = c.get("/api/v1/metrics/shapes", params={"level": "building", "city": "C"}, headers=headers)
    assert r.status_code == 422


def test_shapes_etag_304_and_a_territory_change(tiny: tuple[TestClient, Engine, dict[str, str]]) -> None:
    c, eng, headers = tiny
    path = "/api/v1/metrics/shapes?level=cell&city=C"
    first = c.get(path, headers=headers)
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"
    again = c.get(path, headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    # cell B shrinks to its western half: the outline changes, so do the ETag and the answer
    with eng.begin() as conn:
        conn.execute(
            text("UPDATE cell SET geom = ST_GeomFromText(:g, 4326) WHERE code = 'B'"),
            {"g": "MULTIPOLYGON(((120.01 30.0,120.015 30.0,120.015 30.01,120.01 30.01,120.01 30.0)))"},
        )
    try:
        changed = c.get(path, headers={**headers, "If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["etag"] != etag
        assert changed.json()["rings"] == [[RING_A], [[12_001_000, 3_000_000, 500, 0, 0, 1_000, -500, 0]]]
    finally:
        with eng.begin() as conn:
            conn.execute(
                text("UPDATE cell SET geom = ST_GeomFromText(:g, 4326) WHERE code = 'B'"),
                {"g": "MULTIPOLYGON(((120.01 30.0,120.02 30.0,120.02 30.01,120.01 30.01,120.01 30.0)))"},
            )


def test_table_holds_the_same_figures_as_json(tiny: tuple[TestClient, Engine, dict[str, str]]) -> None:
    c, _, headers = tiny
    for level in ("cell", "grid", "district", "h3:9"):
        params = {"level": level, "city": "C"}
        plain = c.get("/api/v1/metrics", params=params, headers=headers).json()
        table = c.get("/api/v1/metrics", params={**params, "format": "table"}, headers=headers).json()
        assert table["level"] == level and "areas" not in table
        rows = [dict(zip(table["keys"], row, strict=True)) for row in table["rows"]]
        assert rows == plain["areas"], level
    cells = c.get(
        "/api/v1/metrics", params={"level": "cell", "city": "C", "format": "table"}, headers=headers
    )
    by_code = {r[0]: dict(zip(cells.json()["keys"], r, strict=True)) for r in cells.json()["rows"]}
    # A: one stock and one other-network unit → penetration 1/2; B: one potential unit → 0
    assert by_code["A"]["units"] == 2 and by_code["A"]["penetration"] == 0.5
    assert by_code["B"]["units"] == 1 and by_code["B"]["penetration"] == 0.0


def test_h3_shapes_match_the_h3_areas(tiny: tuple[TestClient, Engine, dict[str, str]]) -> None:
    import h3

    c, _, headers = tiny
    shapes = _shapes(c, headers, level="h3:9", city="C")
    areas = c.get("/api/v1/metrics", params={"level": "h3:9", "city": "C"}, headers=headers).json()["areas"]
    assert shapes["codes"] == [a["id"] for a in areas]
    assert set(shapes["codes"]) == {
        h3.latlng_to_cell(lat, lon, 9)
        for lon, lat in ((120.005, 30.005), (120.006, 30.006), (120.015, 30.005))
    }
    for code, rings in zip(shapes["codes"], shapes["rings"], strict=True):
        (ring,) = rings
        assert len(ring) == 12  # a hexagon: six vertices
        x, y = ring[0], ring[1]
        lat, lon = h3.cell_to_boundary(code)[0]
        assert (x, y) == (round(lon * 100_000), round(lat * 100_000))
