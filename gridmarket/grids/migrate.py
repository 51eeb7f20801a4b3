"""Run Alembic migrations from code (``gridmarket db upgrade`` and the test fixtures)."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

from gridmarket.grids.errors import DatabaseError


def alembic_config(url: str) -> Config:
    """Build the Alembic configuration pointing at this package's migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("gridmarket.grids") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create the PostGIS extension if needed, then migrate the schema to ``revision``."""
    with engine.connect() as conn:
        available = conn.scalar(text("SELECT count(*) FROM pg_available_extensions WHERE name = 'postgis'"))
        if not available:
            raise DatabaseError(
                "PostGIS is not installed on the database server: install it "
                "(Debian: apt-get install postgresql-15-postgis-3) and run again"
            )
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    """Return the revision the database is at (None before the first migration)."""
    with engine.connect() as conn:
        has = conn.scalar(text("SELECT to_regclass('public.alembic_version') IS NOT NULL"))
        if not has:
            return None
        return conn.scalar(text("SELECT version_num FROM alembic_version"))
