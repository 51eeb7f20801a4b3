"""Small helpers shared by tests (fixtures live in conftest.py)."""

from __future__ import annotations

from fastapi.testclient import TestClient


def bearer(client: TestClient, username: str, password: str) -> dict[str, str]:
    """Log in with the password form and return the Authorization header."""
    r = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}
