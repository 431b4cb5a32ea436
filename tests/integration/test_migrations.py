"""Migrations on real databases: up, down, up again, from the `alembic` CLI and from Python, with no drift."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect

from chat_adapters.sql.engine import alembic_config, create_engine, downgrade, upgrade
from chat_adapters.sql.tables import DEFAULT_LAYOUT, ChatLayout

ROOT = Path(__file__).resolve().parents[2]
CHAT_TABLES = {"users", "chat_rooms", "chat_participants", "chat_messages", "user_presence", "chat_uploads"}


def _alembic(url: str, *args: str, env: dict[str, str] | None = None) -> None:
    """The plain `alembic` command from the repository root, as a developer would run it."""
    env = {**os.environ, "CHAT_DATABASE_URL": url, **(env or {})}
    done = subprocess.run(
        [sys.executable, "-m", "alembic", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def _schema(connection: Connection, layout: ChatLayout = DEFAULT_LAYOUT) -> tuple[set[str], list[Any], str | None]:
    context = MigrationContext.configure(connection, opts={"compare_type": True, "version_table": layout.version_table})
    tables = set(inspect(connection).get_table_names())
    return tables, compare_metadata(context, layout.tables.metadata), context.get_current_revision()


async def _inspect(url: str, layout: ChatLayout = DEFAULT_LAYOUT) -> tuple[set[str], list[Any], str | None]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_schema, layout)
    finally:
        await engine.dispose()


async def test_alembic_cli_upgrades_downgrades_and_upgrades_again(empty_url: str) -> None:
    _alembic(empty_url, "upgrade", "head")
    tables, diff, revision = await _inspect(empty_url)
    assert tables == CHAT_TABLES | {"alembic_version"}
    assert diff == []
    assert revision is not None

    _alembic(empty_url, "downgrade", "base")
    tables, _, revision = await _inspect(empty_url)
    assert tables == {"alembic_version"}
    assert revision is None

    _alembic(empty_url, "upgrade", "head")
    tables, diff, _ = await _inspect(empty_url)
    assert tables == CHAT_TABLES | {"alembic_version"}
    assert diff == []
    _alembic(empty_url, "check")  # autogenerate, run the way a developer would, finds nothing to add


async def test_programmatic_helpers_migrate_the_named_database(
    empty_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The URL given to upgrade() wins over CHAT_DATABASE_URL, which here points somewhere else."""
    decoy = tmp_path / "decoy.db"
    monkeypatch.setenv("CHAT_DATABASE_URL", f"sqlite+aiosqlite:///{decoy}")

    await upgrade(empty_url)
    tables, diff, head = await _inspect(empty_url)
    assert tables == CHAT_TABLES | {"alembic_version"}
    assert diff == []

    await downgrade(empty_url, "base")
    assert (await _inspect(empty_url))[0] == {"alembic_version"}

    await upgrade(empty_url, "head")
    assert (await _inspect(empty_url))[1:] == ([], head)
    assert not decoy.exists()


def _shape(connection: Connection) -> dict[str, Any]:
    """What a migration changes, table by table: columns (by name), keys and their names, indexes (partial ones' WHERE),
    and on SQLite which tables never reuse an id (AUTOINCREMENT, which reflection does not report)."""
    found = inspect(connection)
    shape: dict[str, Any] = {}
    for table in sorted(set(found.get_table_names()) - {"alembic_version", "sqlite_sequence"}):
        shape[table] = {
            # By name: PostgreSQL adds a column back at the end (0005's downgrade of `is_read`), and nothing
            # in the code depends on the order.
            "columns": sorted(
                (c["name"], str(c["type"]), c["nullable"], c.get("default")) for c in found.get_columns(table)
            ),
            "primary_key": found.get_pk_constraint(table),
            "foreign_keys": sorted(found.get_foreign_keys(table), key=str),
            "unique": sorted(found.get_unique_constraints(table), key=str),
            "indexes": sorted(
                (
                    i["name"],
                    i["column_names"],
                    i["unique"],
                    {k: str(v) for k, v in i.get("dialect_options", {}).items()},
                )
                for i in found.get_indexes(table)
            ),
        }
    if connection.dialect.name == "sqlite":
        shape["autoincrement"] = sorted(
            name
            for name, sql in connection.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
            if "AUTOINCREMENT" in sql
        )
    return shape


async def _shape_of(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_shape)
    finally:
        await engine.dispose()


async def test_every_revision_goes_up_down_and_up_again(empty_url: str) -> None:
    """Step by step, so a later revision's downgrade is exercised on the schema it really starts from; each
    downgrade gives back exactly the schema of the revision before, each upgrade again the same schema."""
    scripts = ScriptDirectory.from_config(alembic_config())
    revisions = [script.revision for script in reversed(list(scripts.walk_revisions()))]
    assert revisions, "no migrations found in the package"

    before = await _shape_of(empty_url)
    for revision in revisions:
        await upgrade(empty_url, revision)
        after = await _shape_of(empty_url)
        await downgrade(empty_url, "-1")
        assert await _shape_of(empty_url) == before, f"downgrading {revision} left another schema"
        await upgrade(empty_url, revision)
        assert await _shape_of(empty_url) == after, f"upgrading {revision} again made another schema"
        assert (await _inspect(empty_url))[2] == revision
        before = after

    assert (await _inspect(empty_url))[1] == []
    if "sqlite" in empty_url:  # the head's SQLite tables with an integer id never reuse one (0004)
        assert before["autoincrement"] == ["chat_messages", "chat_participants", "chat_rooms", "users"]


async def test_a_table_prefix_names_every_table_and_the_version_table(empty_url: str) -> None:
    """CHAT_TABLE_PREFIX through the plain `alembic` command, then the same layout from Python: no drift."""
    layout = ChatLayout(prefix="hrchat_")
    prefixed = {f"hrchat_{name}" for name in CHAT_TABLES} | {"hrchat_alembic_version"}

    _alembic(empty_url, "upgrade", "head", env={"CHAT_TABLE_PREFIX": "hrchat_"})
    tables, diff, head = await _inspect(empty_url, layout)
    assert (tables, diff) == (prefixed, [])
    assert head is not None

    await downgrade(empty_url, "base", layout=layout)
    assert (await _inspect(empty_url, layout))[0] == {"hrchat_alembic_version"}
    await upgrade(empty_url, layout=layout)
    assert await _inspect(empty_url, layout) == (prefixed, [], head)


async def test_with_a_host_users_table_no_users_table_of_our_own_is_made(empty_url: str) -> None:
    layout = ChatLayout(own_users=False)

    await upgrade(empty_url, layout=layout)
    tables, _, _ = await _inspect(empty_url, layout)

    assert tables == (CHAT_TABLES - {"users"}) | {"alembic_version"}
    _alembic(empty_url, "check", env={"CHAT_USERS_TABLE": "employees"})  # and no drift is seen either
