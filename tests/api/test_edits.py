"""Field edits over HTTP: ETag / If-Match, 409 with the current record, 422, CSRF, doors, history.

Works on the shared demo with units of its own (address ids ``T-EA-…``, loaded at an interior
point of the main city's last cell), which no other test asserts on.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from gridmarket.grids import auth
from gridmarket.grids.units import load_units
from tests.helpers import bearer, unit

PW = "edits-api-password-1"


@pytest.fixture(scope="module")
def place(engine: Engine) -> dict[str, Any]:
    """A cell of the main city, its point, fresh units there and logins (account manager, planner)."""
    with engine.begin() as conn:
        city = conn.execute(
            text(
                "SELECT r.code, r.id FROM region r JOIN address_unit a ON a.city_id = r.id "
                "WHERE r.level = 'city' GROUP BY r.code, r.id ORDER BY count(*) DESC LIMIT 1"
            )
        ).one()
        cell = conn.execute(
            text(
                "SELECT c.code, c.id, ST_X(ST_PointOnSurface(c.geom)) AS lon, "
                "ST_Y(ST_PointOnSurface(c.geom)) AS lat "
                "FROM cell c WHERE c.city_id = :c AND c.source = 'drawn' ORDER BY c.code DESC LIMIT 1"
            ),
            {"c": city.id},
        ).one()
        rows = [
            unit(
                f"T-EA-{i}",
                cell.lon,
                cell.lat,
                "stock",
                fixed_lines_own=1,
                revenue_month=10,
                contact_phone="13700001234",
            )
            for i in range(1, 9)
        ]
        load_units(conn, iter(rows), source="import", valid_from=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
        staff = conn.scalar(
            text("INSERT INTO staff (code, name, city_id) VALUES ('T-EA-S', '李四', :c) RETURNING id"),
            {"c": city.id},
        )
        conn.execute(
            text(
                "INSERT INTO assignment (staff_id, kind, cell_id, valid_from) "
                "VALUES (:s, 'cell', :c, '2025-01-01')"
            ),
            {"s": staff, "c": cell.id},
        )
        auth.add_user(conn, "ea-am", "account_manager", PW, staff_code="T-EA-S")
        auth.add_user(conn, "ea-planner", "planner", PW, region_code=city.code)
    return {"city": city.code, "cell": cell.code, "lon": float(cell.lon), "lat": float(cell.lat)}


def _cell(client: TestClient, headers: dict[str, str], place: dict[str, Any]) -> dict[str, Any]:
    r = client.get("/api/v1/metrics", params={"level": "cell", "city": place["city"]}, headers=headers)
    return next(a for a in r.json()["areas"] if a["id"] == place["cell"])


def test_etag_if_match_409_and_422(
    client: TestClient, place: dict[str, Any], admin_headers: dict[str, str]
) -> None:
    am = bearer(client, "ea-am", PW)
    r = client.get("/api/v1/units/T-EA-1", headers=am)
    assert r.status_code == 200 and r.headers["etag"] == '"1"' and r.json()["version"] == 1
    missing = client.patch("/api/v1/units/T-EA-1", headers=am, json={"status": "competing"})
    assert missing.status_code == 428 and missing.json()["field"] == "version"
    ok = client.patch(
        "/api/v1/units/T-EA-1",
        headers={**am, "If-Match": '"1"'},
        json={"fixed_lines_rival": 2, "contract_end": "2027-06-30", "note": "扫楼"},
    )
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert ok.headers["etag"] == '"2"' and body["version"] == 2 and body["status"] == "competing"
    assert body["source"] == "api" and body["contract_end"] == "2027-06-30"
    assert body["warnings"] == ["status: derived from the line counts: competing"]
    stale = client.patch(
        "/api/v1/units/T-EA-1", headers={**admin_headers, "If-Match": '"1"'}, json={"status": "stock"}
    )
    assert stale.status_code == 409
    s = stale.json()
    assert s["field"] == "version" and s["current"]["version"] == 2 and s["current"]["status"] == "competing"
    assert s["changed_by"] == "李四" and s["changed_by_user"] == "ea-am" and s["changed_at"]
    assert stale.headers["etag"] == '"2"'
    # the body may carry the version instead of If-Match
    bad = client.patch("/api/v1/units/T-EA-1", headers=am, json={"version": 2, "broadband_own": -3})
    assert bad.status_code == 422 and bad.json()["field"] == "broadband_own"
    bad = client.patch("/api/v1/units/T-EA-1", headers=am, json={"version": 2, "status": "流失"})
    assert bad.status_code == 422 and bad.json()["field"] == "status"
    bad = client.patch(
        "/api/v1/units/T-EA-1", headers=am, json={"version": 2, "source": "import", "status": "stock"}
    )
    assert bad.status_code == 422 and bad.json()["field"] == "source"
    planner = bearer(client, "ea-planner", PW)
    assert (
        client.patch(
            "/api/v1/units/T-EA-1", headers=planner, json={"version": 2, "status": "stock"}
        ).status_code
        == 403
    )
    # nothing of the refused requests was written
    assert client.get("/api/v1/units/T-EA-1", headers=am).json()["version"] == 2


def test_two_clients_same_version_exactly_one_wins(
    live_server: str, place: dict[str, Any], engine: Engine
) -> None:
    with httpx.Client(base_url=live_server) as c:
        r = c.post("/api/v1/auth/token", data={"username": "ea-am", "password": PW})
        headers = {"Authorization": f"Bearer {r.json()['access_token']}", "If-Match": '"1"'}
    barrier = threading.Barrier(2)
    answers: list[httpx.Response] = []

    def send(value: str) -> None:
        with httpx.Client(base_url=live_server, timeout=30) as c:
            barrier.wait(10)
            answers.append(c.patch("/api/v1/units/T-EA-2", headers=headers, json={"main_services": value}))

    threads = [threading.Thread(target=send, args=(v,)) for v in ("专线", "宽带")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(a.status_code for a in answers) == [200, 409]
    won = next(a for a in answers if a.status_code == 200).json()
    lost = next(a for a in answers if a.status_code == 409).json()
    # the loser sees the winner's record (waited for the winner's lock, then compared versions)
    assert lost["current"]["version"] == 2 and lost["current"]["main_services"] == won["main_services"]
    with engine.connect() as conn:
        versions = conn.execute(
            text(
                "SELECT r.version, r.valid_to IS NULL FROM market_record r JOIN address_unit a "
                "ON a.id = r.address_unit_id WHERE a.external_id = 'T-EA-2' ORDER BY r.version"
            )
        ).all()
    assert [tuple(v) for v in versions] == [(1, False), (2, True)]


def test_cookie_sessions_need_the_csrf_token_and_write_source_field(
    client: TestClient, place: dict[str, Any]
) -> None:
    login = client.post("/api/v1/auth/login", json={"username": "ea-am", "password": PW})
    assert login.status_code == 200
    csrf = login.json()["csrf_token"]
    refused = client.patch("/api/v1/units/T-EA-3", json={"version": 1, "main_services": "固话"})
    assert refused.status_code == 403
    ok = client.patch(
        "/api/v1/units/T-EA-3", headers={"X-CSRF-Token": csrf}, json={"version": 1, "main_services": "固话"}
    )
    assert ok.status_code == 200 and ok.json()["source"] == "field"
    client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    client.cookies.clear()


def test_doors_move_the_cell_figures_and_keep_history(client: TestClient, place: dict[str, Any]) -> None:
    am = bearer(client, "ea-am", PW)
    before = _cell(client, am, place)
    add = client.post(
        "/api/v1/units",
        headers=am,
        json={
            "external_id": "T-EA-new",
            "address": "测试新店",
            "lon": place["lon"],
            "lat": place["lat"],
            "status": "potential",
        },
    )
    assert add.status_code == 201, add.text
    assert add.json()["cell_code"] == place["cell"] and add.headers["etag"] == '"1"'
    after = _cell(client, am, place)
    assert (after["units"], after["n_potential"]) == (before["units"] + 1, before["n_potential"] + 1)
    # split T-EA-4 (stock, 1 own line, 10 RMB) into a stock shop (1 line, 6 RMB) and a vacant one
    split = client.post(
        "/api/v1/units/T-EA-4/split",
        headers={**am, "If-Match": '"1"'},
        json={
            "parts": [
                {
                    "external_id": "T-EA-4a",
                    "room": "1A",
                    "status": "stock",
                    "fixed_lines_own": 1,
                    "revenue_month": 6,
                },
                {"external_id": "T-EA-4b", "room": "1B", "status": "vacant"},
            ],
            "note": "一分为二",
        },
    )
    assert split.status_code == 201, split.text
    assert [u["external_id"] for u in split.json()["units"]] == ["T-EA-4a", "T-EA-4b"]
    s = _cell(client, am, place)
    assert (s["units"], s["n_stock"], s["n_vacant"]) == (
        after["units"] + 1,
        after["n_stock"],
        after["n_vacant"] + 1,
    )
    assert s["revenue"] == pytest.approx(after["revenue"] - 4)
    assert client.get("/api/v1/units/T-EA-4", headers=am).status_code == 404
    merge = client.post(
        "/api/v1/units/merge",
        headers=am,
        json={
            "units": [{"external_id": "T-EA-5", "version": 1}, {"external_id": "T-EA-6", "version": 1}],
            "survivor": "T-EA-6",
        },
    )
    assert merge.status_code == 200 and merge.json()["retired"] == ["T-EA-5"]
    stale = client.post("/api/v1/units/T-EA-7/retire", headers={**am, "If-Match": '"9"'}, json={"note": "x"})
    assert stale.status_code == 409 and stale.json()["current"]["external_id"] == "T-EA-7"
    assert client.post("/api/v1/units/T-EA-7/retire", headers=am, json={"note": "x"}).status_code == 428
    retire = client.post(
        "/api/v1/units/T-EA-7/retire", headers={**am, "If-Match": '"1"'}, json={"note": "拆除"}
    )
    assert retire.status_code == 200
    end = _cell(client, am, place)
    # merge retired one stock unit (10 RMB), retire another
    assert (end["units"], end["n_stock"]) == (s["units"] - 2, s["n_stock"] - 2)
    assert end["revenue"] == pytest.approx(s["revenue"] - 20)
    # history of a retired unit stays readable: the split event, then version 1
    h = client.get("/api/v1/units/T-EA-4/history", headers=am).json()
    assert h["unit"]["retired_at"] and [i["kind"] for i in h["items"]] == ["event", "version"]
    assert h["items"][0]["event"] == "split" and h["items"][0]["to"] == ["T-EA-4a", "T-EA-4b"]
    assert h["items"][0]["changed_by"] == {"username": "ea-am", "name": "李四"}


def test_history_over_http_diffs_and_masks(client: TestClient, place: dict[str, Any]) -> None:
    am = bearer(client, "ea-am", PW)
    r = client.patch(
        "/api/v1/units/T-EA-8",
        headers=am,
        json={"version": 1, "contact_phone": "13911112222", "note": "新联系人"},
    )
    assert r.status_code == 200
    mine = client.get("/api/v1/units/T-EA-8/history", headers=am).json()
    assert mine["total"] == 2
    v2 = mine["items"][0]
    assert v2["version"] == 2 and v2["note"] == "新联系人" and v2["source"] == "api"
    assert v2["diff"] == {"contact_phone": ["13700001234", "13911112222"]}
    planner = bearer(client, "ea-planner", PW)
    masked = client.get("/api/v1/units/T-EA-8/history", headers=planner).json()["items"][0]
    assert masked["diff"] == {"contact_phone": ["137****1234", "139****2222"]}
    assert masked["values"]["contact_phone"] == "139****2222"
    page = client.get(f"/api/v1/cells/{place['cell']}/history", headers=am, params={"limit": 2}).json()
    assert len(page["items"]) == 2 and page["total"] > 2
    times = [i["at"] for i in page["items"]]
    assert times == sorted(times, reverse=True)


# every state-changing route of field work (issue 5), with a body that would otherwise be accepted
_WRITES = [
    ("PATCH", "/api/v1/units/T-EA-3", {"version": 1, "main_services": "x"}),
    ("POST", "/api/v1/units", {"address": "x", "lon": 120.0, "lat": 30.0}),
    ("POST", "/api/v1/units/merge", {"units": [{"external_id": "T-EA-3", "version": 1}]}),
    ("POST", "/api/v1/units/T-EA-3/split", {"version": 1, "parts": [{}, {}]}),
    ("POST", "/api/v1/units/T-EA-3/retire", {"version": 1}),
    ("POST", "/api/v1/bulk/preview", {"selection": {"units": ["T-EA-3"]}, "change": {"status": "stock"}}),
    ("POST", "/api/v1/bulk", {"selection": {"units": ["T-EA-3"]}, "change": {"status": "stock"}}),
    ("POST", "/api/v1/bulk/1/undo", {}),
    ("POST", "/api/v1/units/T-EA-3/visits", {"outcome": "met"}),
    ("POST", "/api/v1/units/T-EA-3/follow-ups", {"due_date": "2999-01-01", "next_step": "x"}),
    ("PATCH", "/api/v1/follow-ups/1", {"next_step": "x"}),
    ("POST", "/api/v1/follow-ups/1/close", {"outcome": "dropped"}),
]


def test_every_field_work_write_needs_the_csrf_token_on_a_cookie_session(
    client: TestClient, place: dict[str, Any]
) -> None:
    login = client.post("/api/v1/auth/login", json={"username": "ea-am", "password": PW})
    assert login.status_code == 200
    csrf = login.json()["csrf_token"]
    try:
        for method, path, body in _WRITES:
            r = client.request(method, path, json=body)
            assert r.status_code == 403 and "CSRF" in r.json()["detail"], (method, path, r.text)
            r = client.request(method, path, json=body, headers={"X-CSRF-Token": "wrong"})
            assert r.status_code == 403 and "CSRF" in r.json()["detail"], (method, path, r.text)
    finally:
        client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
        client.cookies.clear()
