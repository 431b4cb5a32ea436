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
from chat_adapters.sql.tables import metadata

ROOT = Path(__file__).resolve().parents[2]
CHAT_TABLES = {"users", "chat_rooms", "chat_participants", "chat_messages", "user_presence", "chat_uploads"}


def _alembic(url: str, *args: str) -> None:
    """The plain `alembic` command from the repository root, as a developer would run it."""
    env = {**os.environ, "CHAT_DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "alembic", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def _schema(connection: Connection) -> tuple[set[str], list[Any], str | None]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    tables = set(inspect(connection).get_table_names())
    return tables, compare_metadata(context, metadata), context.get_current_revision()


async def _inspect(url: str) -> tuple[set[str], list[Any], str | None]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_schema)
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


async def test_every_revision_goes_up_down_and_up_again(empty_url: str) -> None:
    """Step by step, so a later revision's downgrade is exercised on the schema it really starts from."""
    scripts = ScriptDirectory.from_config(alembic_config())
    revisions = [script.revision for script in reversed(list(scripts.walk_revisions()))]
    assert revisions, "no migrations found in the package"

    for revision in revisions:
        await upgrade(empty_url, revision)
        await downgrade(empty_url, "-1")
        await upgrade(empty_url, revision)
        assert (await _inspect(empty_url))[2] == revision

    assert (await _inspect(empty_url))[1] == []
