"""A cell's card: its figures and the people answering for it on both axes of the matrix."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import text

from gridmarket.api.deps import ConnDep, ScopeDep
from gridmarket.grids import metrics, org
from gridmarket.grids.errors import NotFound

router = APIRouter(prefix="/api/v1/cells", tags=["territory"])


@router.get("/{code}")
def cell_card(code: str, conn: ConnDep, scope: ScopeDep) -> dict[str, Any]:
    """The cell with its metrics, its characteristic grids, and who answers for it.

    ``regional``: the account manager(s) of the cell and the grid manager of its grid;
    ``specialist``: the specialist teams and leads whose characteristic grids contain the cell.
    """
    cell_id = conn.scalar(text("SELECT id FROM cell WHERE code = :c"), {"c": code})
    if cell_id is None:
        raise NotFound(f"no cell {code!r}")
    scope.check_cell(conn, cell_id)
    feature = metrics.cell_feature(conn, cell_id)
    who = org.responsible_for_cell(conn, cell_id, scope.on)
    keep = (
        "staff_code",
        "name",
        "post",
        "org_unit_code",
        "org_unit_name",
        "org_unit_kind",
        "via",
        "target_code",
        "target_name",
        "valid_from",
        "valid_to",
    )
    feature_grids = [
        dict(r)
        for r in conn.execute(
            text(
                "SELECT f.code, f.name, f.type FROM feature_grid f JOIN feature_grid_cell m "
                "ON m.feature_grid_id = f.id WHERE m.cell_id = :c ORDER BY f.code"
            ),
            {"c": cell_id},
        ).mappings()
    ]
    return {
        **feature,
        "feature_grids": feature_grids,
        "responsible": {
            axis: [{k: person.get(k) for k in keep} for person in who[axis]]
            for axis in ("regional", "specialist")
        },
    }
