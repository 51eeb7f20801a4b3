"""Tests for gridmarket.geo.crs.

Reference vectors for the forward formulas are the ones published in the
README of wandergis/coordTransform (the de-facto reference implementation of
the public GCJ-02 / BD-09 algorithm) for the input (116.404, 39.915).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from pyproj import Geod

from gridmarket.geo import crs

BEIJING = (116.404, 39.915)
# wandergis/coordTransform README: wgs84togcj02(116.404, 39.915)
BEIJING_GCJ = (116.41024449916938, 39.91640428150164)
# wandergis/coordTransform README: gcj02tobd09(116.404, 39.915)
BEIJING_AS_GCJ_TO_BD = (116.41036949371029, 39.92133699351021)
# wandergis/coordTransform README: wgs84tobd09(116.404, 39.915)
BEIJING_BD = (116.41662724378733, 39.922699552216216)


def _china_sample(n: int = 2000, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(73.0, 135.0, n), rng.uniform(18.0, 53.0, n)


def test_wgs84_to_gcj02_matches_published_reference() -> None:
    lon, lat = crs.wgs84_to_gcj02(*BEIJING)
    assert lon == pytest.approx(BEIJING_GCJ[0], abs=1e-10)
    assert lat == pytest.approx(BEIJING_GCJ[1], abs=1e-10)


def test_gcj02_offset_in_beijing_is_hundreds_of_metres() -> None:
    lon, lat = crs.wgs84_to_gcj02(*BEIJING)
    _, _, dist = Geod(ellps="WGS84").inv(BEIJING[0], BEIJING[1], lon, lat)
    assert 300.0 < dist < 800.0


def test_gcj02_to_wgs84_is_an_exact_inverse_not_the_one_step_approximation() -> None:
    back = crs.gcj02_to_wgs84(*BEIJING_GCJ)
    assert abs(back[0] - BEIJING[0]) < 1e-9
    assert abs(back[1] - BEIJING[1]) < 1e-9
    # The popular one-step inverse of (116.404, 39.915) gives
    # (116.39775550083061, 39.91359571849836), ~1e-5 degrees off the true
    # preimage; ours must be much closer, i.e. differ from it.
    exact = crs.gcj02_to_wgs84(*BEIJING)
    assert crs.wgs84_to_gcj02(*exact) == pytest.approx(BEIJING, abs=1e-9)
    assert abs(exact[0] - 116.39775550083061) > 1e-7 or abs(exact[1] - 39.91359571849836) > 1e-7


def test_gcj02_round_trip_across_china_below_1e6_degrees() -> None:
    lons, lats = _china_sample()
    gcj_lon, gcj_lat = crs.wgs84_to_gcj02_array(lons, lats)
    assert np.all(np.hypot(gcj_lon - lons, gcj_lat - lats) > 1e-4)  # offset is real
    back_lon, back_lat = crs.gcj02_to_wgs84_array(gcj_lon, gcj_lat)
    assert np.max(np.abs(back_lon - lons)) < 1e-6
    assert np.max(np.abs(back_lat - lats)) < 1e-6


@pytest.mark.parametrize(
    "point",
    [(-0.1246, 51.5007), (139.6917, 35.6895), (151.2093, -33.8688), (116.4, 60.0)],
    ids=["london", "tokyo", "sydney", "north-of-box"],
)
def test_points_outside_china_are_unchanged(point: tuple[float, float]) -> None:
    assert crs.out_of_china(*point)
    assert crs.wgs84_to_gcj02(*point) == point
    assert crs.gcj02_to_wgs84(*point) == point


def test_out_of_china_box() -> None:
    assert not crs.out_of_china(*BEIJING)
    assert not crs.out_of_china(121.4737, 31.2304)  # Shanghai
    mask = crs.out_of_china_array([116.4, 0.0, 72.0, 137.9], [39.9, 0.0, 30.0, 30.0])
    assert mask.tolist() == [False, True, True, True]


def test_gcj02_to_bd09_matches_published_reference() -> None:
    assert crs.gcj02_to_bd09(*BEIJING) == pytest.approx(BEIJING_AS_GCJ_TO_BD, abs=1e-10)
    assert crs.wgs84_to_bd09(*BEIJING) == pytest.approx(BEIJING_BD, abs=1e-10)


def test_bd09_round_trips() -> None:
    lons, lats = _china_sample(seed=11)
    bd_lon, bd_lat = crs.gcj02_to_bd09_array(lons, lats)
    g_lon, g_lat = crs.bd09_to_gcj02_array(bd_lon, bd_lat)
    assert np.max(np.abs(g_lon - lons)) < 1e-9
    assert np.max(np.abs(g_lat - lats)) < 1e-9

    w_bd = crs.wgs84_to_bd09_array(lons, lats)
    w_lon, w_lat = crs.bd09_to_wgs84_array(*w_bd)
    assert np.max(np.abs(w_lon - lons)) < 1e-6
    assert np.max(np.abs(w_lat - lats)) < 1e-6

    assert crs.bd09_to_wgs84(*BEIJING_BD) == pytest.approx(BEIJING, abs=1e-9)
    assert crs.bd09_to_gcj02(*BEIJING_AS_GCJ_TO_BD) == pytest.approx(BEIJING, abs=1e-9)


def test_scalar_and_array_forms_agree() -> None:
    lons, lats = _china_sample(n=20, seed=3)
    arr_lon, arr_lat = crs.wgs84_to_bd09_array(lons, lats)
    for i in range(lons.size):
        assert crs.wgs84_to_bd09(float(lons[i]), float(lats[i])) == (
            arr_lon[i],
            arr_lat[i],
        )


def test_array_shape_mismatch_is_rejected() -> None:
    with pytest.raises(ValueError, match="shape"):
        crs.wgs84_to_gcj02_array([1.0, 2.0], [1.0])


@pytest.mark.parametrize("name", ["wgs84", "WGS84", "EPSG:4326", "epsg:4326"])
def test_to_wgs84_identity(name: str) -> None:
    lon, lat = crs.to_wgs84([116.4, 121.5], [39.9, 31.2], name)
    assert lon.dtype == np.float64
    assert lon.tolist() == [116.4, 121.5]
    assert lat.tolist() == [39.9, 31.2]


def test_to_wgs84_gcj02_and_bd09() -> None:
    lon, lat = crs.to_wgs84([BEIJING_GCJ[0]], [BEIJING_GCJ[1]], "gcj02")
    assert (lon[0], lat[0]) == pytest.approx(BEIJING, abs=1e-9)
    lon, lat = crs.to_wgs84([BEIJING_BD[0]], [BEIJING_BD[1]], "BD09")
    assert (lon[0], lat[0]) == pytest.approx(BEIJING, abs=1e-9)


def test_to_wgs84_from_web_mercator() -> None:
    # EPSG:3857 is the spherical mercator on R = 6378137 m:
    # x = R * lon, y = R * ln(tan(pi/4 + lat/2)).
    r = 6378137.0
    lon0, lat0 = BEIJING
    x = r * math.radians(lon0)
    y = r * math.log(math.tan(math.pi / 4 + math.radians(lat0) / 2))
    lon, lat = crs.to_wgs84(np.array([x, 0.0]), np.array([y, 0.0]), "EPSG:3857")
    assert lon.tolist() == pytest.approx([lon0, 0.0], abs=1e-9)
    assert lat.tolist() == pytest.approx([lat0, 0.0], abs=1e-9)


def test_to_wgs84_from_cgcs2000() -> None:
    lon, lat = crs.to_wgs84([116.404], [39.915], "EPSG:4490")
    assert (lon[0], lat[0]) == pytest.approx(BEIJING, abs=1e-7)
    lon, lat = crs.to_wgs84([116.404], [39.915], "cgcs2000")
    assert (lon[0], lat[0]) == pytest.approx(BEIJING, abs=1e-7)
    # CGCS2000 / 3-degree Gauss-Kruger CM 114E: false easting 500000 m lies on
    # the central meridian, northing 0 on the equator.
    lon, lat = crs.to_wgs84([500000.0, 500000.0], [0.0, 3_500_000.0], "EPSG:4547")
    assert lon.tolist() == pytest.approx([114.0, 114.0], abs=1e-9)
    assert lat[0] == pytest.approx(0.0, abs=1e-9)
    assert 31.0 < lat[1] < 32.0  # 3500 km of meridian arc ~ 31.6 degrees


def test_to_wgs84_keeps_shape() -> None:
    lon, lat = crs.to_wgs84(np.full((2, 3), 500000.0), np.zeros((2, 3)), "EPSG:4547")
    assert lon.shape == (2, 3)
    assert lat.shape == (2, 3)


@pytest.mark.parametrize("name", ["mars", "", "EPSG:999999", "EPSG:abc", "gcj03"])
def test_to_wgs84_unknown_crs_raises(name: str) -> None:
    with pytest.raises(ValueError, match="unknown CRS"):
        crs.to_wgs84([116.4], [39.9], name)


def test_to_wgs84_non_string_crs_raises_type_error() -> None:
    with pytest.raises(TypeError):
        crs.to_wgs84([116.4], [39.9], 4326)  # type: ignore[arg-type]


def test_normalize_crs() -> None:
    assert crs.normalize_crs(" GCJ-02 ") == "gcj02"
    assert crs.normalize_crs("bd-09") == "bd09"
    assert crs.normalize_crs("epsg:0004490") == "EPSG:4490"
    assert crs.normalize_crs("EPSG:4326") == "wgs84"
