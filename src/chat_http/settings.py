"""CHAT_* environment variables -> one frozen Settings; a bad value is one clear line naming the variable."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from datetime import timedelta
from urllib.parse import urlsplit

import attrs
import jwt

from chatcore import Limits

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./chat.db"
DEFAULT_STORAGE_URL = "file://./static/chat_files"
DEFAULT_BROKER_URL = "memory://"
DEFAULT_DECODE_BUDGET = 128 * 2**20  # CHAT_WS_DECODE_BUDGET_MB
ASYMMETRIC = ("RS", "ES", "PS", "Ed")
KNOWN_ALGORITHMS = {
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA",
}  # fmt: skip
USER_COLUMNS = ("id", "name", "email", "avatar_url")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MOUNT_PATH = re.compile(r"^(/[A-Za-z0-9._~-]+)*$")
LOG_LEVELS = ("info", "debug", "warning", "error", "critical")  # the first is the default
LOG_FORMATS = ("text", "json")
# Every variable load_settings reads (a test holds the two in step): any other CHAT_* is a typo to warn about.
VARIABLES = (
    "CHAT_DATABASE_URL", "CHAT_SQLITE_SYNCHRONOUS", "CHAT_STORAGE_URL", "CHAT_S3_ENDPOINT_URL", "CHAT_BROKER_URL",
    "CHAT_JWT_SECRET", "CHAT_JWT_PUBLIC_KEY", "CHAT_JWT_ALGORITHMS", "CHAT_JWT_USER_CLAIM", "CHAT_JWT_AUDIENCE",
    "CHAT_JWT_ISSUER", "CHAT_JWT_MAX_TTL", "CHAT_USERS_TABLE", "CHAT_USERS_COLUMNS", "CHAT_DB_SCHEMA",
    "CHAT_TABLE_PREFIX", "CHAT_MOUNT_PATH", "CHAT_FILE_URL_SECRET", "CHAT_FILE_URL_TTL", "CHAT_UPLOAD_TTL",
    "CHAT_PRESENCE_TTL", "CHAT_ALLOWED_ORIGINS", "CHAT_MAX_CONNECTIONS_PER_USER", "CHAT_ROOM_DETAIL_LIMIT",
    "CHAT_ROOM_LIST_CACHE", "CHAT_WS_RATE", "CHAT_WS_BURST", "CHAT_WS_QUEUE_SIZE", "CHAT_WS_SEND_TIMEOUT",
    "CHAT_WS_DECODE_BUDGET_MB", "CHAT_SEARCH_PER_MINUTE", "CHAT_AUTO_MIGRATE", "CHAT_DEV", "CHAT_LOG_LEVEL",
    "CHAT_LOG_FORMAT", "CHAT_GROUP_MAX_MEMBERS",
)  # fmt: skip


_LIMITS = Limits()  # the core's defaults, which the variables below override


class SettingsError(ValueError):
    """One line for the operator, naming the variable."""


@attrs.frozen(kw_only=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    sqlite_synchronous: str = "full"  # "normal": faster, but a power cut may lose the last acknowledged messages
    storage_url: str = DEFAULT_STORAGE_URL
    s3_endpoint_url: str | None = None
    broker_url: str = DEFAULT_BROKER_URL
    jwt_secret: str | None = None
    jwt_public_key: str | None = None
    jwt_algorithms: tuple[str, ...] = ("HS256",)
    jwt_user_claim: str = "sub"
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    jwt_max_ttl: int | None = None  # seconds a token may live (exp - iat); None: no limit
    users_table: str | None = None
    # "" for avatar_url: the host table has no picture column.
    users_columns: dict[str, str] = attrs.field(factory=lambda: {c: c for c in USER_COLUMNS})
    db_schema: str | None = None
    table_prefix: str = ""
    mount_path: str = ""  # "/chat" when the service is reached under a path prefix
    file_url_secret: str | None = None
    file_url_ttl: timedelta = _LIMITS.file_url_ttl
    upload_ttl: timedelta = timedelta(hours=1)
    presence_ttl: timedelta = timedelta(seconds=60)
    allowed_origins: tuple[str, ...] = ()
    max_connections_per_user: int = 10
    room_detail_limit: int = _LIMITS.room_detail_limit
    group_max_members: int = _LIMITS.max_group_members
    room_list_cache: int = _LIMITS.room_list_cache_rooms  # rooms kept in room lists between requests; 0: none
    ws_rate: float = 20.0
    ws_burst: int = 50
    ws_queue_size: int = 256
    ws_send_timeout: float = 5.0
    ws_decode_budget: int = DEFAULT_DECODE_BUDGET  # bytes of large frames held at once in a process
    search_per_minute: int = _LIMITS.search_per_minute
    auto_migrate: bool = True
    dev: bool = False  # `chat serve --dev` (CHAT_DEV): the browser client may mint tokens by email
    log_level: str = LOG_LEVELS[0]
    log_format: str = LOG_FORMATS[0]  # "json": one object a line, with the request's id, user and route

    def check(self, *, tokens: bool = True) -> None:
        """The rules across variables, for settings read from the environment and settings a host builds in code
        alike; SettingsError with one line naming the variable. `tokens`: also the JWT algorithms and keys and
        a key for file links (not needed by commands that only touch the database)."""
        if self.db_schema is not None and not self.database_url.startswith("postgresql"):
            raise SettingsError("CHAT_DB_SCHEMA needs PostgreSQL (CHAT_DATABASE_URL=postgresql+asyncpg://...)")
        if not tokens:
            return
        _algorithms(",".join(self.jwt_algorithms))
        _jwt_keys(self.jwt_algorithms, self.jwt_secret, self.jwt_public_key)
        if not (self.file_url_secret or self.jwt_secret or self.jwt_public_key):
            raise SettingsError(
                "CHAT_FILE_URL_SECRET is required to sign file links"
                " when neither CHAT_JWT_SECRET nor CHAT_JWT_PUBLIC_KEY is set"
            )

    @property
    def signing_key(self) -> bytes:
        """Key for signed file URLs: its own secret, else derived from the JWT secret."""
        secret = self.file_url_secret or self.jwt_secret or self.jwt_public_key or ""
        return f"chatcore-files:{secret}".encode()


_DEFAULTS = Settings()


def _int(env: Mapping[str, str], name: str, default: int, *, low: int = 1, high: int = 10**9) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if not 0 < value < 1e9:
        raise SettingsError(f"{name} must be a positive number, got {raw!r}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _database_url(raw: str) -> str:
    scheme = raw.split("://", 1)[0]
    if not raw.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise SettingsError(
            f"CHAT_DATABASE_URL must start with sqlite+aiosqlite:// or postgresql+asyncpg://, got {scheme}://"
        )
    return raw


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (the first is the default), in any case."""
    raw = env.get(name, "").strip().lower() or choices[0]
    if raw not in choices:
        raise SettingsError(f"{name} must be {' or '.join(choices)}, got {raw!r}")
    return raw


def _storage_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme == "file":
        if not (parts.netloc + parts.path):
            raise SettingsError("CHAT_STORAGE_URL file:// needs a folder, e.g. file://./static/chat_files")
    elif parts.scheme == "s3":
        if not parts.netloc:
            raise SettingsError("CHAT_STORAGE_URL s3:// needs a bucket, e.g. s3://bucket/prefix")
    else:
        raise SettingsError(f"CHAT_STORAGE_URL must be file://... or s3://bucket/prefix, got {raw!r}")
    return raw


def _broker_url(raw: str) -> str:
    if raw != "memory://" and urlsplit(raw).scheme not in {"redis", "rediss", "unix"}:
        raise SettingsError(f"CHAT_BROKER_URL must be memory:// or redis://host:port/db, got {raw!r}")
    return raw


def _algorithms(raw: str) -> tuple[str, ...]:
    names = tuple(a.strip() for a in raw.split(",") if a.strip())
    if not names:
        raise SettingsError("CHAT_JWT_ALGORITHMS must name at least one algorithm")
    for name in names:
        if name.lower() == "none":
            raise SettingsError("CHAT_JWT_ALGORITHMS must not contain 'none': unsigned tokens are never accepted")
        if name not in KNOWN_ALGORITHMS:
            raise SettingsError(f"CHAT_JWT_ALGORITHMS has unknown algorithm {name!r}")
    if len({name.startswith(ASYMMETRIC) for name in names}) > 1:
        raise SettingsError(
            "CHAT_JWT_ALGORITHMS must not mix HS* with public-key algorithms: a token could then choose HS* and be "
            "checked against the public key as if it were a secret (algorithm confusion)"
        )
    return names


def _jwt_keys(algorithms: tuple[str, ...], secret: str | None, public_key: str | None) -> None:
    """Load the key for every algorithm now: a missing crypto backend or a bad key would otherwise fail every token."""
    asymmetric = any(a.startswith(ASYMMETRIC) for a in algorithms)  # never mixed with HS*, see _algorithms
    name, key = ("CHAT_JWT_PUBLIC_KEY", public_key) if asymmetric else ("CHAT_JWT_SECRET", secret)
    if key is None:  # `chat serve --dev` makes the secret up after this
        return
    for algorithm in algorithms:
        try:
            loaded = jwt.get_algorithm_by_name(algorithm)
        except NotImplementedError:
            raise SettingsError(
                f"CHAT_JWT_ALGORITHMS has {algorithm}, which needs the cryptography package (pyjwt[crypto])"
            ) from None
        try:
            prepared = loaded.prepare_key(key)
        except Exception as exc:  # PyJWT and cryptography raise several kinds for a key they cannot use
            # PyJWT 2.15 prints a generator where it means the key types it expected.
            reason = re.sub(r"<generator object .*? at 0x[0-9a-f]+>", "its key types", " ".join(str(exc).split()))[:200]
            raise SettingsError(f"{name} is not a usable {algorithm} key: {reason}") from None
        if asymmetric and (short := loaded.check_key_length(prepared)):
            raise SettingsError(f"{name} is too weak for {algorithm}: {short}")


def _columns(raw: str | None) -> dict[str, str]:
    columns = {c: c for c in USER_COLUMNS}
    if not raw:
        return columns
    for pair in raw.split(","):
        key, sep, value = (part.strip() for part in pair.partition("="))
        no_avatar = key == "avatar_url" and value == ""
        if not sep or key not in columns or not (_NAME.match(value) or no_avatar):
            raise SettingsError(
                f"CHAT_USERS_COLUMNS must look like id=emp_id,name=full_name,email=work_email,avatar_url=photo "
                f"(avatar_url= for none); "
                f"bad part {pair.strip()!r}"
            )
        columns[key] = value
    return columns


def _table_prefix(raw: str | None) -> str:
    if not raw:
        return ""
    from chat_adapters.sql.tables import MAX_PREFIX, chat_tables

    try:
        chat_tables(raw)
    except ValueError:
        raise SettingsError(
            f"CHAT_TABLE_PREFIX must be up to {MAX_PREFIX} lowercase letters, digits and _ (e.g. hrchat_), got {raw!r}"
        ) from None
    return raw


def _db_schema(raw: str | None) -> str | None:
    if not raw:
        return None
    if not _NAME.match(raw):
        raise SettingsError(f"CHAT_DB_SCHEMA must be a schema name like chat, got {raw!r}")
    return raw


def _mount_path(raw: str | None) -> str:
    path = (raw or "").strip().rstrip("/")
    if not _MOUNT_PATH.match(path):
        raise SettingsError(f"CHAT_MOUNT_PATH must be a path like /chat, got {raw!r}")
    return path


def _origins(raw: str | None) -> tuple[str, ...]:
    if not raw:
        return ()
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in origins:
        if origin != "*" and urlsplit(origin).scheme not in {"http", "https"}:
            raise SettingsError(f"CHAT_ALLOWED_ORIGINS entries must be http(s)://host[:port] or *, got {origin!r}")
    return origins


def _seconds(value: timedelta) -> int:
    return int(value.total_seconds())


def load_settings(env: Mapping[str, str] | None = None, *, dev: bool = False) -> Settings:
    """Read every CHAT_* variable; `dev` allows running without a JWT secret (the caller generates one). An
    unset variable keeps the default written in `Settings`."""
    env = os.environ if env is None else env
    d = _DEFAULTS
    algorithms = _algorithms(env.get("CHAT_JWT_ALGORITHMS", ",".join(d.jwt_algorithms)))
    secret = env.get("CHAT_JWT_SECRET") or None
    public_key = env.get("CHAT_JWT_PUBLIC_KEY") or None
    if any(a.startswith(ASYMMETRIC) for a in algorithms) and public_key is None:
        raise SettingsError("CHAT_JWT_PUBLIC_KEY is required for the asymmetric algorithms in CHAT_JWT_ALGORITHMS")
    if any(a.startswith("HS") for a in algorithms) and secret is None and not dev:
        raise SettingsError("CHAT_JWT_SECRET is not set (or run `chat serve --dev` to generate one for trying out)")
    if secret is not None and len(secret.encode()) < 32 and any(a.startswith("HS") for a in algorithms):
        raise SettingsError("CHAT_JWT_SECRET must be at least 32 bytes long for HS algorithms")
    _jwt_keys(algorithms, secret, public_key)
    users_table = env.get("CHAT_USERS_TABLE") or None
    if users_table is not None and not _IDENTIFIER.match(users_table):
        raise SettingsError(
            f"CHAT_USERS_TABLE must be a table name like employees or hr.employees, got {users_table!r}"
        )
    database_url = _database_url(env.get("CHAT_DATABASE_URL") or DEFAULT_DATABASE_URL)
    settings = Settings(
        database_url=database_url,
        sqlite_synchronous=_choice(env, "CHAT_SQLITE_SYNCHRONOUS", ("full", "normal")),
        storage_url=_storage_url(env.get("CHAT_STORAGE_URL") or DEFAULT_STORAGE_URL),
        s3_endpoint_url=env.get("CHAT_S3_ENDPOINT_URL") or None,
        broker_url=_broker_url(env.get("CHAT_BROKER_URL") or DEFAULT_BROKER_URL),
        jwt_secret=secret,
        jwt_public_key=public_key,
        jwt_algorithms=algorithms,
        jwt_user_claim=env.get("CHAT_JWT_USER_CLAIM") or d.jwt_user_claim,
        jwt_audience=env.get("CHAT_JWT_AUDIENCE") or None,
        jwt_issuer=env.get("CHAT_JWT_ISSUER") or None,
        jwt_max_ttl=_int(env, "CHAT_JWT_MAX_TTL", 0) or None,
        users_table=users_table,
        users_columns=_columns(env.get("CHAT_USERS_COLUMNS")),
        db_schema=_db_schema(env.get("CHAT_DB_SCHEMA")),
        table_prefix=_table_prefix(env.get("CHAT_TABLE_PREFIX")),
        mount_path=_mount_path(env.get("CHAT_MOUNT_PATH")),
        file_url_secret=env.get("CHAT_FILE_URL_SECRET") or None,
        file_url_ttl=timedelta(seconds=_int(env, "CHAT_FILE_URL_TTL", _seconds(d.file_url_ttl), high=7 * 86400)),
        upload_ttl=timedelta(seconds=_int(env, "CHAT_UPLOAD_TTL", _seconds(d.upload_ttl), high=7 * 86400)),
        presence_ttl=timedelta(seconds=_int(env, "CHAT_PRESENCE_TTL", _seconds(d.presence_ttl), low=3, high=3600)),
        allowed_origins=_origins(env.get("CHAT_ALLOWED_ORIGINS")),
        max_connections_per_user=_int(env, "CHAT_MAX_CONNECTIONS_PER_USER", d.max_connections_per_user, high=10_000),
        room_detail_limit=_int(env, "CHAT_ROOM_DETAIL_LIMIT", d.room_detail_limit, high=100_000),
        group_max_members=_int(env, "CHAT_GROUP_MAX_MEMBERS", d.group_max_members, low=3, high=100_000),
        room_list_cache=_int(env, "CHAT_ROOM_LIST_CACHE", d.room_list_cache, low=0, high=10_000_000),
        ws_rate=_float(env, "CHAT_WS_RATE", d.ws_rate),
        ws_burst=_int(env, "CHAT_WS_BURST", d.ws_burst, high=100_000),
        ws_queue_size=_int(env, "CHAT_WS_QUEUE_SIZE", d.ws_queue_size, high=1_000_000),
        ws_send_timeout=_float(env, "CHAT_WS_SEND_TIMEOUT", d.ws_send_timeout),
        ws_decode_budget=_int(env, "CHAT_WS_DECODE_BUDGET_MB", d.ws_decode_budget // 2**20, high=1_000_000) * 2**20,
        search_per_minute=_int(env, "CHAT_SEARCH_PER_MINUTE", d.search_per_minute, high=1_000_000),
        auto_migrate=_bool(env, "CHAT_AUTO_MIGRATE", d.auto_migrate),
        dev=_bool(env, "CHAT_DEV", d.dev),
        log_level=log_level(env),
        log_format=log_format(env),
    )
    settings.check(tokens=False)  # the JWT rules ran above with the variables' own messages; dev adds a key
    return settings


def log_level(env: Mapping[str, str]) -> str:
    return _choice(env, "CHAT_LOG_LEVEL", LOG_LEVELS)


def log_format(env: Mapping[str, str]) -> str:
    return _choice(env, "CHAT_LOG_FORMAT", LOG_FORMATS)


def unknown_variables(env: Mapping[str, str]) -> list[str]:
    """One warning per CHAT_* variable nothing reads, naming the closest known one: a misspelt variable would
    otherwise leave its default in place without a word."""
    warnings = []
    for name in sorted(n for n in env if n.startswith("CHAT_") and n not in VARIABLES):
        # Compared without the CHAT_ all share, which would make any two names look alike.
        close = difflib.get_close_matches(name[5:], [known[5:] for known in VARIABLES], n=1, cutoff=0.6)
        hint = f"; did you mean CHAT_{close[0]}?" if close else ""
        warnings.append(f"{name} is not a chat setting and is ignored{hint}")
    return warnings
