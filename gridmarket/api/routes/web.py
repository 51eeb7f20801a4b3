"""The web app's page and static files (our own, and the npm packages installed by the set-up)."""

from __future__ import annotations

from pathlib import Path

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from gridmarket import __version__
from gridmarket.api.deps import SESSION_COOKIE
from gridmarket.grids.settings import Settings

router = APIRouter(include_in_schema=False)

_env = Environment(loader=PackageLoader("gridmarket.web", "templates"), autoescape=select_autoescape())

_JSON_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"}


def _config_json(settings: Settings, session_cookie: bool = False) -> Markup:
    data = {
        "tile_url": settings.tile_url or None,
        "tile_attribution": settings.tile_attribution,
        "timezone": settings.timezone,
        # a session cookie came with the page (it may have expired): the app asks for the
        # session and the cities at once instead of one after the other
        "session_cookie": session_cookie,
    }
    # JSON placed in a <script> element: escape the characters that could end it
    return Markup(orjson.dumps(data).decode().translate(_JSON_ESCAPES))


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> HTMLResponse:
    """Serve the holistic map."""
    settings: Settings = request.app.state.settings
    html = _env.get_template("index.html").render(
        tile_url=settings.tile_url,
        tile_attribution=settings.tile_attribution,
        version=__version__,
        config_json=_config_json(settings, SESSION_COOKIE in request.cookies),
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


VECTOR_TILE_PACKAGES = {
    "vector-tile": "@mapbox/vector-tile",
    "point-geometry": "@mapbox/point-geometry",
    "pbf": "pbf",
}
"""URL folder under /static/vendor/ → npm package (ES modules, served as they are installed)."""


def node_modules_dir(settings: Settings) -> Path:
    """Return the folder of the npm packages (installed by the set-up with ``npm ci``)."""
    if settings.node_modules is not None:
        return settings.node_modules
    here = Path(__file__).resolve().parents[3] / "node_modules"
    return here if here.is_dir() else Path.cwd() / "node_modules"


def mount_static(app: FastAPI, settings: Settings) -> None:
    """Mount our static files and the front-end packages; fail clearly when npm ci has not run."""
    app.mount("/static/app", StaticFiles(packages=[("gridmarket.web", "static")]), name="static-app")
    leaflet = node_modules_dir(settings) / "leaflet" / "dist"
    if not leaflet.is_dir():
        raise RuntimeError(
            f"front-end packages are missing ({leaflet}); run `npm ci` in the project folder (make run does)"
        )
    app.mount("/static/vendor/leaflet", StaticFiles(directory=leaflet), name="static-leaflet")
    # the vector-tile decoder of units_layer.js: ES modules, loaded by import() (see index.html's import map)
    for name, package in VECTOR_TILE_PACKAGES.items():
        folder = node_modules_dir(settings) / package
        if not (folder / "index.js").is_file():
            raise RuntimeError(
                f"front-end package {package} is missing ({folder}); run `npm ci` (make run does)"
            )
        app.mount(f"/static/vendor/{name}", StaticFiles(directory=folder), name=f"static-{name}")
    app.mount(
        "/static/vendor/simple-statistics",
        StaticFiles(directory=node_modules_dir(settings) / "simple-statistics" / "dist"),
        name="static-simple-statistics",
    )
