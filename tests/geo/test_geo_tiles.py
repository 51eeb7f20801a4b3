"""Tests for gridmarket.geo.tiles."""

from __future__ import annotations

import math

import pytest

from pyproj import Transformer

from gridmarket.geo import tiles

# EPSG:3857 half extent: pi * 6378137 m.
H = 20037508.342789244
# Top of the mercator square: atan(sinh(pi)) in degrees.
TOP = 85.0511287798066


def test_z0_is_the_whole_mercator_square() -> None:
    assert tiles.tile_bounds_3857(0, 0, 0) == pytest.approx((-H, -H, H, H), abs=1e-6)
    assert tiles.tile_bounds_wgs84(0, 0, 0) == pytest.approx((-180.0, -TOP, 180.0, TOP), abs=1e-9)


def test_z1_quadrants() -> None:
    assert tiles.tile_bounds_3857(1, 0, 0) == pytest.approx((-H, 0.0, 0.0, H), abs=1e-6)
    assert tiles.tile_bounds_3857(1, 1, 1) == pytest.approx((0.0, -H, H, 0.0), abs=1e-6)
    assert tiles.tile_bounds_wgs84(1, 1, 0) == pytest.approx((0.0, 0.0, 180.0, TOP), abs=1e-9)


def test_known_beijing_tile() -> None:
    # x = floor((116.404 + 180) / 360 * 1024) = floor(843.12) = 843
    # y = floor((1 - asinh(tan(39.915 deg)) / pi) / 2 * 1024)
    #   = floor((1 - 0.76099 / pi) / 2 * 1024) = floor(387.98) = 387
    assert tiles.lonlat_to_tile(116.404, 39.915, 10) == (843, 387)
    west, south, east, north = tiles.tile_bounds_wgs84(10, 843, 387)
    assert west == pytest.approx(843 / 1024 * 360 - 180)
    assert east - west == pytest.approx(360 / 1024)
    assert west <= 116.404 < east
    assert south <= 39.915 < north


def test_bounds_3857_and_wgs84_agree_via_pyproj() -> None:
    to_3857 = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    for z, x, y in [(3, 6, 3), (12, 3372, 1552), (18, 215811, 99334)]:
        w, s, e, n = tiles.tile_bounds_wgs84(z, x, y)
        minx, miny = to_3857.transform(w, s)
        maxx, maxy = to_3857.transform(e, n)
        assert tiles.tile_bounds_3857(z, x, y) == pytest.approx((minx, miny, maxx, maxy), abs=1e-3)


def test_lonlat_to_tile_round_trips_tile_centres() -> None:
    for z in (0, 5, 14, 22):
        n = 1 << z
        for x, y in [(0, 0), (n - 1, n - 1), (n // 3, (2 * n) // 3)]:
            w, s, e, nn = tiles.tile_bounds_wgs84(z, x, y)
            lat_c = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 0.5) / n))))
            assert s < lat_c < nn
            assert tiles.lonlat_to_tile((w + e) / 2, lat_c, z) == (x, y)


def test_lonlat_to_tile_edges() -> None:
    assert tiles.lonlat_to_tile(180.0, 0.0, 3) == (7, 4)
    assert tiles.lonlat_to_tile(-180.0, 89.9, 3) == (0, 0)
    assert tiles.lonlat_to_tile(0.0, -90.0, 3) == (4, 7)
    with pytest.raises(ValueError, match="outside"):
        tiles.lonlat_to_tile(500000.0, 3000000.0, 3)
    with pytest.raises(ValueError, match="finite"):
        tiles.lonlat_to_tile(float("nan"), 0.0, 3)
    with pytest.raises(ValueError, match="zoom"):
        tiles.lonlat_to_tile(0.0, 0.0, 23)


@pytest.mark.parametrize("zxy", [(0, 0, 0), (22, (1 << 22) - 1, 0), (10, 843, 387)])
def test_validate_tile_accepts(zxy: tuple[int, int, int]) -> None:
    assert tiles.validate_tile(*zxy) is None  # no exception for a tile inside the zoom's range
    west, south, east, north = tiles.tile_bounds_wgs84(*zxy)
    assert west < east and south < north


@pytest.mark.parametrize(
    "zxy",
    [(-1, 0, 0), (23, 0, 0), (0, 1, 0), (0, 0, 1), (3, 8, 0), (3, 0, -1), (3, 0, 8)],
)
def test_validate_tile_rejects_out_of_range(zxy: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError, match="tile"):
        tiles.validate_tile(*zxy)
    with pytest.raises(ValueError, match="tile"):
        tiles.tile_bounds_3857(*zxy)
    with pytest.raises(ValueError, match="tile"):
        tiles.tile_bounds_wgs84(*zxy)


@pytest.mark.parametrize("zxy", [(True, 0, 0), (1.0, 0, 0), (1, "0", 0), (1, 0, None)])
def test_validate_tile_rejects_non_integers(zxy: tuple[object, object, object]) -> None:
    with pytest.raises(TypeError):
        tiles.validate_tile(*zxy)  # type: ignore[arg-type]
