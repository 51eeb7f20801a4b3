"""The small private world of the edit and bulk tests (tests/grids/test_records.py, test_bulk.py).

The tiny territory of tests.helpers (city C, district D, drawn cells A = [120.00, 120.01] ×
[30.00, 30.02] and B = [120.01, 120.02] × [30.00, 30.01], the north-east quarter uncovered), with
four units loaded on 2025-01-01, a customer, and logins: an admin, an account manager of cell A
and a planner of C.

    u1 (120.002, 30.002) A  stock          fixed own 2            revenue 100
    u2 (120.004, 30.004) A  competing      fixed own 1, rival 1   revenue 50
    u3 (120.015, 30.005) B  other_network  fixed rival 2          revenue 0
    u4 (120.006, 30.006) A  potential                             revenue 0
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, text

from gridmarket.grids import auth, metrics
from gridmarket.grids.scope import Scope, scope_for, system_scope
from gridmarket.grids.units import load_units
from tests.helpers import make_tiny_territory, unit

TZ = "Asia/Shanghai"
LOADED = dt.datetime(2025, 1, 1, tzinfo=ZoneInfo(TZ))
PASSWORD = "edits-password-1"


def build(eng: Engine) -> Engine:
    make_tiny_territory(eng)
    rows = [
        unit(
            "u1", 120.002, 30.002, "stock", fixed_lines_own=2, revenue_month=100, contact_phone="13812345678"
        ),
        unit("u2", 120.004, 30.004, "competing", fixed_lines_own=1, fixed_lines_rival=1, revenue_month=50),
        unit("u3", 120.015, 30.005, "other_network", fixed_lines_rival=2, rival_operator="中国移动"),
        unit("u4", 120.006, 30.006, "potential"),
    ]
    with eng.begin() as conn:
        load_units(conn, iter(rows), source="import", valid_from=LOADED, h3_resolution=9)
        conn.execute(
            text(
                "INSERT INTO customer (city_id, source_code, unified_code, name) VALUES "
                "(2, 'CUST1', 'UC1', '测试客户'), (2, 'CUST2', NULL, '另一客户')"
            )
        )
        staff = conn.scalar(
            text("INSERT INTO staff (code, name, city_id) VALUES ('S-AM', '张三', 2) RETURNING id")
        )
        cell_a = conn.scalar(text("SELECT id FROM cell WHERE code = 'A'"))
        conn.execute(
            text(
                "INSERT INTO assignment (staff_id, kind, cell_id, valid_from) "
                "VALUES (:s, 'cell', :c, '2025-01-01')"
            ),
            {"s": staff, "c": cell_a},
        )
        auth.add_user(conn, "t-admin", "admin", PASSWORD)
        auth.add_user(conn, "t-am", "account_manager", PASSWORD, staff_code="S-AM")
        auth.add_user(conn, "t-planner", "planner", PASSWORD, region_code="C")
    return eng


def scope_of(conn: Connection, username: str) -> Scope:
    user = auth.get_user(conn, username)
    assert user is not None
    return scope_for(conn, user, tz=TZ)


def cell(conn: Connection, code: str) -> dict[str, Any]:
    """The figures of a cell as the metric API reads them (aggregates + pending deltas)."""
    return metrics.metrics_for_level(conn, system_scope(), "cell", filters={"cell": code}, tz=TZ)[0]


def versions(conn: Connection, ext: str) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in conn.execute(
            text(
                "SELECT r.* FROM market_record r JOIN address_unit a ON a.id = r.address_unit_id "
                "WHERE a.external_id = :e ORDER BY r.version"
            ),
            {"e": ext},
        ).mappings()
    ]
