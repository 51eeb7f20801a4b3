"""Field edits, doors (add, split, merge, retire) and history on a private tiny territory.

Expected figures are computed by hand from the units of tests/grids/edits_world.py (cell A holds
u1 stock 2 own lines 100 RMB, u2 competing 1 own 1 rival 50 RMB, u4 potential; cell B holds u3
other_network 2 rival lines).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from gridmarket.grids import doors, history, records
from gridmarket.grids.errors import Forbidden, NotFound, ValidationFailed
from gridmarket.grids.units import lock_territory
from tests.grids.edits_world import build, cell, scope_of, versions


@pytest.fixture
def db(new_database: Callable[[str], Engine]) -> Iterator[Engine]:
    eng = build(new_database("records"))
    yield eng
    eng.dispose()


def test_edit_writes_one_new_version_and_metrics_follow(db: Engine) -> None:
    with db.begin() as conn:
        before = cell(conn, "A")
        assert (before["units"], before["n_stock"], before["n_competing"], before["revenue"]) == (
            3,
            1,
            1,
            150,
        )
        admin = scope_of(conn, "t-admin")
        # a rival line without a status: the status follows the counts (own 2, rival 1 → competing)
        out = records.edit_unit(
            conn,
            admin,
            "u1",
            1,
            {"fixed_lines_rival": 1, "revenue_month": "120.5"},
            source="field",
            note="扫楼",
        )
    assert out["version"] == 2
    assert set(out["changed"]) == {"fixed_lines_rival", "revenue_month", "status"}
    assert out["warnings"] == ["status: derived from the line counts: competing"]
    with db.begin() as conn:
        v = versions(conn, "u1")
        assert [x["version"] for x in v] == [1, 2]
        assert v[0]["valid_to"] is not None and v[0]["valid_to"] == v[1]["valid_from"]
        assert v[1]["valid_to"] is None and v[1]["source"] == "field" and v[1]["note"] == "扫楼"
        assert v[1]["changed_by"] == conn.scalar(text("SELECT id FROM app_user WHERE username = 't-admin'"))
        # unchanged fields copied
        assert v[1]["fixed_lines_own"] == 2 and v[1]["contact_phone"] == "13812345678"
        after = cell(conn, "A")
        assert (after["units"], after["n_stock"], after["n_competing"]) == (3, 0, 2)
        assert after["revenue"] == pytest.approx(170.5)


def test_stale_version_is_refused_with_who_and_when(db: Engine) -> None:
    with db.begin() as conn:
        am = scope_of(conn, "t-am")
        records.edit_unit(conn, am, "u2", 1, {"main_services": "宽带"}, source="api")
    with db.begin() as conn:
        admin = scope_of(conn, "t-admin")
        with pytest.raises(records.StaleVersion) as e:
            records.edit_unit(conn, admin, "u2", 1, {"main_services": "固话"}, source="api")
    assert e.value.current == 2 and e.value.changed_by == "张三" and e.value.changed_by_user == "t-am"
    with db.begin() as conn:
        assert [x["main_services"] for x in versions(conn, "u2")] == [None, "宽带"]


def test_two_writers_with_the_same_version_one_wins(db: Engine) -> None:
    barrier = threading.Barrier(2)
    results: list[Any] = []

    def write(value: str) -> None:
        try:
            with db.begin() as conn:
                scope = scope_of(conn, "t-admin")
                barrier.wait(5)
                results.append(
                    records.edit_unit(conn, scope, "u4", 1, {"main_services": value}, source="api")
                )
        except records.StaleVersion as e:
            results.append(e)

    threads = [threading.Thread(target=write, args=(v,)) for v in ("甲", "乙")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(results) == 2
    assert sum(isinstance(r, records.StaleVersion) for r in results) == 1
    assert sum(isinstance(r, dict) and r["version"] == 2 for r in results) == 1
    with db.begin() as conn:
        assert [x["version"] for x in versions(conn, "u4")] == [1, 2]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "churned"}, "status"),
        ({"fixed_lines_own": -1}, "fixed_lines_own"),
        ({"broadband_rival": 1.5}, "broadband_rival"),
        ({"revenue_month": "lots"}, "revenue_month"),
        ({"contract_end": "2026-13-01"}, "contract_end"),
        ({"contact_phone": "12345"}, "contact_phone"),
        ({"customer_code": "NOPE"}, "customer_code"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_values_name_the_field(db: Engine, change: dict[str, Any], field: str) -> None:
    with db.begin() as conn:
        admin = scope_of(conn, "t-admin")
        with pytest.raises(ValidationFailed) as e:
            records.edit_unit(conn, admin, "u1", 1, change, source="api")
    assert e.value.field == field


def test_chinese_status_customer_and_contradiction_warning(db: Engine) -> None:
    with db.begin() as conn:
        admin = scope_of(conn, "t-admin")
        # 存量 with rival lines contradicts METRICS.md: kept, reported
        out = records.edit_unit(
            conn,
            admin,
            "u3",
            1,
            {
                "status": "存量",
                "customer_code": "UC1",
                "contract_end": "2027/03/31",
                "contact_phone": "0571-8888 6666",
            },
            source="field",
        )
    assert out["warnings"] == ["status: stock with rival lines > 0"]
    with db.begin() as conn:
        v = versions(conn, "u3")[-1]
        cust = conn.scalar(text("SELECT id FROM customer WHERE source_code = 'CUST1'"))
        assert (v["status"], v["customer_id"], str(v["contract_end"])) == ("stock", cust, "2027-03-31")


def test_scope_planner_and_retired(db: Engine) -> None:
    with db.begin() as conn:
        am, planner = scope_of(conn, "t-am"), scope_of(conn, "t-planner")
        with pytest.raises(Forbidden):
            records.edit_unit(conn, am, "u3", 1, {"status": "stock"}, source="api")  # cell B
        with pytest.raises(Forbidden):
            records.edit_unit(conn, planner, "u1", 1, {"status": "stock"}, source="api")
        with pytest.raises(NotFound):
            records.edit_unit(conn, am, "nope", 1, {"status": "stock"}, source="api")
        doors.retire_unit(conn, am, "u4", 1, note="拆除")
        with pytest.raises(NotFound):
            records.edit_unit(conn, am, "u4", 1, {"status": "stock"}, source="api")


def test_split_merge_retire_add_keep_metrics_and_history(db: Engine) -> None:
    with db.begin() as conn:
        am = scope_of(conn, "t-am")
        # split u2 (competing, 1 own + 1 rival, 50 RMB) into a stock shop and an other-network shop
        out = doors.split_unit(
            conn,
            am,
            "u2",
            1,
            [
                {
                    "external_id": "u2a",
                    "room": "101",
                    "status": "stock",
                    "fixed_lines_own": 1,
                    "revenue_month": 30,
                },
                {"external_id": "u2b", "room": "102", "fixed_lines_rival": 1, "lon": 120.0041},
            ],
            source="field",
            note="一分为二",
            h3_resolution=9,
        )
        assert out["units"] == ["u2a", "u2b"]
        a = cell(conn, "A")
        # A: u1 stock 100, u4 potential, u2a stock 30, u2b other_network (derived from its counts)
        assert (a["units"], a["n_stock"], a["n_competing"], a["n_other_network"], a["n_potential"]) == (
            4,
            2,
            0,
            1,
            1,
        )
        assert a["revenue"] == pytest.approx(130)
        assert a["line_share"] == pytest.approx(3 / 4)  # own 2 + 1, all 2 + 1 + 1
    with db.begin() as conn:
        am = scope_of(conn, "t-am")
        doors.merge_units(
            conn,
            am,
            [{"external_id": "u1", "version": 1}, {"external_id": "u4", "version": 1}],
            None,
            {"revenue_month": 160},
            source="field",
            note="打通",
        )
        a = cell(conn, "A")
        assert (a["units"], a["n_stock"], a["n_potential"], a["revenue"]) == (3, 2, 0, pytest.approx(190))
        with pytest.raises(records.StaleVersion):
            doors.retire_unit(conn, am, "u1", 1, note="stale")
        with pytest.raises(Forbidden):
            doors.retire_unit(conn, am, "u3", 1, note="not mine")  # cell B
    with db.begin() as conn:
        admin = scope_of(conn, "t-admin")
        doors.retire_unit(conn, admin, "u3", 1, note="拆迁")
        b = cell(conn, "B")
        assert (b["units"], b["n_other_network"], b["opportunity"]) == (0, 0, 0)
        # a door found in the field, in cell A
        doors.add_unit(
            conn,
            admin,
            {"external_id": "n1", "address": "测试路新1号", "lon": 120.008, "lat": 30.015, "status": "潜在"},
            source="field",
            note=None,
            h3_resolution=9,
        )
        a = cell(conn, "A")
        assert (a["units"], a["n_potential"], a["opportunity"]) == (4, 1, 2)
        units_before = conn.scalar(text("SELECT count(*) FROM address_unit"))
    # the account manager may not add a unit outside cell A: 403 and nothing written
    with pytest.raises(Forbidden), db.begin() as conn:
        am = scope_of(conn, "t-am")
        doors.add_unit(
            conn,
            am,
            {"address": "测试路外1号", "lon": 120.015, "lat": 30.015},
            source="field",
            note=None,
            h3_resolution=9,
        )
    with db.begin() as conn:
        assert conn.scalar(text("SELECT count(*) FROM address_unit")) == units_before
        assert conn.scalar(text("SELECT count(*) FROM cell WHERE source = 'h3'")) == 0
        # nothing deleted: u2, u3, u4 retired with their records; events written
        retired = conn.execute(
            text("SELECT external_id FROM address_unit WHERE retired_at IS NOT NULL ORDER BY 1")
        ).scalars()
        assert list(retired) == ["u2", "u3", "u4"]
        kinds = conn.execute(text("SELECT kind FROM unit_event ORDER BY id")).scalars()
        assert list(kinds) == ["split", "merge", "retire", "add"]
        admin = scope_of(conn, "t-admin")
        h = history.unit_history(conn, admin, "u2")
        assert h["unit"]["retired_at"] is not None and h["total"] == 2
        event, v1 = h["items"]
        assert event["kind"] == "event" and event["event"] == "split"
        assert (
            event["from"] == ["u2"]
            and event["to"] == ["u2a", "u2b"]
            and event["changed_by"]["name"] == "张三"
        )
        assert v1["version"] == 1 and v1["diff"]["status"] == [None, "competing"]


def test_history_diffs_newest_first_and_masks_phones(db: Engine) -> None:
    with db.begin() as conn:
        admin = scope_of(conn, "t-admin")
        records.edit_unit(
            conn, admin, "u1", 1, {"contact_phone": "13900001111"}, source="api", note="换联系人"
        )
        records.edit_unit(
            conn, admin, "u1", 2, {"status": "competing", "fixed_lines_rival": 1}, source="field"
        )
    with db.begin() as conn:
        h = history.unit_history(conn, scope_of(conn, "t-am"), "u1")
        assert [i["version"] for i in h["items"]] == [3, 2, 1] and h["total"] == 3
        v3, v2, v1 = h["items"]
        assert v3["diff"] == {"status": ["stock", "competing"], "fixed_lines_rival": [0, 1]}
        assert v3["source"] == "field" and v3["changed_by"] == {"username": "t-admin", "name": "t-admin"}
        assert v2["diff"] == {"contact_phone": ["13812345678", "13900001111"]} and v2["note"] == "换联系人"
        assert v1["diff"]["revenue_month"] == [None, 100.0] and v1["changed_by"] is None
        masked = history.unit_history(conn, scope_of(conn, "t-planner"), "u1")["items"][1]
        assert masked["diff"] == {"contact_phone": ["138****5678", "139****1111"]} and masked["phone_masked"]
        page = history.unit_history(conn, scope_of(conn, "t-am"), "u1", limit=1, offset=1)
        assert [i["version"] for i in page["items"]] == [2] and page["total"] == 3
        # the cell: u1's 3 versions, u2's and u4's first ones; the account manager cannot read B's
        ch = history.cell_history(conn, scope_of(conn, "t-am"), "A")
        assert ch["total"] == 5 and ch["items"][0]["external_id"] == "u1" and ch["items"][0]["version"] == 3
        with pytest.raises(Forbidden):
            history.cell_history(conn, scope_of(conn, "t-am"), "B")


def test_a_split_part_outside_the_edit_scope_writes_nothing(db: Engine) -> None:
    with db.begin() as conn:
        counts = conn.execute(text("SELECT count(*), count(retired_at) FROM address_unit")).one()
    with pytest.raises(Forbidden), db.begin() as conn:
        doors.split_unit(
            conn,
            scope_of(conn, "t-am"),
            "u1",
            1,
            [{"room": "1"}, {"room": "2", "lon": 120.015, "lat": 30.005}],  # the second lies in cell B
            source="field",
            note=None,
            h3_resolution=9,
        )
    with db.begin() as conn:
        assert conn.execute(text("SELECT count(*), count(retired_at) FROM address_unit")).one() == counts
        assert conn.scalar(text("SELECT count(*) FROM unit_event")) == 0
        assert [v["version"] for v in versions(conn, "u1")] == [1]


def _phone_audits(conn: Any) -> list[tuple[str, int, dict[str, Any]]]:
    return [
        (str(u), int(n), dict(d))
        for u, n, d in conn.execute(
            text(
                "SELECT u.username, l.rows, l.detail FROM audit_log l JOIN app_user u ON u.id = l.user_id "
                "WHERE l.action = 'phones.shown' ORDER BY l.id"
            )
        )
    ]


def test_history_listing_unmasked_phones_is_audited(db: Engine) -> None:
    # CONTRACT.md: every list carrying unmasked phones is written to the audit log (who, what, rows)
    with db.begin() as conn:
        records.edit_unit(conn, scope_of(conn, "t-admin"), "u1", 1, {"main_services": "宽带"}, source="api")
    with db.begin() as conn:
        # the account manager edits cell A: u1's two versions both carry 13812345678, unmasked
        history.unit_history(conn, scope_of(conn, "t-am"), "u1")
        # the planner sees them masked: nothing to audit
        history.unit_history(conn, scope_of(conn, "t-planner"), "u1")
        history.cell_history(conn, scope_of(conn, "t-planner"), "A")
        # the cell's history for the account manager: u1's 2 versions with a phone (u2, u4 have none)
        history.cell_history(conn, scope_of(conn, "t-am"), "A")
        assert _phone_audits(conn) == [
            ("t-am", 2, {"list": "unit_history", "external_id": "u1", "offset": 0}),
            ("t-am", 2, {"list": "cell_history", "cell": "A", "offset": 0}),
        ]


def test_two_concurrent_adds_of_the_same_address_id_one_wins_the_other_is_told(db: Engine) -> None:
    """The second add, begun before the first committed, gets 422 naming external_id, not a 500."""
    started = threading.Event()
    outcome: list[BaseException | None] = []

    def add() -> None:
        try:
            with db.begin() as conn:
                started.set()
                doors.add_unit(
                    conn,
                    scope_of(conn, "t-admin"),
                    {"external_id": "dup", "address": "测试路2号", "lon": 120.003, "lat": 30.003},
                    source="field",
                    note=None,
                    h3_resolution=9,
                )
            outcome.append(None)
        except BaseException as e:  # the test reports whatever the second writer got
            outcome.append(e)

    with db.begin() as conn:
        doors.add_unit(
            conn,
            scope_of(conn, "t-admin"),
            {"external_id": "dup", "address": "测试路1号", "lon": 120.002, "lat": 30.003},
            source="field",
            note=None,
            h3_resolution=9,
        )
        second = threading.Thread(target=add)
        second.start()
        started.wait(5)
        time.sleep(1.0)  # the second writer is past its start, waiting for the first to commit
    second.join(20)
    assert len(outcome) == 1 and isinstance(outcome[0], ValidationFailed), outcome
    assert outcome[0].field == "external_id"
    with db.begin() as conn:
        rows = conn.execute(text("SELECT address FROM address_unit WHERE external_id = 'dup'")).scalars()
        assert list(rows) == ["测试路1号"]


def test_a_split_waits_for_a_territory_writer_instead_of_deadlocking(db: Engine) -> None:
    """An import holds the territory lock and writes records; a split of one of them must not deadlock."""
    got: list[BaseException | None] = []

    def split() -> None:
        try:
            with db.begin() as conn:
                doors.split_unit(
                    conn,
                    scope_of(conn, "t-admin"),
                    "u1",
                    1,
                    [{"room": "1"}, {"room": "2"}],
                    source="field",
                    note=None,
                    h3_resolution=9,
                )
            got.append(None)
        except BaseException as e:  # the test reports whatever the split got
            got.append(e)

    with db.begin() as conn:
        lock_territory(conn)  # as the address import does before it writes records
        t = threading.Thread(target=split)
        t.start()
        time.sleep(1.0)  # the split is under way, waiting for the territory
        records.edit_unit(conn, scope_of(conn, "t-admin"), "u1", 1, {"main_services": "导入"}, source="api")
    t.join(20)
    # the import's write won; the split, based on version 1, is told the unit changed
    assert len(got) == 1 and isinstance(got[0], records.StaleVersion), got
    with db.begin() as conn:
        assert [v["version"] for v in versions(conn, "u1")] == [1, 2]
