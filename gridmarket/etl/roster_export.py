"""Rosters (一楼一册, 一场一册) as XLSX workbooks with Chinese headers.

The headers are those of the address file layout (CONTRACT.md "Address files", coordinates in
WGS84), so a roster can be corrected in Excel and imported again; the status is written as its
Chinese name. Columns the importer does not know (网格单元, 版本) are ignored by it. Text that a
spreadsheet would run as a formula is neutralised as in the metric exports
(:func:`gridmarket.etl.export.neutralise`). Phones arrive already masked by the caller's role.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from gridmarket.etl.export import neutralise

# (header, roster line key)
COLUMNS: tuple[tuple[str, str], ...] = (
    ("地址编码", "external_id"),
    ("详细地址", "address"),
    ("经度", "lon"),
    ("纬度", "lat"),
    ("网格单元", "cell_code"),
    ("楼宇编码", "building_code"),
    ("楼宇名称", "building_name"),
    ("楼层", "floor"),
    ("房号", "room"),
    ("客户状态", "status_zh"),
    ("客户编码", "customer_code"),
    ("客户名称", "customer_name"),
    ("行业", "industry"),
    ("主要使用业务", "main_services"),
    ("本网固话数", "fixed_lines_own"),
    ("他网固话数", "fixed_lines_rival"),
    ("本网宽带数", "broadband_own"),
    ("他网宽带数", "broadband_rival"),
    ("本网长途分钟", "ld_minutes_own"),
    ("他网长途分钟", "ld_minutes_rival"),
    ("月收入", "revenue_month"),
    ("竞争运营商", "rival_operator"),
    ("合同到期日", "contract_end"),
    ("联系人", "contact_name"),
    ("联系电话", "contact_phone"),
    ("版本", "version"),
)
HEADERS: tuple[str, ...] = tuple(h for h, _ in COLUMNS)


def _cell(value: Any) -> Any:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    return neutralise(value)


def roster_xlsx(title: str, rows: list[dict[str, Any]], sheet: str = "花名册") -> bytes:
    """Return an XLSX workbook: the Chinese header line (row 1, as imports expect), one line per unit.

    ``title`` (which roster) goes into the workbook's document properties.
    """
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    wb.properties.title = title
    ws = wb.create_sheet(sheet)
    ws.append(list(HEADERS))
    for row in rows:
        ws.append([_cell(row.get(key)) for _, key in COLUMNS])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
