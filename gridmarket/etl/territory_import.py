"""``gridmarket import regions|grids FILE``: territory files into the database, by the territory rules.

Both imports read the file (:mod:`gridmarket.etl.territory_io`), then in one transaction holding the
territory lock: check every rule against the file and the database
(:func:`gridmarket.grids.territory_write.prepare_regions` / ``prepare_grids``) and, when any
feature breaks one, write nothing and raise :class:`ImportRejected` (its message is a one-line
summary, its ``problems`` the list to print); otherwise upsert by code and re-assign the address
units whose cell could change, in that same transaction. Importing the same file twice changes
nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from gridmarket.etl.territory_io import Feature, TerritoryFile, read_features, split_list
from gridmarket.geo.h3util import validate_resolution
from gridmarket.grids.territory_write import (
    GridRow,
    ImportRejected,
    Problem,
    RegionRow,
    prepare_grids,
    prepare_regions,
    write_grids,
    write_regions,
)
from gridmarket.grids.units import Progress, lock_territory

__all__ = ["GRID_FIELDS", "REGION_FIELDS", "ImportRejected", "import_grids", "import_regions"]

REGION_FIELDS = ("code", "name", "level", "parent_code")
GRID_FIELDS = (
    "code",
    "name",
    "level",
    "parent_code",
    "district_code",
    "type",
    "industries",
    "member_cells",
)


# level names as Chinese files write them
LEVEL_ALIASES = {
    "省": "province",
    "省公司": "province",
    "市": "city",
    "地市": "city",
    "地市分公司": "city",
    "本地网": "city",
    "区县": "district",
    "区县局": "district",
    "网格": "grid",
    "单元": "cell",
    "网格单元": "cell",
    "特征网格": "feature_grid",
}


def _level(value: str | None) -> str | None:
    if value is None:
        return None
    return LEVEL_ALIASES.get(value, value.lower())


def _region_row(f: Feature) -> RegionRow:
    v = f.values
    return RegionRow(
        row=f.row,
        code=v["code"],
        name=v["name"],
        level=_level(v["level"]),
        parent_code=v["parent_code"],
        geom=f.geom,
        geom_error=f.geom_error,
    )


def _grid_row(f: Feature) -> GridRow:
    v = f.values
    level = _level(v["level"])
    return GridRow(
        row=f.row,
        code=v["code"],
        name=v["name"],
        level=level,
        parent_code=v["parent_code"],
        district_code=v["district_code"],
        type=v["type"],
        industries=split_list(v["industries"]),
        member_cells=split_list(v["member_cells"]) if level == "feature_grid" else None,
        geom=f.geom,
        geom_error=f.geom_error,
    )


def _read(path: str | Path, fields: tuple[str, ...], layer: str | None, say: Progress) -> TerritoryFile:
    say(f"reading {path}")
    data = read_features(path, fields, layer=layer)
    crs = data.crs or "no CRS (taken as WGS84)"
    say(f"{len(data.features):,} features in layer {data.layer!r}, {crs}")
    return data


def _finish(summary: dict[str, Any], data: TerritoryFile, t0: float) -> dict[str, Any]:
    summary["file"] = data.path
    summary["layer"] = data.layer
    summary["crs"] = data.crs
    summary["reprojected"] = data.reprojected
    summary["warnings"] = data.warnings + list(summary.get("warnings", []))
    summary["seconds"] = round(time.monotonic() - t0, 2)
    return summary


def import_regions(
    engine: Engine,
    path: str | Path,
    *,
    h3_resolution: int = 9,
    layer: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Import provinces, cities and districts (fields ``code``, ``name``, ``level``, ``parent_code``).

    One transaction: validation, upsert by code, then the re-homing of generated cells around new
    or redrawn districts (addresses of the unassigned area move to the district now covering
    them). Raises :class:`ImportRejected` (nothing written) listing every problem, or
    ``ValidationFailed`` when the file cannot be read. Returns the counts of
    :func:`gridmarket.grids.territory_write.write_regions` plus ``file``, ``layer``, ``crs``,
    ``reprojected``, ``seconds`` and ``warnings``.
    """
    return _import(
        engine,
        path,
        REGION_FIELDS,
        _region_row,
        prepare_regions,
        write_regions,
        h3_resolution,
        layer,
        progress,
    )


def import_grids(
    engine: Engine,
    path: str | Path,
    *,
    h3_resolution: int = 9,
    layer: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Import grids, cells and characteristic grids (fields of CONTRACT.md "Territory … files").

    One transaction: validation (overlapping drawn cells included), upsert by code, member cells
    of characteristic grids replaced by the file's lists, then the re-assignment of every address
    unit whose cell could change. Raises :class:`ImportRejected` (nothing written) listing every
    problem, or ``ValidationFailed`` when the file cannot be read. Returns the counts of
    :func:`gridmarket.grids.territory_write.write_grids` plus ``file``, ``layer``, ``crs``,
    ``reprojected``, ``seconds`` and ``warnings``.
    """
    return _import(
        engine, path, GRID_FIELDS, _grid_row, prepare_grids, write_grids, h3_resolution, layer, progress
    )


def _import(
    engine: Engine,
    path: str | Path,
    fields: Any,
    to_row: Callable[[Any], Any],
    prepare: Callable[[Connection, list[Any]], tuple[list[Problem], Any]],
    write: Callable[..., dict[str, Any]],
    h3_resolution: int,
    layer: str | None,
    progress: Progress | None,
) -> dict[str, Any]:
    """Read, validate and write one territory file in one transaction (regions or grids)."""
    t0 = time.monotonic()
    say = progress or (lambda _msg: None)
    h3_resolution = validate_resolution(h3_resolution)
    data = _read(path, fields, layer, say)
    rows = [to_row(f) for f in data.features]
    with engine.begin() as conn:
        lock_territory(conn)
        problems, plan = prepare(conn, rows)
        _reject(problems, len(rows), say)
        summary = write(conn, plan, h3_resolution=h3_resolution, progress=progress)
    return _finish(summary, data, t0)


def _reject(problems: list[Problem], total: int, say: Progress) -> None:
    if problems:
        raise ImportRejected(problems, total)
    say(f"{total:,} features valid")
