"""Integration fixtures: real SQLite files and fresh PostgreSQL databases, with and without the schema."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.contract.backends import SQL, Backend, database_url, open_backend
from tests.pg import pg_server

__all__ = ["pg_server"]


@pytest.fixture(params=SQL)
async def sql_backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async with open_backend(request.param, request, tmp_path) as opened:
        yield opened


@pytest.fixture(params=SQL)
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database of its own without any table, for the migrations to build."""
    return await database_url(request.param, request, tmp_path, schema=False)
