"""The matrix organisation's domain functions: validation, in-force dates, both axes of a cell.

Write tests run on a tiny hand-made territory (tests/etl/fixtures/org/territory.sql: cities C1 甲市
with districts C1-D1, C1-D2 and C2 乙市); the read test of both axes runs on the shared demo.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, text

from gridmarket.etl.demo_org import HANDOVER_END
from gridmarket.grids import org
from gridmarket.grids.errors import Conflict, NotFound, ValidationFailed

TERRITORY = Path(__file__).parents[1] / "etl" / "fixtures" / "org" / "territory.sql"
JAN1 = dt.date(2026, 1, 1)


@pytest.fixture(scope="module")
def territory(new_database: Callable[[str], Engine]) -> Engine:
    engine = new_database("org")
    with engine.begin() as conn:
        conn.exec_driver_sql(TERRITORY.read_text(encoding="utf-8"))
    return engine


@pytest.fixture
def conn(territory: Engine) -> Iterator[Connection]:
    """A connection on the tiny territory whose work is rolled back after the test."""
    with territory.connect() as c:
        tx = c.begin()
        yield c
        tx.rollback()


def basic_org(conn: Connection) -> None:
    org.create_org_unit(conn, code="C1-ZQB", name="甲市政企部", kind="city_dept", city_code="C1")
    org.create_org_unit(
        conn,
        code="C1-D1-YX",
        name="东区营销中心",
        kind="regional_centre",
        city_code="C1",
        district_code="C1-D1",
        parent_code="C1-ZQB",
    )
    org.create_org_unit(conn, code="C2-ZQB", name="乙市政企部", kind="city_dept", city_code="C2")
    org.create_staff(conn, code="E1", name="李明", post="客户经理", org_unit_code="C1-D1-YX")
    org.create_staff(conn, code="E2", name="张伟", post="网格经理", org_unit_code="C1-D1-YX")


def field_of(exc: pytest.ExceptionInfo[ValidationFailed]) -> str | None:
    return exc.value.field


def test_org_units(conn: Connection) -> None:
    basic_org(conn)
    unit = org.get_org_unit(conn, "C1-D1-YX")
    assert (unit["city_code"], unit["district_code"], unit["parent_code"], unit["staff_count"]) == (
        "C1",
        "C1-D1",
        "C1-ZQB",
        2,
    )
    assert [u["code"] for u in org.list_org_units(conn, cities=[2])] == ["C1-D1-YX", "C1-ZQB"]
    assert [u["code"] for u in org.list_org_units(conn, kind="city_dept")] == ["C1-ZQB", "C2-ZQB"]
    cases: list[tuple[dict[str, object], str]] = [
        ({"kind": "department"}, "kind"),
        ({"kind": "regional_centre"}, "district_code"),  # a regional centre needs its district
        ({"kind": "regional_centre", "district_code": "C2-D1"}, "district_code"),  # not of 甲市
        ({"district_code": "NOPE"}, "district_code"),
        ({"city_code": "NOPE"}, "city_code"),
        ({"parent_code": "C2-ZQB"}, "parent_code"),  # parent in another city
        ({"name": " "}, "name"),
    ]
    for extra, field in cases:
        args: dict[str, object] = {"code": "X", "name": "某", "kind": "specialist_centre", "city_code": "C1"}
        args.update(extra)
        with pytest.raises(ValidationFailed) as info:
            org.create_org_unit(conn, **args)  # type: ignore[arg-type]
        assert info.value.field == field, extra
    with pytest.raises(ValidationFailed, match="not a district of 甲市"):
        org.create_org_unit(
            conn, code="X", name="某", kind="regional_centre", city_code="C1", district_code="C2-D1"
        )
    with pytest.raises(Conflict):
        org.create_org_unit(conn, code="C1-ZQB", name="又一个", kind="city_dept", city_code="C1")
    # updates: district checks, cycles, clearing
    with pytest.raises(ValidationFailed) as info:
        org.update_org_unit(conn, "C1-D1-YX", {"district_code": None})
    assert info.value.field == "district_code"
    with pytest.raises(ValidationFailed, match="cycle"):
        org.update_org_unit(conn, "C1-ZQB", {"parent_code": "C1-D1-YX"})
    with pytest.raises(ValidationFailed) as info:
        org.update_org_unit(conn, "C1-ZQB", {"city_code": "C2"})
    assert info.value.field == "city_code"
    moved = org.update_org_unit(conn, "C1-D1-YX", {"district_code": "C1-D2", "name": "西区营销中心"})
    assert (moved["district_code"], moved["name"]) == ("C1-D2", "西区营销中心")
    # deletion: refused while staff or sub-units hang on it
    with pytest.raises(Conflict, match="2 staff"):
        org.delete_org_unit(conn, "C1-D1-YX")
    with pytest.raises(Conflict, match="1 sub-units"):
        org.delete_org_unit(conn, "C1-ZQB")
    org.delete_org_unit(conn, "C2-ZQB")
    with pytest.raises(NotFound):
        org.get_org_unit(conn, "C2-ZQB")
    with pytest.raises(NotFound):
        org.delete_org_unit(conn, "C2-ZQB")


def test_staff(conn: Connection) -> None:
    basic_org(conn)
    staff = org.get_staff(conn, "E1")
    assert (staff["city_code"], staff["org_unit_code"], staff["post"]) == ("C1", "C1-D1-YX", "客户经理")
    with pytest.raises(ValidationFailed) as info:
        org.create_staff(conn, code="E9", name="某", org_unit_code="C1-D1-YX", city_code="C2")
    assert info.value.field == "org_unit_code"
    with pytest.raises(ValidationFailed) as info:
        org.create_staff(conn, code="E9", name="某")
    assert info.value.field == "org_unit_code"
    with pytest.raises(Conflict):
        org.create_staff(conn, code="E1", name="某", city_code="C1")
    loose = org.create_staff(conn, code="E9", name="某", city_code="C2")
    assert loose["org_unit_code"] is None and loose["city_code"] == "C2"
    with pytest.raises(ValidationFailed, match="another city"):
        org.update_staff(conn, "E1", {"org_unit_code": "C2-ZQB"})
    assert org.update_staff(conn, "E1", {"post": "高级客户经理"})["post"] == "高级客户经理"
    assert [s["code"] for s in org.list_staff(conn, org_unit_code="C1-D1-YX")] == ["E1", "E2"]
    # a staff member linked to a login is not deleted; otherwise their assignments go with them
    org.create_assignment(conn, staff_code="E2", kind="grid", target_code="C1-G1", valid_from=JAN1)
    conn.execute(
        text(
            "INSERT INTO app_user (username, password_hash, role, staff_id)"
            " SELECT 'li', 'x', 'account_manager', id FROM staff WHERE code = 'E1'"
        )
    )
    with pytest.raises(Conflict, match="li"):
        org.delete_staff(conn, "E1")
    org.delete_staff(conn, "E2")
    assert conn.scalar(text("SELECT count(*) FROM assignment")) == 0
    with pytest.raises(NotFound):
        org.get_staff(conn, "E2")


def test_assignments(conn: Connection) -> None:
    basic_org(conn)
    a = org.create_assignment(conn, staff_code="E1", kind="cell", target_code="C1-G1-01", valid_from=JAN1)
    assert (a["kind"], a["target_code"], a["org_unit_code"], a["valid_to"]) == (
        "cell",
        "C1-G1-01",
        "C1-D1-YX",
        None,
    )
    # customers by source code, else unified code (the oldest record carrying it)
    k = org.create_assignment(conn, staff_code="E1", kind="customer", target_code="U002", valid_from=JAN1)
    assert k["target_code"] == "K002"
    k = org.create_assignment(conn, staff_code="E1", kind="customer", target_code="K001", valid_from=JAN1)
    assert k["target_name"] == "甲市恒瑞商行"  # K001 of 甲市, not of 乙市
    bad: list[tuple[dict[str, object], str, str]] = [
        ({"kind": "building"}, "kind", "must be one of"),
        ({"target_code": "NOPE"}, "target_code", "no cell 'NOPE'"),
        ({"target_code": "C2-G1-01"}, "target_code", "not in the staff member's city"),
        ({"kind": "grid", "target_code": "C2-G1"}, "target_code", "not in the staff member's city"),
        (
            {"kind": "feature_grid", "target_code": "FG-C2-GOV"},
            "target_code",
            "not in the staff member's city",
        ),
        ({"kind": "customer", "target_code": "K900"}, "target_code", "no customer 'K900' in 甲市"),
        ({"valid_to": dt.date(2025, 12, 31)}, "valid_to", "before valid_from"),
        ({"valid_from": "2026-01-01"}, "valid_from", "must be a date"),
        ({"staff_code": "NOBODY"}, "staff_code", "no staff member"),
        ({"org_unit_code": "C2-ZQB"}, "org_unit_code", "another city"),
    ]
    for extra, field, reason in bad:
        args: dict[str, object] = {
            "staff_code": "E1",
            "kind": "cell",
            "target_code": "C1-G1-02",
            "valid_from": JAN1,
        }
        args.update(extra)
        with pytest.raises(ValidationFailed, match=reason) as info:
            org.create_assignment(conn, **args)  # type: ignore[arg-type]
        assert info.value.field == field, extra
    with pytest.raises(Conflict):
        org.create_assignment(conn, staff_code="E1", kind="cell", target_code="C1-G1-01", valid_from=JAN1)
    # end it, then the same key from a later date is a new assignment (history)
    ended = org.update_assignment(conn, a["id"], {"valid_to": dt.date(2026, 6, 30)})
    assert ended["valid_to"] == dt.date(2026, 6, 30)
    with pytest.raises(ValidationFailed) as info:
        org.update_assignment(conn, a["id"], {"valid_to": dt.date(2025, 1, 1)})
    assert info.value.field == "valid_to"
    with pytest.raises(ValidationFailed) as info:
        org.update_assignment(conn, a["id"], {"kind": "grid"})
    assert info.value.field == "kind"
    later = org.create_assignment(
        conn, staff_code="E1", kind="cell", target_code="C1-G1-01", valid_from=dt.date(2026, 7, 1)
    )
    with pytest.raises(Conflict):
        org.update_assignment(conn, later["id"], {"valid_from": JAN1})
    team = org.create_org_unit(conn, code="C1-T", name="校园团队", kind="specialist_team", city_code="C1")
    fg = org.create_assignment(
        conn,
        staff_code="E2",
        kind="feature_grid",
        target_code="FG-C1-EDU",
        valid_from=JAN1,
        org_unit_code=team["code"],
    )
    assert fg["org_unit_code"] == "C1-T" and fg["org_unit_kind"] == "specialist_team"
    listed = org.list_assignments(conn, staff_code="E1", on=dt.date(2026, 3, 1))
    assert [(x["kind"], x["target_code"]) for x in listed] == [
        ("cell", "C1-G1-01"),
        ("customer", "K001"),
        ("customer", "K002"),
    ]
    assert len(org.list_assignments(conn, cities=[5])) == 0
    assert len(org.list_assignments(conn, kind="feature_grid")) == 1
    org.delete_assignment(conn, later["id"])
    with pytest.raises(NotFound):
        org.delete_assignment(conn, later["id"])
    with pytest.raises(NotFound):
        org.get_assignment(conn, later["id"])


def test_assignments_in_force_at_the_boundaries(conn: Connection) -> None:
    basic_org(conn)
    today = dt.date.today()
    tomorrow = today + dt.timedelta(days=1)
    org.create_assignment(
        conn,
        staff_code="E1",
        kind="cell",
        target_code="C1-G1-01",
        valid_from=JAN1,
        valid_to=dt.date(2026, 6, 30),
    )
    org.create_assignment(
        conn, staff_code="E1", kind="cell", target_code="C1-G1-02", valid_from=dt.date(2026, 7, 1)
    )
    ending_today = org.create_assignment(
        conn,
        staff_code="E1",
        kind="grid",
        target_code="C1-G1",
        valid_from=today - dt.timedelta(days=10),
        valid_to=today,
    )
    staff_id = ending_today["staff_id"]

    def targets(on: dt.date) -> list[str]:
        return [a["target_code"] for a in org.assignments_in_force(conn, staff_id, on)]

    assert "C1-G1" in targets(today) and "C1-G1" not in targets(tomorrow)
    assert "C1-G1" not in targets(today - dt.timedelta(days=11))
    assert targets(dt.date(2025, 12, 31)) == []
    assert targets(JAN1) == ["C1-G1-01"]
    assert targets(dt.date(2026, 6, 30)) == ["C1-G1-01"]
    assert targets(dt.date(2026, 7, 1)) == ["C1-G1-02"]
    assert "C1-G1-02" in targets(dt.date(2099, 1, 1))  # open-ended


def test_responsible_for_a_cell_on_the_tiny_territory(conn: Connection) -> None:
    basic_org(conn)
    org.create_org_unit(conn, code="C1-T", name="校园团队", kind="specialist_team", city_code="C1")
    org.create_staff(conn, code="E3", name="陈静", post="专业团队长", org_unit_code="C1-T")
    org.create_assignment(conn, staff_code="E1", kind="cell", target_code="C1-G1-02", valid_from=JAN1)
    org.create_assignment(conn, staff_code="E2", kind="grid", target_code="C1-G1", valid_from=JAN1)
    org.create_assignment(
        conn, staff_code="E3", kind="feature_grid", target_code="FG-C1-EDU", valid_from=JAN1
    )
    got = org.responsible_for_cell(conn, 2, dt.date(2026, 3, 1))  # C1-G1-02, a member of FG-C1-EDU
    assert got["cell"]["code"] == "C1-G1-02" and got["cell"]["grid_code"] == "C1-G1"
    assert [
        (r["via"], r["staff_code"], r["name"], r["post"], r["org_unit_name"]) for r in got["regional"]
    ] == [
        ("cell", "E1", "李明", "客户经理", "东区营销中心"),
        ("grid", "E2", "张伟", "网格经理", "东区营销中心"),
    ]
    assert [(r["staff_code"], r["org_unit_code"], r["target_code"]) for r in got["specialist"]] == [
        ("E3", "C1-T", "FG-C1-EDU")
    ]
    other = org.responsible_for_cell(conn, 1, dt.date(2026, 3, 1))  # same grid, no cell AM, no feature grid
    assert [r["via"] for r in other["regional"]] == ["grid"] and other["specialist"] == []
    assert org.responsible_for_cell(conn, 2, dt.date(2025, 12, 31))["regional"] == []
    with pytest.raises(NotFound):
        org.responsible_for_cell(conn, 999_999, JAN1)


def test_responsible_for_a_cell_on_the_demo(engine: Engine) -> None:
    on = dt.date(2026, 11, 1)
    with engine.connect() as conn:
        cell_id = conn.scalar(
            text(
                """SELECT c.id FROM cell c JOIN region r ON r.id = c.city_id
                   WHERE r.code = 'HZ' AND EXISTS (SELECT 1 FROM feature_grid_cell f WHERE f.cell_id = c.id)
                   ORDER BY c.code LIMIT 1"""
            )
        )
        got = org.responsible_for_cell(conn, cell_id, on)
        vias = {r["via"] for r in got["regional"]}
        assert vias == {"cell", "grid"}
        assert got["specialist"]
        for r in got["regional"] + got["specialist"]:
            assert r["staff_code"] and r["name"] and r["post"] and r["org_unit_name"]
        assert {r["org_unit_kind"] for r in got["regional"]} == {"regional_centre"}
        assert {r["org_unit_kind"] for r in got["specialist"]} == {"specialist_team"}
        assert {r["post"] for r in got["regional"]} == {"客户经理", "网格经理"}
        # the one hand-over: another account manager before July, the same cell
        handed = conn.execute(
            text("SELECT cell_id, staff_id FROM assignment WHERE kind = 'cell' AND valid_to = :end"),
            {"end": HANDOVER_END},
        ).one()
        before = org.responsible_for_cell(conn, handed.cell_id, HANDOVER_END)
        after = org.responsible_for_cell(conn, handed.cell_id, HANDOVER_END + dt.timedelta(days=1))
        am_before = [r["staff_id"] for r in before["regional"] if r["via"] == "cell"]
        am_after = [r["staff_id"] for r in after["regional"] if r["via"] == "cell"]
        assert am_before == [handed.staff_id] and len(am_after) == 1 and am_after != am_before
        # the account manager's assignments in force follow from it
        mine = org.assignments_in_force(conn, am_after[0], on)
        assert any(a["kind"] == "cell" and a["target_id"] == handed.cell_id for a in mine)
        assert not any(
            a["target_id"] == handed.cell_id for a in org.assignments_in_force(conn, handed.staff_id, on)
        )
