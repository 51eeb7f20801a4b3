"""Search (GET /api/v1/search): addresses, customers by name or code, cells, buildings; scoped;
the text is matched literally (no wildcards); bad input is a 422 naming the field."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from tests.helpers import bearer


def _search(client: TestClient, headers: dict[str, str], q: str, **params: Any) -> list[dict[str, Any]]:
    r = client.get("/api/v1/search", params={"q": q, **params}, headers=headers)
    assert r.status_code == 200, r.text
    return list(r.json()["results"])


def _a_unit(engine: Engine, district: str | None = None) -> dict[str, Any]:
    """A current unit with a customer (in a district, if given), read straight from the tables."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT a.external_id, a.address, c.code AS cell_code, ci.code AS city_code, "
                "ST_X(a.geom) AS lon, ST_Y(a.geom) AS lat, cu.name AS customer, cu.source_code, "
                "d.code AS district FROM address_unit a JOIN cell c ON c.id = a.cell_id "
                "JOIN region ci ON ci.id = a.city_id JOIN region d ON d.id = c.district_id "
                "JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL "
                "JOIN customer cu ON cu.id = r.customer_id "
                "WHERE a.retired_at IS NULL AND (CAST(:d AS text) IS NULL OR d.code = :d) "
                "ORDER BY a.external_id LIMIT 1"
            ),
            {"d": district},
        ).one()
    return dict(row._mapping)


def test_search_finds_an_address_by_its_text_and_id(
    client: TestClient, admin_headers: dict[str, str], engine: Engine
) -> None:
    u = _a_unit(engine)
    found = _search(client, admin_headers, u["address"])
    first = found[0]
    assert first["kind"] == "unit" and first["code"] == u["external_id"]
    assert first["label"] == u["address"] and first["sub"] == u["customer"]
    assert (first["city_code"], first["cell_code"]) == (u["city_code"], u["cell_code"])
    assert abs(first["lon"] - u["lon"]) < 1e-9 and abs(first["lat"] - u["lat"]) < 1e-9
    by_id = _search(client, admin_headers, u["external_id"])
    assert by_id[0]["kind"] == "unit" and by_id[0]["code"] == u["external_id"]


def test_search_finds_customers_cells_and_buildings(
    client: TestClient, admin_headers: dict[str, str], engine: Engine
) -> None:
    u = _a_unit(engine)
    by_name = [r for r in _search(client, admin_headers, u["customer"], limit=50) if r["kind"] == "customer"]
    assert any(r["label"] == u["customer"] and r["code"] == u["source_code"] for r in by_name)
    by_code = _search(client, admin_headers, u["source_code"])
    assert by_code[0]["kind"] == "customer" and by_code[0]["code"] == u["source_code"]

    prefix = u["cell_code"][: u["cell_code"].rfind("-")]
    cells = [r for r in _search(client, admin_headers, prefix, limit=50) if r["kind"] == "cell"]
    with engine.connect() as conn:
        want = conn.scalars(
            text("SELECT code FROM cell WHERE starts_with(code, :p) ORDER BY code"), {"p": prefix}
        ).all()
        b_code, b_cell = conn.execute(
            text(
                "SELECT b.code, c.code FROM building b JOIN cell c ON c.id = b.cell_id "
                "ORDER BY b.code LIMIT 1"
            )
        ).one()
    assert sorted(r["code"] for r in cells) == sorted(want)[:50]
    assert all(r["cell_code"] == r["code"] for r in cells)
    exact = _search(client, admin_headers, u["cell_code"])
    assert exact[0] == {**exact[0], "kind": "cell", "code": u["cell_code"]}
    building = _search(client, admin_headers, b_code)
    assert building[0]["kind"] == "building" and building[0]["code"] == b_code
    assert building[0]["cell_code"] == b_cell


def test_search_text_is_literal_and_checked(client: TestClient, admin_headers: dict[str, str]) -> None:
    # % and _ are no wildcards: no address, name or code holds them
    assert _search(client, admin_headers, "%%") == []
    assert _search(client, admin_headers, "__") == []
    assert _search(client, admin_headers, "'; DROP TABLE cell; --") == []
    for q, field in (("x", "q"), (" a ", "q"), ("x" * 101, "q")):
        r = client.get("/api/v1/search", params={"q": q}, headers=admin_headers)
        assert r.status_code == 422 and r.json()["field"] == field, (q, r.text)
    r = client.get("/api/v1/search", params={"q": "测试", "limit": 0}, headers=admin_headers)
    assert r.status_code == 422 and r.json()["field"] == "limit"
    assert client.get("/api/v1/search", params={"q": "测试"}).status_code == 401


def test_search_keeps_to_the_scope(client: TestClient, admin_headers: dict[str, str], engine: Engine) -> None:
    with engine.connect() as conn:
        d1, d2 = conn.scalars(
            text(
                "SELECT d.code FROM region d WHERE d.level = 'district' AND EXISTS "
                "(SELECT 1 FROM cell c JOIN address_unit a ON a.cell_id = c.id WHERE c.district_id = d.id) "
                "ORDER BY d.code LIMIT 2"
            )
        ).all()
    mine, other = _a_unit(engine, d1), _a_unit(engine, d2)
    name = "w-search-rh-" + secrets.token_hex(3)
    password = "search-" + secrets.token_hex(6)
    r = client.post(
        "/api/v1/admin/users",
        json={"username": name, "password": password, "role": "regional_head", "region_code": d1},
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    rh = bearer(client, name, password)
    assert [x["code"] for x in _search(client, rh, mine["external_id"])] == [mine["external_id"]]
    assert _search(client, rh, other["external_id"]) == []
    assert all(
        x["kind"] != "unit" or x["code"] != other["external_id"]
        for x in _search(client, rh, other["address"])
    )
    cells = [x for x in _search(client, rh, other["cell_code"]) if x["kind"] == "cell"]
    assert cells == []


def test_top_customers_of_an_area(client: TestClient, admin_headers: dict[str, str], engine: Engine) -> None:
    """Customers by monthly revenue over the area's units, summed here from the rows themselves."""
    with engine.connect() as conn:
        district = conn.scalar(
            text(
                "SELECT d.code FROM region d JOIN cell c ON c.district_id = d.id "
                "JOIN address_unit a ON a.cell_id = c.id GROUP BY d.code ORDER BY count(*) DESC LIMIT 1"
            )
        )
        rows = conn.execute(
            text(
                "SELECT cu.source_code, cu.name, r.revenue_month, r.status, a.external_id "
                "FROM address_unit a JOIN cell c ON c.id = a.cell_id JOIN region d ON d.id = c.district_id "
                "JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL "
                "JOIN customer cu ON cu.id = r.customer_id WHERE d.code = :d AND a.retired_at IS NULL"
            ),
            {"d": district},
        ).all()
    totals: dict[str, dict[str, Any]] = {}
    for code, name, revenue, status, ext in rows:
        t = totals.setdefault(
            code, {"name": name, "units": 0, "revenue": Decimal(0), "own": 0, "rival": 0, "ids": []}
        )
        t["units"] += 1
        t["revenue"] += revenue or Decimal(0)
        t["own"] += status in ("stock", "competing")
        t["rival"] += status == "other_network"
        t["ids"].append(ext)
    want = sorted(totals.items(), key=lambda kv: (-kv[1]["revenue"], -kv[1]["units"], kv[0]))[:5]
    r = client.get(
        f"/api/v1/areas/district/{district}/top-customers", params={"limit": 5}, headers=admin_headers
    )
    assert r.status_code == 200, r.text
    got = r.json()["customers"]
    assert [c["code"] for c in got] == [code for code, _ in want]
    for c, (_code, t) in zip(got, want, strict=True):
        assert c["name"] == t["name"] and c["units"] == t["units"]
        assert abs(c["revenue"] - float(t["revenue"])) < 0.006
        assert (c["own_units"], c["rival_units"]) == (t["own"], t["rival"])
        assert c["first_unit"] == min(t["ids"])

    r = client.get("/api/v1/areas/grid/no-such-grid/top-customers", headers=admin_headers)
    assert r.status_code == 404
    r = client.get("/api/v1/areas/planet/x/top-customers", headers=admin_headers)
    assert r.status_code == 422 and r.json()["field"] == "level"
