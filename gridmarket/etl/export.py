"""Metric exports to files: GeoJSON, GeoPackage, CSV (UTF-8 with BOM) and XLSX (CONTRACT.md).

Properties use the JSON keys of METRICS.md plus ``id``, ``name`` and ``level``; geometries are in
WGS84. In CSV and XLSX a text value starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return
is neutralised with a leading apostrophe so a spreadsheet never runs it as a formula.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine

from gridmarket.grids import metrics
from gridmarket.grids.errors import ValidationFailed
from gridmarket.grids.scope import Scope, system_scope

FORMATS = ("geojson", "gpkg", "csv", "xlsx")
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Return ``value`` safe for a spreadsheet cell (text starting a formula gets an apostrophe)."""
    if isinstance(value, str) and value.startswith(_DANGEROUS):
        return "'" + value
    return value


def _flat(value: Any) -> Any:
    """Nested values (rival_mix) as JSON text; everything else unchanged."""
    if isinstance(value, dict | list):
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    return value


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    first = ["id", "name", "level"]
    keys = list(rows[0]) if rows else list(metrics.METRIC_KEYS)
    return first + [k for k in keys if k not in first]


def export_metrics(
    engine: Engine,
    level: str,
    fmt: str,
    out: Path | str,
    *,
    as_of: dt.date | None = None,
    period: str | None = None,
    tz: str = "Asia/Shanghai",
    scope: Scope | None = None,
) -> int:
    """Write every metric of every area of ``level`` to ``out`` in ``fmt``; return the row count."""
    if fmt not in FORMATS:
        raise ValidationFailed(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}", "format")
    scope = scope or system_scope()
    out = Path(out)
    with engine.connect() as conn:
        if fmt in ("geojson", "gpkg"):
            body = metrics.metrics_geojson(conn, scope, level, as_of=as_of, period=period, tz=tz)
            fc = orjson.loads(body)
            return _write_geo(fc, fmt, out)
        rows = metrics.metrics_for_level(conn, scope, level, as_of=as_of, period=period, tz=tz)
    cols = _columns(rows)
    table = [[neutralise(_flat(r.get(c))) for c in cols] for r in rows]
    if fmt == "csv":
        with out.open("w", encoding="utf-8-sig", newline="") as f:
            w = csv.writer(f)
            w.writerow(cols)
            w.writerows(table)
    else:
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet(level.replace(":", "_"))
        ws.append(cols)
        for row in table:
            ws.append(row)
        wb.save(out)
    return len(rows)


def _write_geo(fc: dict[str, Any], fmt: str, out: Path) -> int:
    features = fc["features"]
    for f in features:
        props = f["properties"]
        props.setdefault("id", f.get("id"))
    if fmt == "geojson":
        out.write_bytes(orjson.dumps(fc, option=orjson.OPT_NON_STR_KEYS))
        return len(features)
    import geopandas as gpd

    if not features:
        raise ValidationFailed("nothing to export: no area at this level", "level")
    for f in features:
        f["properties"] = {k: _flat(v) for k, v in f["properties"].items()}
    gdf = gpd.GeoDataFrame.from_features(features, crs="EPSG:4326")
    if out.exists():
        out.unlink()
    gdf.to_file(out, driver="GPKG", layer="metrics", engine="pyogrio")
    return len(features)
