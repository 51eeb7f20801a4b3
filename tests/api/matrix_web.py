"""Permission rows of the web app's own routes: search and an area's top customers.

Every logged-in role may search and list an area's top customers (both keep to the caller's
scope: items outside it are simply not listed, see tests/api/test_search.py); no login is 401;
a query of fewer than 2 characters, or an unknown level, is 422; an unknown area 404.
"""

from __future__ import annotations

from tests.api.matrix_common import Case, everyone

ROWS: dict[tuple[str, str], list[Case]] = {
    ("GET", "/api/v1/search"): [
        (lambda w, r: f"/api/v1/search?q={w.am_unit}", None, everyone(200)),
        (lambda w, r: "/api/v1/search?q=x", None, everyone(422)),
    ],
    ("GET", "/api/v1/areas/{level}/{area}/top-customers"): [
        (lambda w, r: f"/api/v1/areas/cell/{w.am_cell}/top-customers", None, everyone(200)),
        (lambda w, r: f"/api/v1/areas/city/{w.city}/top-customers", None, everyone(200)),
        (lambda w, r: "/api/v1/areas/grid/no-such-grid/top-customers", None, everyone(404)),
        (lambda w, r: "/api/v1/areas/planet/x/top-customers", None, everyone(422)),
    ],
}
