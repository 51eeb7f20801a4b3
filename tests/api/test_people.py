"""GET /api/v1/areas/{level}/{code}/people: who answers for a grid, district, city, characteristic grid
or cell on both axes of the matrix, on a hand-made world in a private database.

The world (today = T in the operator's time zone)::

    city C 测试市:  district D: grid G (cells A, B), grid G2 (cell K)
                    district E: grid H (cells M, N)
    city C2 乙市:   district F: grid J (cell Z)

    org units: ZQB (city_dept of C) ← RC-D (regional_centre, D), RC-E (regional_centre, E);
               SC (specialist_centre) ← T1, T2 (specialist_team)
    staff:  S-DEPT 地市政企部经理 (ZQB, head by post), S-PLAN 市场经理 (ZQB, not a head),
            S-RHD 区局营销中心主任 (RC-D, head by post), S-RHE 主管 (RC-E, head by its regional_head login),
            S-GM1, S-AM1, S-AM-OLD, S-AM-NEW (RC-D), S-GM2, S-AM2 (RC-E), S-LEAD (T1), S-LEAD2 (T2)
    assignments in force on T:
            S-GM1 → grids G and G2; S-GM2 → grid H (ending today: still in force);
            S-AM1 → cells A and B; S-AM2 → cell M;
            S-LEAD → FG1 (members A, M); S-LEAD2 → FG2 (members B, K)
    not in force on T:
            S-AM-OLD → cell K ended yesterday; S-AM-NEW → cell K starts tomorrow;
            S-LEAD → FG2 ended yesterday
    FG3 (city C) has no member cell and no holder.

Every expected value below is counted by hand from this picture.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from gridmarket.api.app import create_app
from gridmarket.grids import auth
from gridmarket.grids.scope import today
from gridmarket.grids.settings import Settings
from tests.helpers import bearer, box

PASSWORD = "people-password-1"
T = today("Asia/Shanghai")
OPEN = dt.date(2026, 1, 1)


def _build(eng: Engine) -> Engine:
    with eng.begin() as conn:
        x = conn.execute
        x(text("INSERT INTO region (id, code, name, level) VALUES (1, 'P', '测试省', 'province')"))
        regions = [
            (2, "C", "测试市", "city", 1, 2, box(119.9, 29.9, 120.1, 30.1)),
            (3, "D", "甲区", "district", 2, 2, box(120.0, 30.0, 120.03, 30.02)),
            (4, "E", "乙区", "district", 2, 2, box(120.03, 30.0, 120.05, 30.02)),
            (5, "C2", "乙市", "city", 1, 5, box(121.0, 29.9, 121.1, 30.1)),
            (6, "F", "丙区", "district", 5, 5, box(121.0, 30.0, 121.02, 30.02)),
        ]
        for rid, code, name, level, parent, city, geom in regions:
            x(
                text(
                    "INSERT INTO region (id, code, name, level, parent_id, city_id, geom) "
                    "VALUES (:i, :c, :n, :l, :p, :city, ST_GeomFromText(:g, 4326))"
                ),
                {"i": rid, "c": code, "n": name, "l": level, "p": parent, "city": city, "g": geom},
            )
        for gid, code, city, district in ((1, "G", 2, 3), (2, "G2", 2, 3), (3, "H", 2, 4), (4, "J", 5, 6)):
            x(
                text(
                    "INSERT INTO grid (id, code, name, city_id, district_id) "
                    "VALUES (:i, :c, :c || '网格', :city, :d)"
                ),
                {"i": gid, "c": code, "city": city, "d": district},
            )
        cells = [
            ("A", 2, 3, 1, 120.00),
            ("B", 2, 3, 1, 120.01),
            ("K", 2, 3, 2, 120.02),
            ("M", 2, 4, 3, 120.03),
            ("N", 2, 4, 3, 120.04),
            ("Z", 5, 6, 4, 121.00),
        ]
        for code, city, district, grid, x0 in cells:
            x(
                text(
                    "INSERT INTO cell (code, name, city_id, district_id, grid_id, source, geom, area_km2) "
                    "VALUES (:c, '单元' || :c, :city, :d, :g, 'drawn', ST_GeomFromText(:geom, 4326), 1.0)"
                ),
                {"c": code, "city": city, "d": district, "g": grid, "geom": box(x0, 30.0, x0 + 0.01, 30.01)},
            )
        units = [
            ("ZQB", "测试市政企部", "city_dept", 2, None, None),
            ("RC-D", "甲区营销中心", "regional_centre", 2, 3, "ZQB"),
            ("RC-E", "乙区营销中心", "regional_centre", 2, 4, "ZQB"),
            ("SC", "校园专业营销中心", "specialist_centre", 2, None, "ZQB"),
            ("T1", "校园团队", "specialist_team", 2, None, "SC"),
            ("T2", "医院团队", "specialist_team", 2, None, "SC"),
        ]
        for code, name, kind, city, district, parent in units:
            x(
                text(
                    "INSERT INTO org_unit (code, name, kind, city_id, district_id, parent_id) "
                    "VALUES (:c, :n, :k, :city, :d, (SELECT id FROM org_unit WHERE code = :p))"
                ),
                {"c": code, "n": name, "k": kind, "city": city, "d": district, "p": parent},
            )
        staff = [
            ("S-DEPT", "部经理甲", "地市政企部经理", "ZQB"),
            ("S-PLAN", "市场经理乙", "市场经理", "ZQB"),
            ("S-RHD", "主任丙", "区局营销中心主任", "RC-D"),
            ("S-RHE", "主管丁", "主管", "RC-E"),
            ("S-GM1", "网格经理一", "网格经理", "RC-D"),
            ("S-AM1", "客户经理一", "客户经理", "RC-D"),
            ("S-AM-OLD", "客户经理旧", "客户经理", "RC-D"),
            ("S-AM-NEW", "客户经理新", "客户经理", "RC-D"),
            ("S-GM2", "网格经理二", "网格经理", "RC-E"),
            ("S-AM2", "客户经理二", "客户经理", "RC-E"),
            ("S-LEAD", "团队长一", "专业团队长", "T1"),
            ("S-LEAD2", "团队长二", "专业团队长", "T2"),
        ]
        for code, name, post, unit in staff:
            x(
                text(
                    "INSERT INTO staff (code, name, post, org_unit_id, city_id) "
                    "VALUES (:c, :n, :p, (SELECT id FROM org_unit WHERE code = :u), 2)"
                ),
                {"c": code, "n": name, "p": post, "u": unit},
            )
        x(
            text(
                "INSERT INTO feature_grid (code, name, city_id, type, industries) VALUES "
                "('FG1', '校园', 2, 'campus', '{}'), ('FG2', '医院', 2, 'hospital', '{}'), "
                "('FG3', '金融', 2, NULL, '{金融}')"
            )
        )
        x(
            text(
                "INSERT INTO feature_grid_cell (feature_grid_id, cell_id) "
                "SELECT f.id, c.id FROM feature_grid f JOIN cell c ON (f.code, c.code) IN "
                "(('FG1', 'A'), ('FG1', 'M'), ('FG2', 'B'), ('FG2', 'K'))"
            )
        )
        yesterday, tomorrow = T - dt.timedelta(days=1), T + dt.timedelta(days=1)
        assignments = [
            ("S-GM1", "grid", "grid", "G", OPEN, None),
            ("S-GM1", "grid", "grid", "G2", OPEN, None),
            ("S-GM2", "grid", "grid", "H", OPEN, T),
            ("S-AM1", "cell", "cell", "A", OPEN, None),
            ("S-AM1", "cell", "cell", "B", OPEN, None),
            ("S-AM2", "cell", "cell", "M", OPEN, None),
            ("S-AM-OLD", "cell", "cell", "K", OPEN, yesterday),
            ("S-AM-NEW", "cell", "cell", "K", tomorrow, None),
            ("S-LEAD", "feature_grid", "feature_grid", "FG1", OPEN, None),
            ("S-LEAD2", "feature_grid", "feature_grid", "FG2", OPEN, None),
            ("S-LEAD", "feature_grid", "feature_grid", "FG2", OPEN, yesterday),
        ]
        for staff_code, kind, table, target, start, end in assignments:
            x(
                text(
                    f"INSERT INTO assignment (staff_id, kind, {table}_id, valid_from, valid_to) "
                    f"SELECT s.id, :k, t.id, :f, :t FROM staff s, {table} t WHERE s.code = :s AND t.code = :c"
                ),
                {"k": kind, "s": staff_code, "c": target, "f": start, "t": end},
            )
        users = [
            ("p-admin", "admin", {}),
            ("p-cm", "city_manager", {"region_code": "C"}),
            ("p-pl", "planner", {"region_code": "C"}),
            ("p-rhe", "regional_head", {"staff_code": "S-RHE"}),
            ("p-sl", "specialist_lead", {"staff_code": "S-LEAD"}),
            ("p-gm2", "grid_manager", {"staff_code": "S-GM2"}),
            ("p-am1", "account_manager", {"staff_code": "S-AM1"}),
            ("p-am-new", "account_manager", {"staff_code": "S-AM-NEW"}),
        ]
        for username, role, spec in users:
            auth.add_user(conn, username, role, PASSWORD, **spec)
    return eng


@pytest.fixture(scope="module")
def client(new_database: Callable[[str], Engine]) -> Iterator[TestClient]:
    eng = _build(new_database("people"))
    settings = Settings(database_url=eng.url.render_as_string(hide_password=False), admin_password=None)
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture(scope="module")
def h(client: TestClient) -> dict[str, dict[str, str]]:
    users = ("admin", "cm", "pl", "rhe", "sl", "gm2", "am1", "am-new")
    return {u: bearer(client, f"p-{u}", PASSWORD) for u in users}


def get(client: TestClient, headers: dict[str, str], path: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/areas/{path}/people", headers=headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def held(people: list[dict[str, Any]], *keys: str) -> dict[str, tuple[Any, ...]]:
    """staff_code → the values of ``keys`` of each entry."""
    return {p["staff_code"]: tuple(p[k] for k in keys) for p in people}


def fgs(body: dict[str, Any]) -> dict[str, tuple[int, list[str]]]:
    """characteristic grid → (member cells in the area, holders)."""
    return {
        f["code"]: (f["cells"], [x["staff_code"] for x in f["holders"]])
        for f in body["specialist"]["feature_grids"]
    }


def test_grid(client: TestClient, h: dict[str, dict[str, str]]) -> None:
    b = get(client, h["admin"], "grid/G")
    assert b["level"] == "grid" and b["on"] == T.isoformat() and b["partial"] is False
    assert b["area"] == {
        "level": "grid",
        "code": "G",
        "name": "G网格",
        "city_code": "C",
        "city_name": "测试市",
        "district_code": "D",
        "district_name": "甲区",
    }
    reg = b["regional"]
    assert [(u["org_unit_code"], [x["staff_code"] for x in u["heads"]]) for u in reg["units"]] == [
        ("RC-D", ["S-RHD"])
    ]
    assert reg["units"][0]["parent_unit_code"] == "ZQB"
    assert reg["districts"] == [
        {
            "district_code": "D",
            "district_name": "甲区",
            "regional_centres": ["RC-D"],
            "cells": 2,
            "cells_with_account_manager": 2,
            "grids": 1,
            "grids_with_grid_manager": 1,
            "account_managers": 1,
            "grid_managers": 1,
        }
    ]
    gm = reg["grid_managers"]
    assert held(gm, "via", "grids", "grid_codes", "cells", "cell_codes") == {
        "S-GM1": ("grid", 1, ["G"], 2, ["A", "B"])
    }
    assert gm[0]["org_unit_code"] == "RC-D" and gm[0]["org_unit_kind"] == "regional_centre"
    assert gm[0]["post"] == "网格经理" and gm[0]["name"] == "网格经理一"
    assert gm[0]["valid_from"] == OPEN.isoformat() and gm[0]["valid_to"] is None
    assert held(reg["account_managers"], "via", "cells", "cell_codes") == {"S-AM1": ("cell", 2, ["A", "B"])}
    spec = b["specialist"]
    # S-LEAD's FG2 ended yesterday: only S-LEAD2 holds it today
    assert fgs(b) == {"FG1": (1, ["S-LEAD"]), "FG2": (1, ["S-LEAD2"])}
    assert held(spec["people"], "via", "cells", "org_unit_code", "parent_unit_code") == {
        "S-LEAD": ("feature_grid", 1, "T1", "SC"),
        "S-LEAD2": ("feature_grid", 1, "T2", "SC"),
    }
    lead = next(p for p in spec["people"] if p["staff_code"] == "S-LEAD")
    assert lead["feature_grids"] == [{"code": "FG1", "name": "校园", "type": "campus", "cells": 1}]
    assert b["coverage"] == {
        "cells": 2,
        "cells_with_account_manager": 2,
        "grids": 1,
        "grids_with_grid_manager": 1,
        "account_managers": 1,
        "grid_managers": 1,
        "districts": 1,
        "districts_with_regional_centre": 1,
        "feature_grids": 2,
        "feature_grids_with_holder": 2,
        "specialists": 2,
    }


def test_district_leaves_out_ended_and_future_assignments(
    client: TestClient, h: dict[str, dict[str, str]]
) -> None:
    b = get(client, h["admin"], "district/D")
    reg = b["regional"]
    # cell K: S-AM-OLD ended yesterday, S-AM-NEW starts tomorrow — neither is listed
    assert held(reg["account_managers"], "cells", "cell_codes") == {"S-AM1": (2, ["A", "B"])}
    assert held(reg["grid_managers"], "grids", "grid_codes", "cells") == {"S-GM1": (2, ["G", "G2"], 3)}
    assert [u["org_unit_code"] for u in reg["units"]] == ["RC-D"]
    assert fgs(b) == {"FG1": (1, ["S-LEAD"]), "FG2": (2, ["S-LEAD2"])}
    assert held(b["specialist"]["people"], "cells") == {"S-LEAD": (1,), "S-LEAD2": (2,)}
    cov = b["coverage"]
    assert (cov["cells"], cov["cells_with_account_manager"]) == (3, 2)
    assert (cov["grids"], cov["grids_with_grid_manager"]) == (2, 2)
    assert (cov["account_managers"], cov["grid_managers"]) == (1, 1)


def test_city(client: TestClient, h: dict[str, dict[str, str]]) -> None:
    b = get(client, h["cm"], "city/C")
    assert b["partial"] is False and b["area"]["district_code"] is None
    reg = b["regional"]
    # the city's 政企部 first (S-PLAN's post marks no head), then one centre per district;
    # S-RHE's post (主管) marks no head, its regional_head login does
    assert [
        (u["org_unit_code"], u["org_unit_kind"], [x["staff_code"] for x in u["heads"]]) for u in reg["units"]
    ] == [
        ("ZQB", "city_dept", ["S-DEPT"]),
        ("RC-D", "regional_centre", ["S-RHD"]),
        ("RC-E", "regional_centre", ["S-RHE"]),
    ]
    per_district = {
        d["district_code"]: (
            d["regional_centres"],
            d["cells"],
            d["cells_with_account_manager"],
            d["grids"],
            d["grids_with_grid_manager"],
            d["account_managers"],
            d["grid_managers"],
        )
        for d in reg["districts"]
    }
    # S-GM2's grid H ends today: still in force
    assert per_district == {"D": (["RC-D"], 3, 2, 2, 2, 1, 1), "E": (["RC-E"], 2, 1, 1, 1, 1, 1)}
    assert held(reg["account_managers"], "cells") == {"S-AM1": (2,), "S-AM2": (1,)}
    assert [p["staff_code"] for p in reg["account_managers"]] == ["S-AM1", "S-AM2"]  # most cells first
    assert held(reg["grid_managers"], "grids", "cells") == {"S-GM1": (2, 3), "S-GM2": (1, 2)}
    # a whole city lists every characteristic grid of it, FG3 (no member cell, no holder) too
    assert fgs(b) == {"FG1": (2, ["S-LEAD"]), "FG2": (2, ["S-LEAD2"]), "FG3": (0, [])}
    assert b["coverage"] == {
        "cells": 5,
        "cells_with_account_manager": 3,
        "grids": 3,
        "grids_with_grid_manager": 3,
        "account_managers": 2,
        "grid_managers": 2,
        "districts": 2,
        "districts_with_regional_centre": 2,
        "feature_grids": 3,
        "feature_grids_with_holder": 2,
        "specialists": 2,
    }
    # limit: the first person of each list by what they hold
    r = client.get("/api/v1/areas/city/C/people?limit=1", headers=h["cm"]).json()
    assert [p["staff_code"] for p in r["regional"]["account_managers"]] == ["S-AM1"]
    assert [p["staff_code"] for p in r["regional"]["grid_managers"]] == ["S-GM1"]
    assert r["coverage"]["account_managers"] == 2


def test_feature_grid(client: TestClient, h: dict[str, dict[str, str]]) -> None:
    b = get(client, h["sl"], "feature_grid/FG1")
    assert b["partial"] is False
    assert fgs(b) == {"FG1": (2, ["S-LEAD"])}
    assert held(b["specialist"]["people"], "cells", "org_unit_code") == {"S-LEAD": (2, "T1")}
    reg = b["regional"]
    assert [u["org_unit_code"] for u in reg["units"]] == ["RC-D", "RC-E"]
    assert held(reg["account_managers"], "cell_codes") == {"S-AM1": (["A"],), "S-AM2": (["M"],)}
    assert held(reg["grid_managers"], "grid_codes", "cells") == {"S-GM1": (["G"], 1), "S-GM2": (["H"], 1)}
    # FG3 has no member cell: readable by the city-wide roles, nobody holds it
    b = get(client, h["pl"], "feature_grid/FG3")
    assert fgs(b) == {"FG3": (0, [])} and b["coverage"]["cells"] == 0
    assert b["regional"]["units"] == [] and b["specialist"]["people"] == []


def test_cell_gives_the_people_of_the_cell_card(client: TestClient, h: dict[str, dict[str, str]]) -> None:
    for code in ("A", "K", "M"):
        b = get(client, h["admin"], f"cell/{code}")
        card = client.get(f"/api/v1/cells/{code}", headers=h["admin"]).json()["responsible"]
        regional = b["regional"]["account_managers"] + b["regional"]["grid_managers"]
        assert {(p["staff_code"], p["via"]) for p in regional} == {
            (p["staff_code"], p["via"]) for p in card["regional"]
        }
        assert {p["staff_code"] for p in b["specialist"]["people"]} == {
            p["staff_code"] for p in card["specialist"]
        }
    b = get(client, h["admin"], "cell/K")
    assert b["regional"]["account_managers"] == []  # ended yesterday, starts tomorrow
    assert held(b["regional"]["grid_managers"], "grid_codes", "cells") == {"S-GM1": (["G2"], 1)}
    assert held(b["specialist"]["people"], "cells") == {"S-LEAD2": (1,)}
    assert b["coverage"]["cells"] == 1 and b["coverage"]["cells_with_account_manager"] == 0


def status(client: TestClient, headers: dict[str, str], path: str) -> int:
    return client.get(f"/api/v1/areas/{path}/people", headers=headers).status_code


def test_scope(client: TestClient, h: dict[str, dict[str, str]]) -> None:
    # the account manager of A and B (district D) may not read district E or its grid
    assert status(client, h["am1"], "district/E") == 403
    assert status(client, h["am1"], "grid/H") == 403
    assert status(client, h["am1"], "cell/M") == 403
    assert status(client, h["am1"], "feature_grid/FG3") == 403
    # its own grid in full; district D and the city only as far as its cells go
    assert get(client, h["am1"], "grid/G")["partial"] is False
    b = get(client, h["am1"], "district/D")
    assert b["partial"] is True and b["coverage"]["cells"] == 2  # not K
    assert held(b["regional"]["grid_managers"], "grid_codes") == {"S-GM1": (["G"],)}
    b = get(client, h["am1"], "city/C")
    assert b["partial"] is True
    assert [d["district_code"] for d in b["regional"]["districts"]] == ["D"]
    assert [u["org_unit_code"] for u in b["regional"]["units"]] == ["ZQB", "RC-D"]
    assert held(b["regional"]["account_managers"], "cells") == {"S-AM1": (2,)}
    assert fgs(b) == {"FG1": (1, ["S-LEAD"]), "FG2": (1, ["S-LEAD2"])}  # only A and B count
    # an assignment starting tomorrow gives no scope today
    assert status(client, h["am-new"], "cell/K") == 403
    assert status(client, h["am-new"], "grid/G2") == 403
    # the regional head of E (by its staff record): its district, not D
    assert get(client, h["rhe"], "district/E")["partial"] is False
    assert status(client, h["rhe"], "district/D") == 403
    assert status(client, h["rhe"], "grid/G") == 403
    b = get(client, h["rhe"], "city/C")
    assert b["partial"] is True and b["coverage"]["cells"] == 2
    # the grid manager of H
    assert status(client, h["gm2"], "grid/H") == 200
    assert status(client, h["gm2"], "grid/G") == 403
    # the specialist lead reads its city (all of it), not another city
    b = get(client, h["sl"], "district/E")
    assert b["partial"] is False and held(b["regional"]["account_managers"], "cells") == {"S-AM2": (1,)}
    assert status(client, h["sl"], "district/F") == 403
    assert status(client, h["sl"], "city/C2") == 403
    # city-wide roles: their city only
    for who in ("cm", "pl"):
        assert status(client, h[who], "district/D") == 200
        assert status(client, h[who], "grid/J") == 403
        assert status(client, h[who], "city/C2") == 403
    assert status(client, h["admin"], "city/C2") == 200


def test_errors(client: TestClient, h: dict[str, dict[str, str]]) -> None:
    assert client.get("/api/v1/areas/grid/G/people").status_code == 401
    assert status(client, h["admin"], "grid/NOPE") == 404
    assert status(client, h["am1"], "district/NOPE") == 404
    assert status(client, h["admin"], "district/C") == 404  # a city is no district
    assert status(client, h["admin"], "planet/C") == 422
    assert status(client, h["admin"], "province/P") == 422
    assert client.get("/api/v1/areas/grid/G/people?limit=0", headers=h["admin"]).status_code == 422
    assert client.get("/api/v1/areas/grid/G/people?limit=501", headers=h["admin"]).status_code == 422


def test_staff_carry_no_phone(client: TestClient, h: dict[str, dict[str, str]]) -> None:
    """Staff records hold no phone; nothing in the answer looks like one."""
    text_ = client.get("/api/v1/areas/city/C/people", headers=h["pl"]).text
    assert "phone" not in text_
