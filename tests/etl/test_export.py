"""Metric exports: keys, id/name/level, WGS84, CSV with BOM and formula neutralising, XLSX, GeoPackage."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, text

import pyogrio

from gridmarket.cli import main
from gridmarket.etl.export import export_metrics, neutralise
from gridmarket.grids.metrics import METRIC_KEYS


def test_neutralise() -> None:
    for bad in ("=1+1", "+SUM(A1)", "-2", "@cmd", "\tx", "\rx"):
        assert neutralise(bad) == "'" + bad
    assert neutralise("杭州") == "杭州" and neutralise(3) == 3 and neutralise(None) is None


def test_formats_agree(engine: Engine, tmp_path: Path) -> None:
    n = {}
    for fmt in ("geojson", "gpkg", "csv", "xlsx"):
        n[fmt] = export_metrics(engine, "district", fmt, tmp_path / f"d.{fmt}")
    assert len(set(n.values())) == 1 and n["csv"] >= 3
    fc = json.loads((tmp_path / "d.geojson").read_text(encoding="utf-8"))
    props = fc["features"][0]["properties"]
    assert {"id", "name", "level"} <= set(props) and set(METRIC_KEYS) <= set(props)
    assert props["level"] == "district"
    x, y = fc["features"][0]["geometry"]["coordinates"][0][0][0]
    assert 118 < x < 123 and 28 < y < 32  # WGS84 degrees in Zhejiang
    raw = (tmp_path / "d.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader((tmp_path / "d.csv").read_text(encoding="utf-8-sig").splitlines()))
    by_id = {r["id"]: r for r in rows}
    geo_units = {f["properties"]["id"]: f["properties"]["units"] for f in fc["features"]}
    assert {k: int(v["units"]) for k, v in by_id.items()} == geo_units
    ws = load_workbook(tmp_path / "d.xlsx", read_only=True).active
    header = [c.value for c in next(ws.iter_rows(max_row=1))]
    assert header[:3] == ["id", "name", "level"] and "penetration" in header
    info = pyogrio.read_info(tmp_path / "d.gpkg")
    assert info["features"] == n["gpkg"] and "EPSG:4326" in str(info["crs"])


def test_csv_neutralises_names_and_cli(
    new_database: Callable[[str], Engine], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    eng = new_database("export")
    with eng.begin() as conn:
        conn.execute(text("INSERT INTO region (id, code, name, level) VALUES (1, 'P', '省', 'province')"))
        square = "ST_GeomFromText('MULTIPOLYGON(((120 30,120.1 30,120.1 30.1,120 30.1,120 30)))', 4326)"
        conn.execute(
            text(
                "INSERT INTO region (id, code, name, level, parent_id, city_id, geom, area_km2) VALUES "
                f"(2, 'C', '市', 'city', 1, 2, {square}, 100), "
                f"(3, 'D', '区', 'district', 2, 2, {square}, 100)"
            )
        )
        conn.execute(
            text("INSERT INTO grid (id, code, name, city_id, district_id) VALUES (1, 'G', '网格', 2, 3)")
        )
        conn.execute(
            text(
                "INSERT INTO cell (code, name, city_id, district_id, grid_id, geom, area_km2) "
                f"VALUES ('X', '=HYPERLINK(\"x\")', 2, 3, 1, {square}, 100)"
            )
        )
    monkeypatch.setenv("GRIDMARKET_DATABASE_URL", eng.url.render_as_string(hide_password=False))
    out = tmp_path / "c.csv"
    assert main(["export", "metrics", "--level", "cell", "--format", "csv", "-o", str(out)]) == 0
    row = next(csv.DictReader(out.read_text(encoding="utf-8-sig").splitlines()))
    assert row["name"] == '\'=HYPERLINK("x")' and row["units"] == "0" and row["penetration"] == ""
    assert main(["export", "metrics", "--level", "h3:13", "--format", "csv", "-o", str(out)]) == 1
