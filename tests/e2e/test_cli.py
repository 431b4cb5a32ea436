"""The `chat` command: users, tokens, migrations, and one clear line for a bad setting."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.e2e.conftest import Server, chat_command
from tests.jwt_keys import rsa_pems


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
