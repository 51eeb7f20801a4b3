"""Permission rows of the vector tiles (/tiles/{layer}/{z}/{x}/{y}.mvt).

The cases use the zoom-22 tile (about 10 m wide) holding the account manager's unit, so that
every unit and cell polygon in it belongs to that unit's cell: roles that may read the unit get
200 with the tile, the others 204 (nothing of theirs in it), never 403; a tile outside the
pyramid is 404 for everyone logged in; no login is 401.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, text

from gridmarket.geo.tiles import lonlat_to_tile
from tests.api.matrix_common import AM, ANON, CM, GM, PL, RH, SL, A, Case, World, everyone

PATH = "/tiles/{layer}/{z}/{x}/{y}.mvt"


def prepare(engine: Engine, world: World) -> None:
    """The zoom-22 tile of the account manager's unit."""
    with engine.connect() as conn:
        lon, lat = conn.execute(
            text("SELECT ST_X(geom), ST_Y(geom) FROM address_unit WHERE external_id = :e"),
            {"e": world.am_unit},
        ).one()
    world.extra["tile_am_unit"] = (22, *lonlat_to_tile(lon, lat, 22))


def _tile(layer: str) -> Callable[[World, str], str]:
    def make(w: World, role: str) -> str:
        z, x, y = w.extra["tile_am_unit"]
        return f"/tiles/{layer}/{z}/{x}/{y}.mvt"

    return make


ROWS: dict[tuple[str, str], list[Case]] = {
    ("GET", PATH): [
        # units: the account manager's cell is in none of the regional head's, grid manager's or
        # specialist lead's cells (their units: 204); city-wide roles and the AM read it
        (
            _tile("units"),
            None,
            {A: 200, CM: 200, PL: 200, AM: 200, RH: 204, GM: 204, SL: 204, ANON: 401},
        ),
        # cells: the specialist lead reads the figures of every cell of the city (Scope.cell_sql)
        (
            _tile("cells"),
            None,
            {A: 200, CM: 200, PL: 200, AM: 200, SL: 200, RH: 204, GM: 204, ANON: 401},
        ),
        (lambda w, r: "/tiles/units/3/8/0.mvt", None, everyone(404)),
        (lambda w, r: "/tiles/roads/3/0/0.mvt", None, everyone(404)),
        (lambda w, r: "/tiles/units/x/0/0.mvt", None, everyone(422)),
    ],
}
