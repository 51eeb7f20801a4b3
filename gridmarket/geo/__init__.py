"""Spatial foundations: pure functions, no domain, no database.

* :mod:`gridmarket.geo.crs` — WGS84 / CGCS2000 / GCJ-02 / BD-09 conversions.
* :mod:`gridmarket.geo.h3util` — H3 cells as signed int64, parents by bits.
* :mod:`gridmarket.geo.tiles` — web-mercator XYZ tile maths.
* :mod:`gridmarket.geo.geometry` — polygon repair, bounds check, geodesic area.

This package imports nothing from the rest of ``gridmarket``.
"""

from gridmarket.geo.crs import to_wgs84
from gridmarket.geo.geometry import GeometryError

__all__ = ["GeometryError", "to_wgs84"]
