"""API skeleton: health, login (bearer and cookie), scope, and the cells of a city."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from gridmarket.api.app import create_app
from gridmarket.grids import auth
from gridmarket.grids.settings import Settings
from tests.helpers import bearer


def test_healthz_ok(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_healthz_503_when_database_unreachable() -> None:
    settings = Settings(database_url="postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    with TestClient(create_app(settings)) as c:
        r = c.get("/healthz")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "unavailable" and body["reason"].startswith("database:")


def test_docs_and_openapi(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/v1/cities/{code}/cells" in paths and "/api/v1/auth/token" in paths


def test_401_without_login(client: TestClient) -> None:
    for path in ("/api/v1/cities", "/api/v1/cities/X/cells", "/api/v1/cities/X/districts", "/api/v1/auth/me"):
        r = client.get(path)
        assert r.status_code == 401, path
        assert r.headers["www-authenticate"] == "Bearer"


def test_wrong_password_and_bad_token(client: TestClient, admin_credentials: tuple[str, str]) -> None:
    r = client.post("/api/v1/auth/token", data={"username": "admin", "password": "wrong-password"})
    assert r.status_code == 401
    r = client.get("/api/v1/cities", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401


def test_cells_of_the_main_city(client: TestClient, admin_headers: dict[str, str], engine: Engine) -> None:
    cities = client.get("/api/v1/cities", headers=admin_headers).json()["cities"]
    assert len([c for c in cities if not c["code"].startswith("UNASSIGNED")]) >= 3
    main = cities[0]
    assert main["units"] == max(c["units"] for c in cities)
    r = client.get(f"/api/v1/cities/{main['code']}/cells", headers=admin_headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    features = r.json()["features"]
    assert len(features) == main["cells"]
    assert sum(f["properties"]["units"] for f in features) == main["units"]
    # independent count per cell and status, straight from the base tables
    with engine.connect() as conn:
        counts: dict[tuple[str, str], int] = {
            (code, status): n
            for code, status, n in conn.execute(
                text(
                    "SELECT c.code, r.status, count(*) FROM cell c "
                    "JOIN address_unit a ON a.cell_id = c.id AND a.retired_at IS NULL "
                    "JOIN market_record r ON r.address_unit_id = a.id AND r.valid_to IS NULL "
                    "JOIN region city ON city.id = c.city_id WHERE city.code = :code "
                    "GROUP BY 1, 2"
                ),
                {"code": main["code"]},
            )
        }
    nulls = 0
    for f in features:
        p = f["properties"]
        for status in ("stock", "competing", "other_network", "potential", "vacant", "unknown"):
            assert p[f"n_{status}"] == counts.get((p["code"], status), 0)
        demand = p["n_stock"] + p["n_competing"] + p["n_other_network"] + p["n_potential"]
        assert p["demand"] == demand
        if demand == 0:
            assert p["penetration"] is None
            nulls += 1
        else:
            assert abs(p["penetration"] - (p["n_stock"] + p["n_competing"]) / demand) < 1e-12
    assert len(features) > nulls


def test_cookie_login_csrf_and_logout(client: TestClient, admin_credentials: tuple[str, str]) -> None:
    user, password = admin_credentials
    r = client.post("/api/v1/auth/login", json={"username": user, "password": password})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    csrf = r.json()["csrf_token"]
    assert r.json()["user"]["role_name_zh"] == "系统管理员"
    assert client.get("/api/v1/auth/me").status_code == 200
    assert client.post("/api/v1/auth/logout").status_code == 403  # no CSRF token
    assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get("/api/v1/auth/me").status_code == 401


def test_cross_site_cookie_login_refused(client: TestClient, admin_credentials: tuple[str, str]) -> None:
    user, password = admin_credentials
    r = client.post(
        "/api/v1/auth/login",
        json={"username": user, "password": password},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403


def test_expired_and_disabled(client: TestClient, engine: Engine) -> None:
    with engine.begin() as conn:
        city = conn.scalar(text("SELECT code FROM region WHERE level = 'city' ORDER BY id LIMIT 1"))
        auth.add_user(conn, "planner-exp", "planner", "planner-password-1", region_code=city)
    headers = bearer(client, "planner-exp", "planner-password-1")
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE auth_session SET expires_at = now() - interval '1 second' "
                "WHERE user_id = (SELECT id FROM app_user WHERE username = 'planner-exp')"
            )
        )
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
    headers = bearer(client, "planner-exp", "planner-password-1")
    with engine.begin() as conn:
        auth.disable_user(conn, "planner-exp")
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
    r = client.post("/api/v1/auth/token", data={"username": "planner-exp", "password": "planner-password-1"})
    assert r.status_code == 401


def test_login_rate_limited(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"login_attempts_per_minute": 3}))
    with TestClient(app) as c:
        codes = [
            c.post("/api/v1/auth/token", data={"username": "nobody", "password": "x" * 12}).status_code
            for _ in range(5)
        ]
    assert codes == [401, 401, 401, 429, 429]


def test_city_scope(client: TestClient, admin_headers: dict[str, str], engine: Engine) -> None:
    cities = client.get("/api/v1/cities", headers=admin_headers).json()["cities"]
    mine, other = cities[0]["code"], cities[1]["code"]
    with engine.begin() as conn:
        auth.add_user(conn, "planner-city", "planner", "planner-password-2", region_code=mine)
    headers = bearer(client, "planner-city", "planner-password-2")
    seen = [c["code"] for c in client.get("/api/v1/cities", headers=headers).json()["cities"]]
    assert seen == [mine]
    assert client.get(f"/api/v1/cities/{mine}/cells", headers=headers).status_code == 200
    assert client.get(f"/api/v1/cities/{other}/cells", headers=headers).status_code == 403
    assert client.get("/api/v1/cities/NOPE/cells", headers=headers).status_code == 404


def test_password_is_hashed_with_argon2id(engine: Engine) -> None:
    with engine.connect() as conn:
        h = conn.scalar(text("SELECT password_hash FROM app_user WHERE username = 'admin'"))
    assert h.startswith("$argon2id$")


def test_writers_crossing_get_409_with_retry_after_not_500(settings: Settings) -> None:
    """A deadlock PostgreSQL broke or a serialization failure rolled the request back: 409, try again."""
    from psycopg import errors as pg_errors
    from sqlalchemy.exc import IntegrityError, OperationalError

    app = create_app(settings)

    def deadlock() -> None:
        raise OperationalError("UPDATE …", {}, pg_errors.DeadlockDetected("deadlock detected"))

    def duplicate() -> None:
        raise IntegrityError("INSERT …", {}, pg_errors.UniqueViolation("duplicate key"))

    app.add_api_route("/test-deadlock", deadlock)
    app.add_api_route("/test-duplicate", duplicate)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/test-deadlock")
        assert r.status_code == 409 and r.headers["retry-after"] == "1"
        assert "nothing of this request was saved" in r.json()["detail"]
        assert c.get("/test-duplicate").status_code == 500  # any other database error is not hidden
