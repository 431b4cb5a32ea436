"""`chat serve` configured onto a host's database: CHAT_USERS_TABLE with other column names, CHAT_TABLE_PREFIX."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Api, Person, Server, chat_command, start_server, stop_server, token_for

HOST_ENV = {
    "CHAT_USERS_TABLE": "employees",
    "CHAT_USERS_COLUMNS": "id=emp_id,name=full_name,email=work_email,avatar_url=photo",
    "CHAT_TABLE_PREFIX": "hrchat_",
}


def _hrms_database(workdir: Path) -> Path:
    path = workdir / "chat.db"  # the file start_server points CHAT_DATABASE_URL at
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE employees (emp_id INTEGER PRIMARY KEY, full_name TEXT, work_email TEXT, photo TEXT)")
        db.executemany(
            "INSERT INTO employees VALUES (?, ?, ?, ?)",
            [(7, "Alice Smith", "alice@acme.test", "https://hr.test/7.jpg"), (12, "John Doe", "john@acme.test", None)],
        )
    return path


@pytest.fixture(scope="module")
def host_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("hrms")
    _hrms_database(workdir)
    proc, server = start_server(workdir, HOST_ENV)
    try:
        yield server
    finally:
        stop_server(proc)


async def test_employees_of_the_host_table_chat_with_their_own_ids(host_server: Server) -> None:
    api = Api.open(host_server)
    try:
        alice = Person(7, "Alice Smith", "alice@acme.test", token_for(7), api.client(token_for(7)))
        john = Person(12, "John Doe", "john@acme.test", token_for(12), api.client(token_for(12)))
        found = (await alice.http.get("/api/v1/chat/search-users", params={"email": "JOHN"})).json()
        assert [(u["id"], u["name"]) for u in found["users"]] == [(12, "John Doe")]
        assert (await api.client(token_for(99)).get("/api/v1/chat/rooms")).status_code == 401  # not an employee
        room = await api.room(alice, john)
        async with api.socket(alice, room) as a, api.socket(john, room) as j:
            await a.send("send_message", content="hello from the HRMS")
            event = await j.next("new_message")
        assert (event["data"]["sender_name"], event["data"]["sender_avatar"]) == (
            "Alice Smith",
            "https://hr.test/7.jpg",
        )
    finally:
        await api.aclose()

    with contextlib.closing(sqlite3.connect(host_server.workdir / "chat.db")) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        employees = db.execute("SELECT * FROM employees ORDER BY emp_id").fetchall()
    assert "users" not in tables
    assert {"hrchat_chat_rooms", "hrchat_chat_messages", "hrchat_alembic_version"} <= tables
    assert employees == [
        (7, "Alice Smith", "alice@acme.test", "https://hr.test/7.jpg"),
        (12, "John Doe", "john@acme.test", None),
    ]


def test_a_wrong_column_mapping_stops_serve_with_one_line(tmp_path: Path) -> None:
    _hrms_database(tmp_path)
    env = {**HOST_ENV, "CHAT_USERS_COLUMNS": "id=emp_id,name=full_name,email=mail"}
    base = {"CHAT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}", "CHAT_JWT_SECRET": "s" * 40}
    done = chat_command("serve", "--port", "1", env={**os.environ, **base, **env}, cwd=tmp_path)

    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert "CHAT_USERS_TABLE" in done.stderr
    assert "mail" in done.stderr
    assert "Traceback" not in done.stderr
