"""Test fixtures: throwaway PostGIS databases per session, the demo, the app and a live server.

A PostGIS test is never skipped: when the server or the extension is missing, the fixtures raise
and the suite fails.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from gridmarket.api.app import create_app
from gridmarket.grids import auth, migrate
from gridmarket.grids.db import drop_database, ensure_database
from gridmarket.grids.settings import Settings
from tests.helpers import bearer, serving

DEMO_UNITS = 2000
DEMO_SEED = 7
ADMIN_PASSWORD = "admin-" + secrets.token_hex(8)


def _throwaway_url(tag: str) -> str:
    base = make_url(Settings().database_url)
    name = f"gm_test_{tag}_{secrets.token_hex(4)}"
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def new_database() -> Iterator[Callable[[str], Engine]]:
    """Return a factory of fresh, migrated throwaway databases; all are dropped at the end."""
    made: list[tuple[str, Engine]] = []

    def make(tag: str = "x") -> Engine:
        url = _throwaway_url(tag)
        ensure_database(url)
        engine = create_engine(url)
        made.append((url, engine))
        migrate.upgrade(engine)
        return engine

    yield make
    for url, engine in made:
        engine.dispose()
        drop_database(url)


@pytest.fixture
def empty_db(new_database: Callable[[str], Engine]) -> Engine:
    """A fresh, migrated, empty database for one test."""
    return new_database("empty")


@pytest.fixture(scope="session")
def engine(new_database: Callable[[str], Engine]) -> Engine:
    """The session's shared database, with the small demo and an admin loaded."""
    from gridmarket.etl.demo import generate_demo

    eng = new_database("main")
    generate_demo(eng, units=DEMO_UNITS, seed=DEMO_SEED)
    with eng.begin() as conn:
        auth.ensure_first_admin(conn, ADMIN_PASSWORD)
    return eng


@pytest.fixture(scope="session")
def admin_credentials(engine: Engine) -> tuple[str, str]:
    """User name and password of the admin of the shared database."""
    return ("admin", ADMIN_PASSWORD)


@pytest.fixture(scope="session")
def settings(engine: Engine) -> Settings:
    """Settings pointing at the shared database."""
    return Settings(database_url=engine.url.render_as_string(hide_password=False), admin_password=None)


@pytest.fixture(scope="session")
def app(settings: Settings) -> FastAPI:
    """An app built from the test settings."""
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A test client (lifespan run) for the app."""
    with TestClient(app) as c:
        yield c


@pytest.fixture
def admin_headers(client: TestClient, admin_credentials: tuple[str, str]) -> dict[str, str]:
    """Authorization header of the admin."""
    return bearer(client, *admin_credentials)


@pytest.fixture(scope="session")
def live_server(settings: Settings) -> Iterator[str]:
    """Run the app with uvicorn on 127.0.0.1 in a thread; yield its base URL."""
    with serving(settings) as url:
        yield url
