"""The tabular reader on real files: GBK from Excel, UTF-8 with and without BOM, XLSX, bad bytes."""

from __future__ import annotations

import datetime as dt
import tracemalloc
from pathlib import Path

import pytest
from openpyxl import Workbook

from gridmarket.etl.tabular import TableError, normalize_header, read_table
from gridmarket.grids.errors import ValidationFailed

HEADERS = {
    "编码": "code",
    "名称": "name",
    "数量": "qty",
    "日期": "day",
    "备注": "note",
}
ZH_HEADER = "编码,名称,数量,日期,备注"


def write(path: Path, text: str, encoding: str, newline: str = "\r\n") -> Path:
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    return path


def test_gbk_csv_as_excel_writes_it(tmp_path: Path) -> None:
    # Excel (Chinese Windows) "CSV": GBK, CRLF, quoted field with a comma and one with a line break,
    # an empty row written as commas, a trailing empty-header column
    text = (
        ZH_HEADER + ",\n"
        "A1,杭州恒瑞商行,3,2026/01/05,\n"
        'A2,"西湖区，文三路",,,"第一行\n第二行"\n'
        ",,,,,\n"
        "A3,滨江区政务服务中心,12,2026-02-01,备注\n"
    )
    path = write(tmp_path / "excel.csv", text, "gbk")
    table = read_table(path, headers=HEADERS)
    assert table.format == "csv" and table.encoding == "gb18030"
    assert table.columns == ["code", "name", "qty", "day", "note"] and table.unknown == []
    rows = list(table)
    assert [n for n, _ in rows] == [2, 3, 5]  # row 4 is empty; the line break stays inside row 3
    assert rows[0][1] == {"code": "A1", "name": "杭州恒瑞商行", "qty": "3", "day": "2026/01/05", "note": None}
    assert rows[1][1]["name"] == "西湖区，文三路" and rows[1][1]["note"] == "第一行\r\n第二行"
    assert rows[1][1]["qty"] is None
    assert rows[2][1]["note"] == "备注"
    assert list(table) == rows  # a table can be read again


@pytest.mark.parametrize(("bom", "expected"), [(True, "utf-8-sig"), (False, "utf-8")])
def test_utf8_with_and_without_bom(tmp_path: Path, bom: bool, expected: str) -> None:
    text = "Code , NAME,数量\nA1,上城区,1\nA2,拱墅区,2.5\n"
    data = text.encode("utf-8")
    path = tmp_path / "u.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    table = read_table(path, headers=HEADERS)
    assert table.encoding == expected
    assert table.columns == ["code", "name", "qty"]  # the BOM does not stick to the first header
    assert list(table) == [
        (2, {"code": "A1", "name": "上城区", "qty": "1", "day": None, "note": None}),
        (3, {"code": "A2", "name": "拱墅区", "qty": "2.5", "day": None, "note": None}),
    ]


def test_gb18030_only_characters_and_tab_delimiter(tmp_path: Path) -> None:
    path = write(tmp_path / "t.txt", "编码\t名称\nA1\t𠀀字号\n", "gb18030", "\n")
    table = read_table(path, headers=HEADERS)
    assert table.encoding == "gb18030"
    assert list(table) == [(2, {"code": "A1", "name": "𠀀字号", "qty": None, "day": None, "note": None})]


def test_xlsx_types_and_row_numbers(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append([" 编码 ", "名称", "数量", "日期", "备注", "Extra Col"])
    ws.append(["A1", "  杭州恒瑞商行 ", 3, dt.date(2026, 1, 5), None, "x"])
    ws.append([])
    ws.append(["A2", "西湖区", 2.5, dt.datetime(2026, 2, 1, 9, 30), "", None])
    ws.append([10086, None, None, None, None, None])
    wb.save(tmp_path / "t.xlsx")
    table = read_table(tmp_path / "t.xlsx", headers=HEADERS)
    assert table.format == "xlsx" and table.encoding is None
    assert table.unknown == ["Extra Col"] and "Extra Col" in table.warnings[0]
    rows = list(table)
    assert [n for n, _ in rows] == [2, 4, 5]
    assert rows[0][1] == {
        "code": "A1",
        "name": "杭州恒瑞商行",
        "qty": 3,
        "day": dt.date(2026, 1, 5),
        "note": None,
    }
    assert rows[1][1]["qty"] == 2.5 and rows[1][1]["day"] == dt.datetime(2026, 2, 1, 9, 30)
    assert rows[1][1]["note"] is None
    assert rows[2][1]["code"] == 10086


def test_bad_byte_under_an_explicit_wrong_encoding(tmp_path: Path) -> None:
    path = write(tmp_path / "g.csv", ZH_HEADER + "\nA1,abc,1,,\nA2,西湖区,2,,\n", "gbk", "\n")
    table = read_table(path, headers=HEADERS)  # detected: fine
    assert [r["name"] for _, r in table] == ["abc", "西湖区"]
    with pytest.raises(TableError) as info:
        read_table(path, headers=HEADERS, encoding="utf-8")  # the header itself is GBK
    assert info.value.row == 1 and info.value.offset == 0
    # an ASCII header: the bad byte is met while reading row 3
    path = write(tmp_path / "h.csv", "code,name\nA1,abc\nA2,西湖区\n", "gbk", "\n")
    table = read_table(path, headers=HEADERS, encoding="utf-8")
    with pytest.raises(TableError) as info:
        list(table)
    offset = len(b"code,name\nA1,abc\nA2,")
    assert info.value.row == 3 and info.value.offset == offset and info.value.field == "encoding"
    assert f"row 3: byte {offset}" in str(info.value) and "utf-8" in str(info.value)


def test_header_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "code,编码,name\nA,B,C\n", "utf-8")
    with pytest.raises(TableError, match="both mean 'code'"):
        read_table(path, headers=HEADERS)
    path = write(tmp_path / "m.csv", "name,数量\nA,1\n", "utf-8")
    with pytest.raises(ValidationFailed, match=r"missing required column\(s\): code \(编码\)") as info:
        read_table(path, headers=HEADERS, required=("code",))
    assert info.value.field == "code"
    path = write(tmp_path / "e.csv", "\n,,\n", "utf-8")
    with pytest.raises(TableError, match="empty"):
        read_table(path, headers=HEADERS)
    with pytest.raises(TableError, match="no such file"):
        read_table(tmp_path / "missing.csv", headers=HEADERS)
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    with pytest.raises(TableError, match=r"save it as \.xlsx"):
        read_table(tmp_path / "old.xls", headers=HEADERS)
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(TableError, match="not a readable XLSX"):
        read_table(tmp_path / "broken.xlsx", headers=HEADERS)
    with pytest.raises(TableError, match="unknown encoding"):
        read_table(write(tmp_path / "x.csv", "code\nA\n", "utf-8"), headers=HEADERS, encoding="nope")


def test_header_matching_is_lenient() -> None:
    assert normalize_header(" Staff_Code ") == normalize_header("staff code") == "staffcode"
    assert normalize_header("ＳＴＡＦＦ　ＣＯＤＥ") == "staffcode"  # full-width letters and space
    assert normalize_header("员工编码*") == "员工编码"


def test_rows_are_streamed(tmp_path: Path) -> None:
    n = 20_000
    path = tmp_path / "big.csv"
    with path.open("wb") as f:
        f.write((ZH_HEADER + "\r\n").encode("gbk"))
        line = "A{0},杭州市上城区某某商行{0},{0},2026-01-01,备注备注备注备注\r\n"
        for k in range(n):
            f.write(line.format(k).encode("gbk"))
    table = read_table(path, headers=HEADERS)
    tracemalloc.start()
    count = last = 0
    for number, _row in table:
        count += 1
        last = number
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == n and last == n + 1
    assert path.stat().st_size > 1_000_000
    assert peak < 500_000, peak  # a few rows at a time, never the file
