"""Coordinate reference systems used in China and conversion to WGS84.

Three "systems" appear in Chinese data:

* **WGS84** (EPSG:4326) — GPS, OpenStreetMap, and what the database stores.
  CGCS2000 (EPSG:4490) differs from it by centimetres and is handled by pyproj.
* **GCJ-02** ("Mars coordinates") — the state-mandated obfuscation of WGS84
  used by AMap (Gaode), Tencent and Google China. It is a deterministic,
  published forward formula on the Krasovsky 1940 ellipsoid; it has no closed
  inverse, so :func:`gcj02_to_wgs84` inverts it iteratively.
* **BD-09** — Baidu's further offset of GCJ-02.

The forward offset is applied only inside a rough bounding box of China
(:func:`out_of_china`); outside it every conversion is the identity, as the
standard algorithm does.

Every conversion has a scalar form (floats in, a ``(lon, lat)`` tuple out) and
an ``*_array`` form (array-likes in, a pair of float64 arrays out). Order is
always longitude first.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

__all__ = [
    "SUPPORTED_CRS_HINT",
    "bd09_to_gcj02",
    "bd09_to_gcj02_array",
    "bd09_to_wgs84",
    "bd09_to_wgs84_array",
    "gcj02_to_bd09",
    "gcj02_to_bd09_array",
    "gcj02_to_wgs84",
    "gcj02_to_wgs84_array",
    "normalize_crs",
    "out_of_china",
    "out_of_china_array",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_bd09_array",
    "wgs84_to_gcj02",
    "wgs84_to_gcj02_array",
]

FloatArray = NDArray[np.float64]

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 formula.
_KRASOVSKY_A = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323

# Baidu's constant: pi * 3000 / 180.
_BD_X_PI = math.pi * 3000.0 / 180.0
_BD_DLON = 0.0065
_BD_DLAT = 0.006

# Rough bounding box of China used by the standard algorithm.
_CHINA_MIN_LON = 72.004
_CHINA_MAX_LON = 137.8347
_CHINA_MIN_LAT = 0.8293
_CHINA_MAX_LAT = 55.8271

# Iterative inverses stop when the residual is below this (degrees), far under
# the 1e-6 degree (~0.1 m) accuracy promised.
_INVERSE_TOL = 1e-12
_INVERSE_MAX_ITER = 50

SUPPORTED_CRS_HINT = "expected 'wgs84', 'gcj02', 'bd09', 'cgcs2000' or 'EPSG:<code>'"


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #


def _as_pair(lons: ArrayLike, lats: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Return lon/lat as float64 arrays of equal shape (a copy, never a view)."""
    lon = np.array(lons, dtype=np.float64)
    lat = np.array(lats, dtype=np.float64)
    if lon.shape != lat.shape:
        raise ValueError(f"longitude and latitude shapes differ: {lon.shape} vs {lat.shape}")
    return lon, lat


def _scalar(result: tuple[FloatArray, FloatArray]) -> tuple[float, float]:
    return float(result[0]), float(result[1])


def out_of_china_array(lons: ArrayLike, lats: ArrayLike) -> NDArray[np.bool_]:
    """Boolean mask: True where a point lies outside China's GCJ-02 bounding box."""
    lon, lat = _as_pair(lons, lats)
    return (lon < _CHINA_MIN_LON) | (lon > _CHINA_MAX_LON) | (lat < _CHINA_MIN_LAT) | (lat > _CHINA_MAX_LAT)


def out_of_china(lon: float, lat: float) -> bool:
    """Return True when (lon, lat) is outside China, where GCJ-02 applies no offset.

    This is the coarse rectangle of the standard public algorithm, not a border
    test: Mongolia or northern Vietnam count as "in China" here, which is what
    Chinese map providers do too.
    """
    return bool(out_of_china_array(lon, lat))


def _gcj_delta(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 offset (dlon, dlat) in degrees for WGS84 input, ignoring the box."""
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0

    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    d_lat = d_lat + common
    d_lat = d_lat + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    d_lat = d_lat + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0

    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    d_lon = d_lon + common
    d_lon = d_lon + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    d_lon = d_lon + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0

    # Metres-ish offsets to degrees on the Krasovsky ellipsoid.
    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _KRASOVSKY_EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_KRASOVSKY_A * (1.0 - _KRASOVSKY_EE)) / (magic * sqrt_magic) * np.pi)
    d_lon = (d_lon * 180.0) / (_KRASOVSKY_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return d_lon, d_lat


# --------------------------------------------------------------------------- #
# WGS84 <-> GCJ-02
# --------------------------------------------------------------------------- #


def wgs84_to_gcj02_array(lons: ArrayLike, lats: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Vectorised WGS84 → GCJ-02; points outside China are returned unchanged."""
    lon, lat = _as_pair(lons, lats)
    d_lon, d_lat = _gcj_delta(lon, lat)
    inside = ~out_of_china_array(lon, lat)
    return np.where(inside, lon + d_lon, lon), np.where(inside, lat + d_lat, lat)


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """Convert one WGS84 point to GCJ-02 (AMap/Tencent); returns ``(lon, lat)``."""
    return _scalar(wgs84_to_gcj02_array(lon, lat))


def gcj02_to_wgs84_array(lons: ArrayLike, lats: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Vectorised GCJ-02 → WGS84 by fixed-point iteration of the forward formula.

    Starting from the GCJ-02 point itself, each step subtracts the residual
    ``forward(guess) - target``. The offset varies slowly (its derivative is
    ~1e-4), so the error shrinks by about four orders of magnitude per step;
    the loop runs until the residual is below 1e-12 degrees. Points outside
    China are returned unchanged.
    """
    target_lon, target_lat = _as_pair(lons, lats)
    lon = target_lon.copy()
    lat = target_lat.copy()
    for _ in range(_INVERSE_MAX_ITER):
        fwd_lon, fwd_lat = wgs84_to_gcj02_array(lon, lat)
        err_lon = fwd_lon - target_lon
        err_lat = fwd_lat - target_lat
        lon = lon - err_lon
        lat = lat - err_lat
        with np.errstate(invalid="ignore"):
            worst = np.nanmax(np.abs(np.concatenate([err_lon.ravel(), err_lat.ravel()])), initial=0.0)
        if worst < _INVERSE_TOL:
            break
    return lon, lat


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """Convert one GCJ-02 point to WGS84 (iterative, accurate to far below 1e-6°)."""
    return _scalar(gcj02_to_wgs84_array(lon, lat))


# --------------------------------------------------------------------------- #
# GCJ-02 <-> BD-09
# --------------------------------------------------------------------------- #


def gcj02_to_bd09_array(lons: ArrayLike, lats: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Vectorised GCJ-02 → BD-09 (Baidu's published forward formula)."""
    x, y = _as_pair(lons, lats)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_X_PI)
    return z * np.cos(theta) + _BD_DLON, z * np.sin(theta) + _BD_DLAT


def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    """Convert one GCJ-02 point to BD-09 (Baidu); returns ``(lon, lat)``."""
    return _scalar(gcj02_to_bd09_array(lon, lat))


def bd09_to_gcj02_array(lons: ArrayLike, lats: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Vectorised BD-09 → GCJ-02.

    Starts from Baidu's usual one-step approximate inverse (good to ~1e-6°)
    and refines it by fixed-point iteration so that
    ``gcj02_to_bd09(bd09_to_gcj02(p)) == p`` to ~1e-12 degrees.
    """
    target_x, target_y = _as_pair(lons, lats)
    x = target_x - _BD_DLON
    y = target_y - _BD_DLAT
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD_X_PI)
    lon = z * np.cos(theta)
    lat = z * np.sin(theta)
    for _ in range(_INVERSE_MAX_ITER):
        fwd_x, fwd_y = gcj02_to_bd09_array(lon, lat)
        err_x = fwd_x - target_x
        err_y = fwd_y - target_y
        lon = lon - err_x
        lat = lat - err_y
        with np.errstate(invalid="ignore"):
            worst = np.nanmax(np.abs(np.concatenate([err_x.ravel(), err_y.ravel()])), initial=0.0)
        if worst < _INVERSE_TOL:
            break
    return lon, lat


def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """Convert one BD-09 (Baidu) point to GCJ-02; returns ``(lon, lat)``."""
    return _scalar(bd09_to_gcj02_array(lon, lat))


# --------------------------------------------------------------------------- #
# WGS84 <-> BD-09
# --------------------------------------------------------------------------- #


def wgs84_to_bd09_array(lons: ArrayLike, lats: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Vectorised WGS84 → BD-09 (via GCJ-02)."""
    return gcj02_to_bd09_array(*wgs84_to_gcj02_array(lons, lats))


def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    """Convert one WGS84 point to BD-09 (via GCJ-02); returns ``(lon, lat)``."""
    return _scalar(wgs84_to_bd09_array(lon, lat))


def bd09_to_wgs84_array(lons: ArrayLike, lats: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Vectorised BD-09 → WGS84 (via GCJ-02, both steps iterative)."""
    return gcj02_to_wgs84_array(*bd09_to_gcj02_array(lons, lats))


def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """Convert one BD-09 point to WGS84 (via GCJ-02); returns ``(lon, lat)``."""
    return _scalar(bd09_to_wgs84_array(lon, lat))


# --------------------------------------------------------------------------- #
# generic entry point
# --------------------------------------------------------------------------- #

_ALIASES: dict[str, str] = {
    "wgs84": "wgs84",
    "wgs-84": "wgs84",
    "wgs_84": "wgs84",
    "epsg:4326": "wgs84",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "gcj_02": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
    "bd_09": "bd09",
    "cgcs2000": "EPSG:4490",
}

_EPSG_RE = re.compile(r"^epsg:(\d{1,9})$")


def normalize_crs(crs: str) -> str:
    """Canonical name of a CRS label: 'wgs84', 'gcj02', 'bd09' or 'EPSG:<code>'.

    Matching is case- and whitespace-insensitive; 'cgcs2000' means EPSG:4490
    and 'EPSG:4326' means 'wgs84'. Raises ValueError for anything else,
    including EPSG codes pyproj does not know (TypeError if not a string).
    """
    if not isinstance(crs, str):
        raise TypeError(f"CRS must be a string, got {type(crs).__name__}; {SUPPORTED_CRS_HINT}")
    key = crs.strip().lower()
    if key in _ALIASES:
        return _ALIASES[key]
    match = _EPSG_RE.match(key)
    if match is None:
        raise ValueError(f"unknown CRS {crs!r}: {SUPPORTED_CRS_HINT}")
    name = f"EPSG:{int(match.group(1))}"
    _transformer_to_wgs84(name)  # raises ValueError for unknown codes
    return name


@lru_cache(maxsize=64)
def _transformer_to_wgs84(name: str) -> Transformer:
    try:
        source = CRS.from_user_input(name)
    except CRSError as exc:
        raise ValueError(f"unknown CRS {name!r}: pyproj does not know it ({exc})") from exc
    return Transformer.from_crs(source, "EPSG:4326", always_xy=True)


def to_wgs84(lons: ArrayLike, lats: ArrayLike, crs: str) -> tuple[FloatArray, FloatArray]:
    """Convert coordinates given in ``crs`` to WGS84 longitude/latitude arrays.

    ``crs`` is one of 'wgs84', 'gcj02', 'bd09', 'cgcs2000' or 'EPSG:<code>'
    (any EPSG code pyproj knows, projected or geographic; axis order is
    always x/easting/longitude first). Returns two float64 arrays of the
    input's shape; an unknown ``crs`` raises ValueError.
    """
    name = normalize_crs(crs)
    lon, lat = _as_pair(lons, lats)
    if name == "wgs84":
        return lon, lat
    if name == "gcj02":
        return gcj02_to_wgs84_array(lon, lat)
    if name == "bd09":
        return bd09_to_wgs84_array(lon, lat)
    out_lon, out_lat = _transformer_to_wgs84(name).transform(lon, lat)
    return (
        np.asarray(out_lon, dtype=np.float64).reshape(lon.shape),
        np.asarray(out_lat, dtype=np.float64).reshape(lat.shape),
    )
