"""Bulk changes over HTTP on the shared demo, with units of their own (``T-EB-…``, loaded at one point
of the main city's first drawn cell, away from every other test's units): preview, apply, read, undo,
an undo blocked by a later edit, limits and validation."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from gridmarket.grids import bulk
from gridmarket.grids.units import load_units
from tests.helpers import unit


@pytest.fixture(scope="module")
def spot(engine: Engine) -> dict[str, Any]:
    """Eight fresh units at one point (a tiny square around it selects exactly them)."""
    with engine.begin() as conn:
        row = conn.execute(
            text(
                "SELECT ST_X(p) AS lon, ST_Y(p) AS lat FROM (SELECT ST_PointOnSurface(c.geom) AS p "
                "FROM cell c WHERE c.source = 'drawn' ORDER BY c.code LIMIT 1) s"
            )
        ).one()
        lon, lat = float(row.lon) + 1e-6, float(row.lat) + 1e-6
        assert not conn.scalar(
            text(
                "SELECT count(*) FROM address_unit "
                "WHERE ST_DWithin(geom, ST_SetSRID(ST_MakePoint(:x, :y), 4326), 1e-5)"
            ),
            {"x": lon, "y": lat},
        )
        rows = [unit(f"T-EB-{i}", lon, lat, "potential") for i in range(1, 9)]
        load_units(conn, iter(rows), source="import", valid_from=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    d = 5e-6
    ring = [
        [lon - d, lat - d],
        [lon + d, lat - d],
        [lon + d, lat + d],
        [lon - d, lat + d],
        [lon - d, lat - d],
    ]
    return {"polygon": {"type": "Polygon", "coordinates": [ring]}}


def _versions(engine: Engine, ext: str) -> list[tuple[int, str, str | None]]:
    with engine.connect() as conn:
        return [
            (int(v), s, m)
            for v, s, m in conn.execute(
                text(
                    "SELECT r.version, r.status, r.main_services FROM market_record r JOIN address_unit a "
                    "ON a.id = r.address_unit_id WHERE a.external_id = :e ORDER BY r.version"
                ),
                {"e": ext},
            )
        ]


def test_preview_apply_read_undo(
    client: TestClient, admin_headers: dict[str, str], spot: dict[str, Any], engine: Engine
) -> None:
    body = {"selection": {"polygon": spot["polygon"]}, "change": {"status": "stock", "fixed_lines_own": 1}}
    p = client.post("/api/v1/bulk/preview", headers=admin_headers, json=body)
    assert p.status_code == 200, p.text
    pv = p.json()
    assert (pv["count"], pv["changing"], pv["outside_scope"]) == (8, 8, 0)
    assert len(pv["sample"]) == 8 and pv["sample"][0]["current"]["status"] == "potential"
    assert pv["sample"][0]["new"] == {"status": "stock", "fixed_lines_own": 1}
    assert _versions(engine, "T-EB-1") == [(1, "potential", None)]  # a preview writes nothing
    r = client.post("/api/v1/bulk", headers=admin_headers, json={**body, "note": "开通"})
    assert r.status_code == 201, r.text
    batch = r.json()
    assert batch["kind"] == "bulk" and batch["unit_count"] == 8 and batch["note"] == "开通"
    assert batch["created_by"]["username"] == "admin" and len(batch["units"]) == 8
    assert _versions(engine, "T-EB-1") == [(1, "potential", None), (2, "stock", None)]
    got = client.get(f"/api/v1/bulk/{batch['id']}", headers=admin_headers).json()
    assert got["change"] == body["change"] and got["selection"] == {"polygon": spot["polygon"]}
    u = client.post(f"/api/v1/bulk/{batch['id']}/undo", headers=admin_headers, json={"note": "撤销"})
    assert u.status_code == 201, u.text
    assert u.json()["undo_of"] == batch["id"] and u.json()["unit_count"] == 8
    assert _versions(engine, "T-EB-1")[-1] == (3, "potential", None)
    again = client.post(f"/api/v1/bulk/{batch['id']}/undo", headers=admin_headers)
    assert again.status_code == 409
    with engine.connect() as conn:
        actions = conn.execute(
            text("SELECT action FROM audit_log WHERE action LIKE 'bulk.%' ORDER BY id DESC LIMIT 2")
        ).scalars()
        assert list(actions) == ["bulk.undo", "bulk.apply"]


def test_undo_blocked_by_a_later_edit(
    client: TestClient, admin_headers: dict[str, str], spot: dict[str, Any], engine: Engine
) -> None:
    units = ["T-EB-1", "T-EB-2", "T-EB-3"]
    r = client.post(
        "/api/v1/bulk",
        headers=admin_headers,
        json={"selection": {"units": units}, "change": {"main_services": "专线"}},
    )
    assert r.status_code == 201
    batch = r.json()
    v = client.get("/api/v1/units/T-EB-2", headers=admin_headers).headers["etag"]
    later = client.patch(
        "/api/v1/units/T-EB-2", headers={**admin_headers, "If-Match": v}, json={"main_services": "宽带"}
    )
    assert later.status_code == 200
    blocked = client.post(f"/api/v1/bulk/{batch['id']}/undo", headers=admin_headers)
    assert blocked.status_code == 409
    conflicts = blocked.json()["conflicts"]
    assert [c["external_id"] for c in conflicts] == ["T-EB-2"]
    assert conflicts[0]["changed_by_user"] == "admin" and conflicts[0]["changed_at"]
    # nothing undone
    assert _versions(engine, "T-EB-1")[-1][2] == "专线" and _versions(engine, "T-EB-2")[-1][2] == "宽带"


def test_bulk_limits_and_validation(
    client: TestClient, admin_headers: dict[str, str], spot: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    many = {"selection": {"units": [f"X{i}" for i in range(5001)]}, "change": {"status": "stock"}}
    r = client.post("/api/v1/bulk/preview", headers=admin_headers, json=many)
    assert r.status_code == 422 and r.json()["field"] == "selection.units"
    r = client.post(
        "/api/v1/bulk",
        headers=admin_headers,
        json={"selection": {"polygon": spot["polygon"]}, "change": {"revenue_month": -1}},
    )
    assert r.status_code == 422 and r.json()["field"] == "change.revenue_month"
    r = client.post(
        "/api/v1/bulk",
        headers=admin_headers,
        json={"selection": {"units": ["NOPE"]}, "change": {"status": "stock"}},
    )
    assert r.status_code == 422 and r.json()["field"] == "selection"
    # a lasso selecting more units than the limit is refused, naming the selection (limit lowered
    # to 5 here: the small demo has fewer than 5,000 units in a city)
    monkeypatch.setattr(bulk, "MAX_UNITS", 5)
    r = client.post(
        "/api/v1/bulk/preview", headers=admin_headers, json={"selection": spot, "change": {"status": "stock"}}
    )
    assert r.status_code == 422 and r.json()["field"] == "selection"
