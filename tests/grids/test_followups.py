"""Follow-ups (商机跟进) on the hand-made world of fieldwork_world: who may open one where, the list,
changes, closing, and "won" derived from the record versions.

Opportunities in the world (T = today): t101 stock, contract ends T + 30 → expiring; t102
other_network; t110 potential; b1 potential. Not: t301 (stock, contract ends T + 200), a2 and b2
(stock, no contract end), a1 (unknown), t0 (vacant).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Connection, Engine, text

from gridmarket.grids import auth, followups
from gridmarket.grids.errors import Conflict, Forbidden, NotFound, ValidationFailed
from gridmarket.grids.scope import Scope, scope_for
from tests.grids.fieldwork_world import TZ, T, build_world, clone, write_version


def scope(conn: Connection, username: str) -> Scope:
    user = auth.get_user(conn, username)
    assert user is not None
    return scope_for(conn, user, tz=TZ)


def days(n: int) -> dt.date:
    return T + dt.timedelta(days=n)


@pytest.fixture(scope="module")
def template(new_database: Callable[[str], Engine]) -> Engine:
    return build_world(new_database("followups"))


@pytest.fixture
def world(template: Engine) -> Iterator[Engine]:
    """A fresh copy of the world for each test (tests write follow-ups and record versions)."""
    with clone(template) as eng:
        yield eng


def open_(
    eng: Engine, user: str, ext: str, due: int, step: str = "上门拜访", owner: str | None = None
) -> dict:
    with eng.begin() as conn:
        return followups.create(
            conn, scope(conn, user), ext, due_date=days(due), next_step=step, owner=owner, tz=TZ
        )


def test_which_units_are_opportunities(world: Engine) -> None:
    for ext in ("t301", "a2", "a1", "t0"):
        with world.connect() as conn, pytest.raises(ValidationFailed) as e:
            followups.create(conn, scope(conn, "fw-gm"), ext, due_date=days(5), next_step="x", tz=TZ)
        assert e.value.field == "reason", ext
    assert open_(world, "fw-gm", "t101", 5)["reason"] == "expiring"
    made = open_(world, "fw-gm", "t102", 5)
    assert (made["reason"], made["status_at_open"], made["owner"], made["created_by"]) == (
        "other_network",
        "other_network",
        "fw-gm",
        "fw-gm",
    )
    assert open_(world, "fw-gm", "t110", 5)["reason"] == "potential"
    # the contract window is [T, T + 90]: a contract ending T + 91 is no reason, T + 90 is
    write_version(world, "t301", contract_end=days(91))
    with world.connect() as conn, pytest.raises(ValidationFailed):
        followups.create(conn, scope(conn, "fw-gm"), "t301", due_date=days(5), next_step="x", tz=TZ)
    write_version(world, "t301", contract_end=days(90))
    assert open_(world, "fw-gm", "t301", 5)["reason"] == "expiring"


def test_bad_input_and_who_may_open(world: Engine) -> None:
    with world.connect() as conn:
        gm = scope(conn, "fw-gm")
        for kwargs, field in (
            ({"due_date": days(-1), "next_step": "x"}, "due_date"),
            ({"due_date": None, "next_step": "x"}, "due_date"),
            ({"due_date": days(1), "next_step": "  "}, "next_step"),
            ({"due_date": days(1), "next_step": "x", "owner": "nobody"}, "owner"),
            ({"due_date": days(1), "next_step": "x", "owner": "fw-pl"}, "owner"),  # planners edit nothing
            ({"due_date": days(1), "next_step": "x", "owner": "fw-am2"}, "owner"),  # cannot read t110
        ):
            with pytest.raises(ValidationFailed) as e:
                followups.create(conn, gm, "t110", tz=TZ, **kwargs)  # type: ignore[arg-type]
            assert e.value.field == field, kwargs
        with pytest.raises(Forbidden):
            followups.create(conn, scope(conn, "fw-pl"), "t110", due_date=days(1), next_step="x", tz=TZ)
        with pytest.raises(Forbidden):
            followups.create(conn, scope(conn, "fw-am2"), "t110", due_date=days(1), next_step="x", tz=TZ)
        with pytest.raises(NotFound):
            followups.create(conn, gm, "nope", due_date=days(1), next_step="x", tz=TZ)
        assert conn.scalar(text("SELECT count(*) FROM follow_up")) == 0
    # another owner who may read the unit
    made = open_(world, "fw-gm", "t101", 3, owner="fw-am")
    assert (made["owner"], made["created_by"]) == ("fw-am", "fw-gm")


def test_my_list_by_due_date_with_overdue(world: Engine) -> None:
    open_(world, "fw-gm", "t102", 10)
    open_(world, "fw-gm", "t110", 3)
    open_(world, "fw-gm", "t101", 5)
    open_(world, "fw-am", "b1", 1)  # someone else's
    with world.begin() as conn:
        conn.execute(
            text("UPDATE follow_up SET due_date = :d WHERE address_unit_id = "
                 "(SELECT id FROM address_unit WHERE external_id = 't102')"),
            {"d": days(-2)},
        )  # fmt: skip
    with world.connect() as conn:
        mine = followups.mine(conn, scope(conn, "fw-gm"), "open", tz=TZ)
        assert [(f["external_id"], f["overdue"]) for f in mine["follow_ups"]] == [
            ("t102", True),
            ("t110", False),
            ("t101", False),
        ]
        first = mine["follow_ups"][0]
        assert (first["address"], first["cell_code"], first["status_now"], first["status_now_zh"]) == (
            "测试路t102号",
            "A",
            "other_network",
            "他网",
        )
        assert first["won"] is False and first["due_date"] == days(-2).isoformat()
        assert followups.mine(conn, scope(conn, "fw-gm"), "closed", tz=TZ)["follow_ups"] == []
        assert [
            f["external_id"] for f in followups.mine(conn, scope(conn, "fw-am"), "all", tz=TZ)["follow_ups"]
        ] == ["b1"]
        with pytest.raises(ValidationFailed):
            followups.mine(conn, scope(conn, "fw-gm"), "later", tz=TZ)


def test_lifecycle_won_after_the_status_turns_stock(world: Engine) -> None:
    f = open_(world, "fw-gm", "t102", 7)
    with world.connect() as conn, pytest.raises(ValidationFailed) as e:
        followups.close(conn, scope(conn, "fw-gm"), f["id"], outcome="won", tz=TZ)
    assert e.value.field == "outcome"  # still other_network: record the status change first
    with world.connect() as conn, pytest.raises(ValidationFailed) as e:
        followups.close(conn, scope(conn, "fw-gm"), f["id"], outcome="maybe", tz=TZ)
    assert e.value.field == "outcome"
    # a version that keeps other_network is no win; the one that turns the unit stock is
    write_version(world, "t102", note="拜访过")
    with world.connect() as conn:
        assert followups.get(conn, f["id"], T)["won"] is False
    write_version(world, "t102", status="stock", fixed_lines_own=1, fixed_lines_rival=0)
    with world.connect() as conn:
        got = followups.mine(conn, scope(conn, "fw-gm"), "open", tz=TZ)["follow_ups"]
        assert [(x["external_id"], x["won"], x["status_now"]) for x in got] == [("t102", True, "stock")]
    with world.begin() as conn:
        closed = followups.close(conn, scope(conn, "fw-gm"), f["id"], outcome="won", note="签约", tz=TZ)
    assert (closed["outcome"], closed["outcome_note"], closed["closed_by"], closed["won"]) == (
        "won",
        "签约",
        "fw-gm",
        True,
    )
    with world.connect() as conn:
        with pytest.raises(Conflict):
            followups.close(conn, scope(conn, "fw-gm"), f["id"], outcome="lost", tz=TZ)
        with pytest.raises(Conflict):
            followups.update(conn, scope(conn, "fw-gm"), f["id"], next_step="x", tz=TZ)
        assert [
            x["external_id"]
            for x in followups.mine(conn, scope(conn, "fw-gm"), "closed", tz=TZ)["follow_ups"]
        ] == ["t102"]
    # the unit going back to other_network after the follow-up was closed does not undo the win
    write_version(world, "t102", status="other_network")
    with world.connect() as conn:
        assert followups.get(conn, f["id"], T)["won"] is True


def test_retention_is_won_by_a_renewal(world: Engine) -> None:
    f = open_(world, "fw-gm", "t101", 7)  # stock, contract ends T + 30
    write_version(world, "t101", revenue_month=900)  # still stock, same contract: not yet won
    with world.connect() as conn:
        assert followups.get(conn, f["id"], T)["won"] is False
    write_version(world, "t101", contract_end=days(400))
    with world.connect() as conn:
        assert followups.get(conn, f["id"], T)["won"] is True


def test_changes_by_owner_or_editor(world: Engine) -> None:
    f = open_(world, "fw-gm", "t101", 7)
    with world.connect() as conn, pytest.raises(Forbidden):  # fw-am2 neither owns it nor edits t101
        followups.update(conn, scope(conn, "fw-am2"), f["id"], next_step="x", tz=TZ)
    with world.connect() as conn, pytest.raises(Forbidden):
        followups.update(conn, scope(conn, "fw-pl"), f["id"], next_step="x", tz=TZ)
    with world.connect() as conn, pytest.raises(NotFound):
        followups.update(conn, scope(conn, "fw-gm"), 999999, next_step="x", tz=TZ)
    with world.begin() as conn:
        got = followups.update(
            conn, scope(conn, "fw-gm"), f["id"], due_date=days(9), next_step="电话回访", owner="fw-am", tz=TZ
        )
    assert (got["due_date"], got["next_step"], got["owner"]) == (days(9).isoformat(), "电话回访", "fw-am")
    with world.connect() as conn:
        with pytest.raises(ValidationFailed) as e:
            followups.update(conn, scope(conn, "fw-am"), f["id"], next_step="", tz=TZ)
        assert e.value.field == "next_step"
        with pytest.raises(ValidationFailed) as e:
            followups.update(conn, scope(conn, "fw-am"), f["id"], owner="fw-am2", tz=TZ)
        assert e.value.field == "owner"
    # the new owner closes it (a city manager could too: they edit the unit)
    with world.begin() as conn:
        closed = followups.close(conn, scope(conn, "fw-am"), f["id"], outcome="lost", note="续约他网", tz=TZ)
    assert (closed["outcome"], closed["closed_by"], closed["won"]) == ("lost", "fw-am", False)


def test_an_owner_out_of_scope_can_no_longer_change_it(world: Engine) -> None:
    """The owner's assignment ended: the follow-up stays, but they may not change or close it."""
    f = open_(world, "fw-gm", "t101", 7, owner="fw-am")
    with world.begin() as conn:
        conn.execute(
            text(
                "UPDATE assignment SET valid_to = :d "
                "WHERE staff_id = (SELECT id FROM staff WHERE code = 'S-AM')"
            ),
            {"d": T - dt.timedelta(days=1)},
        )
    with world.connect() as conn:
        with pytest.raises(Forbidden):
            followups.update(conn, scope(conn, "fw-am"), f["id"], next_step="x", tz=TZ)
        with pytest.raises(Forbidden):
            followups.close(conn, scope(conn, "fw-am"), f["id"], outcome="lost", tz=TZ)
    with world.begin() as conn:  # someone who edits the unit still may
        got = followups.update(conn, scope(conn, "fw-gm"), f["id"], next_step="改派", tz=TZ)
    assert got["next_step"] == "改派"


def test_cell_summary(world: Engine) -> None:
    won = open_(world, "fw-gm", "t102", 7)
    lost = open_(world, "fw-gm", "t110", 7)
    dropped = open_(world, "fw-gm", "t101", 7)
    open_(world, "fw-gm", "t110", 20)
    late = open_(world, "fw-gm", "t101", 2)
    open_(world, "fw-am", "b1", 4)  # cell B
    with world.begin() as conn:
        conn.execute(
            text("UPDATE follow_up SET due_date = :d WHERE id = :i"), {"d": days(-1), "i": late["id"]}
        )
    write_version(world, "t102", status="competing", fixed_lines_own=1)
    with world.begin() as conn:
        gm = scope(conn, "fw-gm")
        followups.close(conn, gm, won["id"], outcome="won", tz=TZ)
        followups.close(conn, gm, lost["id"], outcome="lost", tz=TZ)
        followups.close(conn, gm, dropped["id"], outcome="dropped", tz=TZ)
    with world.connect() as conn:
        a = followups.cell_summary(conn, scope(conn, "fw-cm"), "A", tz=TZ)
        assert {k: a[k] for k in ("open", "overdue", "won", "closed_won", "lost", "dropped", "total")} == {
            "open": 2,
            "overdue": 1,
            "won": 1,
            "closed_won": 1,
            "lost": 1,
            "dropped": 1,
            "total": 5,
        }
        # open first by due date (the overdue one first), then the closed ones
        assert [(i["external_id"], i["outcome"]) for i in a["items"]][:2] == [("t101", None), ("t110", None)]
        # fw-am reads only t101 in cell A
        am = followups.cell_summary(conn, scope(conn, "fw-am"), "A", tz=TZ)
        assert (am["total"], am["open"], am["dropped"]) == (2, 1, 1)
        with pytest.raises(Forbidden):
            followups.cell_summary(conn, scope(conn, "fw-am2"), "A", tz=TZ)
        assert followups.cell_summary(conn, scope(conn, "fw-am2"), "B", tz=TZ)["open"] == 1
