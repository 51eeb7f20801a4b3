"""Tests for gridmarket.geo.geometry."""

from __future__ import annotations

import math
import warnings

import pytest

from shapely.geometry import (
    GeometryCollection,
    LineString,
    MultiPolygon,
    Point,
    Polygon,
    box,
)
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

from gridmarket.geo.geometry import (
    GeometryError,
    check_lonlat_bounds,
    geodesic_area_km2,
    repair_polygonal,
)


def test_bow_tie_is_repaired_into_valid_multipolygon() -> None:
    bow_tie = Polygon([(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)])
    assert not bow_tie.is_valid
    fixed = repair_polygonal(bow_tie)
    assert isinstance(fixed, MultiPolygon)
    assert fixed.is_valid
    assert len(fixed.geoms) == 2
    assert fixed.area == pytest.approx(0.5)


def test_valid_polygon_is_wrapped_unchanged() -> None:
    square = box(116.0, 39.0, 116.1, 39.1)
    fixed = repair_polygonal(square)
    assert isinstance(fixed, MultiPolygon)
    assert fixed.geoms[0].equals(square)


def test_z_is_dropped_and_lines_from_make_valid_are_discarded() -> None:
    # A square with a dangling spike: make_valid returns polygon + line.
    spiky = Polygon([(0, 0, 5), (2, 0, 5), (2, 2, 5), (1, 2, 5), (1, 3, 5), (1, 2, 5), (0, 2, 5)])
    fixed = repair_polygonal(spiky)
    assert fixed.is_valid
    assert not fixed.has_z
    assert fixed.area == pytest.approx(4.0)
    assert all(isinstance(g, Polygon) for g in fixed.geoms)


def test_touching_parts_are_merged_into_a_valid_multipolygon() -> None:
    coll = GeometryCollection([box(0, 0, 1, 1), box(1, 0, 2, 1), LineString([(5, 5), (6, 6)])])
    fixed = repair_polygonal(coll)
    assert fixed.is_valid
    assert len(fixed.geoms) == 1
    assert fixed.area == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("geom", "reason"),
    [
        (None, "missing"),
        (Polygon(), "empty"),
        (LineString([(0, 0), (1, 1)]), "no polygonal"),
        (Point(1, 1), "no polygonal"),
        (Polygon([(0, 0), (1, 1), (2, 2), (0, 0)]), "no polygonal"),
    ],
    ids=["none", "empty", "line", "point", "collapsed"],
)
def test_repair_rejects_unusable_geometry(geom: BaseGeometry | None, reason: str) -> None:
    with pytest.raises(GeometryError, match=reason):
        repair_polygonal(geom)


def test_repair_rejects_non_finite_coordinates() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # shapely warns on NaN input
        broken = Polygon([(0, 0), (1, 0), (float("nan"), 1)])
    with pytest.raises(GeometryError, match="NaN"):
        repair_polygonal(broken)
    with pytest.raises(GeometryError, match="NaN"):
        check_lonlat_bounds(broken)


def test_geometry_error_is_a_value_error() -> None:
    assert issubclass(GeometryError, ValueError)


def test_bounds_check_rejects_projected_coordinates() -> None:
    with pytest.raises(GeometryError, match="projected"):
        check_lonlat_bounds(Point(500000, 3000000))
    with pytest.raises(GeometryError):
        check_lonlat_bounds(box(116.0, 39.0, 116.1, 91.0))
    with pytest.raises(GeometryError):
        check_lonlat_bounds(box(-181.0, 0.0, 0.0, 1.0))


def test_bounds_check_accepts_lon_lat() -> None:
    check_lonlat_bounds(box(116.0, 39.0, 116.1, 39.1))
    check_lonlat_bounds(box(-180.0, -90.0, 180.0, 90.0))
    check_lonlat_bounds(Polygon())


def _zone_area_m2(dlon_deg: float, lat_deg: float) -> float:
    """Exact area between the equator and ``lat_deg`` over ``dlon_deg`` on WGS84.

    Closed form of the ellipsoidal zone area:
    A = dlon * b^2 / 2 * (sin(p) / (1 - e^2 sin^2 p) + atanh(e sin p) / e).
    """
    a = 6378137.0
    f = 1 / 298.257223563
    e2 = f * (2 - f)
    e = math.sqrt(e2)
    b = a * (1 - f)
    s = math.sin(math.radians(lat_deg))
    return math.radians(dlon_deg) * b * b / 2 * (s / (1 - e2 * s * s) + math.atanh(e * s) / e)


def test_geodesic_area_of_small_equatorial_square() -> None:
    # 0.01 deg x 0.01 deg at the equator: 1113.19 m x 1105.74 m = 1.2309 km2.
    expected = _zone_area_m2(0.01, 0.01) / 1e6
    assert expected == pytest.approx(1.2309, rel=1e-4)
    assert geodesic_area_km2(box(0.0, 0.0, 0.01, 0.01)) == pytest.approx(expected, rel=1e-6)


def test_geodesic_area_ignores_orientation_and_counts_holes() -> None:
    square = box(0.0, 0.0, 0.01, 0.01)
    one = _zone_area_m2(0.01, 0.01) / 1e6
    cw = orient(square, sign=-1.0)
    assert geodesic_area_km2(cw) == pytest.approx(one, rel=1e-6)
    shifted = orient(box(1.0, 0.0, 1.01, 0.01), sign=1.0)
    mixed = MultiPolygon([cw, shifted])
    assert geodesic_area_km2(mixed) == pytest.approx(2 * one, rel=1e-6)
    holed = Polygon(square.exterior.coords, [box(0.0025, 0.0025, 0.0075, 0.0075).exterior.coords])
    assert geodesic_area_km2(holed) == pytest.approx(0.75 * one, rel=1e-3)


def test_geodesic_area_in_beijing_is_smaller_than_at_equator() -> None:
    expected = (_zone_area_m2(0.01, 39.91) - _zone_area_m2(0.01, 39.9)) / 1e6
    in_beijing = geodesic_area_km2(box(116.4, 39.9, 116.41, 39.91))
    assert in_beijing == pytest.approx(expected, rel=1e-6)
    assert in_beijing < geodesic_area_km2(box(0.0, 0.0, 0.01, 0.01))
    assert geodesic_area_km2(LineString([(0, 0), (1, 1)])) == 0.0
