"""The web client's routes in process: a strict policy on every file, and the dev sign-in only with --dev."""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from chat_adapters.sql.engine import create_engine, session_factory, upgrade
from chat_adapters.sql.users import SqlUserDirectory
from chat_http import cli
from chat_http.app import create_app
from chat_http.settings import Settings, load_settings
from chat_http.tokens import mint_token
from chat_http.webclient import WEB_DIR
from chatcore.model import MessageType
from chatcore.uploads import DEFAULT_LIMITS, FILE_TYPES

SECRET = "w" * 40

# Building the app in process shows Litestar 2.25's notices about inferred parameters (rest.py's handlers and
# these alike: they go away in Litestar 3); `chat serve` builds the same app, where they are not errors.
pytestmark = pytest.mark.filterwarnings("ignore::litestar.exceptions.LitestarDeprecationWarning")


def settings_for(tmp_path: Path, **env: str) -> Settings:
    return load_settings(
        {
            "CHAT_JWT_SECRET": SECRET,
            "CHAT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}",
            "CHAT_STORAGE_URL": f"file://{tmp_path / 'files'}",
            **env,
        }
    )


@pytest.fixture
async def migrated(tmp_path: Path) -> Path:
    await upgrade(f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}")
    return tmp_path


async def add_user(settings: Settings, name: str, email: str) -> int:
    engine = create_engine(settings.database_url)
    try:
        return int((await SqlUserDirectory(session_factory(engine)).add(name=name, email=email)).id)
    finally:
        await engine.dispose()


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=create_app(settings_for(tmp_path))) as client:
        yield client


def assert_strict(headers: Any) -> None:
    policy = headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "style-src 'self';" in policy
    assert "connect-src 'self' ws: wss:" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["/", "/chat"])
async def test_the_page_is_served_without_a_token_under_a_strict_policy(
    client: AsyncTestClient[Litestar], path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert_strict(response.headers)
    html = response.text
    assert 'data-dev="false"' in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    assert not re.search(r"\sstyle=", html), "inline style"


async def test_the_page_carries_the_servers_upload_policy(client: AsyncTestClient[Litestar]) -> None:
    found = re.search(r'data-upload-policy="([^"]*)"', (await client.get("/chat")).text)
    assert found
    policy = json.loads(html.unescape(found.group(1)))
    assert policy == {
        kind.value: {"extensions": [ft.extension for ft in FILE_TYPES[kind]], "max_size": DEFAULT_LIMITS[kind]}
        for kind in (MessageType.IMAGE, MessageType.FILE, MessageType.VOICE)
    }
    assert "pdf" in policy["file"]["extensions"]
    assert "exe" not in str(policy)


async def test_every_file_the_page_loads_is_served_with_its_own_type(client: AsyncTestClient[Litestar]) -> None:
    html = (await client.get("/chat")).text
    referenced = set(re.findall(r'(?:src|href)="(/web/[^"]+)"', html))
    for script in WEB_DIR.glob("*.js"):  # ES module imports and the worklet, both relative to the script
        referenced |= {f"/web/{name}" for name in re.findall(r'(?:from|import) "\./([\w.-]+)"', script.read_text())}
        referenced |= {f"/web/{name}" for name in re.findall(r'new URL\("\./([\w.-]+)"', script.read_text())}
    assert {"/web/main.js", "/web/chat.css", "/web/api.js", "/web/voice-worklet.js"} <= referenced
    types = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
    for path in sorted(referenced):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith(types[Path(path).suffix]), path
        assert_strict(response.headers)


@pytest.mark.parametrize(
    "path", ["/web/index.html", "/web/missing.js", "/web/..%2Fweb.py", "/web/%2e%2e/settings.py", "/web/"]
)
async def test_nothing_else_is_served_from_the_web_folder(client: AsyncTestClient[Litestar], path: str) -> None:
    assert (await client.get(path)).status_code == 404


async def test_without_dev_there_is_no_dev_sign_in(tmp_path: Path, migrated: Path) -> None:
    settings = settings_for(tmp_path)
    user_id = await add_user(settings, "Ann", "ann@example.com")
    token = mint_token(settings, user_id)
    async with AsyncTestClient(app=create_app(settings)) as client:
        refused = await client.post(
            "/api/v1/dev/token", json={"email": "ann@example.com"}, headers={"Authorization": f"Bearer {token}"}
        )
        assert refused.status_code == 404
        assert (await client.post("/api/v1/dev/token", json={"email": "ann@example.com"})).status_code == 404
        schema = (await client.get("/schema/openapi.json")).json()
        assert "/api/v1/dev/token" not in schema["paths"]
        assert "/api/v1/chat/me" in schema["paths"]
        me = await client.get("/api/v1/chat/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json() == {"id": user_id, "name": "Ann", "email": "ann@example.com", "avatar_url": None}
        assert (await client.get("/api/v1/chat/me")).status_code == 401


async def test_with_dev_a_token_is_minted_by_email(tmp_path: Path, migrated: Path) -> None:
    settings = settings_for(tmp_path, CHAT_DEV="true")
    assert settings.dev
    user_id = await add_user(settings, "Ann", "Ann@Example.com")
    async with AsyncTestClient(app=create_app(settings)) as client:
        assert 'data-dev="true"' in (await client.get("/chat")).text
        minted = await client.post("/api/v1/dev/token", json={"email": " ann@example.COM "})
        assert minted.status_code == 200, minted.text
        assert minted.json()["user"]["id"] == user_id
        me = await client.get("/api/v1/chat/me", headers={"Authorization": f"Bearer {minted.json()['token']}"})
        assert me.json()["name"] == "Ann"

        unknown = await client.post("/api/v1/dev/token", json={"email": "bo@example.com"})
        assert unknown.status_code == 404
        assert "give a name" in unknown.json()["detail"]
        created = await client.post("/api/v1/dev/token", json={"email": "bo@example.com", "name": " Bo "})
        assert created.status_code == 200
        assert created.json()["user"]["name"] == "Bo"
        for bad in ({"email": "not an email"}, {"email": 5}, {"mail": "x@y.z"}, {"email": "x@y.z", "name": "n" * 101}):
            response = await client.post("/api/v1/dev/token", json=bad)
            assert response.status_code == 400, bad
        assert (await client.post("/api/v1/dev/token", content=b"[")).status_code == 400


async def test_dev_tokens_live_no_longer_than_the_limit(tmp_path: Path, migrated: Path) -> None:
    settings = settings_for(tmp_path, CHAT_DEV="true", CHAT_JWT_MAX_TTL="600")
    await add_user(settings, "Ann", "ann@example.com")
    async with AsyncTestClient(app=create_app(settings)) as client:
        minted = await client.post("/api/v1/dev/token", json={"email": "ann@example.com"})
        assert minted.status_code == 200, minted.text
        claims = jwt.decode(minted.json()["token"], SECRET, algorithms=["HS256"])
        assert claims["exp"] - claims["iat"] == 600
        me = await client.get("/api/v1/chat/me", headers={"Authorization": f"Bearer {minted.json()['token']}"})
        assert me.status_code == 200


def test_only_serve_dev_turns_dev_mode_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """CHAT_DEV left in the environment does not survive a plain `chat serve`; `--dev` sets it for workers too."""
    served: list[Litestar] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **_: served.append(app))
    monkeypatch.setattr(cli, "_stopping_is_success", lambda: None)  # keep pytest's own SIGINT handler
    for name, value in {
        "CHAT_JWT_SECRET": SECRET,
        "CHAT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}",
        "CHAT_STORAGE_URL": f"file://{tmp_path / 'files'}",
        "CHAT_DEV": "true",
    }.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["serve", "--port", "1"]) == 0
    assert load_settings().dev is False
    assert cli.main(["serve", "--port", "1", "--dev"]) == 0
    assert load_settings().dev is True
    paths = [{route.path for route in app.routes} for app in served]
    assert "/api/v1/dev/token" not in paths[0]
    assert "/api/v1/dev/token" in paths[1]


async def test_under_a_mount_path_the_page_links_its_files_under_it(tmp_path: Path) -> None:
    """`create_app` mounted at /chat: the page must not load /web/... from the host's root."""
    async with AsyncTestClient(app=create_app(settings_for(tmp_path, CHAT_MOUNT_PATH="/chat"))) as client:
        html = (await client.get("/chat")).text
    links = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "/chat/web/main.js" in links
    assert all(link.startswith("/chat/web/") for link in links), links


def test_the_scripts_name_no_absolute_path_of_the_service() -> None:
    """They find the API, the socket and their own files from their URL, so they work under any mount path."""
    for script in WEB_DIR.glob("*.js"):
        found = re.findall(r"""["'`]/(?:api|web|static)/[^"'`]*""", script.read_text())
        assert not found, f"{script.name}: {found}"
