"""The metrics API: by level (table and GeoJSON), drill-down, compare and rank, on the demo."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from gridmarket.grids.metrics import METRIC_KEYS


def _city(client: TestClient, headers: dict[str, str]) -> str:
    return str(client.get("/api/v1/cities", headers=headers).json()["cities"][0]["code"])


def test_levels_roll_up(client: TestClient, admin_headers: dict[str, str]) -> None:
    city = _city(client, admin_headers)
    cities = client.get("/api/v1/metrics", params={"level": "city"}, headers=admin_headers).json()["areas"]
    main = next(c for c in cities if c["id"] == city)
    assert set(METRIC_KEYS) <= set(main)
    for level in ("district", "grid", "cell"):
        r = client.get("/api/v1/metrics", params={"level": level, "city": city}, headers=admin_headers)
        assert r.status_code == 200
        areas = r.json()["areas"]
        assert sum(a["units"] for a in areas) == main["units"], level
        assert sum(a["revenue"] for a in areas) == pytest.approx(main["revenue"])
    demand = main["n_stock"] + main["n_competing"] + main["n_other_network"] + main["n_potential"]
    assert main["penetration"] == pytest.approx((main["n_stock"] + main["n_competing"]) / demand)


def test_geojson_children_compare_rank(client: TestClient, admin_headers: dict[str, str]) -> None:
    city = _city(client, admin_headers)
    r = client.get(
        "/api/v1/metrics",
        params={"level": "district", "city": city, "format": "geojson"},
        headers=admin_headers,
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    feats = r.json()["features"]
    assert feats and all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in feats)
    districts = client.get(f"/api/v1/metrics/city/{city}/children", headers=admin_headers).json()["areas"]
    assert {d["id"] for d in districts} == {f["id"] for f in feats}
    d1, d2 = districts[0]["id"], districts[1]["id"]
    cmp = client.get(
        "/api/v1/metrics/compare",
        params={"area": [f"district:{d1}", f"district:{d2}"]},
        headers=admin_headers,
    ).json()["areas"]
    assert [a["id"] for a in cmp] == [d1, d2]
    assert cmp[0]["units"] == districts[0]["units"]
    one = client.get("/api/v1/metrics/compare", params={"area": [f"district:{d1}"]}, headers=admin_headers)
    assert one.status_code == 422 and one.json()["field"] == "areas"
    ranked = client.get(
        f"/api/v1/metrics/district/{d1}/rank",
        params={"child_level": "cell", "metric": "penetration"},
        headers=admin_headers,
    ).json()["areas"]
    values = [a["penetration"] for a in ranked if a["penetration"] is not None]
    assert (
        values == sorted(values, reverse=True) and ranked[0]["rank"] == 1 and ranked[0]["percentile"] == 1.0
    )
    assert all(a["rank"] is None for a in ranked[len(values) :])
    h3 = client.get("/api/v1/metrics", params={"level": "h3:8", "city": city}, headers=admin_headers).json()[
        "areas"
    ]
    assert sum(a["units"] for a in h3) == sum(d["units"] for d in districts)
    bad = client.get("/api/v1/metrics", params={"level": "h3:13"}, headers=admin_headers)
    assert bad.status_code == 422
