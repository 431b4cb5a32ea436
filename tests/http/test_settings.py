"""CHAT_* parsing: defaults, and one clear line naming the variable for every bad value."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from chat_http.app import create_app
from chat_http.logs import RedactTokens
from chat_http.settings import VARIABLES, Settings, SettingsError, load_settings, unknown_variables
from tests.jwt_keys import ec_pems, rsa_pems

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
        ({"CHAT_JWT_MAX_TTL": "0"}, "CHAT_JWT_MAX_TTL"),
        ({"CHAT_JWT_MAX_TTL": "1h"}, "CHAT_JWT_MAX_TTL"),
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


def test_file_link_signatures_are_redacted_from_access_log_records() -> None:
    path = "/static/chat_files/images/a.png?expires=1900000000&sig=c2lnbmF0dXJl"
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d', ("1.2.3.4:5", "GET", path, "1.1", 200), None
    )
    RedactTokens().filter(record)
    assert record.getMessage() == (
        '1.2.3.4:5 - "GET /static/chat_files/images/a.png?expires=1900000000&sig=[redacted] HTTP/1.1" 200'
    )


def rsa_public(bits: int = 2048) -> str:
    return rsa_pems(bits)[1]


def ec_public() -> str:
    return ec_pems()[1]


BAD_KEYS: dict[str, tuple[Callable[[], dict[str, str]], str]] = {
    # HS256 beside RS256 would let a token pick HS256 and be checked against the public key as a secret.
    "HS mixed with RS": (lambda: {"CHAT_JWT_ALGORITHMS": "RS256,HS256", "CHAT_JWT_PUBLIC_KEY": rsa_public()},
                         "CHAT_JWT_ALGORITHMS"),
    "HS mixed with ES": (lambda: {"CHAT_JWT_ALGORITHMS": "HS512,ES256", "CHAT_JWT_PUBLIC_KEY": ec_public()},
                         "CHAT_JWT_ALGORITHMS"),
    "not a PEM": (lambda: {"CHAT_JWT_ALGORITHMS": "RS256", "CHAT_JWT_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----x"},
                  "CHAT_JWT_PUBLIC_KEY"),
    "EC key for RS256": (lambda: {"CHAT_JWT_ALGORITHMS": "RS256", "CHAT_JWT_PUBLIC_KEY": ec_public()},
                         "CHAT_JWT_PUBLIC_KEY"),
    "RSA key for ES256": (lambda: {"CHAT_JWT_ALGORITHMS": "ES256", "CHAT_JWT_PUBLIC_KEY": rsa_public()},
                          "CHAT_JWT_PUBLIC_KEY"),
    "one key for RS256 and ES256": (
        lambda: {"CHAT_JWT_ALGORITHMS": "RS256,ES256", "CHAT_JWT_PUBLIC_KEY": rsa_public()}, "CHAT_JWT_PUBLIC_KEY"
    ),
    "1024-bit RSA": (lambda: {"CHAT_JWT_ALGORITHMS": "RS256", "CHAT_JWT_PUBLIC_KEY": rsa_public(1024)},
                     "CHAT_JWT_PUBLIC_KEY"),
    "a public key as the HS secret": (lambda: {"CHAT_JWT_SECRET": rsa_public()}, "CHAT_JWT_SECRET"),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_KEYS)
def test_a_jwt_key_that_cannot_check_tokens_stops_start_up(case: str) -> None:
    make_env, variable = BAD_KEYS[case]
    with pytest.raises(SettingsError) as error:
        load_settings({"CHAT_JWT_SECRET": SECRET, **make_env()})
    assert variable in str(error.value)
    assert "\n" not in str(error.value)
    assert "BEGIN" not in str(error.value)  # the key itself is never repeated


@pytest.mark.parametrize(
    ("algorithms", "key"),
    [("RS256", rsa_public), ("RS256,RS512,PS256", rsa_public), ("ES256", ec_public)],
)
def test_a_public_key_is_accepted_for_each_algorithm_it_serves(algorithms: str, key: Callable[[], str]) -> None:
    settings = load_settings({"CHAT_JWT_ALGORITHMS": algorithms, "CHAT_JWT_PUBLIC_KEY": key()})
    assert settings.jwt_algorithms == tuple(algorithms.split(","))


def test_settings_made_in_code_are_checked_the_same() -> None:
    mixed = Settings(jwt_algorithms=("RS256", "HS256"), jwt_public_key=rsa_public(), jwt_secret=SECRET)
    with pytest.raises(SettingsError, match="CHAT_JWT_ALGORITHMS"):
        create_app(mixed)
    with pytest.raises(SettingsError, match="CHAT_JWT_PUBLIC_KEY"):
        create_app(Settings(jwt_algorithms=("ES256",), jwt_public_key=rsa_public()))


def test_rs256_without_the_crypto_backend_stops_start_up() -> None:
    """Without cryptography PyJWT knows no RS/ES algorithm, so every token would be refused."""
    script = (
        "import sys; sys.modules['cryptography'] = None\n"  # as if it were not installed
        "from chat_http.settings import SettingsError, load_settings\n"
        "try:\n"
        "    load_settings({'CHAT_JWT_ALGORITHMS': 'RS256', 'CHAT_JWT_PUBLIC_KEY': sys.argv[1]})\n"
        "except SettingsError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, rsa_public()], capture_output=True, text=True, timeout=60, check=True
    )
    assert "CHAT_JWT_ALGORITHMS" in done.stdout
    assert "cryptography" in done.stdout


def test_the_token_lifetime_limit_is_off_unless_set() -> None:
    assert load_settings({"CHAT_JWT_SECRET": SECRET}).jwt_max_ttl is None
    assert load_settings({"CHAT_JWT_SECRET": SECRET, "CHAT_JWT_MAX_TTL": "900"}).jwt_max_ttl == 900


def test_the_known_variables_are_those_load_settings_reads() -> None:
    """VARIABLES decides which CHAT_* names draw a 'not a chat setting' warning: it must not miss one."""
    read: set[str] = set()

    class Recording(dict[str, str]):
        def get(self, key: str, default: Any = None) -> Any:
            read.add(key)
            return super().get(key, default)

    load_settings(Recording({"CHAT_JWT_SECRET": SECRET}))
    assert {name for name in read if name.startswith("CHAT_")} == set(VARIABLES)
    assert unknown_variables({"CHAT_LOG_FORMAT": "json", "CHAT_LOGFORMAT": "json", "HOME": "/"}) == [
        "CHAT_LOGFORMAT is not a chat setting and is ignored; did you mean CHAT_LOG_FORMAT?"
    ]
