"""The org importer on a tiny hand-made territory (fixtures/org/territory.sql) and fixture files.

``org_zh_gbk.csv`` (GBK, CRLF, Chinese headers and kind names) and ``org_en.xlsx`` (English
headers, kind codes, date cells) describe the same organisation of city C1 (甲市).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from gridmarket.etl.org_import import import_org, parse_date
from gridmarket.etl.tabular import TableError
from gridmarket.grids.errors import ValidationFailed
from gridmarket.grids.org import ImportRejected

FIXTURES = Path(__file__).parent / "fixtures" / "org"
GBK_CSV = FIXTURES / "org_zh_gbk.csv"
XLSX = FIXTURES / "org_en.xlsx"
HEADER = (
    "员工编码,姓名,岗位,组织编码,组织名称,组织类型,所属区县,上级组织编码,"
    "分配类型,分配对象编码,生效日期,失效日期"
)
GOOD = [
    "E001,王建国,地市政企部经理,C1-ZQB,甲市政企部,地市政企部,,,,,,",
    "E002,李明,客户经理,C1-D1-YX,甲市东区营销中心,区局营销中心,C1-D1,,网格单元,C1-G1-01,2026-01-01,",
    "E003,张伟,网格经理,C1-D1-YX,,,,,网格,C1-G1,2026-01-01,",
]

ORG_CHECKSUM = {
    "org_unit": """SELECT o.code, o.name, o.kind, c.code, d.code, p.code FROM org_unit o
                   JOIN region c ON c.id = o.city_id LEFT JOIN region d ON d.id = o.district_id
                   LEFT JOIN org_unit p ON p.id = o.parent_id""",
    "staff": """SELECT s.code, s.name, s.post, o.code, c.code FROM staff s JOIN region c ON c.id = s.city_id
                LEFT JOIN org_unit o ON o.id = s.org_unit_id""",
    "assignment": """SELECT s.code, o.code, a.kind, x.code, g.code, f.code, u.source_code,
                            a.valid_from, a.valid_to
                     FROM assignment a JOIN staff s ON s.id = a.staff_id
                     LEFT JOIN org_unit o ON o.id = a.org_unit_id
                     LEFT JOIN cell x ON x.id = a.cell_id LEFT JOIN grid g ON g.id = a.grid_id
                     LEFT JOIN feature_grid f ON f.id = a.feature_grid_id
                     LEFT JOIN customer u ON u.id = a.customer_id""",
}


def checksum(engine: Engine, with_xmin: bool = False) -> dict[str, tuple[int, str]]:
    """Count and digest of the org tables (with each row's xmin: proof that a row was not rewritten)."""
    out = {}
    with engine.connect() as conn:
        for table, sql in ORG_CHECKSUM.items():
            if with_xmin:
                sql = f"SELECT xmin::text AS row_version, * FROM {table}"
            digest = "md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
            row = conn.execute(text(f"SELECT count(*), {digest} FROM ({sql}) t")).one()
            out[table] = (int(row[0]), str(row[1]))
    return out


@pytest.fixture(scope="module")
def territory(new_database: Callable[[str], Engine]) -> Engine:
    engine = new_database("orgimp")
    with engine.begin() as conn:
        conn.exec_driver_sql((FIXTURES / "territory.sql").read_text(encoding="utf-8"))
    return engine


@pytest.fixture
def db(territory: Engine) -> Iterator[Engine]:
    """The territory with empty org tables."""
    with territory.begin() as conn:
        conn.execute(text("DELETE FROM app_user WHERE staff_id IS NOT NULL"))
        conn.execute(text("DELETE FROM assignment"))
        conn.execute(text("DELETE FROM staff"))
        conn.execute(text("DELETE FROM org_unit"))
    yield territory


def csv_file(tmp_path: Path, rows: list[str], name: str = "org.csv", encoding: str = "gbk") -> Path:
    path = tmp_path / name
    path.write_bytes("\r\n".join([HEADER, *rows, ""]).encode(encoding))
    return path


def q(engine: Engine, sql: str, **params: object) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params).all()]


def test_gbk_csv_and_xlsx_give_the_same_rows(db: Engine) -> None:
    lines: list[str] = []
    summary = import_org(db, GBK_CSV, progress=lines.append)
    assert summary["rows"] == 9 and summary["city"] == "C1"
    assert summary["org_units_inserted"] == 5 and summary["staff_inserted"] == 7
    assert summary["assignments_inserted"] == 7
    assert summary["org_units_updated"] == summary["staff_updated"] == summary["assignments_updated"] == 0
    assert any("read 9 rows" in m and "gb18030" in m for m in lines)
    from_csv = checksum(db)
    units = dict((r[0], r[1:]) for r in q(db, ORG_CHECKSUM["org_unit"]))
    assert units["C1-D1-YX"] == ("甲市东区营销中心", "regional_centre", "C1", "C1-D1", "C1-ZQB")
    assert units["C1-D2-YX"][2:] == ("C1", "C1-D2", "C1-ZQB")  # district given by name (西区)
    assert units["C1-ZY-EDU"][1:] == ("specialist_centre", "C1", None, "C1-ZQB")  # default parent
    assert units["C1-ZY-EDU-T1"][1:] == ("specialist_team", "C1", None, "C1-ZY-EDU")
    assignments = q(db, ORG_CHECKSUM["assignment"] + " ORDER BY s.code, a.kind, a.valid_from")
    assert (
        "10086",
        "C1-D2-YX",
        "customer",
        None,
        None,
        None,
        "K002",
        dt.date(2026, 3, 1),
        None,
    ) in assignments
    assert (
        "E004",
        "C1-D2-YX",
        "customer",
        None,
        None,
        None,
        "K001",
        dt.date(2026, 1, 1),
        None,
    ) in assignments
    ended = [a for a in assignments if a[8] is not None]
    assert ended == [
        ("E002", "C1-D1-YX", "cell", "C1-G1-02", None, None, None, dt.date(2026, 1, 1), dt.date(2026, 6, 30))
    ]
    # the XLSX into an emptied database gives exactly the same rows
    with db.begin() as conn:
        conn.execute(text("DELETE FROM assignment; DELETE FROM staff; DELETE FROM org_unit"))
    summary = import_org(db, XLSX)
    assert summary["assignments_inserted"] == 7
    assert checksum(db) == from_csv
    # and each file over the other changes nothing
    again = import_org(db, GBK_CSV)
    assert [again[k] for k in again if k.endswith(("_inserted", "_updated"))] == [0] * 6
    assert checksum(db) == from_csv


def test_the_same_file_twice_changes_no_row(db: Engine) -> None:
    import_org(db, GBK_CSV)
    before = checksum(db, with_xmin=True)
    summary = import_org(db, GBK_CSV)
    assert [summary[k] for k in summary if k.endswith(("_inserted", "_updated"))] == [0] * 6
    assert checksum(db, with_xmin=True) == before  # not even rewritten


def test_reimport_updates_in_place(db: Engine, tmp_path: Path) -> None:
    import_org(db, csv_file(tmp_path, GOOD))
    changed = [
        GOOD[0],
        "E002,李明,高级客户经理,C1-D1-YX,甲市东区营销中心,区局营销中心,C1-D1,,网格单元,C1-G1-01,2026-01-01,2026-12-31",
        "E003,张伟,,C1-D1-YX,,,,,网格,C1-G1,2026-01-01,",  # empty post: kept
    ]
    summary = import_org(db, csv_file(tmp_path, changed, "changed.csv"))
    assert summary["staff_updated"] == 1 and summary["assignments_updated"] == 1
    assert summary["assignments_inserted"] == summary["staff_inserted"] == 0
    assert q(db, "SELECT code, post FROM staff ORDER BY code") == [
        ("E001", "地市政企部经理"),
        ("E002", "高级客户经理"),
        ("E003", "网格经理"),
    ]
    assert q(db, "SELECT count(*), max(valid_to) FROM assignment") == [(2, dt.date(2026, 12, 31))]


BAD_ROWS = [
    # (row text, field, reason fragment)
    (
        "E009,周杰,客户经理,C1-D1-YX,,营销部,,,网格单元,C1-G1-02,2026-01-01,",
        "unit_kind",
        "unknown unit kind '营销部'",
    ),
    (
        "E009,周杰,客户经理,C1-D1-YX,,,,,楼宇,C1-G1-02,2026-01-01,",
        "assign_kind",
        "unknown assignment kind '楼宇'",
    ),
    (
        "E009,周杰,客户经理,C1-D1-YX,,,,,网格单元,C1-G9-99,2026-01-01,",
        "assign_code",
        "unknown cell 'C1-G9-99'",
    ),
    ("E009,周杰,网格经理,C1-D1-YX,,,,,网格,C1-G9,2026-01-01,", "assign_code", "unknown grid 'C1-G9'"),
    (
        "E009,周杰,专业团队长,C1-D1-YX,,,,,特征网格,FG-X,2026-01-01,",
        "assign_code",
        "unknown characteristic grid 'FG-X'",
    ),
    ("E009,周杰,客户经理,C1-D1-YX,,,,,客户,K404,2026-01-01,", "assign_code", "unknown customer 'K404'"),
    (
        "E009,周杰,客户经理,C1-D1-YX,,,,,网格单元,C2-G1-01,2026-01-01,",
        "assign_code",
        "is in 乙市, not in 甲市",
    ),
    ("E009,周杰,客户经理,C1-D1-YX,,,,,客户,K900,2026-01-01,", "assign_code", "customer 'K900' is in 乙市"),
    ("E009,周杰,客户经理,C1-X-YX,某中心,区局营销中心,C2-D1,,,,,", "unit_district", "is in 乙市, not in 甲市"),
    ("E009,周杰,客户经理,C1-X-YX,某中心,区局营销中心,北区,,,,,", "unit_district", "unknown district '北区'"),
    ("E009,周杰,客户经理,C1-X-YX,某中心,区局营销中心,,,,,,", "unit_district", "needs its district"),
    ("E009,周杰,客户经理,C1-X-YX,,,,,,,,", "unit_name", "needs unit_name"),
    ("E009,周杰,客户经理,C1-D1-YX,,,,,网格单元,C1-G1-02,2026-13-01,", "valid_from", "bad date"),
    ("E009,周杰,客户经理,C1-D1-YX,,,,,网格单元,C1-G1-02,20260101x,", "valid_from", "is not a date"),
    ("E009,周杰,客户经理,C1-D1-YX,,,,,网格单元,C1-G1-02,,", "valid_from", "valid_from is required"),
    (
        "E009,周杰,客户经理,C1-D1-YX,,,,,网格单元,C1-G1-02,2026-03-01,2026-02-28",
        "valid_to",
        "before valid_from",
    ),
    ("E009,周杰,客户经理,C1-D1-YX,,,,,网格单元,,2026-01-01,", "assign_code", "assign_code is required"),
    ("E009,周杰,客户经理,C1-D1-YX,,,,,,C1-G1-02,2026-01-01,", "assign_kind", "assign_kind is required"),
    (",周杰,客户经理,C1-D1-YX,,,,,,,,", "staff_code", "staff_code is required"),
    ("E002,李四,客户经理,C1-D1-YX,,,,,网格单元,C1-G1-02,2026-01-01,", "name", "has name '李明' in row 3"),
    (
        "E002,李明,客户经理,C1-D2-YX,甲市西区营销中心,区局营销中心,C1-D2,,,,,",
        "unit_code",
        "has unit 'C1-D1-YX' in row 3",
    ),
    (
        "E009,周杰,客户经理,C1-ZQB,甲市政企部,区局营销中心,C1-D1,,,,,",
        "unit_kind",
        "has kind 'city_dept' in row 2",
    ),
    ("E009,周杰,客户经理,C1-T,团队,专业团队,,C1-NONE,,,,", "parent_unit_code", "unknown org unit 'C1-NONE'"),
]


@pytest.mark.parametrize(("row", "field", "reason"), BAD_ROWS, ids=[b[1] + ":" + b[2][:24] for b in BAD_ROWS])
def test_each_problem_has_its_row_and_field(
    db: Engine, tmp_path: Path, row: str, field: str, reason: str
) -> None:
    path = csv_file(tmp_path, [*GOOD, "", row])  # an empty line: the bad row is row 6
    with pytest.raises(ImportRejected) as info:
        import_org(db, path)
    problems = info.value.problems
    assert any(p[0] == 6 and p[1] == field and reason in p[2] for p in problems), problems
    assert "\n" not in str(info.value) and "nothing written" in str(info.value)
    assert checksum(db)["staff"][0] == 0


def test_one_bad_row_writes_nothing(db: Engine, tmp_path: Path) -> None:
    import_org(db, GBK_CSV)
    before = checksum(db, with_xmin=True)
    rows = [
        *GOOD[:1],
        "E002,李明,资深客户经理,C1-D1-YX,甲市东区营销中心,区局营销中心,C1-D1,,网格单元,C1-G1-01,2026-01-01,",
        *[f"N{k:03d},新员工{k},客户经理,C1-D2-YX,,,,,网格单元,C1-G2-01,2026-02-01," for k in range(50)],
        "N999,坏数据,客户经理,C1-D2-YX,,,,,网格单元,NO-SUCH-CELL,2026-02-01,",
    ]
    with pytest.raises(ImportRejected) as info:
        import_org(db, csv_file(tmp_path, rows))
    assert info.value.problems == [(54, "assign_code", "unknown cell 'NO-SUCH-CELL'")]
    assert str(info.value) == (
        "org.csv rejected, nothing written: 1 problem; first: row 54, assign_code: "
        "unknown cell 'NO-SUCH-CELL'"
    )
    assert checksum(db, with_xmin=True) == before


def test_every_problem_is_listed(db: Engine, tmp_path: Path) -> None:
    rows = [
        *GOOD,
        "E010,甲,客户经理,C1-D1-YX,,,,,网格单元,C1-G1-09,2026-01-01,",
        "E011,乙,客户经理,C1-D1-YX,,,,,网格,C1-G1,2026/02/30,",
        "E012,丙,客户经理,C1-D1-YX,,,,,客户,K001,2026-05-01,2026-04-01",
    ]
    with pytest.raises(ImportRejected) as info:
        import_org(db, csv_file(tmp_path, rows))
    assert [(p[0], p[1]) for p in info.value.problems] == [
        (5, "assign_code"),
        (6, "valid_from"),
        (7, "valid_to"),
    ]
    assert info.value.field == "assign_code"


def test_rows_of_two_cities_are_refused(db: Engine, tmp_path: Path) -> None:
    rows = [
        *GOOD,
        "F001,钱多,客户经理,C2-D1-YX,乙市东区营销中心,区局营销中心,C2-D1,,网格单元,C2-G1-01,2026-01-01,",
    ]
    with pytest.raises(ImportRejected) as info:
        import_org(db, csv_file(tmp_path, rows))
    assert {(p[0], p[1]) for p in info.value.problems} == {(5, "unit_district"), (5, "assign_code")}
    # a tie cannot tell the city
    with pytest.raises(ImportRejected, match="cannot tell the city"):
        import_org(db, csv_file(tmp_path, [GOOD[1], rows[-1]], "tie.csv"))
    # a file naming nothing of a city needs --city
    lonely = ["E001,王建国,地市政企部经理,C1-ZQB,甲市政企部,地市政企部,,,,,,"]
    with pytest.raises(ImportRejected, match="cannot tell the city"):
        import_org(db, csv_file(tmp_path, lonely, "lonely.csv"))
    assert import_org(db, csv_file(tmp_path, lonely, "lonely.csv"), city="C1")["org_units_inserted"] == 1
    # a district name shared by both cities (东区) resolves inside the file's city
    shared = [*GOOD[:1], "E020,冯,客户经理,C1-E-YX,东区中心,区局营销中心,东区,,网格单元,C1-G1-02,2026-01-01,"]
    import_org(db, csv_file(tmp_path, shared, "shared.csv"))
    assert q(
        db, "SELECT d.code FROM org_unit o JOIN region d ON d.id = o.district_id WHERE o.code = 'C1-E-YX'"
    ) == [("C1-D1",)]


def test_units_and_staff_of_another_city_are_refused(db: Engine, tmp_path: Path) -> None:
    import_org(db, csv_file(tmp_path, [GOOD[0]]), city="C2")  # C1-ZQB, E001 now belong to 乙市
    with pytest.raises(ImportRejected) as info:
        import_org(db, csv_file(tmp_path, GOOD, "c1.csv"))
    found = {(p[0], p[1]) for p in info.value.problems}
    assert {(2, "unit_code"), (2, "staff_code")} <= found


def test_file_level_errors(db: Engine, tmp_path: Path) -> None:
    with pytest.raises(TableError) as info:
        import_org(db, GBK_CSV, encoding="utf-8")
    assert info.value.row == 1 and "not valid utf-8" in str(info.value)
    path = tmp_path / "nocode.csv"
    path.write_text("姓名,岗位\n王,经理\n", encoding="utf-8")
    with pytest.raises(ValidationFailed, match="missing required column"):
        import_org(db, path)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(HEADER.encode("gbk") + b"\r\n,,,,\r\n")
    with pytest.raises(ImportRejected, match="no data rows"):
        import_org(db, empty)
    assert checksum(db)["org_unit"][0] == 0


def test_parse_date() -> None:
    assert parse_date("2026-01-05") == parse_date("2026/1/5") == parse_date("20260105") == dt.date(2026, 1, 5)
    assert parse_date("2026-01-05 00:00:00") == parse_date(dt.datetime(2026, 1, 5, 8)) == dt.date(2026, 1, 5)
    for bad in ("2026-02-30", "05/01/2026", "soon", 46023):
        with pytest.raises(ValueError):
            parse_date(bad)
