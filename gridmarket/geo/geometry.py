"""Validation and repair of polygons imported from files (grid boundaries etc.)."""

from __future__ import annotations

import numpy as np

import shapely
from pyproj import Geod
from shapely.geometry import GeometryCollection, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

__all__ = [
    "GeometryError",
    "check_lonlat_bounds",
    "geodesic_area_km2",
    "repair_polygonal",
]

_GEOD = Geod(ellps="WGS84")


class GeometryError(ValueError):
    """A geometry that cannot be used: empty, not polygonal, or in the wrong CRS."""


def _polygons_in(geom: BaseGeometry) -> list[Polygon]:
    """All non-empty Polygons inside ``geom``, descending into collections."""
    if isinstance(geom, Polygon):
        return [] if geom.is_empty else [geom]
    if isinstance(geom, (MultiPolygon, GeometryCollection)):
        return [p for part in geom.geoms for p in _polygons_in(part)]
    return []


def _check_finite(geom: BaseGeometry) -> None:
    coords = shapely.get_coordinates(geom)
    if not np.isfinite(coords).all():
        raise GeometryError("geometry has NaN or infinite coordinates")


def repair_polygonal(geom: BaseGeometry | None) -> MultiPolygon:
    """Return ``geom`` as a valid 2D MultiPolygon, repairing it if needed.

    Invalid input (self-intersections, bow-ties, wrong ring order) is fixed
    with ``shapely.make_valid``; only the polygonal parts of the result are
    kept (points and lines produced by collapsing parts are dropped), and
    parts are unioned so that touching pieces merge into valid members. Z
    values are dropped. Raises :class:`GeometryError` with the reason when
    the input is missing or empty, has non-finite coordinates, or nothing
    polygonal with an area remains.
    """
    if geom is None:
        raise GeometryError("geometry is missing")
    if not isinstance(geom, BaseGeometry):
        raise GeometryError(f"not a shapely geometry: {type(geom).__name__}")
    if geom.is_empty:
        raise GeometryError("geometry is empty")
    _check_finite(geom)
    flat = shapely.force_2d(geom)
    fixed = flat if flat.is_valid else shapely.make_valid(flat)
    parts = [p for p in _polygons_in(fixed) if p.area > 0.0]
    if not parts:
        raise GeometryError(f"no polygonal part with an area remains (input was {geom.geom_type})")
    if len(parts) > 1:
        parts = _polygons_in(shapely.union_all(parts))
    result = MultiPolygon(parts)
    if not result.is_valid:  # pragma: no cover - union of valid parts is valid
        raise GeometryError(f"could not repair geometry: {shapely.is_valid_reason(result)}")
    return result


def check_lonlat_bounds(geom: BaseGeometry) -> None:
    """Raise :class:`GeometryError` unless all coordinates are valid lon/lat degrees.

    Longitudes must be within -180..180 and latitudes within -90..90.
    Coordinates in metres (a projected CRS such as Gauss-Krüger or web
    mercator declared as WGS84) are the usual cause, and the message says so.
    Empty geometries pass.
    """
    coords = shapely.get_coordinates(geom)
    if coords.size == 0:
        return
    if not np.isfinite(coords).all():
        raise GeometryError("geometry has NaN or infinite coordinates")
    lon = coords[:, 0]
    lat = coords[:, 1]
    if lon.min() < -180.0 or lon.max() > 180.0 or lat.min() < -90.0 or lat.max() > 90.0:
        raise GeometryError(
            "coordinates outside lon -180..180 / lat -90..90 "
            f"(x {lon.min():.6g}..{lon.max():.6g}, "
            f"y {lat.min():.6g}..{lat.max():.6g}); "
            "they look projected (metres) — declare the source CRS so they can be "
            "converted to WGS84"
        )


def geodesic_area_km2(geom: BaseGeometry) -> float:
    """Area of a lon/lat (WGS84) polygonal geometry on the WGS84 ellipsoid, in km².

    Each polygon is oriented counter-clockwise before measuring, so parts
    with mixed ring orientation add up instead of cancelling. Non-polygonal
    geometries have area 0.
    """
    total = 0.0
    for polygon in _polygons_in(geom):
        area, _perimeter = _GEOD.geometry_area_perimeter(orient(polygon, sign=1.0))
        total += abs(area)
    return total / 1e6
