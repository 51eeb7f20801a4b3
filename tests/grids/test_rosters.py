"""Building rosters (一楼一册) and market rosters (一场一册) on the hand-made world of fieldwork_world.

Every expectation is read off the world's table in that module's docstring.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, text

from gridmarket.grids import auth, rosters
from gridmarket.grids.errors import Forbidden, NotFound, ValidationFailed
from gridmarket.grids.scope import Scope, scope_for
from tests.grids.fieldwork_world import TZ, build_world


@pytest.fixture(scope="module")
def world(new_database: Callable[[str], Engine]) -> Engine:
    return build_world(new_database("rosters"))


@pytest.fixture
def conn(world: Engine) -> Iterator[Connection]:
    """A connection whose changes (audit rows, extra rows) are rolled back after the test."""
    with world.connect() as c:
        yield c
        c.rollback()


def scope(conn: Connection, username: str) -> Scope:
    user = auth.get_user(conn, username)
    assert user is not None
    return scope_for(conn, user, tz=TZ)


def layout(roster: dict[str, Any]) -> list[tuple[int | None, list[str]]]:
    return [(f["floor"], [u["external_id"] for u in f["rooms"]]) for f in roster["floors"]]


def audit_rows(conn: Connection) -> list[tuple[str, int, dict[str, Any]]]:
    return [
        (r[0], r[1], r[2])
        for r in conn.execute(
            text(
                "SELECT u.username, l.rows, l.detail FROM audit_log l JOIN app_user u ON u.id = l.user_id "
                "WHERE l.action = 'phones.shown' ORDER BY l.id"
            )
        )
    ]


def test_building_roster_floors_by_rooms(conn: Connection) -> None:
    before = len(audit_rows(conn))
    roster = rosters.building_roster(conn, scope(conn, "fw-admin"), "T1")
    assert roster["building"] == {
        "code": "T1",
        "name": "测试大厦",
        "type": "office_tower",
        "floors": 3,
        "city": "C",
        "cell": "A",
        "cell_name": "单元A",
    }
    # highest floor first; the empty floor 2 of a 3-floor building is there; room "10" before "101";
    # the unit without a floor comes last
    assert layout(roster) == [(3, ["t301"]), (2, []), (1, ["t110", "t101", "t102"]), (None, ["t0"])]
    assert roster["units"] == 5
    t101 = roster["floors"][2]["rooms"][1]
    assert t101["status"] == "stock" and t101["status_zh"] == "存量"
    assert (t101["customer_code"], t101["customer_name"]) == ("CU1", "人民医院")
    assert t101["main_services"] == "固话+宽带"
    assert (t101["fixed_lines_own"], t101["broadband_own"], t101["ld_minutes_own"]) == (2, 1, 120.0)
    assert t101["revenue_month"] == 880.0 and t101["version"] == 1
    assert (t101["contact_name"], t101["contact_phone"], t101["phone_masked"]) == (
        "张三",
        "13800001111",
        False,
    )
    # three unmasked phones listed: one audit row saying so
    assert roster["phones_shown"] == 3
    rows = audit_rows(conn)
    assert len(rows) == before + 1
    assert rows[-1][:2] == ("fw-admin", 3) and rows[-1][2]["building"] == "T1"


def test_planner_sees_every_unit_with_masked_phones_and_no_audit(conn: Connection) -> None:
    before = len(audit_rows(conn))
    roster = rosters.building_roster(conn, scope(conn, "fw-pl"), "T1")
    assert layout(roster) == [(3, ["t301"]), (2, []), (1, ["t110", "t101", "t102"]), (None, ["t0"])]
    phones = {
        u["external_id"]: (u["contact_phone"], u["phone_masked"])
        for f in roster["floors"]
        for u in f["rooms"]
    }
    assert phones == {
        "t301": (None, True),
        "t110": ("137****3333", True),
        "t101": ("138****1111", True),
        "t102": ("139****2222", True),
        "t0": (None, True),
    }
    assert roster["phones_shown"] == 0 and len(audit_rows(conn)) == before


def test_building_partly_in_scope_lists_only_those_units(conn: Connection) -> None:
    # fw-am holds cell B and customer CU1: of T1 (cell A) only t101 (CU1), phone shown
    roster = rosters.building_roster(conn, scope(conn, "fw-am"), "T1")
    assert layout(roster) == [(3, []), (2, []), (1, ["t101"])]
    assert roster["floors"][2]["rooms"][0]["contact_phone"] == "13800001111"
    assert roster["phones_shown"] == 1
    # fw-am2 holds cell B only: nothing of T1
    with pytest.raises(Forbidden):
        rosters.building_roster(conn, scope(conn, "fw-am2"), "T1")


def test_building_code_unknown_or_ambiguous(conn: Connection) -> None:
    with pytest.raises(NotFound):
        rosters.building_roster(conn, scope(conn, "fw-admin"), "NOPE")
    conn.execute(
        text(
            "INSERT INTO region (id, code, name, level, parent_id, city_id) "
            "VALUES (20, 'C2', '别市', 'city', 1, 20)"
        )
    )
    conn.execute(
        text(
            "INSERT INTO building (city_id, code, name, geom) VALUES "
            "(20, 'T1', '别楼', ST_SetSRID(ST_MakePoint(121, 31), 4326))"
        )
    )
    with pytest.raises(ValidationFailed) as e:
        rosters.building_roster(conn, scope(conn, "fw-admin"), "T1")
    assert e.value.field == "city"
    assert rosters.building_roster(conn, scope(conn, "fw-admin"), "T1", "C")["units"] == 5
    # the other city's T1 has no unit: its city-wide reader would see it empty, fw-cm (city C) may not
    assert rosters.building_roster(conn, scope(conn, "fw-admin"), "T1", "C2")["units"] == 0
    with pytest.raises(Forbidden):
        rosters.building_roster(conn, scope(conn, "fw-cm"), "T1", "C2")


def test_cell_buildings(conn: Connection) -> None:
    got = rosters.cell_buildings(conn, scope(conn, "fw-admin"), "A")
    assert [(b["code"], b["units"]) for b in got["buildings"]] == [("T1", 5)]
    assert got["buildings"][0]["status_mix"] == {
        "stock": 2,
        "competing": 0,
        "other_network": 1,
        "potential": 1,
        "vacant": 1,
        "unknown": 0,
    }
    # the account manager reads t101 in cell A (their customer), so the cell opens with that one unit
    am = rosters.cell_buildings(conn, scope(conn, "fw-am"), "A")
    assert [(b["code"], b["units"], b["status_mix"]["stock"]) for b in am["buildings"]] == [("T1", 1, 1)]
    with pytest.raises(Forbidden):
        rosters.cell_buildings(conn, scope(conn, "fw-am2"), "A")
    assert rosters.cell_buildings(conn, scope(conn, "fw-am2"), "B")["buildings"] == []


def ids(roster: dict[str, Any]) -> list[tuple[str, str]]:
    return [(u["external_id"], u["member_by"]) for u in roster["units"]]


def test_market_roster_membership_by_cell_and_by_industry(conn: Connection) -> None:
    admin = scope(conn, "fw-admin")
    f1 = rosters.feature_grid_roster(conn, admin, "F1")
    assert f1["total"] == 3
    assert ids(f1) == [("a2", "industry"), ("b1", "cell"), ("b2", "cell")]
    assert f1["feature_grid"] == {
        "code": "F1",
        "name": "金融市场",
        "type": "specialist_market",
        "industries": ["finance"],
        "member_cells": ["B"],
        "city": "C",
    }
    f2 = rosters.feature_grid_roster(conn, admin, "F2")
    assert ids(f2) == [("t101", "industry"), ("b1", "industry")] and f2["total"] == 2
    page = rosters.feature_grid_roster(conn, admin, "F1", limit=1, offset=1)
    assert ids(page) == [("b1", "cell")] and page["total"] == 3
    past = rosters.feature_grid_roster(conn, admin, "F1", limit=5, offset=10)
    assert past["units"] == [] and past["total"] == 3
    with pytest.raises(NotFound):
        rosters.feature_grid_roster(conn, admin, "NOPE")


def test_market_roster_scope_and_masking(conn: Connection) -> None:
    # the specialist lead of F1 reads all of it, phones shown (a2's)
    sl = rosters.feature_grid_roster(conn, scope(conn, "fw-sl"), "F1")
    assert [u["external_id"] for u in sl["units"]] == ["a2", "b1", "b2"]
    assert sl["units"][0]["contact_phone"] == "13600004444" and sl["phones_shown"] == 1
    # and of F2 (city-wide figures) only what they may read: b1 in their member cell B
    assert [
        u["external_id"] for u in rosters.feature_grid_roster(conn, scope(conn, "fw-sl"), "F2")["units"]
    ] == ["b1"]
    pl = rosters.feature_grid_roster(conn, scope(conn, "fw-pl"), "F1")
    assert pl["units"][0]["contact_phone"] == "136****4444" and pl["phones_shown"] == 0
    # fw-am2 (cell B) reads b1 and b2 of F1; F3 (industry retail → t102 in cell A) holds nothing of theirs
    assert [
        u["external_id"] for u in rosters.feature_grid_roster(conn, scope(conn, "fw-am2"), "F1")["units"]
    ] == [
        "b1",
        "b2",
    ]
    conn.execute(
        text(
            "INSERT INTO feature_grid (code, name, city_id, industries) "
            "VALUES ('F3', '零售', 2, ARRAY['retail'])"
        )
    )
    assert [
        u["external_id"] for u in rosters.feature_grid_roster(conn, scope(conn, "fw-cm"), "F3")["units"]
    ] == ["t102"]
    with pytest.raises(Forbidden):
        rosters.feature_grid_roster(conn, scope(conn, "fw-am2"), "F3")
