"""/schema/swagger loads nothing from other hosts: its scripts, stylesheet and icon ship in the package."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from chat_http.app import create_app
from chat_http.swagger import ASSETS_DIR
from tests.http.test_web import settings_for

pytestmark = pytest.mark.filterwarnings("ignore::litestar.exceptions.LitestarDeprecationWarning")

TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=create_app(settings_for(tmp_path))) as client:
        yield client


async def test_the_swagger_page_loads_only_files_of_this_server(client: AsyncTestClient[Litestar]) -> None:
    page = await client.get("/schema/swagger")
    assert page.status_code == 200
    assert "SwaggerUIBundle" in page.text
    loaded = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    assert len(loaded) == 4  # bundle, preset, stylesheet, icon
    for url in loaded:
        assert not urlsplit(url).netloc, f"{url} is on another host"
        assert url.startswith("/schema/assets/"), url
        response = await client.get(url)  # no token: the schema is public, and so is its page
        assert response.status_code == 200, url
        assert TYPES[Path(url).suffix] in response.headers["content-type"], url
        assert response.content == (ASSETS_DIR / Path(url).name).read_bytes()
    assert "cdn" not in page.text.lower()


async def test_the_shipped_release_keeps_its_licence_and_nothing_else_is_served(
    client: AsyncTestClient[Litestar],
) -> None:
    assert "Apache License" in (ASSETS_DIR / "LICENSE").read_text()
    assert re.fullmatch(r"5\.\d+\.\d+\n", (ASSETS_DIR / "VERSION").read_text())
    for name in ("../app.py", "..%2Fapp.py", "LICENSE", "VERSION", "swagger-ui.css%00", "missing.js"):
        assert (await client.get(f"/schema/assets/{name}")).status_code == 404, name


async def test_a_mounted_app_points_the_page_under_its_prefix(tmp_path: Path) -> None:
    app = create_app(settings_for(tmp_path, CHAT_MOUNT_PATH="/hr/chat"))
    async with AsyncTestClient(app=app) as client:
        page = (await client.get("/schema/swagger")).text
    assert "/hr/chat/schema/assets/swagger-ui-bundle.js" in page
