"""A host's users table configured by CHAT_USERS_TABLE: `chat users` refuses, and a wrong mapping stops start-up."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from chat_adapters.sql.host_users import HostUserDirectory
from chat_http.cli import main
from chat_http.settings import SettingsError, load_settings
from chat_http.wiring import chat_layout, check_database, host_directory

SECRET = "s" * 40


@pytest.mark.parametrize(
    "argv", [["users", "add", "--email", "a@b.test", "--name", "A"], ["users", "import", "people.csv"]]
)
def test_chat_users_refuses_when_the_host_owns_the_users(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CHAT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'hrms.db'}")
    monkeypatch.setenv("CHAT_USERS_TABLE", "employees")

    assert main(argv) == 2

    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "CHAT_USERS_TABLE" in error
    assert "employees" in error
    assert not (tmp_path / "hrms.db").exists()  # refused before touching any database


def _hrms_db(path: Path) -> str:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE employees (emp_id INTEGER PRIMARY KEY, full_name TEXT, work_email TEXT)")
        db.execute("INSERT INTO employees VALUES (7, 'Alice', 'alice@acme.test')")
    return f"sqlite+aiosqlite:///{path}"


async def test_a_column_the_host_table_lacks_stops_start_up_with_one_line(tmp_path: Path) -> None:
    url = _hrms_db(tmp_path / "hrms.db")
    env = {"CHAT_JWT_SECRET": SECRET, "CHAT_DATABASE_URL": url, "CHAT_USERS_TABLE": "employees"}
    good = load_settings({**env, "CHAT_USERS_COLUMNS": "id=emp_id,name=full_name,email=work_email,avatar_url="})
    bad = load_settings({**env, "CHAT_USERS_COLUMNS": "id=emp_id,name=full_name,email=mail"})

    await check_database(good)
    with pytest.raises(SettingsError) as raised:
        await check_database(bad)

    assert "CHAT_USERS_TABLE" in str(raised.value)
    assert "mail" in str(raised.value)
    assert "\n" not in str(raised.value)
    assert not chat_layout(good).own_users


def test_the_settings_pick_the_host_directory_and_its_columns(tmp_path: Path) -> None:
    from chat_adapters.sql import create_engine

    settings = load_settings(
        {"CHAT_JWT_SECRET": SECRET, "CHAT_USERS_TABLE": "hr.employees", "CHAT_USERS_COLUMNS": "id=emp_id,avatar_url="}
    )
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    directory = host_directory(settings, engine)

    assert isinstance(directory, HostUserDirectory)
    assert directory.table_name == "hr.employees"
    assert (directory.columns.id, directory.columns.email, directory.columns.avatar_url) == ("emp_id", "email", None)
    assert host_directory(load_settings({"CHAT_JWT_SECRET": SECRET}), engine) is None
