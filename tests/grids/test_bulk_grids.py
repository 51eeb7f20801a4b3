"""Bulk changes (private tiny territory): preview, apply as one batch, undo,
an undo blocked by a later edit."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, text

from gridmarket.grids import auth, bulk, records
from gridmarket.grids.errors import Conflict, Forbidden, ValidationFailed
from tests.grids.edits_world import PASSWORD, build, cell, scope_of, versions

# cell A and B of the tiny territory: a lasso around all of D selects u1..u4
ALL_D = {
    "type": "Polygon",
    "coordinates": [[[119.99, 29.99], [120.03, 29.99], [120.03, 30.03], [119.99, 30.03], [119.99, 29.99]]],
}


@pytest.fixture
def db(new_database: Callable[[str], Engine]) -> Iterator[Engine]:
    eng = build(new_database("bulk"))
    yield eng
    eng.dispose()


def test_preview_counts_scope_and_samples(db: Engine) -> None:
    with db.begin() as conn:
        am = scope_of(conn, "t-am")
        body = {"selection": {"polygon": ALL_D}, "change": {"status": "vacant"}}
        p = bulk.preview(conn, am, body)
        # u1, u2, u4 in cell A are the AM's; u3 in cell B they cannot even read: not mentioned
        assert (p["count"], p["changing"], p["outside_scope"]) == (3, 3, 0)
        everyone = bulk.preview(conn, scope_of(conn, "t-admin"), body)
        assert (everyone["count"], everyone["outside_scope"]) == (4, 0)
        # the planner reads the whole city and edits nothing
        planned = bulk.preview(conn, scope_of(conn, "t-planner"), body)
        assert (planned["count"], planned["outside_scope"], planned["sample"]) == (0, 4, [])
        s = p["sample"][0]
        assert (
            s["external_id"] == "u1"
            and s["current"] == {"status": "stock"}
            and s["new"] == {"status": "vacant"}
        )
        assert p["warnings"] == {"status: vacant with own or rival lines > 0": 2}  # u1, u2 have lines
        listed = bulk.preview(
            conn, am, {"selection": {"units": ["u1", "u3", "zz"]}, "change": {"status": "vacant"}}
        )
        assert (listed["count"], listed["outside_scope"], listed["not_found"]) == (1, 1, 1)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"selection": {}, "change": {"status": "stock"}}, "selection"),
        (
            {"selection": {"polygon": {"type": "Point", "coordinates": [1, 2]}}, "change": {"status": "x"}},
            "selection.polygon",
        ),
        (
            {
                "selection": {
                    "polygon": {
                        "type": "Polygon",
                        "coordinates": [[[120, 30], [121, 30], [121, 31], [120, 31]]],
                    }
                }
            },
            "selection.polygon",
        ),
        ({"selection": {"units": ["u1"]}, "change": {"status": "gone"}}, "change.status"),
        ({"selection": {"units": ["u1"]}, "change": {"customer_code": "CUST1"}}, "change.customer_code"),
        ({"selection": {"units": ["u1"] * 5001}, "change": {"status": "stock"}}, "selection.units"),
    ],
)
def test_bad_bulk_requests_name_the_field(db: Engine, body: dict[str, object], field: str) -> None:
    with db.begin() as conn, pytest.raises(ValidationFailed) as e:
        bulk.preview(conn, scope_of(conn, "t-admin"), body)
    assert e.value.field == field


def test_apply_and_undo(db: Engine) -> None:
    body = {
        "selection": {"units": ["u1", "u2", "u4", "u3"]},
        "change": {"status": "other_network", "rival_operator": "中国联通"},
    }
    with db.begin() as conn:
        am = scope_of(conn, "t-am")
        out = bulk.apply(conn, am, body, "批量改他网")
    # u3 is outside the AM's scope: untouched
    assert out["unit_count"] == 3 and out["outside_scope"] == 1 and out["kind"] == "bulk"
    assert [u["external_id"] for u in out["units"]] == ["u1", "u2", "u4"]
    with db.begin() as conn:
        a = cell(conn, "A")
        assert (a["n_other_network"], a["n_stock"], a["n_competing"], a["n_potential"]) == (3, 0, 0, 0)
        assert a["rival_mix"] == {"中国联通": 3}
        v = versions(conn, "u1")[-1]
        assert (v["version"], v["source"], v["batch_id"], v["note"]) == (2, "bulk", out["id"], "批量改他网")
        assert versions(conn, "u3")[-1]["version"] == 1
        audit = conn.execute(text("SELECT action, rows FROM audit_log ORDER BY id DESC LIMIT 1")).one()
        assert tuple(audit) == ("bulk.apply", 3)
    with db.begin() as conn:
        undone = bulk.undo(conn, scope_of(conn, "t-am"), out["id"], "撤销")
    assert undone["kind"] == "undo" and undone["undo_of"] == out["id"] and undone["unit_count"] == 3
    with db.begin() as conn:
        a = cell(conn, "A")
        assert (a["n_other_network"], a["n_stock"], a["n_competing"], a["n_potential"]) == (0, 1, 1, 1)
        assert a["rival_mix"] == {"unknown": 1}  # u2 competing again, no rival named
        vs = versions(conn, "u2")
        assert [x["version"] for x in vs] == [1, 2, 3]
        assert (vs[2]["status"], vs[2]["rival_operator"], vs[2]["batch_id"]) == (
            "competing",
            None,
            undone["id"],
        )
        with pytest.raises(Conflict):
            bulk.undo(conn, scope_of(conn, "t-am"), out["id"], None)  # undone already


def test_undo_blocked_by_a_later_edit(db: Engine) -> None:
    with db.begin() as conn:
        out = bulk.apply(
            conn,
            scope_of(conn, "t-admin"),
            {"selection": {"polygon": ALL_D}, "change": {"main_services": "专线"}},
            None,
        )
    assert out["unit_count"] == 4
    with db.begin() as conn:
        records.edit_unit(conn, scope_of(conn, "t-am"), "u2", 2, {"main_services": "宽带"}, source="field")
    with db.begin() as conn, pytest.raises(bulk.BatchConflict) as e:
        bulk.undo(conn, scope_of(conn, "t-admin"), out["id"], None)
    assert [(u["external_id"], u["current_version"], u["changed_by"]) for u in e.value.units] == [
        ("u2", 3, "张三")
    ]
    with db.begin() as conn:
        # nothing undone: every unit still at the batch's version or the later edit
        assert [versions(conn, u)[-1]["version"] for u in ("u1", "u2", "u3", "u4")] == [2, 3, 2, 2]
        assert conn.scalar(text("SELECT count(*) FROM edit_batch WHERE kind = 'undo'")) == 0
        # the account manager may not undo a batch touching cell B
        with pytest.raises(Forbidden):
            bulk.undo(conn, scope_of(conn, "t-am"), out["id"], None)


def test_a_self_intersecting_lasso_is_repaired(db: Engine) -> None:
    # a figure of eight crossing at (120.01, 30.005): the west lobe holds u1, u2, u4 (at x = 120.002
    # it spans 30.001..30.009, at 120.006 30.003..30.007), the east lobe u3 (120.015, 30.005)
    eight = {
        "type": "Polygon",
        "coordinates": [[[120.0, 30.0], [120.02, 30.01], [120.02, 30.0], [120.0, 30.01], [120.0, 30.0]]],
    }
    with db.begin() as conn:
        p = bulk.preview(
            conn, scope_of(conn, "t-admin"), {"selection": {"polygon": eight}, "change": {"status": "stock"}}
        )
    assert p["count"] == 4


def test_a_phone_set_in_bulk_is_masked_for_the_planner_and_previews_are_audited(db: Engine) -> None:
    body = {"selection": {"units": ["u1", "u2"]}, "change": {"contact_phone": "13911112222"}}
    with db.begin() as conn:
        am = scope_of(conn, "t-am")
        # the sample shows u1's current phone (13812345678) unmasked to its editor: one audited phone
        p = bulk.preview(conn, am, body)
        assert p["sample"][0]["current"] == {"contact_phone": "13812345678"}
        audits = conn.execute(
            text("SELECT rows, detail FROM audit_log WHERE action = 'phones.shown' ORDER BY id")
        ).all()
        assert [(n, d) for n, d in audits] == [(1, {"list": "bulk_preview"})]
        out = bulk.apply(conn, am, body, None)
    with db.begin() as conn:
        # the planner reads both units (city C) but never sees a phone unmasked (CONTRACT.md)
        seen = bulk.batch_info(conn, scope_of(conn, "t-planner"), out["id"])
        assert seen["change"] == {"contact_phone": "139****2222"}
        assert bulk.batch_info(conn, scope_of(conn, "t-am"), out["id"])["change"] == body["change"]


def test_a_batch_that_changed_nothing_cannot_be_undone_from_another_city(db: Engine) -> None:
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO region (id, code, name, level, parent_id, city_id) "
                "VALUES (4, 'C2', '另一市', 'city', 1, 4)"
            )
        )
        auth.add_user(conn, "t-cm2", "city_manager", PASSWORD, region_code="C2")
        # u1 is stock already: the batch changes no unit
        out = bulk.apply(
            conn,
            scope_of(conn, "t-admin"),
            {"selection": {"units": ["u1"]}, "change": {"status": "stock"}},
            None,
        )
    assert out["unit_count"] == 0 and out["units"] == []
    with db.begin() as conn:
        other = scope_of(conn, "t-cm2")
        with pytest.raises(Forbidden):
            bulk.batch_info(conn, other, out["id"])
        with pytest.raises(Forbidden):
            bulk.undo(conn, other, out["id"], None)
    with db.begin() as conn:
        assert conn.scalar(text("SELECT count(*) FROM edit_batch WHERE undo_of = :b"), {"b": out["id"]}) == 0
