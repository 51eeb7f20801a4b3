"""Web-mercator (EPSG:3857) XYZ tile maths, as used by Leaflet and ST_TileEnvelope.

Tiles are numbered from the top-left: ``x`` grows eastwards from -180°,
``y`` grows southwards from +85.0511°. Zoom ``z`` has ``2**z`` tiles per side.
"""

from __future__ import annotations

import math

__all__ = [
    "MAX_LAT",
    "MAX_ZOOM",
    "MERCATOR_HALF_WORLD",
    "lonlat_to_tile",
    "tile_bounds_3857",
    "tile_bounds_wgs84",
    "validate_tile",
]

MAX_ZOOM = 22
MERCATOR_HALF_WORLD = math.pi * 6378137.0
"""Half the width of the EPSG:3857 world square, in metres (20037508.342789244)."""
MAX_LAT = math.degrees(math.atan(math.sinh(math.pi)))
"""Latitude of the top edge of the mercator square (≈ 85.0511287798°)."""

Bounds = tuple[float, float, float, float]


def _check_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"tile {what} must be an integer, got {value!r}")
    return value


def _check_zoom(z: object) -> int:
    zoom = _check_int(z, "zoom")
    if not 0 <= zoom <= MAX_ZOOM:
        raise ValueError(f"tile zoom must be 0..{MAX_ZOOM}, got {zoom}")
    return zoom


def validate_tile(z: int, x: int, y: int) -> None:
    """Check an XYZ tile address.

    Raises ValueError unless ``0 <= z <= 22`` and ``0 <= x, y < 2**z``, and
    TypeError when a value is not an ``int`` (``bool`` and ``float`` included).
    """
    zoom = _check_zoom(z)
    n = 1 << zoom
    for name, value in (("x", x), ("y", y)):
        v = _check_int(value, name)
        if not 0 <= v < n:
            raise ValueError(f"tile {name} must be 0..{n - 1} at zoom {zoom}, got {v}")


def tile_bounds_3857(z: int, x: int, y: int) -> Bounds:
    """Tile bounds ``(minx, miny, maxx, maxy)`` in EPSG:3857 metres."""
    validate_tile(z, x, y)
    size = 2.0 * MERCATOR_HALF_WORLD / (1 << z)
    minx = -MERCATOR_HALF_WORLD + x * size
    maxy = MERCATOR_HALF_WORLD - y * size
    return minx, maxy - size, minx + size, maxy


def _lat_of_row(row: float, n: int) -> float:
    return math.degrees(math.atan(math.sinh(math.pi * (1.0 - 2.0 * row / n))))


def tile_bounds_wgs84(z: int, x: int, y: int) -> Bounds:
    """Tile bounds ``(west, south, east, north)`` in WGS84 degrees."""
    validate_tile(z, x, y)
    n = 1 << z
    west = x / n * 360.0 - 180.0
    east = (x + 1) / n * 360.0 - 180.0
    return west, _lat_of_row(y + 1, n), east, _lat_of_row(y, n)


def lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    """Tile ``(x, y)`` containing a WGS84 point at zoom ``z``.

    Latitudes beyond ±85.0511° are clamped to the edge rows, and lon = 180
    falls in the last column. Non-finite or out-of-range coordinates raise
    ValueError.
    """
    zoom = _check_zoom(z)
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise ValueError(f"coordinates must be finite, got ({lon}, {lat})")
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise ValueError(f"coordinates outside lon -180..180 / lat -90..90: ({lon}, {lat})")
    n = 1 << zoom
    clamped = max(-MAX_LAT, min(MAX_LAT, lat))
    x = math.floor((lon + 180.0) / 360.0 * n)
    rad = math.radians(clamped)
    y = math.floor((1.0 - math.asinh(math.tan(rad)) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)
