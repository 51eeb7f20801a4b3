"""Permission rows of an area's people (GET /api/v1/areas/{level}/{area}/people).

The rule of the area's metrics (CONTRACT.md "Roles and scope"): an area opens for whoever may read
one of its cells — the admin everything, the city-wide roles and the specialist lead their city,
the regional head its district, the grid manager its grid's cells, the account manager its cells —
and is 403 for anyone else; a cell opens as its card does. The whole city is readable by every
scoped role (each holds cells in it, and sees only their people); another city only by the admin.
An unknown area is 404, an unknown level 422, no login 401.
"""

from __future__ import annotations

from tests.api.matrix_common import AM, CM, GM, PL, RH, SL, A, Case, everyone, only

ROWS: dict[tuple[str, str], list[Case]] = {
    ("GET", "/api/v1/areas/{level}/{area}/people"): [
        (lambda w, r: f"/api/v1/areas/city/{w.city}/people", None, everyone(200)),
        (lambda w, r: f"/api/v1/areas/city/{w.other_city}/people", None, only({A: 200})),
        (
            lambda w, r: f"/api/v1/areas/district/{w.district}/people",
            None,
            only({A: 200, CM: 200, PL: 200, SL: 200, RH: 200}),
        ),
        (
            lambda w, r: f"/api/v1/areas/grid/{w.gm_grid}/people",
            None,
            only({A: 200, CM: 200, PL: 200, SL: 200, GM: 200}),
        ),
        (
            lambda w, r: f"/api/v1/areas/cell/{w.am_cell}/people",
            None,
            only({A: 200, CM: 200, PL: 200, SL: 200, AM: 200}),
        ),
        (
            lambda w, r: "/api/v1/areas/feature_grid/T-FG/people",
            None,
            only({A: 200, CM: 200, PL: 200, SL: 200, GM: 200}),
        ),
        (lambda w, r: "/api/v1/areas/grid/no-such-grid/people", None, everyone(404)),
        (lambda w, r: "/api/v1/areas/planet/x/people", None, everyone(422)),
    ],
}
