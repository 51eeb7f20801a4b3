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
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from gridmarket.api.deps import ConnDep, ScopeDep, SettingsDep
from gridmarket.grids import tiles

router = APIRouter(prefix="/tiles", tags=["tiles"])

_TILE = {"content": {tiles.MEDIA_TYPE: {}}, "description": "the tile"}


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        tag = candidate.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


@router.get(
    "/{layer}/{z}/{x}/{y}.mvt",
    response_class=Response,
    responses={200: _TILE, 204: {"description": "nothing in scope in this tile"}, 304: {}},
)
def get_tile(
    layer: str,
    z: int,
    x: int,
    y: int,
    request: Request,
    conn: ConnDep,
    scope: ScopeDep,
    settings: SettingsDep,
) -> Response:
    """One vector tile of ``units`` (points from the point zoom on, H3 aggregates below) or ``cells``."""
    body = tiles.tile(conn, scope, layer, z, x, y, point_zoom=settings.tiles_point_zoom)
    headers = {"Cache-Control": "private, no-cache", "Vary": "Authorization, Cookie"}
    if not body:
        return Response(status_code=204, headers=headers)
    etag = tiles.tile_etag(body)
    headers["ETag"] = etag
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=tiles.MEDIA_TYPE, headers=headers)
