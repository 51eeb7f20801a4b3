"""Mapbox Vector Tiles: ``/tiles/{layer}/{z}/{x}/{y}.mvt`` (layers ``units`` and ``cells``).

Authenticated by the bearer token or the session cookie (never a token in the URL), scoped to
what the caller may read. Answers:

* 200 with the tile (``application/vnd.mapbox-vector-tile``), or 204 with no body when the
  caller may read nothing in the tile;
* 304 when ``If-None-Match`` names the current ETag (see :func:`gridmarket.grids.tiles.tile_etag`);
* 404 for an unknown layer or a tile outside the pyramid (z 0..22, x and y 0..2^z-1), 422 when
  z, x or y is not an integer, 401 without a login.

``Cache-Control: private, no-cache``: a browser keeps the tile but revalidates it on every use,
so an edit shows on the next request while unchanged tiles cost a version check only.

Speed (a map asks for dozens of tiles at once): the route is async and does all of a tile's
database work in one worker-thread call on a connection of :func:`gridmarket.grids.tiles.tile_engine`
(autocommit, planner settings set per connection): the session check (one statement, every
request: a logged-out, expired or disabled login gets 401 on its next tile), the caller's scope
(:func:`gridmarket.grids.scope.scope_for`, as of today), the tile statement and its ETag. At
most twice the setting ``pool_size`` tiles are worked on at a time, each on a connection kept
in the tile pool (the others wait for a slot, never for a connection opened and closed for
them: the API's pool did that beyond its size, and a new server process costs more than most
tiles); the rest of the API keeps its own connections.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from functools import partial

import anyio
from anyio.to_thread import run_sync
from fastapi import APIRouter, Request, Response
from sqlalchemy import Engine

from gridmarket.api.deps import Credential, CredentialDep, session_for
from gridmarket.grids import tiles
from gridmarket.grids.db import retry_disconnect
from gridmarket.grids.scope import scope_for
from gridmarket.grids.settings import Settings

router = APIRouter(prefix="/tiles", tags=["tiles"])

_TILE = {"content": {tiles.MEDIA_TYPE: {}}, "description": "the tile"}
_HEADERS = {"Cache-Control": "private, no-cache", "Vary": "Authorization, Cookie"}


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        tag = candidate.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


@dataclass(frozen=True)
class _TileDb:
    engine: Engine
    slots: anyio.CapacityLimiter


# one per app engine (i.e. per lifespan and event loop); the tile engine goes with the app's
_tile_dbs: weakref.WeakKeyDictionary[Engine, _TileDb] = weakref.WeakKeyDictionary()


def _tile_db(request: Request) -> _TileDb:
    """The tile engine and its slots of this app (made on the first tile; event loop thread only)."""
    engine: Engine = request.app.state.engine
    db = _tile_dbs.get(engine)
    if db is None:
        size = 2 * request.app.state.settings.pool_size
        db = _TileDb(tiles.tile_engine(engine, size), anyio.CapacityLimiter(size))
        _tile_dbs[engine] = db
    return db


def _tile_work(
    engine: Engine,
    settings: Settings,
    credential: Credential,
    method: str,
    tile: tuple[str, int, int, int],
    if_none_match: str | None,
) -> tuple[int, bytes, str | None]:
    """Session, scope, tile and ETag on one tile connection: (status, body, ETag)."""

    def work() -> tuple[int, bytes, str | None]:
        with engine.connect() as conn:
            session = session_for(conn, credential, method, None)
            scope = scope_for(conn, session.user, tz=settings.timezone)
            body = tiles.tile(
                conn, scope, *tile, point_zoom=settings.tiles_point_zoom, planner_settings=False
            )
        if not body:
            return 204, b"", None
        etag = tiles.tile_etag(body)
        return (304 if _matches(if_none_match, etag) else 200), body, etag

    return retry_disconnect(engine, work)


@router.get(
    "/{layer}/{z}/{x}/{y}.mvt",
    response_class=Response,
    responses={200: _TILE, 204: {"description": "nothing in scope in this tile"}, 304: {}},
)
async def get_tile(
    layer: str, z: int, x: int, y: int, request: Request, credential: CredentialDep
) -> Response:
    """One vector tile of ``units`` (points from the point zoom on, H3 aggregates below) or ``cells``."""
    db = _tile_db(request)
    status, body, etag = await run_sync(
        partial(
            _tile_work,
            db.engine,
            request.app.state.settings,
            credential,
            request.method,
            (layer, z, x, y),
            request.headers.get("if-none-match"),
        ),
        limiter=db.slots,
    )
    headers = dict(_HEADERS)
    if etag is not None:
        headers["ETag"] = etag
    if status == 200:
        return Response(body, media_type=tiles.MEDIA_TYPE, headers=headers)
    return Response(status_code=status, headers=headers)
