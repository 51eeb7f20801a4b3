"""The logged-in user's own area ("my area"): what their scope covers, for the map to zoom to."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from gridmarket.grids import sqlfiles
from gridmarket.grids.scope import Scope

_CITIES = (
    "SELECT code, name FROM region WHERE level = 'city' AND NOT is_unassigned "
    "AND (CAST(:ids AS integer[]) IS NULL OR id = ANY(CAST(:ids AS integer[]))) ORDER BY code"
)
_DISTRICTS = (
    "SELECT code, name FROM region WHERE level = 'district' "
    "AND id = ANY(CAST(:ids AS integer[])) ORDER BY code"
)
_GRIDS = "SELECT code, name FROM grid WHERE id = ANY(CAST(:ids AS integer[])) ORDER BY code"
_FEATURE_GRIDS = (
    "SELECT code, name, type FROM feature_grid WHERE id = ANY(CAST(:ids AS integer[])) ORDER BY code"
)


def my_area(conn: Connection, scope: Scope) -> dict[str, Any]:
    """Summarise the user's area: cities, districts, grids, characteristic grids, own cells and bbox.

    ``cells`` lists the codes of the cells a cell-, grid- or characteristic-grid-based user is
    responsible for; district- and city-wide roles get their districts and the bbox instead.
    """
    cond, params = scope.own_cell_sql("c")
    sql = sqlfiles.with_scope(sqlfiles.load("my_area.sql"), cell_scope=cond)
    row = conn.execute(text(sql), {**params, "cities": scope.city_ids()}).mappings().one()

    def rows(query: str, ids: list[int] | None) -> list[dict[str, Any]]:
        return [dict(r) for r in conn.execute(text(query), {"ids": ids}).mappings()]

    own_cells: list[str] = []
    if "so_cells" in params:
        own_cells = list(
            conn.scalars(
                text("SELECT code FROM cell WHERE id = ANY(CAST(:ids AS integer[])) ORDER BY code"),
                {"ids": params["so_cells"]},
            )
        )
    return {
        "role": scope.role,
        "everything": scope.everything,
        "cities": rows(_CITIES, scope.city_ids()),
        "districts": rows(_DISTRICTS, sorted(scope.districts)),
        "grids": rows(_GRIDS, sorted(scope.grids)),
        "feature_grids": rows(_FEATURE_GRIDS, sorted(scope.feature_grids)),
        "cells": own_cells,
        "customers": len(scope.customers),
        "cell_count": row["cells"],
        "bbox": row["bbox"],
    }
