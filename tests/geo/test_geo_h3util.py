"""Tests for gridmarket.geo.h3util, checked against the h3 library itself."""

from __future__ import annotations

import random

import numpy as np
import pytest

import h3
from shapely.geometry import Point

from gridmarket.geo import h3util


def _random_cells(n: int, res: int, seed: int) -> list[int]:
    rnd = random.Random(seed)
    return [
        h3.str_to_int(h3.latlng_to_cell(rnd.uniform(-89.9, 89.9), rnd.uniform(-180.0, 180.0), res))
        for _ in range(n)
    ]


@pytest.mark.parametrize("res", range(16))
def test_parent_by_bits_equals_h3_cell_to_parent(res: int) -> None:
    for h in _random_cells(60, res, seed=res):
        for parent_res in range(res + 1):
            expected = h3.str_to_int(h3.cell_to_parent(h3.int_to_str(h), parent_res))
            assert h3util.parent_by_bits(h, parent_res) == expected


def test_parent_by_bits_of_own_resolution_is_identity() -> None:
    h = h3.str_to_int(h3.latlng_to_cell(39.915, 116.404, 12))
    assert h3util.parent_by_bits(h, 12) == h


def test_parent_by_bits_rejects_finer_resolution_and_bad_input() -> None:
    h = h3.str_to_int(h3.latlng_to_cell(39.915, 116.404, 9))
    with pytest.raises(ValueError, match="finer"):
        h3util.parent_by_bits(h, 10)
    with pytest.raises(ValueError, match=r"0\.\.15"):
        h3util.parent_by_bits(h, 16)
    with pytest.raises(ValueError, match=r"0\.\.15"):
        h3util.parent_by_bits(h, -1)
    with pytest.raises(ValueError, match="valid H3"):
        h3util.parent_by_bits(12345, 3)
    with pytest.raises(ValueError, match="valid H3"):
        h3util.parent_by_bits(-h, 3)


def test_cells_for_points_matches_h3_and_is_int64() -> None:
    rng = np.random.default_rng(5)
    lons = rng.uniform(115.5, 117.5, 500)
    lats = rng.uniform(39.4, 41.0, 500)
    cells = h3util.cells_for_points(lons, lats, 10)
    assert cells.dtype == np.int64
    assert cells.shape == (500,)
    assert np.all(cells > 0)
    for lon, lat, cell in zip(lons, lats, cells, strict=True):
        assert int(cell) == h3.str_to_int(h3.latlng_to_cell(lat, lon, 10))
        assert h3.get_resolution(h3.int_to_str(int(cell))) == 10


def test_cells_for_points_accepts_lists_and_empty() -> None:
    cells = h3util.cells_for_points([116.404], [39.915], 12)
    assert cells.tolist() == [h3.str_to_int(h3.latlng_to_cell(39.915, 116.404, 12))]
    assert h3util.cells_for_points([], [], 9).dtype == np.int64
    assert h3util.cells_for_points([], [], 9).size == 0


@pytest.mark.parametrize(
    ("lons", "lats", "res", "reason"),
    [
        ([116.4, 116.5], [39.9], 9, "lengths differ"),
        ([np.nan], [39.9], 9, "finite"),
        ([500000.0], [3000000.0], 9, "WGS84"),
        ([116.4], [39.9], 16, "0..15"),
        ([116.4], [39.9], -1, "0..15"),
    ],
    ids=["length-mismatch", "nan", "projected", "res-16", "res-neg"],
)
def test_cells_for_points_rejects_bad_input(
    lons: list[float], lats: list[float], res: int, reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        h3util.cells_for_points(lons, lats, res)


def test_cell_polygon_is_lon_lat_and_contains_centre() -> None:
    h = h3.str_to_int(h3.latlng_to_cell(39.915, 116.404, 9))
    poly = h3util.cell_polygon(h)
    assert poly.is_valid
    assert len(poly.exterior.coords) == 7  # hexagon, closed ring
    c_lat, c_lng = h3.cell_to_latlng(h3.int_to_str(h))
    assert poly.contains(Point(c_lng, c_lat))
    minx, miny, maxx, maxy = poly.bounds
    assert 116.3 < minx < maxx < 116.5
    assert 39.8 < miny < maxy < 40.0


def test_resolution_of() -> None:
    for res in (0, 5, 12, 15):
        h = h3.str_to_int(h3.latlng_to_cell(31.2304, 121.4737, res))
        assert h3util.resolution_of(h) == res
    with pytest.raises(ValueError, match="valid H3"):
        h3util.resolution_of(0)


@pytest.mark.parametrize("res", range(5, 13))
def test_validate_resolution_accepts_binning_range(res: int) -> None:
    assert h3util.validate_resolution(res) == res


@pytest.mark.parametrize("res", [4, 13, 0, 15, -1])
def test_validate_resolution_rejects_out_of_range(res: int) -> None:
    with pytest.raises(ValueError, match=r"5\.\.12"):
        h3util.validate_resolution(res)


@pytest.mark.parametrize("res", [True, 9.0, "9", None])
def test_validate_resolution_rejects_non_integers(res: object) -> None:
    with pytest.raises(TypeError):
        h3util.validate_resolution(res)


def test_validate_resolution_accepts_numpy_integers() -> None:
    assert h3util.validate_resolution(np.int64(9)) == 9


def test_parent_sql_rejects_non_identifier_fragments() -> None:
    with pytest.raises(ValueError, match="expr"):
        h3util.parent_sql("h3_12; drop table x", ":res")
    with pytest.raises(ValueError, match="res_param"):
        h3util.parent_sql("h3_12", "'9'")
    with pytest.raises(ValueError, match="expr"):
        h3util.parent_sql("h3_12 -- x", ":res")
