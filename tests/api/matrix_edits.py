"""Permission rows of field edits, doors, history and bulk changes (helper "edits").

Every write case gets, per role, its own unit made in :func:`prepare` (loaded with the loaders'
own function at an interior point of the case's cell, version 1), so the cases never collide: a
role allowed to write changes only its own unit. Who may write where (CONTRACT.md): the account
manager their cell, the grid manager their grid, the regional head their district, the specialist
lead their characteristic grid, city manager / admin their city / everything; the planner never.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, text

from gridmarket.grids import auth, bulk
from gridmarket.grids.scope import scope_for
from gridmarket.grids.units import load_units
from tests.api.matrix_common import AM, CM, GM, PL, RH, ROLES, SL, A, Case, World, everyone, only
from tests.helpers import unit

# the cells of the world each case writes in, and who (besides admin and city manager) edits there
CELLS = {"am": "am_cell", "gm": "gm_cell", "out": "outside_cell", "fg": "fg_cell"}
KINDS = {
    "patch": ("am", "gm", "out", "fg"),
    "split": ("am", "gm"),
    "merge_a": ("am",),
    "merge_b": ("am",),
    "retire": ("am", "out"),
    "bulk": ("am", "fg"),
    "undo": ("am",),
}


def prepare(engine: Engine, world: World) -> None:
    """Load one unit per (kind, cell, role); one bulk batch per role to undo, one to read."""
    rows = []
    points: dict[str, tuple[float, float]] = {}
    with engine.begin() as conn:
        for key, attr in CELLS.items():
            lon, lat = conn.execute(
                text(
                    "SELECT ST_X(p), ST_Y(p) FROM "
                    "(SELECT ST_PointOnSurface(geom) AS p FROM cell WHERE code = :c) s"
                ),
                {"c": getattr(world, attr)},
            ).one()
            points[key] = (float(lon), float(lat))
        for kind, cells in KINDS.items():
            for key in cells:
                for role in ROLES:
                    lon, lat = points[key]
                    rows.append(unit(f"T-E-{kind}-{key}-{role}", lon, lat, "stock", fixed_lines_own=1))
        lon, lat = points["am"]
        rows.append(unit("T-E-read", lon, lat, "potential"))
        load_units(
            conn,
            iter(rows),
            source="import",
            valid_from=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
            h3_resolution=9,
        )
        admin = auth.get_user(conn, "admin")
        assert admin is not None
        scope = scope_for(conn, admin)
        batches = {}
        for role in ROLES:
            body = {"selection": {"units": [f"T-E-undo-am-{role}"]}, "change": {"main_services": "批量"}}
            batches[role] = bulk.apply(conn, scope, body, "matrix")["id"]
        read = bulk.apply(
            conn, scope, {"selection": {"units": ["T-E-read"]}, "change": {"status": "vacant"}}, None
        )
    with engine.connect() as conn:
        fg_in_gm_grid = conn.scalar(
            text("SELECT f.grid_id = g.id FROM cell f, grid g WHERE f.code = :f AND g.code = :g"),
            {"f": world.fg_cell, "g": world.gm_grid},
        )
    for expected, code in _FG_CASES:
        expected[GM] = code if fg_in_gm_grid else 403
    world.extra["edits"] = {"points": points, "batches": batches, "read_batch": read["id"]}


def _u(kind: str, key: str) -> Any:
    return lambda w, r: f"T-E-{kind}-{key}-{r}"


# expectations of the cases in the characteristic grid's cell: the grid manager edits there too
# when that cell lies in their grid (it does in the demo world); prepare() settles it from the data
_FG_CASES: list[tuple[dict[str, int], int]] = []


def _writers(key: str, code: int) -> dict[str, int]:
    who = {"am": AM, "gm": GM, "out": RH, "fg": SL}[key]
    expected = only({A: code, CM: code, who: code})
    if key == "fg":
        _FG_CASES.append((expected, code))
    return expected


def _patch(key: str) -> Case:
    return (
        lambda w, r: f"/api/v1/units/T-E-patch-{key}-{r}",
        {"version": 1, "main_services": "专线", "note": "matrix"},
        _writers(key, 200),
    )


def _add(key: str) -> Case:
    def body(w: World, r: str) -> dict[str, Any]:
        lon, lat = w.extra["edits"]["points"][key]
        return {"external_id": f"T-E-add-{key}-{r}", "address": "测试新门", "lon": lon, "lat": lat}

    return (lambda w, r: "/api/v1/units", body, _writers(key, 201))


def _split(key: str) -> Case:
    return (
        lambda w, r: f"/api/v1/units/T-E-split-{key}-{r}/split",
        {"version": 1, "parts": [{"room": "甲"}, {"room": "乙", "status": "potential"}]},
        _writers(key, 201),
    )


def _retire(key: str) -> Case:
    return (
        lambda w, r: f"/api/v1/units/T-E-retire-{key}-{r}/retire",
        {"version": 1, "note": "拆除"},
        _writers(key, 200),
    )


def _bulk(key: str) -> Case:
    return (
        lambda w, r: "/api/v1/bulk",
        lambda w, r: {"selection": {"units": [f"T-E-bulk-{key}-{r}"]}, "change": {"status": "competing"}},
        _writers(key, 201),
    )


ROWS: dict[tuple[str, str], list[Case]] = {
    ("PATCH", "/api/v1/units/{external_id}"): [_patch(k) for k in KINDS["patch"]]
    + [
        (
            lambda w, r: "/api/v1/units/NO-SUCH-UNIT",
            {"version": 1, "status": "stock"},
            only({A: 404, CM: 404, RH: 404, SL: 404, GM: 404, AM: 404}),
        )
    ],
    ("POST", "/api/v1/units"): [_add("am"), _add("out")],
    ("POST", "/api/v1/units/{external_id}/split"): [_split(k) for k in KINDS["split"]],
    ("POST", "/api/v1/units/merge"): [
        (
            lambda w, r: "/api/v1/units/merge",
            lambda w, r: {
                "units": [
                    {"external_id": f"T-E-merge_a-am-{r}", "version": 1},
                    {"external_id": f"T-E-merge_b-am-{r}", "version": 1},
                ],
                "note": "打通",
            },
            _writers("am", 200),
        )
    ],
    ("POST", "/api/v1/units/{external_id}/retire"): [_retire(k) for k in KINDS["retire"]],
    ("GET", "/api/v1/units/{external_id}/history"): [
        (lambda w, r: "/api/v1/units/T-E-read/history", None, only({A: 200, CM: 200, PL: 200, AM: 200})),
        (lambda w, r: "/api/v1/units/NO-SUCH-UNIT/history", None, everyone(404)),
    ],
    ("GET", "/api/v1/cells/{code}/history"): [
        (
            lambda w, r: f"/api/v1/cells/{w.am_cell}/history",
            None,
            only({A: 200, CM: 200, PL: 200, SL: 200, AM: 200}),
        ),
        (
            lambda w, r: f"/api/v1/cells/{w.outside_cell}/history",
            None,
            only({A: 200, CM: 200, PL: 200, SL: 200, RH: 200}),
        ),
    ],
    ("POST", "/api/v1/bulk/preview"): [
        (
            lambda w, r: "/api/v1/bulk/preview",
            {"selection": {"units": ["T-E-read"]}, "change": {"status": "stock"}},
            only({A: 200, CM: 200, RH: 200, SL: 200, GM: 200, AM: 200}),
        )
    ],
    ("POST", "/api/v1/bulk"): [_bulk(k) for k in KINDS["bulk"]],
    ("GET", "/api/v1/bulk/{batch_id}"): [
        (
            lambda w, r: f"/api/v1/bulk/{w.extra['edits']['read_batch']}",
            None,
            only({A: 200, CM: 200, PL: 200, AM: 200}),
        ),
        (lambda w, r: "/api/v1/bulk/999999999", None, everyone(404)),
    ],
    ("POST", "/api/v1/bulk/{batch_id}/undo"): [
        (
            lambda w, r: f"/api/v1/bulk/{w.extra['edits']['batches'][r]}/undo",
            {"note": "撤销"},
            _writers("am", 201),
        )
    ],
}
