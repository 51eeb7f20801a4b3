"""H3 helpers with integer cell indexes, as PostgreSQL ``bigint`` stores them.

An H3 index is a 64-bit word whose top bit is always 0, so every valid index
fits a signed int64 unchanged. The layout (from the H3 specification):

==========  =====  ===============================================
bits        width  field
==========  =====  ===============================================
63          1      reserved, 0
59-62       4      mode (1 = cell)
56-58       3      mode-dependent, 0 for cells
52-55       4      resolution 0..15
45-51       7      base cell 0..121
0-44        45     15 digits of 3 bits; digit r sits at 3*(15-r);
                   digits finer than the resolution are all 7
==========  =====  ===============================================

So the parent at resolution ``res`` is obtained by writing ``res`` into the
resolution field and setting the low ``3*(15-res)`` bits to 1 — what
:func:`parent_by_bits` does in Python and :func:`parent_sql` in SQL.
"""

from __future__ import annotations

import re

import numpy as np
from numpy.typing import ArrayLike, NDArray

import h3.api.basic_int as h3i
from shapely.geometry import Polygon

__all__ = [
    "BINNING_RESOLUTIONS",
    "MAX_H3_RESOLUTION",
    "cell_polygon",
    "cells_for_points",
    "parent_by_bits",
    "parent_sql",
    "resolution_of",
    "validate_resolution",
]

MAX_H3_RESOLUTION = 15
BINNING_RESOLUTIONS = range(5, 13)
"""Resolutions allowed for binning addresses (5 ≈ 250 km², 12 ≈ 300 m²)."""

_RES_SHIFT = 52
_RES_MASK = 0xF << _RES_SHIFT


def _check_int(value: object, what: str) -> int:
    # bool is an int subclass; True as a resolution is a bug, not a 1.
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be an integer, got {value!r}")
    return int(value)


def _check_h3_resolution(res: object) -> int:
    value = _check_int(res, "H3 resolution")
    if not 0 <= value <= MAX_H3_RESOLUTION:
        raise ValueError(f"H3 resolution must be 0..{MAX_H3_RESOLUTION}, got {value}")
    return value


def validate_resolution(res: object) -> int:
    """Return ``res`` if it is a binning resolution (5..12).

    Raises ValueError when out of range and TypeError when not an integer
    (``bool`` and ``float`` included).
    """
    value = _check_int(res, "H3 resolution")
    if value not in BINNING_RESOLUTIONS:
        raise ValueError(
            f"H3 resolution for binning must be {BINNING_RESOLUTIONS.start}.."
            f"{BINNING_RESOLUTIONS.stop - 1}, got {value}"
        )
    return value


def _check_cell(h: object) -> int:
    value = _check_int(h, "H3 index")
    if value < 0 or not h3i.is_valid_cell(value):
        raise ValueError(f"not a valid H3 cell index: {value!r}")
    return value


def resolution_of(h: int) -> int:
    """Resolution (0..15) of H3 cell ``h``; ValueError if ``h`` is not a valid cell."""
    return int(h3i.get_resolution(_check_cell(h)))


def cells_for_points(lons: ArrayLike, lats: ArrayLike, res: int) -> NDArray[np.int64]:
    """H3 cells at resolution ``res`` (0..15) for WGS84 points, as signed int64.

    ``lons`` and ``lats`` are array-likes of equal length (longitude first).
    Non-finite coordinates raise ValueError; callers that want to skip
    them should filter first.
    """
    resolution = _check_h3_resolution(res)
    lon = np.asarray(lons, dtype=np.float64).ravel()
    lat = np.asarray(lats, dtype=np.float64).ravel()
    if lon.shape != lat.shape:
        raise ValueError(f"longitude and latitude lengths differ: {lon.size} vs {lat.size}")
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        raise ValueError("coordinates must be finite (found NaN or infinity)")
    if lon.size and (np.abs(lat).max() > 90.0 or np.abs(lon).max() > 180.0):
        raise ValueError("coordinates outside lon -180..180 / lat -90..90; are they WGS84?")
    cells = [
        h3i.latlng_to_cell(la, lo, resolution) for lo, la in zip(lon.tolist(), lat.tolist(), strict=True)
    ]
    return np.array(cells, dtype=np.int64)


def parent_by_bits(h: int, res: int) -> int:
    """Parent of cell ``h`` at resolution ``res``, computed from the bit layout alone.

    Equals ``h3.cell_to_parent(h, res)``; ``res`` must be between 0 and the
    cell's own resolution (the cell itself is its own parent at that
    resolution).
    """
    cell = _check_cell(h)
    resolution = _check_h3_resolution(res)
    own = (cell & _RES_MASK) >> _RES_SHIFT
    if resolution > own:
        raise ValueError(f"parent resolution {resolution} is finer than the cell's {own}")
    return (cell & ~_RES_MASK) | (resolution << _RES_SHIFT) | ((1 << (3 * (15 - resolution))) - 1)


_SQL_FRAGMENT = re.compile(r"^[A-Za-z0-9_.:$%()\"\s]+$")


def parent_sql(expr: str, res_param: str) -> str:
    """PostgreSQL expression: parent of bigint H3 index ``expr`` at ``res_param``.

    ``expr`` is a bigint SQL expression (usually a column such as
    ``a.h3_12``) and ``res_param`` an integer SQL expression (a bind
    placeholder such as ``:res``/``%(res)s``, a column, or a literal). Both
    are trusted fragments written by our own code, never user text; only
    identifier, placeholder and parenthesis characters are accepted.

    Every operator is parenthesised because PostgreSQL gives ``&``, ``|``,
    ``<<`` and prefix ``~`` the same precedence, left-associative; the
    resolution is cast to ``int`` for the shift count (``bigint << int``)
    and to ``bigint`` where it is shifted into bits 52-55. The expression
    does not check that ``res`` is coarser than the cell's resolution.
    """
    for name, fragment in (("expr", expr), ("res_param", res_param)):
        if not fragment.strip() or not _SQL_FRAGMENT.match(fragment) or "--" in fragment:
            raise ValueError(f"{name} is not a plain SQL identifier or placeholder: {fragment!r}")
    res_int = f"(({res_param})::int)"
    return (
        f"((({expr})::bigint & (~(15::bigint << 52)))"
        f" | (({res_int})::bigint << 52)"
        f" | ((1::bigint << (3 * (15 - {res_int}))) - 1))"
    )


def cell_polygon(h: int) -> Polygon:
    """Boundary of cell ``h`` as a shapely Polygon in (lon, lat) order.

    Cells crossing the antimeridian are not split; irrelevant for China.
    """
    boundary = h3i.cell_to_boundary(_check_cell(h))
    return Polygon([(lng, lat) for lat, lng in boundary])
