"""Visits and sweep coverage on the hand-made world of fieldwork_world.

Cell A holds 7 live units (t101, t102, t110, t301, t0, a1, a2), cell B 2 (b1, b2). The visits,
in Asia/Shanghai time, against the period June 2025 (2025-06-01 00:00 to 2025-07-01 00:00):

    t101  2025-06-03 10:00 and 2025-06-20 09:00   in the period (counts once)
    t102  2025-06-30 23:30                        in the period (its last half hour)
    a1    2025-05-31 23:59                        before it
    t301  2025-07-01 00:00                        after it (the end is exclusive)
    t110  now                                     this month, not stale

→ June: visited 2 of 7, coverage 2/7. Not visited for 30 days: never visited a2, t0 (first, by
address id), then by oldest last visit a1, t101, t102, t301 — 6 units.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from sqlalchemy import Connection, Engine

from gridmarket.grids import auth, visits
from gridmarket.grids.errors import Forbidden, NotFound, ValidationFailed
from gridmarket.grids.scope import Scope, scope_for
from tests.grids.fieldwork_world import SH, TZ, build_world

JUNE = (dt.date(2025, 6, 1), dt.date(2025, 6, 30))


def scope(conn: Connection, username: str) -> Scope:
    user = auth.get_user(conn, username)
    assert user is not None
    return scope_for(conn, user, tz=TZ)


@pytest.fixture(scope="module")
def world(new_database: Callable[[str], Engine]) -> Engine:
    eng = build_world(new_database("visits"))
    with eng.begin() as conn:
        gm = scope(conn, "fw-gm")
        for ext, at in (
            ("t101", dt.datetime(2025, 6, 3, 10, tzinfo=SH)),
            ("t101", dt.datetime(2025, 6, 20, 9, tzinfo=SH)),
            ("t102", dt.datetime(2025, 6, 30, 23, 30, tzinfo=SH)),
            ("a1", dt.datetime(2025, 5, 31, 23, 59, tzinfo=SH)),
            ("t301", dt.datetime(2025, 7, 1, 0, 0, tzinfo=SH)),
        ):
            visits.add_visit(conn, gm, ext, outcome="met", visited_at=at, tz=TZ)
        visits.add_visit(conn, gm, "t110", outcome="interested", note="想了解专线", tz=TZ)
    return eng


def test_log_a_visit_with_position(world: Engine) -> None:
    with world.connect() as conn:
        v = visits.add_visit(
            conn,
            scope(conn, "fw-am"),
            "b1",
            outcome="not_met",
            note="门关着",
            visited_at=dt.datetime(2025, 1, 2, 15, 30),  # naive: operator's time zone
            lon=120.0111,
            lat=30.0012,
            accuracy_m=8.5,
            tz=TZ,
        )
        assert (v["external_id"], v["outcome"], v["note"], v["visited_by"], v["cell_code"]) == (
            "b1",
            "not_met",
            "门关着",
            "fw-am",
            "B",
        )
        assert (v["lon"], v["lat"], v["accuracy_m"]) == (120.0111, 30.0012, 8.5)
        assert dt.datetime.fromisoformat(v["visited_at"]) == dt.datetime(2025, 1, 2, 15, 30, tzinfo=SH)
        conn.rollback()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"outcome": "chatted"}, "outcome"),
        ({"outcome": "met", "visited_at": dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)}, "visited_at"),
        ({"outcome": "met", "lon": 120.0}, "lat"),
        ({"outcome": "met", "lat": 30.0}, "lon"),
        ({"outcome": "met", "lon": 200.0, "lat": 30.0}, "lon"),
        ({"outcome": "met", "lon": 120.0, "lat": -91.0}, "lat"),
        ({"outcome": "met", "lon": 120.0, "lat": 30.0, "accuracy_m": -1.0}, "accuracy_m"),
        ({"outcome": "met", "accuracy_m": 5.0}, "accuracy_m"),
        ({"outcome": "met", "lon": 120.0, "lat": 30.0, "accuracy_m": float("inf")}, "accuracy_m"),
        ({"outcome": "met", "lon": float("nan"), "lat": 30.0}, "lon"),
        ({"outcome": "met", "note": "x" * 2001}, "note"),
    ],
)
def test_bad_visits_name_the_field_and_write_nothing(
    world: Engine, kwargs: dict[str, object], field: str
) -> None:
    with world.connect() as conn:
        with pytest.raises(ValidationFailed) as e:
            visits.add_visit(conn, scope(conn, "fw-gm"), "a1", tz=TZ, **kwargs)  # type: ignore[arg-type]
        assert e.value.field == field
        assert visits.unit_visits(conn, scope(conn, "fw-gm"), "a1")["total"] == 1


def test_who_may_log_and_read_visits(world: Engine) -> None:
    with world.connect() as conn:
        with pytest.raises(Forbidden):  # a planner edits nothing
            visits.add_visit(conn, scope(conn, "fw-pl"), "a1", outcome="met", tz=TZ)
        with pytest.raises(Forbidden):  # cell A is not fw-am2's
            visits.add_visit(conn, scope(conn, "fw-am2"), "a1", outcome="met", tz=TZ)
        with pytest.raises(NotFound):
            visits.add_visit(conn, scope(conn, "fw-gm"), "nope", outcome="met", tz=TZ)
        listed = visits.unit_visits(conn, scope(conn, "fw-pl"), "t101")  # planners read
        assert [v["visited_at"][:10] for v in listed["visits"]] == ["2025-06-20", "2025-06-03"]
        assert listed["total"] == 2 and listed["visits"][0]["visited_by"] == "fw-gm"
        with pytest.raises(Forbidden):
            visits.unit_visits(conn, scope(conn, "fw-am2"), "t101")


def test_sweep_coverage_of_a_cell(world: Engine) -> None:
    with world.connect() as conn:
        s = visits.cell_sweep(conn, scope(conn, "fw-cm"), "A", start=JUNE[0], end=JUNE[1], tz=TZ)
        assert (s["units"], s["visited"]) == (7, 2)
        assert s["coverage"] == pytest.approx(2 / 7)
        stale = s["not_visited_for_n_days"]
        assert stale["total"] == 6
        assert [u["external_id"] for u in stale["units"]] == ["a2", "t0", "a1", "t101", "t102", "t301"]
        assert stale["units"][0]["last_visit"] is None
        assert dt.datetime.fromisoformat(stale["units"][2]["last_visit"]) == dt.datetime(
            2025, 5, 31, 23, 59, tzinfo=SH
        )
        page = visits.cell_sweep(
            conn, scope(conn, "fw-cm"), "A", start=JUNE[0], end=JUNE[1], limit=2, offset=2, tz=TZ
        )
        assert [u["external_id"] for u in page["not_visited_for_n_days"]["units"]] == ["a1", "t101"]
        # July 1st alone: t301 only
        july = visits.cell_sweep(
            conn, scope(conn, "fw-cm"), "A", start=dt.date(2025, 7, 1), end=dt.date(2025, 7, 1), tz=TZ
        )
        assert (july["units"], july["visited"]) == (7, 1)
        # default period: this month, where only t110 was visited (now)
        now = visits.cell_sweep(conn, scope(conn, "fw-cm"), "A", tz=TZ)
        assert (now["units"], now["visited"]) == (7, 1)
        assert now["from"][8:] == "01"
        # stale_days 0: every unit whose last visit is before now, t110 included
        assert (
            visits.cell_sweep(conn, scope(conn, "fw-cm"), "A", stale_days=0, tz=TZ)["not_visited_for_n_days"][
                "total"
            ]
            == 7
        )


def test_sweep_counts_only_units_the_caller_may_read(world: Engine) -> None:
    with world.connect() as conn:
        am = visits.cell_sweep(conn, scope(conn, "fw-am"), "A", start=JUNE[0], end=JUNE[1], tz=TZ)
        assert (am["units"], am["visited"], am["coverage"]) == (1, 1, 1.0)  # t101 (customer CU1)
        b = visits.cell_sweep(conn, scope(conn, "fw-am2"), "B", start=JUNE[0], end=JUNE[1], tz=TZ)
        assert (b["units"], b["visited"], b["coverage"]) == (2, 0, 0.0)
        with pytest.raises(Forbidden):
            visits.cell_sweep(conn, scope(conn, "fw-am2"), "A", tz=TZ)
        with pytest.raises(ValidationFailed) as e:
            visits.cell_sweep(conn, scope(conn, "fw-cm"), "A", start=JUNE[1], end=JUNE[0], tz=TZ)
        assert e.value.field == "to"
        with pytest.raises(ValidationFailed) as e:
            visits.cell_sweep(conn, scope(conn, "fw-cm"), "A", stale_days=-1, tz=TZ)
        assert e.value.field == "stale_days"


def test_city_sweep_table(world: Engine) -> None:
    with world.connect() as conn:
        city = visits.city_sweep(conn, scope(conn, "fw-cm"), "C", start=JUNE[0], end=JUNE[1], tz=TZ)
        assert city["columns"] == ["cell", "units", "visited", "coverage"]
        assert city["rows"][0][:3] == ["A", 7, 2] and city["rows"][0][3] == pytest.approx(2 / 7)
        assert city["rows"][1] == ["B", 2, 0, 0.0]
        assert len(city["rows"]) == 2
        am2 = visits.city_sweep(conn, scope(conn, "fw-am2"), "C", start=JUNE[0], end=JUNE[1], tz=TZ)
        assert am2["rows"] == [["B", 2, 0, 0.0]]
