"""The `chat` command: users, tokens, migrations, and one clear line for a bad setting."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
from importlib.metadata import version
from pathlib import Path

import httpx

from tests.e2e.conftest import Server, chat_command, serving, start_server
from tests.jwt_keys import rsa_pems
from tests.redis_server import RedisServer, redis_server

__all__ = ["redis_server"]


def test_users_add_then_token_works_against_the_server(server: Server) -> None:
    added = chat_command("users", "add", "--email", "Cli.User@Example.com", "--name", "Cli User", env=server.env,
                         cwd=server.workdir)  # fmt: skip
    assert added.returncode == 0, added.stderr
    user = json.loads(added.stdout)
    assert user["email"] == "Cli.User@Example.com"
    again = chat_command("users", "add", "--email", "cli.user@example.com", "--name", "Twin", env=server.env,
                         cwd=server.workdir)  # fmt: skip
    assert again.returncode != 0
    assert "email" in again.stderr
    minted = chat_command("token", "--user-id", str(user["id"]), "--ttl", "60", env=server.env, cwd=server.workdir)
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    response = httpx.get(f"{server.base_url}/api/v1/chat/rooms", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_users_import_creates_then_updates_by_email(server: Server, tmp_path: Path) -> None:
    sheet = tmp_path / "people.csv"
    sheet.write_text("email,name,avatar_url\nimp1@example.com,One,\nimp2@example.com,Two,https://x/2.png\n")
    first = chat_command("users", "import", str(sheet), env=server.env, cwd=server.workdir)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"created": 2, "updated": 0, "total": 2}
    sheet.write_text("email,name\nIMP1@example.com,One Renamed\nimp3@example.com,Three\n")
    second = chat_command("users", "import", str(sheet), env=server.env, cwd=server.workdir)
    assert json.loads(second.stdout) == {"created": 1, "updated": 1, "total": 2}
    bad = tmp_path / "bad.csv"
    bad.write_text("email,name\nnot-an-email,X\n")
    refused = chat_command("users", "import", str(bad), env=server.env, cwd=server.workdir)
    assert refused.returncode == 2
    assert "bad.csv:2" in refused.stderr


def test_bad_settings_stop_with_one_line_naming_the_variable(server: Server, tmp_path: Path) -> None:
    cases = {
        "CHAT_DATABASE_URL": "mysql://x",
        "CHAT_JWT_ALGORITHMS": "none",
        "CHAT_JWT_SECRET": "short",
        "CHAT_STORAGE_URL": "ftp://x",
        "CHAT_MAX_CONNECTIONS_PER_USER": "lots",
    }
    for name, value in cases.items():
        done = chat_command("serve", "--port", "1", env={**server.env, name: value}, cwd=tmp_path)
        assert done.returncode == 2, (name, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert name in lines[0]
        assert "Traceback" not in done.stderr


def test_jwt_settings_that_would_fail_every_token_stop_serve_with_one_line(server: Server, tmp_path: Path) -> None:
    public = rsa_pems()[1]
    cases = [
        ({"CHAT_JWT_ALGORITHMS": "RS256,HS256", "CHAT_JWT_PUBLIC_KEY": public}, "CHAT_JWT_ALGORITHMS"),
        ({"CHAT_JWT_ALGORITHMS": "ES256", "CHAT_JWT_PUBLIC_KEY": public}, "CHAT_JWT_PUBLIC_KEY"),
        ({"CHAT_JWT_ALGORITHMS": "RS256", "CHAT_JWT_PUBLIC_KEY": "ssh-rsa AAAA"}, "CHAT_JWT_PUBLIC_KEY"),
    ]
    for env, name in cases:
        done = chat_command("serve", "--port", "1", env={**server.env, **env}, cwd=tmp_path)
        assert done.returncode == 2, (env, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert name in lines[0]


def test_token_refuses_what_the_server_would_refuse_with_one_line(server: Server) -> None:
    rs256 = {"CHAT_JWT_ALGORITHMS": "RS256", "CHAT_JWT_PUBLIC_KEY": rsa_pems()[1]}
    cases = [
        (rs256, ("--ttl", "60"), "CHAT_JWT_PUBLIC_KEY"),  # tokens come from the identity provider's private key
        ({"CHAT_JWT_MAX_TTL": "600"}, ("--ttl", "601"), "CHAT_JWT_MAX_TTL"),
        ({}, ("--ttl", "0"), "--ttl"),
    ]
    for env, args, name in cases:
        done = chat_command("token", "--user-id", "1", *args, env={**server.env, **env}, cwd=server.workdir)
        assert done.returncode == 2, (env, args, done.stdout)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert name in lines[0]
    allowed = chat_command("token", "--user-id", "1", "--ttl", "600", env={**server.env, "CHAT_JWT_MAX_TTL": "600"},
                           cwd=server.workdir)  # fmt: skip
    assert allowed.returncode == 0, allowed.stderr


def test_memory_broker_refuses_many_workers(server: Server, tmp_path: Path) -> None:
    done = chat_command("serve", "--workers", "2", "--port", "1", env=server.env, cwd=tmp_path)
    assert done.returncode == 2
    assert "CHAT_BROKER_URL" in done.stderr


def test_db_downgrade_and_upgrade(tmp_path: Path, server: Server) -> None:
    env = {**server.env, "CHAT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'other.db'}"}
    for args in (("db", "upgrade"), ("db", "downgrade", "base"), ("db", "upgrade", "head")):
        done = chat_command(*args, env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr


def test_files_cleanup_removes_only_unreferenced_files(server: Server) -> None:
    files = server.workdir / "files"
    orphan = files / "files" / "0123456789abcdef0123456789abcdef-orphan.pdf"
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"%PDF-1.4 left behind")
    kept = {p for p in files.rglob("*") if p.is_file() and p != orphan}
    dry = chat_command("files", "cleanup", "--dry-run", env=server.env, cwd=server.workdir)
    assert dry.returncode == 0, dry.stderr
    summary = json.loads(dry.stdout)
    assert summary["dry_run"] is True
    assert summary["unreferenced"] >= 1
    assert f"would delete files/{orphan.name}" in dry.stderr
    assert orphan.exists()
    done = chat_command("files", "cleanup", "--grace", "0", env=server.env, cwd=server.workdir)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["deleted"] >= 1
    assert not orphan.exists()
    assert all(p.exists() for p in kept)


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


def test_commands_on_a_database_never_migrated_say_to_migrate_and_create_no_file(
    server: Server, tmp_path: Path
) -> None:
    database = tmp_path / "never.db"
    env = {**server.env, "CHAT_DATABASE_URL": f"sqlite+aiosqlite:///{database}"}
    sheet = tmp_path / "people.csv"
    sheet.write_text("email,name\na@example.com,A\n")
    for args in (("users", "add", "--email", "a@example.com", "--name", "A"), ("users", "import", str(sheet)),
                 ("files", "cleanup", "--dry-run")):  # fmt: skip
        done = chat_command(*args, env=env, cwd=tmp_path)
        assert done.returncode == 1, (args, done.stderr)
        line = _one_line(done)
        assert "chat db upgrade" in line, line
        assert "CHAT_DATABASE_URL" in line, line
        assert not database.exists(), args
    sqlite3.connect(database).close()  # a file, but no chat tables in it
    done = chat_command("users", "add", "--email", "a@example.com", "--name", "A", env=env, cwd=tmp_path)
    assert done.returncode == 1
    assert "no chat tables" in _one_line(done)
    served = chat_command("serve", "--port", "1", env={**env, "CHAT_AUTO_MIGRATE": "false"}, cwd=tmp_path)
    assert served.returncode == 1
    assert "chat db upgrade" in _one_line(served)


def closed_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_postgres_unreachable_is_one_line_naming_the_variable_without_the_password(
    server: Server, tmp_path: Path
) -> None:
    url = f"postgresql+asyncpg://chat:s3cret-pw@127.0.0.1:{closed_port()}/chat"
    env = {**server.env, "CHAT_DATABASE_URL": url}
    for args in (("serve", "--port", "1"), ("users", "add", "--email", "a@example.com", "--name", "A"),
                 ("db", "upgrade")):  # fmt: skip
        done = chat_command(*args, env=env, cwd=tmp_path)
        assert done.returncode == 1, (args, done.stderr)
        line = _one_line(done)
        assert "CHAT_DATABASE_URL=postgresql+asyncpg://chat:***@127.0.0.1" in line, line
        assert "s3cret-pw" not in done.stderr + done.stdout


def test_redis_unreachable_at_start_is_one_warning_and_the_server_serves_unready(tmp_path: Path) -> None:
    url = f"redis://:r3dis-pw@127.0.0.1:{closed_port()}/0"
    with serving(tmp_path, {"CHAT_BROKER_URL": url}) as srv:
        assert httpx.get(f"{srv.base_url}/ready", timeout=10).status_code == 503
    warnings = [line for line in srv.log().splitlines() if "CHAT_BROKER_URL" in line]
    assert len(warnings) == 1, srv.log()
    assert "redis://:***@127.0.0.1" in warnings[0]
    assert "r3dis-pw" not in srv.log()


def test_a_misspelt_variable_is_one_warning_naming_the_closest_known_one(server: Server, tmp_path: Path) -> None:
    env = {**server.env, "CHAT_DATABSE_URL": "x", "CHAT_JWT_SECERT": "y", "CHAT_WHATEVER_ELSE": "z"}
    done = chat_command("token", "--user-id", "1", env=env, cwd=server.workdir)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 3, done.stderr
    assert "CHAT_DATABSE_URL" in lines[0]
    assert "did you mean CHAT_DATABASE_URL?" in lines[0]
    assert "CHAT_JWT_SECERT" in lines[1]
    assert "did you mean CHAT_JWT_SECRET?" in lines[1]
    assert "CHAT_WHATEVER_ELSE" in lines[2]
    assert "did you mean" not in lines[2]
    clean = chat_command("token", "--user-id", "1", env=server.env, cwd=server.workdir)
    assert clean.stderr == ""


def test_version_and_serve_help_with_defaults(server: Server, tmp_path: Path) -> None:
    done = chat_command("--version", env=server.env, cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.strip() == f"chat {version('chatcore')}"
    helped = chat_command("serve", "--help", env=server.env, cwd=tmp_path)
    text = " ".join(helped.stdout.split())
    for default in ("(default: 127.0.0.1)", "(default: 8000)", "(default: 1)"):
        assert default in text, helped.stdout


def _stopped_by_sigterm(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)


def test_sigterm_after_a_clean_shutdown_exits_zero(tmp_path: Path) -> None:
    proc, srv = start_server(tmp_path)
    assert _stopped_by_sigterm(proc) == 0, srv.log()
    assert "Application shutdown complete" in srv.log()


def test_sigterm_with_workers_exits_zero(tmp_path: Path, redis_server: RedisServer) -> None:
    proc, srv = start_server(tmp_path, {"CHAT_BROKER_URL": redis_server.url}, args=("--workers", "2"))
    assert _stopped_by_sigterm(proc) == 0, srv.log()
    assert srv.log().count("Application shutdown complete") == 2, srv.log()
