"""Reading territory files (GeoJSON, GeoPackage, Shapefile) into plain features in WGS84.

:func:`read_features` opens a file with pyogrio, finds the wanted fields by name (case-insensitive,
Chinese aliases accepted, and the 10-character names a Shapefile truncates ``parent_code`` or
``district_code`` to), reprojects a file that declares another CRS (EPSG:3857, CGCS2000
EPSG:4490, a Gauss-Krüger zone …) to WGS84, and repairs each geometry with
:func:`gridmarket.geo.geometry.repair_polygonal` and normalises it (ring orientation and first
vertex differ between formats; the stored geometry does not). A geometry that cannot be used does not stop the
reading: its reason is kept on the feature (``geom_error``) so that every problem of the file is
reported at once, with its 1-based feature number.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyogrio
import shapely
from pyproj import CRS
from shapely.geometry import MultiPolygon
from shapely.geometry.base import BaseGeometry

from gridmarket.geo.geometry import GeometryError, check_lonlat_bounds, repair_polygonal
from gridmarket.grids.errors import ValidationFailed

__all__ = ["FIELD_ALIASES", "Feature", "TerritoryFile", "read_features", "split_list"]

FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "code": ("code", "编码", "代码"),
    "name": ("name", "名称"),
    "level": ("level", "级别", "层级"),
    "parent_code": ("parent_code", "parent", "上级编码"),
    "district_code": ("district_code", "district", "区县编码"),
    "type": ("type", "类型"),
    "industries": ("industries", "行业"),
    "member_cells": ("member_cells", "成员单元"),
}
"""Accepted column names per field (compared case-insensitively; Shapefile 10-character forms too)."""

_WGS84 = CRS.from_epsg(4326)


@dataclass(frozen=True)
class Feature:
    """One feature: its 1-based number in the file, its text fields and its WGS84 geometry.

    ``values`` maps each wanted field to its stripped text, ``None`` when empty or missing.
    ``geom`` is the repaired MultiPolygon, or ``None`` when the feature has no (or an empty)
    geometry or when it cannot be used, in which case ``geom_error`` says why.
    """

    row: int
    values: dict[str, str | None]
    geom: MultiPolygon | None
    geom_error: str | None


@dataclass(frozen=True)
class TerritoryFile:
    """What :func:`read_features` found: features, the file's CRS and notes for the user."""

    path: str
    layer: str
    crs: str | None
    reprojected: bool
    features: list[Feature]
    warnings: list[str]


def split_list(value: str | None) -> tuple[str, ...]:
    """Split a ``;``-separated field (full-width ``；`` too) into unique, stripped, non-empty items."""
    if value is None:
        return ()
    parts = [p.strip() for p in value.replace("；", ";").split(";")]
    return tuple(dict.fromkeys(p for p in parts if p))


def _text(value: Any) -> str | None:
    """A cell of the attribute table as stripped text (``None`` for empty, null or NaN)."""
    if value is None:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return str(int(value))
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    out = str(value).strip()
    return out or None


def _columns(names: Sequence[str], wanted: Sequence[str]) -> dict[str, str]:
    """Map each wanted field to the file's column that holds it (absent fields are left out)."""
    by_key = {str(n).strip().lower(): str(n) for n in names}
    found: dict[str, str] = {}
    for f in wanted:
        for alias in FIELD_ALIASES.get(f, (f,)):
            for key in (alias.lower(), alias.lower()[:10]):
                if key in by_key and by_key[key] not in found.values():
                    found[f] = by_key[key]
                    break
            if f in found:
                break
    return found


def _crs_label(crs: CRS | None) -> str | None:
    if crs is None:
        return None
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.name


def _is_wgs84(crs: CRS | None) -> bool:
    if crs is None:
        return True
    if crs.to_epsg() == 4326 or crs.name in ("WGS 84", "WGS 84 (CRS84)"):
        return True
    return bool(crs.equals(_WGS84, ignore_axis_order=True))


def _geometry(
    geom: BaseGeometry | None, declared_lonlat: bool, crs: str | None
) -> tuple[MultiPolygon | None, str | None]:
    if geom is None or geom.is_empty:
        return None, None
    try:
        check_lonlat_bounds(geom)
    except GeometryError as exc:
        if declared_lonlat:
            return None, f"{exc} (probably a projected CRS without a .prj file)"
        return None, f"{exc} (after reprojection from {crs})"
    try:
        # normalised (ring order and start vertex), so every format gives the same stored geometry
        return shapely.normalize(repair_polygonal(geom)), None
    except GeometryError as exc:
        return None, f"invalid geometry: {exc}"


def read_features(path: str | Path, fields: Sequence[str], *, layer: str | None = None) -> TerritoryFile:
    """Read a territory file: ``fields`` by name, every geometry in WGS84, repaired.

    Raises :class:`ValidationFailed` when the file cannot be read at all or holds no feature.
    A file whose CRS is not WGS84 is reprojected; a file without a CRS is taken as WGS84 and its
    out-of-range coordinates are reported per feature as a probable projected CRS without a
    ``.prj``. A file with several layers is read from ``layer`` (default: the first one).
    """
    src = str(path)
    warnings: list[str] = []
    try:
        layers = [str(x[0]) for x in pyogrio.list_layers(src)]
    except Exception as exc:  # pyogrio raises its own DataSourceError, or OSError
        raise ValidationFailed(f"cannot read {src}: {exc}", field="file") from exc
    if not layers:
        raise ValidationFailed(f"{src} holds no layer", field="file")
    if layer is None:
        layer = layers[0]
        if len(layers) > 1:
            warnings.append(f"{src} has {len(layers)} layers; read the first, {layer!r}")
    elif layer not in layers:
        raise ValidationFailed(f"{src} has no layer {layer!r} (it has {', '.join(layers)})", field="layer")
    try:
        frame = pyogrio.read_dataframe(src, layer=layer)
    except Exception as exc:
        raise ValidationFailed(f"cannot read {src}: {exc}", field="file") from exc
    if len(frame) == 0:
        raise ValidationFailed(f"{src} holds no feature", field="file")
    crs = frame.crs
    label = _crs_label(crs)
    declared_lonlat = _is_wgs84(crs)
    reprojected = False
    if not declared_lonlat:
        frame = frame.to_crs(4326)
        reprojected = True
        warnings.append(f"reprojected from {label} to WGS84 (EPSG:4326)")
    columns = _columns([c for c in frame.columns if c != frame.geometry.name], fields)
    for f in ("code", "name", "level"):
        if f in fields and f not in columns:
            warnings.append(f"no column {f} (looked for {', '.join(FIELD_ALIASES[f])})")
    features: list[Feature] = []
    records = frame[[columns[f] for f in fields if f in columns]].to_dict("records")
    for number, (rec, geom) in enumerate(zip(records, frame.geometry, strict=True), start=1):
        values = {f: (_text(rec.get(columns[f])) if f in columns else None) for f in fields}
        g, err = _geometry(geom, declared_lonlat, label)
        features.append(Feature(row=number, values=values, geom=g, geom_error=err))
    return TerritoryFile(
        path=src, layer=layer, crs=label, reprojected=reprojected, features=features, warnings=warnings
    )
