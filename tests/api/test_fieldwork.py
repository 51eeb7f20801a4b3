"""The field-work API over HTTP (rosters and their XLSX, visits, sweeps, follow-ups) on the hand-made
world of tests/grids/fieldwork_world.py, in a private database.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine, text

from gridmarket.api.app import create_app
from gridmarket.etl.roster_export import HEADERS
from gridmarket.grids.settings import Settings
from tests.grids.fieldwork_world import FORMULA_NAME, PASSWORD, T, build_world, write_version
from tests.helpers import bearer


@pytest.fixture(scope="module")
def world(new_database: Callable[[str], Engine]) -> Engine:
    return build_world(new_database("fieldwork_api"))


@pytest.fixture(scope="module")
def client(world: Engine) -> Iterator[TestClient]:
    settings = Settings(database_url=world.url.render_as_string(hide_password=False), admin_password=None)
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture(scope="module")
def h(client: TestClient) -> dict[str, dict[str, str]]:
    users = ("fw-admin", "fw-cm", "fw-pl", "fw-gm", "fw-am", "fw-am2", "fw-sl")
    return {u.removeprefix("fw-"): bearer(client, u, PASSWORD) for u in users}


def audits(world: Engine) -> list[tuple[str, int, dict[str, Any]]]:
    with world.connect() as conn:
        return [
            (r[0], r[1], r[2])
            for r in conn.execute(
                text(
                    "SELECT u.username, l.rows, l.detail FROM audit_log l "
                    "JOIN app_user u ON u.id = l.user_id WHERE l.action = 'phones.shown' ORDER BY l.id"
                )
            )
        ]


def sheet(content: bytes) -> list[list[Any]]:
    ws = load_workbook(io.BytesIO(content), read_only=True).active
    assert ws is not None
    return [list(r) for r in ws.iter_rows(values_only=True)]


def test_building_roster_json(client: TestClient, h: dict[str, dict[str, str]]) -> None:
    assert client.get("/api/v1/buildings/T1/roster").status_code == 401
    r = client.get("/api/v1/buildings/T1/roster", headers=h["pl"])
    assert r.status_code == 200
    body = r.json()
    assert [f["floor"] for f in body["floors"]] == [3, 2, 1, None]
    assert [u["contact_phone"] for u in body["floors"][2]["rooms"]] == [
        "137****3333",
        "138****1111",
        "139****2222",
    ]
    assert client.get("/api/v1/buildings/T1/roster?city=C", headers=h["am"]).json()["units"] == 1
    assert client.get("/api/v1/buildings/T1/roster", headers=h["am2"]).status_code == 403
    assert client.get("/api/v1/buildings/NOPE/roster", headers=h["admin"]).status_code == 404
    cells = client.get("/api/v1/cells/A/buildings", headers=h["pl"]).json()
    assert [(b["code"], b["units"]) for b in cells["buildings"]] == [("T1", 5)]


def test_building_roster_xlsx_masking_neutralising_and_audit(
    client: TestClient, h: dict[str, dict[str, str]], world: Engine
) -> None:
    before = len(audits(world))
    r = client.get("/api/v1/buildings/T1/roster.xlsx", headers=h["pl"])
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    assert "attachment" in r.headers["content-disposition"]
    rows = sheet(r.content)
    assert tuple(rows[0]) == HEADERS
    col = {name: i for i, name in enumerate(rows[0])}
    assert rows[0][:6] == ["地址编码", "详细地址", "经度", "纬度", "网格单元", "楼宇编码"]
    by_id = {row[col["地址编码"]]: row for row in rows[1:]}
    assert list(by_id) == ["t301", "t110", "t101", "t102", "t0"]  # floor by floor, highest first
    phones = {k: v[col["联系电话"]] for k, v in by_id.items()}
    assert phones == {
        "t301": None,
        "t110": "137****3333",
        "t101": "138****1111",
        "t102": "139****2222",
        "t0": None,
    }
    t102 = by_id["t102"]
    assert t102[col["客户名称"]] == "'" + FORMULA_NAME and t102[col["联系人"]] == "'-李四"
    assert t102[col["客户状态"]] == "他网"
    t101 = by_id["t101"]
    assert (t101[col["楼层"]], t101[col["房号"]], t101[col["本网固话数"]], t101[col["月收入"]]) == (
        1,
        "101",
        2,
        880,
    )
    assert t101[col["合同到期日"]] == (T + dt.timedelta(days=30)).isoformat()
    assert (t101[col["经度"]], t101[col["纬度"]]) == pytest.approx((120.0051, 30.0051))
    assert len(audits(world)) == before  # masked: nothing to audit
    # the account manager: only t101 (their customer), phone shown and audited
    r = client.get("/api/v1/buildings/T1/roster.xlsx", headers=h["am"])
    rows = sheet(r.content)
    assert [(row[0], row[col["联系电话"]]) for row in rows[1:]] == [("t101", "13800001111")]
    got = audits(world)
    assert len(got) == before + 1
    assert got[-1][0:2] == ("fw-am", 1) and got[-1][2]["list"] == "building_roster.xlsx"
    assert client.get("/api/v1/buildings/T1/roster.xlsx", headers=h["am2"]).status_code == 403


def test_market_roster_json_and_xlsx(client: TestClient, h: dict[str, dict[str, str]], world: Engine) -> None:
    r = client.get("/api/v1/feature-grids/F1/roster?limit=2", headers=h["admin"])
    body = r.json()
    assert body["total"] == 3 and [u["external_id"] for u in body["units"]] == ["a2", "b1"]
    before = len(audits(world))
    r = client.get("/api/v1/feature-grids/F1/roster.xlsx", headers=h["sl"])
    rows = sheet(r.content)
    col = {name: i for i, name in enumerate(rows[0])}
    assert [(row[0], row[col["联系电话"]]) for row in rows[1:]] == [
        ("a2", "13600004444"),
        ("b1", None),
        ("b2", None),
    ]
    got = audits(world)
    assert len(got) == before + 1 and got[-1][:2] == ("fw-sl", 1)
    assert got[-1][2] == {"list": "feature_grid_roster.xlsx", "feature_grid": "F1"}
    pl = sheet(client.get("/api/v1/feature-grids/F1/roster.xlsx", headers=h["pl"]).content)
    assert pl[1][col["联系电话"]] == "136****4444"
    assert client.get("/api/v1/feature-grids/NOPE/roster", headers=h["admin"]).status_code == 404


def test_visits_over_http(client: TestClient, h: dict[str, dict[str, str]]) -> None:
    body = {"outcome": "met", "note": "见到老板", "lon": 120.0112, "lat": 30.0011, "accuracy_m": 12}
    r = client.post("/api/v1/units/b2/visits", headers=h["am2"], json=body)
    assert r.status_code == 201, r.text
    assert (r.json()["outcome"], r.json()["visited_by"], r.json()["lat"]) == ("met", "fw-am2", 30.0011)
    for bad, field in (
        ({"outcome": "met", "lon": "east"}, "lon"),
        ({"outcome": "hello"}, "outcome"),
        ({"note": "no outcome"}, "outcome"),
        ({"outcome": "met", "lat": 30.0}, "lon"),
        ({"outcome": "met", "visited_at": "2999-01-01T00:00:00+08:00"}, "visited_at"),
        ({"outcome": "met", "colour": "red"}, "colour"),
    ):
        r = client.post("/api/v1/units/b2/visits", headers=h["am2"], json=bad)
        assert r.status_code == 422 and r.json()["field"] == field, (bad, r.text)
    assert client.post("/api/v1/units/b2/visits", headers=h["pl"], json={"outcome": "met"}).status_code == 403
    listed = client.get("/api/v1/units/b2/visits", headers=h["pl"]).json()
    assert listed["total"] == 1 and listed["visits"][0]["note"] == "见到老板"
    month = T.replace(day=1).isoformat()
    sweep = client.get(f"/api/v1/cells/B/sweep?from={month}&to={T.isoformat()}", headers=h["am2"]).json()
    assert (sweep["units"], sweep["visited"], sweep["coverage"]) == (2, 1, 0.5)
    assert [u["external_id"] for u in sweep["not_visited_for_n_days"]["units"]] == ["b1"]
    assert client.get("/api/v1/cells/B/sweep?from=2025-13-01", headers=h["am2"]).status_code == 422
    city = client.get(f"/api/v1/cities/C/sweep?from={month}", headers=h["am2"]).json()
    assert city["rows"] == [["B", 2, 1, 0.5]]


def test_follow_up_lifecycle_over_http(
    client: TestClient, h: dict[str, dict[str, str]], world: Engine
) -> None:
    due = (T + dt.timedelta(days=5)).isoformat()
    r = client.post(
        "/api/v1/units/a2/follow-ups", headers=h["cm"], json={"due_date": due, "next_step": "拜访"}
    )
    assert r.status_code == 422 and r.json()["field"] == "reason"  # stock, no contract end
    r = client.post(
        "/api/v1/units/b1/follow-ups", headers=h["am2"], json={"due_date": due, "next_step": "上门介绍专线"}
    )
    assert r.status_code == 201, r.text
    fid = r.json()["id"]
    assert r.json()["reason"] == "potential"
    r = client.post("/api/v1/units/b1/follow-ups", headers=h["am2"], json={"next_step": "x"})
    assert r.status_code == 422 and r.json()["field"] == "due_date"
    mine = client.get("/api/v1/me/follow-ups", headers=h["am2"]).json()["follow_ups"]
    assert [(f["id"], f["overdue"], f["won"]) for f in mine] == [(fid, False, False)]
    assert client.get("/api/v1/me/follow-ups?state=bogus", headers=h["am2"]).status_code == 422
    r = client.patch(f"/api/v1/follow-ups/{fid}", headers=h["am2"], json={"next_step": "报价"})
    assert r.status_code == 200 and r.json()["next_step"] == "报价"
    assert (
        client.patch(f"/api/v1/follow-ups/{fid}", headers=h["pl"], json={"next_step": "x"}).status_code == 403
    )
    r = client.post(f"/api/v1/follow-ups/{fid}/close", headers=h["am2"], json={"outcome": "won"})
    assert r.status_code == 422 and r.json()["field"] == "outcome"
    write_version(world, "b1", status="stock", fixed_lines_own=1)
    r = client.post(
        f"/api/v1/follow-ups/{fid}/close", headers=h["am2"], json={"outcome": "won", "note": "签了"}
    )
    assert r.status_code == 200 and (r.json()["outcome"], r.json()["won"]) == ("won", True)
    assert (
        client.post(f"/api/v1/follow-ups/{fid}/close", headers=h["am2"], json={"outcome": "lost"}).status_code
        == 409
    )
    summary = client.get("/api/v1/cells/B/follow-ups", headers=h["pl"]).json()
    assert (summary["open"], summary["won"], summary["closed_won"]) == (0, 1, 1)
    assert client.get("/api/v1/cells/A/follow-ups", headers=h["am2"]).status_code == 403
