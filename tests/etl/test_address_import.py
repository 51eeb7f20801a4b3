"""The address importer on a tiny hand-made territory; every expectation is worked out by hand.

Territory (WGS84 degrees): city C ⊃ district D = [120.00, 120.02] × [30.00, 30.02]; drawn cell
A = [120.00, 120.01] × [30.00, 30.02], drawn cell B = [120.01, 120.02] × [30.00, 30.01]; the
north-east quarter of D is covered by no drawn cell (a point there gets a generated H3 cell).
Fixture files: ``fixtures/addresses/`` (see ``make_files.py`` there for what each row holds).
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

import h3

from gridmarket.cli import main
from gridmarket.etl.address_import import import_addresses
from gridmarket.geo.crs import gcj02_to_wgs84
from gridmarket.grids.errors import ImportRejected
from tests.helpers import make_tiny_territory

FIXTURES = Path(__file__).parent / "fixtures" / "addresses"
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def tiny(new_database: Callable[[str], Engine]) -> Engine:
    eng = new_database("addr")
    return make_tiny_territory(eng)


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def units(eng: Engine) -> dict[str, Any]:
    """address_id → its unit, cell and current record."""
    with eng.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT a.external_id, c.code AS cell, c.source AS cell_source, d.code AS district, "
                "ST_X(a.geom) AS lon, ST_Y(a.geom) AS lat, a.floor, a.room, b.code AS building, "
                "k.source_code AS customer, r.* "
                "FROM address_unit a JOIN cell c ON c.id = a.cell_id JOIN region d ON d.id = c.district_id "
                "LEFT JOIN building b ON b.id = a.building_id "
                "JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL "
                "LEFT JOIN customer k ON k.id = r.customer_id"
            )
        )
        return {r.external_id: r for r in rows}


def versions(eng: Engine, ext: str) -> list[Any]:
    with eng.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT r.* FROM market_record r JOIN address_unit a ON a.id = r.address_unit_id "
                    "WHERE a.external_id = :e ORDER BY r.version"
                ),
                {"e": ext},
            )
        )


def checksum(eng: Engine) -> str:
    """A hash of every row (with its xmin, so a rewrite of identical values shows) of the written tables."""
    with eng.connect() as conn:
        return str(
            conn.scalar(
                text(
                    "SELECT md5(string_agg(t, '|' ORDER BY t)) FROM ("
                    " SELECT 'u' || x.xmin::text || row(x.*)::text AS t FROM address_unit x UNION ALL"
                    " SELECT 'r' || x.xmin::text || row(x.*)::text FROM market_record x UNION ALL"
                    " SELECT 'b' || x.xmin::text || row(x.*)::text FROM building x UNION ALL"
                    " SELECT 'k' || x.xmin::text || row(x.*)::text FROM customer x UNION ALL"
                    " SELECT 'c' || x.xmin::text || row(x.id, x.code)::text FROM cell x) s"
                )
            )
        )


def check_fixture_units(eng: Engine) -> None:
    """What each of the three fixture files (same four units) must load."""
    got = units(eng)
    assert set(got) == {"A001", "A002", "A003", "A004"}
    a1, a2, a3, a4 = got["A001"], got["A002"], got["A003"], got["A004"]
    assert (a1.cell, a2.cell, a3.cell) == ("A", "A", "B")
    assert a4.cell_source == "h3" and a4.district == "D"
    assert (a1.status, a2.status, a3.status, a4.status) == (
        "stock",
        "competing",
        "other_network",
        "potential",
    )
    assert (a1.building, a2.building, a3.building) == ("B-01", "B-01", None)
    assert (a1.floor, a1.room, a2.floor, a2.room) == (3, "301", 5, "502")
    assert (a1.customer, a2.customer) == ("K001", "K002")
    assert (a1.fixed_lines_own, a1.broadband_own, a1.ld_minutes_own) == (2, 1, Decimal("100.50"))
    assert a1.revenue_month == Decimal("1200.50") and a2.revenue_month == Decimal("300.00")
    assert a1.contract_end == dt.date(2027, 3, 31) and a2.contract_end == dt.date(2026, 12, 31)
    assert a2.rival_operator == "移动" and a1.contact_phone == "13800000001"
    assert a1.surveyed_at == dt.date(2026, 10, 15) and a2.surveyed_at == dt.date(2026, 10, 16)
    # dated by surveyed_at: midnight in Asia/Shanghai
    assert a1.valid_from == dt.datetime(2026, 10, 15, tzinfo=SHANGHAI)
    assert all(r.version == 1 and r.source == "import" for r in got.values())
    with eng.connect() as conn:
        b = conn.execute(
            text(
                "SELECT b.name, b.type, ST_X(b.geom), ST_Y(b.geom), c.code FROM building b "
                "JOIN cell c ON c.id = b.cell_id"
            )
        ).one()
        k = conn.execute(
            text("SELECT source_code, name, credit_code, industry FROM customer ORDER BY 1")
        ).all()
    assert tuple(b) == ("一号楼", "office_tower", 120.005, 30.005, "A")  # placed at its first unit
    assert [tuple(r) for r in k] == [
        ("K001", "甲公司", "91330000MA0000001X", "制造业"),
        ("K002", "乙公司", None, None),
    ]


def test_gbk_csv_with_chinese_headers_and_status_names(tiny: Engine) -> None:
    summary = import_addresses(tiny, FIXTURES / "addresses_zh_gbk.csv")
    assert (summary["rows"], summary["inserted"], summary["updated"], summary["unchanged"]) == (4, 4, 0, 0)
    assert (summary["rejected"], summary["conflicts"], summary["warnings"]) == (0, [], [])
    assert summary["cells_created"] == 1
    assert summary["rejects_path"] is None
    check_fixture_units(tiny)


def test_xlsx(tiny: Engine) -> None:
    summary = import_addresses(tiny, FIXTURES / "addresses_en.xlsx")
    assert (summary["rows"], summary["inserted"]) == (4, 4)
    check_fixture_units(tiny)


def test_geojson(tiny: Engine) -> None:
    summary = import_addresses(tiny, FIXTURES / "addresses.geojson")
    assert (summary["rows"], summary["inserted"]) == (4, 4)
    check_fixture_units(tiny)


def test_geopackage_and_feature_numbers(tiny: Engine, tmp_path: Path) -> None:
    import geopandas as gpd

    df = gpd.read_file(FIXTURES / "addresses.geojson")
    df.loc[1, "fixed_lines_own"] = -2  # feature 2
    df.to_file(tmp_path / "a.gpkg", driver="GPKG")
    with pytest.raises(ImportRejected) as info:
        import_addresses(tiny, tmp_path / "a.gpkg")
    assert info.value.problems == [(2, "fixed_lines_own", "must be ≥ 0, not -2")]
    assert info.value.numbered == "feature" and "feature 2, fixed_lines_own" in str(info.value)
    df.loc[1, "fixed_lines_own"] = 1
    df.to_file(tmp_path / "b.gpkg", driver="GPKG")
    assert import_addresses(tiny, tmp_path / "b.gpkg")["inserted"] == 4
    check_fixture_units(tiny)


def test_gcj02_csv_lands_at_the_wgs84_position(tiny: Engine) -> None:
    summary = import_addresses(tiny, FIXTURES / "addresses_gcj02.csv", crs="gcj02")
    assert summary["inserted"] == 2
    with (FIXTURES / "addresses_gcj02.csv").open(encoding="utf-8-sig") as f:
        given = {r["address_id"]: (float(r["lon"]), float(r["lat"])) for r in csv.DictReader(f)}
    got = units(tiny)
    for ext, (glon, glat) in given.items():
        lon, lat = gcj02_to_wgs84(glon, glat)
        assert got[ext].lon == pytest.approx(lon, abs=1e-9) and got[ext].lat == pytest.approx(lat, abs=1e-9)
    # the points were made from WGS84 (120.005, 30.015) in cell A and (120.0195, 30.0195) north-east
    assert got["G001"].lon == pytest.approx(120.005, abs=1e-6)
    assert got["G001"].cell == "A" and got["G002"].cell_source == "h3"


EXPECTED_PROBLEMS = [
    (3, "address_id", "is required"),
    (4, "address", "is required"),
    (5, "lon", "'东经120' is not a number"),
    (6, "lat", "'91' is out of range (wgs84 → WGS84)"),
    (7, "fixed_lines_own", "must be ≥ 0, not -1"),
    (8, "fixed_lines_own", "'1.5' is not an integer"),
    (10, "surveyed_at", "'2026-13-01' is not a valid date"),
    (11, "address_id", "duplicate address_id 'OK1': first in row 2"),
    (12, "revenue_month", "must be ≥ 0, not -5"),
]


def test_rejects_load_nothing_and_are_written_to_the_reject_file(tiny: Engine, tmp_path: Path) -> None:
    path = Path(shutil.copy(FIXTURES / "addresses_bad.csv", tmp_path / "bad.csv"))
    with pytest.raises(ImportRejected) as info:
        import_addresses(tiny, path)
    problems = info.value.problems
    assert [p for p in problems if p[1] != "status"] == EXPECTED_PROBLEMS
    (status,) = [p for p in problems if p[1] == "status"]
    assert status[0] == 9 and status[2].startswith("unknown status '客户'")
    assert "bad.csv rejected, nothing written: 10 problems; first: row 3, address_id" in str(info.value)
    with tiny.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM address_unit")) == 0
    raw = (tmp_path / "bad.csv.rejects.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert lines[0] == [
        "address_id", "address", "lon", "lat", "status", "fixed_lines_own", "surveyed_at",
        "revenue_month", "row", "field", "reason",
    ]  # fmt: skip
    body = {int(r[8]): r for r in lines[1:]}
    assert sorted(body) == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12] and len(lines) == 11
    assert body[6][:4] == ["E4", '\'=HYPERLINK("x")', "120.002", "91"]  # neutralised formula
    assert body[7][5] == "'-1" and body[12][7] == "'-5"
    assert body[11][:2] == ["OK1", "重复路"] and body[11][9:] == ["address_id", EXPECTED_PROBLEMS[7][2]]


def test_allow_rejects_loads_the_good_rows(tiny: Engine, tmp_path: Path) -> None:
    out = tmp_path / "rejects.csv"
    summary = import_addresses(
        tiny, FIXTURES / "addresses_bad.csv", allow_rejects=True, rejects_path=out, as_of="2026-11-05"
    )
    assert (summary["rows"], summary["rejected"], summary["inserted"]) == (12, 10, 2)
    assert summary["rejects_path"] == str(out) and out.is_file()
    got = units(tiny)
    assert set(got) == {"OK1", "OK2"}
    assert (got["OK1"].cell, got["OK1"].status, got["OK1"].fixed_lines_own) == ("A", "stock", 1)
    assert (got["OK2"].cell, got["OK2"].status, got["OK2"].revenue_month) == ("B", "vacant", Decimal("0.00"))
    assert got["OK1"].valid_from == dt.datetime(2026, 11, 5, tzinfo=SHANGHAI)  # --as-of
    assert got["OK2"].valid_from == dt.datetime(2026, 11, 1, tzinfo=SHANGHAI)  # surveyed_at wins


def test_reimporting_the_same_file_changes_nothing(tiny: Engine) -> None:
    import_addresses(tiny, FIXTURES / "addresses_zh_gbk.csv")
    before = checksum(tiny)
    again = import_addresses(tiny, FIXTURES / "addresses_zh_gbk.csv")
    assert (again["inserted"], again["updated"], again["unchanged"], again["conflicts"]) == (0, 0, 4, [])
    assert again["cells_created"] == 0
    assert checksum(tiny) == before
    # the same units from another format are unchanged too
    assert import_addresses(tiny, FIXTURES / "addresses_en.xlsx")["unchanged"] == 4
    assert checksum(tiny) == before


def test_an_update_with_empty_cells_keeps_stored_values_and_writes_version_2(
    tiny: Engine, tmp_path: Path
) -> None:
    import_addresses(tiny, FIXTURES / "addresses_zh_gbk.csv")
    path = write_csv(
        tmp_path / "u.csv",
        ["address_id", "address", "lon", "lat", "floor", "revenue_month", "customer_code", "surveyed_at"],
        [["A001", "测试路1号", "120.005", "30.005", "", "1500", "", "2026-11-01"]],
    )
    summary = import_addresses(tiny, path)
    assert (summary["updated"], summary["inserted"], summary["unchanged"]) == (1, 0, 0)
    v1, v2 = versions(tiny, "A001")
    t = dt.datetime(2026, 11, 1, tzinfo=SHANGHAI)
    assert (v1.version, v1.valid_to, v2.version, v2.valid_from, v2.valid_to) == (1, t, 2, t, None)
    assert v2.source == "import" and v2.revenue_month == Decimal("1500.00")
    # empty or missing cells keep what was stored: status (no counts given), counts, customer, phone
    assert (v2.status, v2.fixed_lines_own, v2.broadband_own) == ("stock", 2, 1)
    assert v2.customer_id == v1.customer_id and v2.contact_phone == "13800000001"
    a1 = units(tiny)["A001"]
    assert (a1.floor, a1.room, a1.building) == (3, "301", "B-01")


def test_a_stale_row_is_a_conflict_and_not_applied(tiny: Engine, tmp_path: Path) -> None:
    import_addresses(tiny, FIXTURES / "addresses_zh_gbk.csv")
    before = checksum(tiny)
    path = write_csv(
        tmp_path / "s.csv",
        ["address_id", "address", "lon", "lat", "revenue_month", "surveyed_at"],
        [
            ["A001", "测试路1号", "120.005", "30.005", "999", "2026-10-01"],  # stored change: 10-15
            ["A003", "测试路3号", "120.015", "30.005", "", ""],  # unchanged, dated by --as-of
        ],
    )
    summary = import_addresses(tiny, path, as_of="2026-10-02")
    assert summary["conflicts"] == [
        {
            "row": 2,
            "address_id": "A001",
            "row_date": "2026-10-01T00:00:00+08:00",
            "stored_date": "2026-10-15T00:00:00+08:00",
        }
    ]
    assert (summary["updated"], summary["unchanged"], summary["rejected"]) == (0, 1, 0)
    assert checksum(tiny) == before
    # dated by --as-of before the stored change: a conflict too
    path = write_csv(
        tmp_path / "t.csv",
        ["address_id", "address", "lon", "lat", "revenue_month"],
        [["A001", "x", 120.005, 30.005, 1]],
    )
    assert import_addresses(tiny, path, as_of="2026/10/14")["conflicts_total"] == 1
    assert [v.version for v in versions(tiny, "A001")] == [1]


def test_missing_status_is_derived_from_counts(tiny: Engine, tmp_path: Path) -> None:
    header = [
        "address_id",
        "address",
        "lon",
        "lat",
        "fixed_lines_own",
        "fixed_lines_rival",
        "本网宽带数",
        "status",
    ]
    rows: list[list[object]] = [
        ["s", "1", 120.001, 30.001, 2, "", "", ""],  # own 2, rival 0 → stock
        ["c", "2", 120.002, 30.001, "", 1, 1, ""],  # own 1, rival 1 → competing
        ["o", "3", 120.003, 30.001, "", 3, "", ""],  # own 0, rival 3 → other_network
        ["u", "4", 120.004, 30.001, "", "", "", ""],  # no counts → unknown
        ["z", "5", 120.005, 30.001, 0, 0, 0, ""],  # all zero → unknown
    ]
    import_addresses(tiny, write_csv(tmp_path / "d.csv", header, rows), as_of="2026-11-01")
    got = units(tiny)
    assert {k: r.status for k, r in got.items()} == {
        "s": "stock",
        "c": "competing",
        "o": "other_network",
        "u": "unknown",
        "z": "unknown",
    }
    # an update giving a rival count: merged counts own 2 (stored), rival 1 → competing (version 2)
    again = write_csv(tmp_path / "e.csv", header, [["s", "1", 120.001, 30.001, "", 1, "", ""]])
    assert import_addresses(tiny, again, as_of="2026-11-02")["updated"] == 1
    assert [(v.version, v.status) for v in versions(tiny, "s")] == [(1, "stock"), (2, "competing")]


def test_each_contradiction_is_a_warning_and_the_status_is_kept(tiny: Engine, tmp_path: Path) -> None:
    header = ["address_id", "address", "lon", "lat", "status", "fixed_lines_own", "broadband_rival"]
    rows: list[list[object]] = [
        ["w1", "1", 120.001, 30.001, "stock", 1, 1],  # row 2: stock with rival > 0
        ["w2", "2", 120.002, 30.001, "竞争", 1, ""],  # row 3: competing without rival
        ["w3", "3", 120.003, 30.001, "他网", 1, 2],  # row 4: other_network with own > 0
        ["w4", "4", 120.004, 30.001, "潜在", "", 1],  # row 5: potential with rival > 0
        ["w5", "5", 120.005, 30.001, "vacant", 1, ""],  # row 6: vacant with own > 0
        ["ok", "6", 120.006, 30.001, "存量", 1, 0],  # row 7: consistent
    ]
    summary = import_addresses(tiny, write_csv(tmp_path / "w.csv", header, rows))
    assert summary["warnings"] == [
        "row 2: status: stock with rival lines > 0",
        "row 3: status: competing without both own and rival lines > 0",
        "row 4: status: other_network with own lines > 0",
        "row 5: status: potential with own or rival lines > 0",
        "row 6: status: vacant with own or rival lines > 0",
    ]
    assert summary["inserted"] == 6 and summary["rejected"] == 0
    got = units(tiny)
    assert [got[k].status for k in ("w1", "w2", "w3", "w4", "w5", "ok")] == [
        "stock",
        "competing",
        "other_network",
        "potential",
        "vacant",
        "stock",
    ]


def test_a_moved_unit_changes_cell(tiny: Engine, tmp_path: Path) -> None:
    import_addresses(tiny, FIXTURES / "addresses_zh_gbk.csv")
    assert units(tiny)["A003"].cell == "B"
    path = write_csv(
        tmp_path / "m.csv", ["address_id", "address", "lon", "lat"], [["A003", "测试路3号", 120.005, 30.015]]
    )
    summary = import_addresses(tiny, path, as_of="2026-11-01")
    assert (summary["updated"], summary["unchanged"]) == (1, 0)
    a3 = units(tiny)["A003"]
    assert (a3.cell, a3.lon, a3.lat) == ("A", 120.005, 30.015)
    # only the unit moved: its market record keeps version 1
    assert [v.version for v in versions(tiny, "A003")] == [1]
    with tiny.connect() as conn:
        h3_12 = conn.scalar(text("SELECT h3_12 FROM address_unit WHERE external_id = 'A003'"))
    assert h3_12 == h3.str_to_int(h3.latlng_to_cell(30.015, 120.005, 12))


def test_cli_exit_codes_and_messages(
    tiny: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GRIDMARKET_DATABASE_URL", tiny.url.render_as_string(hide_password=False))
    path = Path(shutil.copy(FIXTURES / "addresses_bad.csv", tmp_path / "bad.csv"))
    assert main(["import", "addresses", str(path)]) == 1
    out, err = capsys.readouterr()
    assert "gridmarket: bad.csv rejected, nothing written: 10 problems" in err
    assert "  row 3: address_id: is required" in err and "  row 11: address_id: duplicate" in err
    assert (
        main(["import", "addresses", str(path), "--allow-rejects", "--rejects", str(tmp_path / "r.csv")]) == 0
    )
    out, err = capsys.readouterr()
    assert "imported addresses: rows 12, inserted 2, updated 0, unchanged 0, rejected 10" in out
    assert f"10 rejected row(s) written to {tmp_path / 'r.csv'}" in err
    assert main(["import", "addresses", str(FIXTURES / "addresses_gcj02.csv"), "--crs", "nonsense"]) == 1
    assert "unknown CRS" in capsys.readouterr().err
    assert main(["import", "addresses", str(FIXTURES / "addresses_gcj02.csv"), "--crs", "gcj02"]) == 0


def test_a_masked_phone_never_overwrites_the_stored_number(tiny: Engine, tmp_path: Path) -> None:
    """A roster read by a planner carries 138****5678; imported again it must keep the real number."""
    import_addresses(tiny, FIXTURES / "addresses_zh_gbk.csv")
    assert units(tiny)["A001"].contact_phone == "13800000001"
    path = write_csv(
        tmp_path / "masked.csv",
        ["地址编码", "详细地址", "经度", "纬度", "联系电话", "月收入"],
        [["A001", "测试路1号", "120.005", "30.005", "138****0001", "1600"]],
    )
    summary = import_addresses(tiny, path)
    assert summary["updated"] == 1 and summary["rejected"] == 0
    assert "row 2: contact_phone: masked number not stored (the stored one is kept)" in summary["warnings"]
    a1 = units(tiny)["A001"]
    assert a1.contact_phone == "13800000001" and a1.revenue_month == Decimal("1600.00")
