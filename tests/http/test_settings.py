"""CHAT_* parsing: defaults, and one clear line naming the variable for every bad value."""

from __future__ import annotations

import logging

import pytest

from chat_http.cli import RedactTokens
from chat_http.settings import SettingsError, load_settings

SECRET = "s" * 40


def test_defaults_are_the_embedded_profile() -> None:
    settings = load_settings({"CHAT_JWT_SECRET": SECRET})
    assert settings.database_url == "sqlite+aiosqlite:///./chat.db"
    assert settings.sqlite_synchronous == "full"  # durable commits unless CHAT_SQLITE_SYNCHRONOUS=normal
    assert settings.storage_url == "file://./static/chat_files"
    assert settings.broker_url == "memory://"
    assert settings.jwt_algorithms == ("HS256",)
    assert settings.jwt_user_claim == "sub"
    assert settings.max_connections_per_user == 10
    assert settings.room_list_cache == 20_000


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "CHAT_JWT_SECRET"),
        ({"CHAT_JWT_SECRET": "short"}, "CHAT_JWT_SECRET"),
        ({"CHAT_JWT_ALGORITHMS": "none"}, "CHAT_JWT_ALGORITHMS"),
        ({"CHAT_JWT_ALGORITHMS": "HS256,None"}, "CHAT_JWT_ALGORITHMS"),
        ({"CHAT_JWT_ALGORITHMS": "XX1"}, "CHAT_JWT_ALGORITHMS"),
        ({"CHAT_JWT_ALGORITHMS": "RS256"}, "CHAT_JWT_PUBLIC_KEY"),
        ({"CHAT_DATABASE_URL": "mysql://db"}, "CHAT_DATABASE_URL"),
        ({"CHAT_SQLITE_SYNCHRONOUS": "off"}, "CHAT_SQLITE_SYNCHRONOUS"),
        ({"CHAT_STORAGE_URL": "ftp://x"}, "CHAT_STORAGE_URL"),
        ({"CHAT_STORAGE_URL": "s3://"}, "CHAT_STORAGE_URL"),
        ({"CHAT_BROKER_URL": "kafka://x"}, "CHAT_BROKER_URL"),
        ({"CHAT_USERS_TABLE": "users; drop table x"}, "CHAT_USERS_TABLE"),
        ({"CHAT_USERS_COLUMNS": "id=emp id"}, "CHAT_USERS_COLUMNS"),
        ({"CHAT_USERS_COLUMNS": "phone=x"}, "CHAT_USERS_COLUMNS"),
        ({"CHAT_MAX_CONNECTIONS_PER_USER": "0"}, "CHAT_MAX_CONNECTIONS_PER_USER"),
        ({"CHAT_ROOM_LIST_CACHE": "-1"}, "CHAT_ROOM_LIST_CACHE"),
        ({"CHAT_WS_RATE": "fast"}, "CHAT_WS_RATE"),
        ({"CHAT_AUTO_MIGRATE": "maybe"}, "CHAT_AUTO_MIGRATE"),
        ({"CHAT_ALLOWED_ORIGINS": "evil"}, "CHAT_ALLOWED_ORIGINS"),
        ({"CHAT_TABLE_PREFIX": "Chat-"}, "CHAT_TABLE_PREFIX"),
        ({"CHAT_TABLE_PREFIX": "a_much_too_long_prefix_"}, "CHAT_TABLE_PREFIX"),
        ({"CHAT_DB_SCHEMA": "chat"}, "CHAT_DB_SCHEMA"),  # SQLite has no schemas
        ({"CHAT_DB_SCHEMA": "chat; drop", "CHAT_DATABASE_URL": "postgresql+asyncpg://db/x"}, "CHAT_DB_SCHEMA"),
        ({"CHAT_MOUNT_PATH": "chat"}, "CHAT_MOUNT_PATH"),
        ({"CHAT_MOUNT_PATH": "/chat?x=1"}, "CHAT_MOUNT_PATH"),
    ],
)
def test_a_bad_value_names_its_variable(env: dict[str, str], variable: str) -> None:
    full = env if variable == "CHAT_JWT_SECRET" else {"CHAT_JWT_SECRET": SECRET, **env}
    with pytest.raises(SettingsError) as error:
        load_settings(full)
    assert variable in str(error.value)
    assert "\n" not in str(error.value)


def test_host_users_columns_are_parsed() -> None:
    settings = load_settings(
        {
            "CHAT_JWT_SECRET": SECRET,
            "CHAT_USERS_TABLE": "hr.employees",
            "CHAT_USERS_COLUMNS": "id=emp_id,email=work_email",
        }
    )
    assert settings.users_table == "hr.employees"
    assert settings.users_columns == {"id": "emp_id", "name": "name", "email": "work_email", "avatar_url": "avatar_url"}


def test_embedding_variables_are_parsed() -> None:
    settings = load_settings(
        {
            "CHAT_JWT_SECRET": SECRET,
            "CHAT_DATABASE_URL": "postgresql+asyncpg://hr@db/hrms",
            "CHAT_USERS_TABLE": "employees",
            "CHAT_USERS_COLUMNS": "id=emp_id,name=full_name,email=work_email,avatar_url=",
            "CHAT_DB_SCHEMA": "chat",
            "CHAT_TABLE_PREFIX": "hrchat_",
            "CHAT_MOUNT_PATH": "/chat/",
        }
    )
    assert settings.users_columns == {"id": "emp_id", "name": "full_name", "email": "work_email", "avatar_url": ""}
    assert (settings.db_schema, settings.table_prefix, settings.mount_path) == ("chat", "hrchat_", "/chat")
    defaults = load_settings({"CHAT_JWT_SECRET": SECRET})
    assert (defaults.db_schema, defaults.table_prefix, defaults.mount_path) == (None, "", "")


def test_the_room_list_cache_may_be_turned_off() -> None:
    assert load_settings({"CHAT_JWT_SECRET": SECRET, "CHAT_ROOM_LIST_CACHE": "0"}).room_list_cache == 0


def test_dev_mode_may_run_without_a_secret() -> None:
    assert load_settings({}, dev=True).jwt_secret is None


def test_tokens_are_redacted_from_log_records() -> None:
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        "",
        0,
        '%s - "WebSocket %s" [accepted]',
        ("1.2.3.4", "/ws?token=eyJabc.def&room_id=1"),
        None,
    )
    RedactTokens().filter(record)
    assert "eyJabc" not in record.getMessage()
    assert "token=[redacted]&room_id=1" in record.getMessage()
