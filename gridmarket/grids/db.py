"""Engine creation and database-level helpers (create the database, check PostGIS)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from gridmarket.grids.errors import DatabaseError
from gridmarket.grids.settings import Settings

T = TypeVar("T")


def make_engine(settings: Settings, **kwargs: object) -> Engine:
    """Create the SQLAlchemy engine for ``settings.database_url``."""
    opts: dict[str, object] = {"pool_pre_ping": True, "future": True}
    opts.update(kwargs)
    return create_engine(settings.database_url, **opts)


def side_engine(engine: Engine, *, pool_size: int, settings: dict[str, str], application_name: str) -> Engine:
    """A second engine on ``engine``'s database for one kind of short read-only statement.

    Its connections are in autocommit (no BEGIN / COMMIT round trips), start with the server
    ``settings`` (libpq ``options``: set once per connection instead of per statement) and carry
    ``application_name``. The pool holds at most ``pool_size`` connections and no overflow: the
    caller admits at most that many users at a time, so none waits and none is opened and closed
    per request. No pre-ping either (a round trip per checkout): the caller retries once on a
    connection found dead (:func:`retry_disconnect`). Disposed together with ``engine``.
    """
    options = " ".join(f"-c {name}={value}" for name, value in settings.items())
    given = engine.url.query.get("options")
    if given:
        options = f"{given if isinstance(given, str) else ' '.join(given)} {options}"
    side = create_engine(
        engine.url,
        pool_size=pool_size,
        max_overflow=0,
        isolation_level="AUTOCOMMIT",
        connect_args={"options": options, "application_name": application_name},
    )

    @event.listens_for(engine, "engine_disposed")
    def _dispose(_: Engine) -> None:
        side.dispose()

    return side


@contextmanager
def driver_cursor(conn: Connection, *, binary: bool = False) -> Iterator[Any]:
    """A cursor of the driver's (psycopg's) connection under ``conn``, in its transaction.

    For the few fixed statements run on every request (the session check, a tile): SQLAlchemy's
    per-statement work (text(), cache key, result metadata) costs more CPU than the driver's.
    Parameters in the driver's style (``%(name)s``). A driver error comes out as SQLAlchemy's,
    as from ``conn.execute``; a lost connection is invalidated (``connection_invalidated``).
    """
    raw = conn.connection.driver_connection
    assert raw is not None
    dialect = conn.dialect
    dbapi_error = dialect.loaded_dbapi.Error
    try:
        with raw.cursor(binary=binary) as cur:
            yield cur
    except dbapi_error as exc:
        lost = bool(dialect.is_disconnect(exc, raw, None))
        if lost:
            conn.invalidate(exc)
        raise DBAPIError.instance(
            None, None, exc, dbapi_error, connection_invalidated=lost, dialect=dialect
        ) from exc


def retry_disconnect(engine: Engine, work: Callable[[], T]) -> T:
    """Run ``work`` again once when it failed on a dead connection (e.g. after a server restart).

    The pool's idle connections are closed first (as dead as the one found, most likely), so
    the second run gets a fresh one. Only for read-only work (the first run may have done part).
    """
    try:
        return work()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    engine.pool.dispose()
    return work()


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
