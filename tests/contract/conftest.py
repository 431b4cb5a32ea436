"""Every contract test runs on each backend: the fakes must behave like the real databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.contract.backends import ALL, Backend, open_backend
from tests.pg import pg_server

__all__ = ["pg_server"]


@pytest.fixture(params=ALL)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async with open_backend(request.param, request, tmp_path) as opened:
        yield opened
