"""The `gridmarket` command line: db upgrade creates the first admin once; user add/passwd/disable."""

from __future__ import annotations

import io
from collections.abc import Callable

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
    url = eng.url.render_as_string(hide_password=False)
    code, out, _ = _run(
        monkeypatch,
        capsys,
        url,
        "user",
        "add",
        "wang",
        "--role",
        "planner",
        "--password-stdin",
        stdin="first-password-1\n",
    )
    assert code == 0
    with eng.begin() as conn:
        assert auth.authenticate(conn, "wang", "first-password-1") is not None
    code, _, err = _run(monkeypatch, capsys, url, "user", "add", "wang", "--role", "planner")
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
