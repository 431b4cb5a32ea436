"""The docs and the code agree: every CHAT_* variable settings.py reads is in README's table and in
docs/configuration.md (and no other); docs/api.md describes every route, event, close code, error code and file
type there is; every link in the repository's markdown stays inside the repository."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml
from litestar import Litestar
from litestar.routes import HTTPRoute, WebSocketRoute

from chat_http import ChatPlugin, Settings, create_app, hub
from chat_http import errors as http_errors
from chatcore import errors as core_errors
from chatcore.uploads import DEFAULT_LIMITS, FILE_TYPES, MB

ROOT = Path(__file__).resolve().parents[2]
VARIABLE = re.compile(r"CHAT_[A-Z0-9_]*[A-Z0-9]")
API = ROOT / "docs" / "api.md"
ASYNCAPI = ROOT / "docs" / "asyncapi.yaml"
SECRET = "d" * 40

# Building the app shows Litestar 2.25's notices about inferred parameters (as in test_web.py).
pytestmark = pytest.mark.filterwarnings("ignore::litestar.exceptions.LitestarDeprecationWarning")


def _read_by_code() -> set[str]:
    code = (ROOT / "src" / "chat_http" / "settings.py").read_text(encoding="utf-8")
    return set(VARIABLE.findall(code))


def _table_rows(path: Path) -> set[str]:
    """Variables named in the first column of the markdown tables."""
    names: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("| `CHAT_"):
            names.update(VARIABLE.findall(line.split("|")[1]))
    return names


def test_readme_table_lists_every_variable() -> None:
    assert _table_rows(ROOT / "README.md") == _read_by_code()


def test_configuration_doc_lists_every_variable() -> None:
    assert _table_rows(ROOT / "docs" / "configuration.md") == _read_by_code()


def test_the_migrations_read_the_same_layout_variables() -> None:
    env = (ROOT / "src" / "chat_adapters" / "sql" / "migrations" / "env.py").read_text(encoding="utf-8")
    assert set(VARIABLE.findall(env)) <= _read_by_code()


# --- links -------------------------------------------------------------------------------------------------------

SKIPPED_DIRS = {"node_modules", "build", "dist", "test-artifacts"}
FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*(?:<([^>]+)>|([^)\s]+))(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def markdown_files() -> list[Path]:
    """The repository's own .md files: not those of virtualenvs, caches or test output."""
    return sorted(
        path
        for path in ROOT.rglob("*.md")
        if not any(part.startswith(".") or part in SKIPPED_DIRS or part.endswith(".egg-info") for part in
                   path.relative_to(ROOT).parts[:-1])
    )  # fmt: skip


def links(text: str) -> list[str]:
    prose = FENCE.sub("", text)
    return [bracketed or plain for bracketed, plain in INLINE_LINK.findall(prose)] + REFERENCE_LINK.findall(prose)


def anchors(text: str) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens, repeats numbered."""
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(FENCE.sub("", text)):
        slug = "".join(ch for ch in heading.lower() if ch in " -_" or unicodedata.category(ch)[0] in "LN").replace(
            " ", "-"
        )
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def test_the_markdown_files_are_found() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in markdown_files()}
    assert {"README.md", "docs/api.md", "docs/embedding.md", "docs/deploy.md", "bench/README.md"} <= names
    assert not any(name.startswith(".venv") for name in names)


@pytest.mark.parametrize("doc", markdown_files(), ids=lambda path: path.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves_inside_the_repository(doc: Path) -> None:
    """A clone has nothing beside the repository: a link to ../shared or any file outside it is broken there."""
    text = doc.read_text(encoding="utf-8")
    assert "../shared" not in text
    broken = []
    for link in links(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", link, re.I):  # https:, mailto: ...
            continue
        target, _, anchor = link.partition("#")
        path = (doc.parent / target).resolve() if target else doc
        if not path.is_relative_to(ROOT):
            broken.append(f"{link}: outside the repository")
        elif not path.exists():
            broken.append(f"{link}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path.read_text(encoding="utf-8")):
            broken.append(f"{link}: no heading #{anchor}")
    assert not broken, broken


def test_the_link_parser_finds_every_kind_of_link_and_heading() -> None:
    text = "[a](../shared/spec/X.md) [b](docs/api.md#limits) ![c](<x y.png>)\n[d]: ../../up.md\n```\n[e](f)\n```\n"
    assert links(text) == ["../shared/spec/X.md", "docs/api.md#limits", "x y.png", "../../up.md"]
    assert {"limits", "typing", "typing-1", "get-apiv1chatroomsroom_idmessages"} <= anchors(API.read_text())


def test_readme_and_embedding_link_the_api_reference() -> None:
    assert "docs/api.md" in links((ROOT / "README.md").read_text(encoding="utf-8"))
    assert any(link.startswith("api.md") for link in links((ROOT / "docs" / "embedding.md").read_text()))


# --- docs/api.md -------------------------------------------------------------------------------------------------


def section(title: str) -> str:
    """The text under a heading of docs/api.md, up to the next heading of the same or a higher level."""
    text = API.read_text(encoding="utf-8")
    level = title.split(" ", 1)[0]
    start = text.index(f"\n{title}\n")
    ends = [m.start() for m in re.finditer(rf"^#{{1,{len(level)}}} ", text[start + 1 :], re.M)][1:]
    return text[start : start + 1 + ends[0]] if ends else text[start:]


def documented_routes(app: Litestar, prefix: str = "") -> set[str]:
    """`METHOD /path` for every route (path parameters without their type), as api.md names them."""
    names = set()
    for route in app.routes:
        if not route.path.startswith(prefix):  # the host's own
            continue
        path = re.sub(r"\{(\w+):[^}]+\}", r"{\1}", route.path)
        path = path.removeprefix(prefix) or "/"
        if isinstance(route, WebSocketRoute):
            names.add(f"GET {path}")
        elif isinstance(route, HTTPRoute):
            names.update(f"{method} {path}" for method in route.methods - {"OPTIONS", "HEAD"})
    return names


def test_api_doc_names_every_route_of_the_app() -> None:
    text = API.read_text(encoding="utf-8")
    app = create_app(Settings(jwt_secret=SECRET, dev=True))  # --dev: the dev sign-in is a route too
    routes = documented_routes(app)
    assert {"GET /api/v1/chat/rooms/{room_id}", "GET /api/v1/chat/ws", "POST /api/v1/dev/token"} <= routes
    missing = [route for route in sorted(routes) if not re.search(rf"`{re.escape(route)}[`?]", text)]
    assert not missing, f"docs/api.md does not describe: {missing}"


def test_api_doc_covers_the_routes_chat_plugin_adds() -> None:
    """The plugin's routes are the app's under its path; with the web client, its page sits at the path itself."""
    plugin = ChatPlugin(Settings(jwt_secret=SECRET), path="/chat", web_client=True)
    plugin_routes = documented_routes(Litestar(plugins=[plugin]), prefix="/chat")
    assert plugin_routes <= documented_routes(create_app(Settings(jwt_secret=SECRET, dev=True)))


def _asyncapi() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(ASYNCAPI.read_text(encoding="utf-8"))
    return loaded


def _event_names(operation: str) -> list[str]:
    spec = _asyncapi()
    names = []
    for ref in spec["operations"][operation]["messages"]:
        key = ref["$ref"].rsplit("/", 1)[1]
        component = spec["channels"]["chat"]["messages"][key]["$ref"].rsplit("/", 1)[1]
        names.append(spec["components"]["messages"][component]["name"])
    return names


@pytest.mark.parametrize(
    ("operation", "title"),
    [("receiveClientEvents", "### Client events"), ("sendServerEvents", "### Server events")],
)
def test_api_doc_describes_every_event_of_the_asyncapi_document(operation: str, title: str) -> None:
    names = _event_names(operation)
    assert len(names) >= 6
    described = section(title)
    missing = [name for name in names if f"\n#### `{name}`\n" not in described]
    assert not missing, f"docs/api.md, {title}: {missing}"


def close_codes_in_use() -> set[int]:
    """Every close code the server sends: errors.py's, the hub's own, and those the protocol document lists."""
    codes = {value for name, value in vars(http_errors).items() if name.startswith("CLOSE_")}
    codes |= {hub.SLOW_READER[0], hub.MISSED_EVENTS[0]}
    codes |= {int(code) for code in _asyncapi()["channels"]["chat"]["x-close-codes"]}
    return codes


def test_api_doc_describes_every_close_code() -> None:
    codes = close_codes_in_use()
    assert {1008, 1009, 1012, 1013, 4000, 4001, 4003} <= codes
    described = section("### Close codes")
    missing = [code for code in sorted(codes) if f"\n| `{code}` |" not in described]
    assert not missing, f"docs/api.md does not describe close codes {missing}"


def test_api_doc_describes_every_error_code() -> None:
    spec = _asyncapi()
    frame = spec["components"]["schemas"]["ErrorFrame"]["properties"]["data"]["properties"]["code"]
    codes = set(frame["enum"])
    codes |= {
        cls.code
        for cls in vars(core_errors).values()
        if isinstance(cls, type) and issubclass(cls, core_errors.ChatError) and cls is not core_errors.ChatError
    }
    described = section("### Error codes")
    missing = [code for code in sorted(codes) if f"\n| `{code}` |" not in described]
    assert not missing, f"docs/api.md does not describe error codes {missing}"
    for cls, status in http_errors.HTTP_STATUS.items():
        assert f"\n| `{cls.code}` | {status} |" in described, cls


def test_api_doc_lists_every_allowed_file_type_and_size() -> None:
    described = section("### Allowed types and sizes")
    for kind, types in FILE_TYPES.items():
        assert f"\n| `{kind.value}` | {DEFAULT_LIMITS[kind] // MB} MB |" in described, kind
        for file_type in types:
            assert f"`{file_type.extension}`" in described, file_type.extension
            assert f"`{file_type.mime_type}`" in described, file_type.mime_type
    rows = [line.split("|") for line in described.splitlines() if line.startswith("| ") and line.count("|") == 6]
    documented = {ext for row in rows[1:] for ext in re.findall(r"`(\w+)`", row[3])}  # rows[0]: the header
    assert documented == {ft.extension for types in FILE_TYPES.values() for ft in types}


# --- deploy.md and the licence -----------------------------------------------------------------------------------


def test_the_nginx_example_keeps_metrics_and_schema_off_the_internet() -> None:
    deploy = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    config = re.search(r"```nginx\n(.*?)```", deploy, re.S)
    assert config is not None
    for path in ("/metrics", "/schema"):
        assert re.search(rf"location\s+(?:\^~\s+)?{path}\s*\{{\s*(?:return 404|deny all);", config.group(1)), path
    assert "scrape_configs" in deploy


def test_the_licence_is_there_and_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    licence = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("MIT License")
    assert "Copyright (c) 2026 chatcore contributors" in licence
