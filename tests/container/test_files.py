"""The container files, read without a container runtime: they run everywhere, CI included.

The image itself is built and run by test_image.py where a runtime works; these keep the promises of
compose.yaml, deploy/nginx.conf and the Dockerfile that no single run would notice breaking (a second replica,
the migration run once, the proxy hiding /metrics and /schema).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return data


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def chat_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Services running the chat image (the one built from this repository)."""
    return {name: svc for name, svc in services(compose).items() if "build" in svc}


def replicas(svc: dict[str, Any]) -> int:
    return int(svc.get("deploy", {}).get("replicas", 1))


def command(svc: dict[str, Any]) -> list[str]:
    cmd = svc.get("command", [])
    return cmd.split() if isinstance(cmd, str) else list(cmd)


def test_two_app_replicas_serve_with_auto_migration_off(compose: dict[str, Any]) -> None:
    serving = {n: s for n, s in chat_services(compose).items() if command(s)[:2] == ["chat", "serve"]}
    assert sum(replicas(s) for s in serving.values()) == 2
    for svc in serving.values():
        assert svc["environment"]["CHAT_AUTO_MIGRATE"] == "false"
        assert "0.0.0.0" in command(svc)
        assert svc["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_the_migration_runs_once_after_postgres_is_healthy(compose: dict[str, Any]) -> None:
    migrating = {n: s for n, s in chat_services(compose).items() if command(s)[:3] == ["chat", "db", "upgrade"]}
    assert list(migrating) == ["migrate"]
    migrate = migrating["migrate"]
    assert replicas(migrate) == 1
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_every_long_running_service_has_a_health_check(compose: dict[str, Any]) -> None:
    """depends_on waits on them; the chat image brings its own HEALTHCHECK (checked below)."""
    for name, svc in services(compose).items():
        if name == "migrate":
            continue
        if "build" in svc:
            assert "healthcheck" not in svc, f"{name}: the image's HEALTHCHECK is the one to use"
        else:
            assert svc["healthcheck"]["test"][0] == "CMD", name
    assert services(compose)["proxy"]["depends_on"]["app"]["condition"] == "service_healthy"


def test_backends_come_from_chat_variables(compose: dict[str, Any]) -> None:
    env = services(compose)["app"]["environment"]
    assert env["CHAT_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert env["CHAT_DATABASE_URL"].endswith("@postgres:5432/chat")
    assert env["CHAT_BROKER_URL"] == "redis://redis:6379/0"
    assert env["CHAT_STORAGE_URL"].startswith("s3://chat-files/")
    assert env["CHAT_S3_ENDPOINT_URL"].endswith(":8333")
    assert services(compose)["s3"]["environment"]["S3_BUCKET"] == "chat-files"
    for secret in ("CHAT_JWT_SECRET", "AWS_SECRET_ACCESS_KEY"):
        assert ":?" in env[secret], f"{secret} must be required, never defaulted"


# --- nginx ------------------------------------------------------------------------------------------------

LOCATION = re.compile(r"location\s+(=|\^~|~\*?)?\s*(\S+)\s*\{([^{}]*)\}")


def locations() -> list[tuple[str, str, str]]:
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    text = re.sub(r"#[^\n]*", "", text)
    return [(m.group(1) or "", m.group(2), m.group(3)) for m in LOCATION.finditer(text)]


def chosen(path: str) -> tuple[str, str, str]:
    """The location nginx picks for `path`: an exact match, else the longest prefix (no regexes here)."""
    found = locations()
    assert not [loc for loc in found if loc[0].startswith("~")], "regex locations: extend this resolver"
    for loc in found:
        if loc[0] == "=" and loc[1] == path:
            return loc
    prefixes = [loc for loc in found if loc[0] != "=" and path.startswith(loc[1])]
    return max(prefixes, key=lambda loc: len(loc[1]))


@pytest.mark.parametrize(
    "path", ["/metrics", "/metrics/", "/schema", "/schema/", "/schema/openapi.json", "/schema/swagger"]
)
def test_the_proxy_does_not_serve_metrics_or_schema(path: str) -> None:
    _, _, body = chosen(path)
    assert "proxy_pass" not in body
    assert re.search(r"return\s+4\d\d\s*;|deny\s+all\s*;", body), body


@pytest.mark.parametrize("path", ["/health", "/api/v1/chat/rooms", "/api/v1/chat/ws", "/static/chat_files/x"])
def test_the_proxy_passes_the_chat(path: str) -> None:
    assert "proxy_pass http://chat;" in chosen(path)[2]


def test_the_socket_location_upgrades() -> None:
    body = chosen("/api/v1/chat/ws")[2]
    assert re.search(r"proxy_http_version\s+1\.1;", body)
    assert re.search(r"proxy_set_header\s+Upgrade\s+\$http_upgrade;", body)
    assert re.search(r"proxy_set_header\s+Connection\s+\$connection_upgrade;", body)


# --- Dockerfile -------------------------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments), continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1] if " " in ln else "") for ln in lines]


def test_the_image_is_multi_stage_and_copies_the_venv() -> None:
    froms = [args for ins, args in dockerfile() if ins == "FROM"]
    assert len(froms) >= 2
    assert froms[0].endswith("AS builder")
    assert any(ins == "COPY" and args.startswith("--from=builder") for ins, args in dockerfile())


def test_the_image_runs_as_a_user_that_is_not_root() -> None:
    stages = " ".join(f"{ins} {args}" for ins, args in dockerfile()).split(" FROM ")
    users = [args for ins, args in dockerfile() if ins == "USER"]
    assert users, "no USER: the image would run as root"
    assert "USER" in stages[-1], "USER must be set in the final stage"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_the_image_checks_health_and_serves_on_all_interfaces() -> None:
    instructions = dict(dockerfile())
    assert "/health" in instructions["HEALTHCHECK"]
    assert instructions["CMD"].startswith('["chat", "serve", "--host", "0.0.0.0"')


def test_the_build_context_leaves_local_data_out() -> None:
    ignored = {ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()}
    for pattern in (".venv", "*.db", "static", "tests", "test-artifacts", ".chat-dev-secret", ".git"):
        assert pattern in ignored
