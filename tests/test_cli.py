"""The `gridmarket` command line: db upgrade creates the first admin once; user add/passwd/disable."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from gridmarket.cli import main
from gridmarket.grids import auth


def _run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str, *argv: str, stdin: str = ""
) -> tuple[int, str, str]:
    monkeypatch.setenv("GRIDMARKET_DATABASE_URL", url)
    monkeypatch.delenv("GRIDMARKET_ADMIN_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_first_upgrade_prints_a_generated_admin_password_once(
    new_database: Callable[[str], Engine], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    eng = new_database("cli")
    url = eng.url.render_as_string(hide_password=False)
    code, out, _ = _run(monkeypatch, capsys, url, "db", "upgrade")
    assert code == 0 and "created the first admin" in out
    password = out.strip().splitlines()[-1].strip()
    with eng.begin() as conn:
        assert auth.authenticate(conn, "admin", password) is not None
    code, out, _ = _run(monkeypatch, capsys, url, "db", "upgrade")
    assert code == 0 and "created the first admin" not in out and password not in out


def test_user_add_passwd_disable(
    new_database: Callable[[str], Engine], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    eng = new_database("cli2")
    with eng.begin() as conn:
        conn.execute(text("INSERT INTO region (code, name, level) VALUES ('C', '测试市', 'city')"))
    url = eng.url.render_as_string(hide_password=False)
    code, _, err = _run(monkeypatch, capsys, url, "user", "add", "sun", "--role", "planner")
    assert code == 1 and "needs its region" in err
    code, _, err = _run(monkeypatch, capsys, url, "user", "add", "zhou", "--role", "account_manager")
    assert code == 1 and "needs the staff record" in err
    code, _, err = _run(
        monkeypatch, capsys, url, "user", "add", "wu", "--role", "regional_head", "--region", "C"
    )
    assert code == 1 and "is a district" in err
    code, out, _ = _run(
        monkeypatch,
        capsys,
        url,
        "user",
        "add",
        "wang",
        "--role",
        "planner",
        "--region",
        "C",
        "--password-stdin",
        stdin="first-password-1\n",
    )
    assert code == 0
    with eng.begin() as conn:
        assert auth.authenticate(conn, "wang", "first-password-1") is not None
    code, _, err = _run(monkeypatch, capsys, url, "user", "add", "wang", "--role", "planner", "--region", "C")
    assert code == 1 and "exists already" in err
    code, _, err = _run(
        monkeypatch,
        capsys,
        url,
        "user",
        "add",
        "li",
        "--role",
        "planner",
        "--region",
        "C",
        "--password-stdin",
        stdin="short\n",
    )
    assert code == 1 and "at least" in err
    code, _, err = _run(
        monkeypatch, capsys, url, "user", "add", "zhao", "--role", "grid_manager", "--staff", "NOPE"
    )
    assert code == 1 and "no staff record" in err
    code, out, _ = _run(monkeypatch, capsys, url, "user", "passwd", "wang")
    assert code == 0
    new_password = out.strip().splitlines()[-1].split(": ", 1)[1]
    with eng.begin() as conn:
        assert auth.authenticate(conn, "wang", "first-password-1") is None
        assert auth.authenticate(conn, "wang", new_password) is not None
    code, _, _ = _run(monkeypatch, capsys, url, "user", "disable", "wang")
    assert code == 0
    with eng.begin() as conn:
        assert auth.authenticate(conn, "wang", new_password) is None
        actions = conn.scalars(text("SELECT action FROM audit_log ORDER BY id")).all()
    assert actions == ["user.add", "user.passwd", "user.disable"]


def test_unreachable_database_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(
        monkeypatch, capsys, "postgresql+psycopg://postgres@127.0.0.1:1/x", "user", "disable", "nobody"
    )
    assert code == 1
    assert err.startswith("gridmarket: cannot reach the database") and err.count("\n") == 1


def test_import_org_rejected_file_exits_1_with_rows(
    new_database: Callable[[str], Engine],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    eng = new_database("cli3")
    with eng.begin() as conn:
        territory = Path(__file__).parent / "etl" / "fixtures" / "org" / "territory.sql"
        conn.exec_driver_sql(territory.read_text(encoding="utf-8"))
    url = eng.url.render_as_string(hide_password=False)
    bad = tmp_path / "org.csv"
    bad.write_text(
        "staff_code,name,post,unit_code,unit_name,unit_kind,unit_district,assign_kind,assign_code,valid_from\n"
        "S1,张三,客户经理,U1,一部,regional_centre,C1-D1,cell,C1-G1-01,2026-01-01\n"
        "S2,李四,客户经理,U1,一部,regional_centre,C1-D1,cell,NO-CELL,2026-13-01\n",
        encoding="utf-8",
    )
    code, _, err = _run(monkeypatch, capsys, url, "import", "org", str(bad))
    assert code == 1
    assert "gridmarket: " in err and "nothing written" in err
    assert "  row 3: assign_code:" in err and "  row 3: valid_from:" in err
    with eng.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM staff")) == 0


def test_import_regions_and_grids(
    new_database: Callable[[str], Engine], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    eng = new_database("cli4")
    url = eng.url.render_as_string(hide_password=False)
    fixtures = Path(__file__).parent / "etl" / "fixtures" / "territory"
    code, _, err = _run(
        monkeypatch, capsys, url, "import", "regions", str(fixtures / "regions_broken.geojson")
    )
    assert code == 1 and "features rejected" in err and "  feature 2: " in err
    with eng.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM region")) == 0
    code, out, _ = _run(monkeypatch, capsys, url, "import", "regions", str(fixtures / "regions.geojson"))
    assert code == 0 and out.startswith("imported regions:")
    code, out, _ = _run(monkeypatch, capsys, url, "import", "grids", str(fixtures / "grids.geojson"))
    assert code == 0 and out.startswith("imported grids:")
    with eng.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM region WHERE level = 'district'")) >= 2
        assert conn.scalar(text("SELECT count(*) FROM cell WHERE source = 'drawn'")) >= 2


def test_metrics_compact_and_recount(
    new_database: Callable[[str], Engine], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from gridmarket.grids import metrics
    from gridmarket.grids.units import load_units
    from tests.helpers import make_tiny_territory, unit

    eng = make_tiny_territory(new_database("clim"))
    with eng.begin() as conn:
        rows = [unit("m1", 120.001, 30.001, "stock"), unit("m2", 120.002, 30.002, "potential")]
        load_units(conn, iter(rows), source="import", valid_from=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    with eng.connect() as conn:
        pending = metrics.pending_deltas(conn)
    assert pending > 0
    url = eng.url.render_as_string(hide_password=False)
    code, out, _ = _run(monkeypatch, capsys, url, "metrics", "compact")
    assert code == 0 and f"metrics compact: {pending:,} delta rows" in out
    with eng.connect() as conn:
        assert metrics.pending_deltas(conn) == 0
    code, out, _ = _run(monkeypatch, capsys, url, "metrics", "recount")
    assert code == 0 and "metrics recount: 2 current records counted" in out
