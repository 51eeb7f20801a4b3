"""Engine creation and database-level helpers (create the database, check PostGIS)."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from gridmarket.grids.errors import DatabaseError
from gridmarket.grids.settings import Settings


def make_engine(settings: Settings, **kwargs: object) -> Engine:
    """Create the SQLAlchemy engine for ``settings.database_url``."""
    opts: dict[str, object] = {"pool_pre_ping": True, "future": True}
    opts.update(kwargs)
    return create_engine(settings.database_url, **opts)


def ensure_database(url: str) -> bool:
    """Create the database of ``url`` (UTF8, from template0) when missing; return True if created."""
    u = make_url(url)
    name = u.database
    if not name:
        raise DatabaseError("the database URL names no database")
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if exists:
                return False
            ident = conn.dialect.identifier_preparer.quote(name)
            conn.execute(text(f"CREATE DATABASE {ident} TEMPLATE template0 ENCODING 'UTF8'"))
            return True
    finally:
        admin.dispose()


def drop_database(url: str) -> None:
    """Drop the database of ``url`` (used by the test fixtures), ending its connections first."""
    u = make_url(url)
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": u.database},
            )
            ident = conn.dialect.identifier_preparer.quote(u.database or "")
            conn.execute(text(f"DROP DATABASE IF EXISTS {ident}"))
    finally:
        admin.dispose()


def postgis_available(engine: Engine) -> bool:
    """Tell whether the server can install the PostGIS extension."""
    with engine.connect() as conn:
        return bool(conn.scalar(text("SELECT count(*) FROM pg_available_extensions WHERE name = 'postgis'")))
