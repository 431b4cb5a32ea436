"""The `chat` command: serve, migrate, manage users, mint tokens."""

from __future__ import annotations

import argparse
import asyncio
import csv
import gc
import json
import logging
import os
import re
import secrets
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeVar

from chat_http.settings import Settings, SettingsError, load_settings, log_format, log_level, unknown_variables

T = TypeVar("T")
log = logging.getLogger("chat")


def frame_limit(settings: Settings) -> int:
    """The largest allowed file as base64 plus 1 MiB for the rest of the frame."""
    from chatcore.uploads import UploadPolicy

    return (UploadPolicy().largest + 2) // 3 * 4 + 2**20


def _run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


def _own_users_only(settings: Settings) -> None:
    if settings.users_table is not None:
        raise SettingsError(
            f"CHAT_USERS_TABLE is set: users come from the host's table {settings.users_table}; "
            "add or change them in the host application, not with `chat users`"
        )


async def _with_users(settings: Settings, action: Callable[[Any], Awaitable[T]]) -> T:
    from chat_adapters.sql.engine import create_engine, session_factory
    from chat_adapters.sql.users import SqlUserDirectory
    from chat_http.wiring import chat_layout

    layout = chat_layout(settings)
    engine = create_engine(settings.database_url)
    try:
        return await action(SqlUserDirectory(session_factory(engine, layout), layout))
    finally:
        await engine.dispose()


DEV_SECRET_FILE = Path(".chat-dev-secret")


def dev_secret(*, create: bool) -> str:
    """The secret `serve --dev` made up, kept beside the database so `chat token` can sign with it."""
    if DEV_SECRET_FILE.exists():
        return DEV_SECRET_FILE.read_text().strip()
    if not create:
        return ""
    secret = secrets.token_urlsafe(32)
    DEV_SECRET_FILE.write_text(secret + "\n")
    DEV_SECRET_FILE.chmod(0o600)
    return secret


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from chat_adapters.sql.engine import upgrade
    from chat_http import preflight
    from chat_http.http_limits import BoundedHttpToolsProtocol
    from chat_http.logs import logging_config

    if args.dev and not os.environ.get("CHAT_JWT_SECRET"):
        os.environ["CHAT_JWT_SECRET"] = dev_secret(create=True)
        log.warning("--dev: CHAT_JWT_SECRET is kept in %s (chat token reads it too)", DEV_SECRET_FILE)
    # Only --dev turns dev mode on; the variable carries it to uvicorn workers, which read the environment.
    os.environ["CHAT_DEV"] = "true" if args.dev else "false"
    if args.dev:
        log.warning("--dev: POST /api/v1/dev/token signs anyone in by email; never use --dev in production")
    settings = load_settings(dev=args.dev)
    if args.workers > 1 and settings.broker_url == "memory://":
        raise SettingsError("CHAT_BROKER_URL=memory:// cannot serve more than one worker; use redis://host:port/db")
    from chat_http.wiring import chat_layout, check_database

    settings.check()
    _run(preflight.reachable(settings, may_create=settings.auto_migrate))
    if settings.auto_migrate:
        _run(upgrade(settings.database_url, layout=chat_layout(settings)))
    _run(preflight.migrated(settings))
    _run(check_database(settings))
    if problem := _run(preflight.broker_problem(settings)):
        log.warning(
            "CHAT_BROKER_URL=%s does not answer (%s); serving anyway: events reach only this process's sockets "
            "until Redis answers, and /ready says 503",
            preflight.masked(settings.broker_url),
            problem,
        )
    log.debug(
        "serving on %s:%d with %d worker(s); database %s, broker %s, storage %s",
        args.host, args.port, args.workers, preflight.masked(settings.database_url),
        preflight.masked(settings.broker_url), settings.storage_url,
    )  # fmt: skip
    common: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "ws_max_size": frame_limit(settings),
        "ws_ping_interval": 20.0,
        # Chat frames are small; a deflate context costs memory per socket and CPU on every frame.
        "ws_per_message_deflate": False,
        "ws": "chat_http.framing:BudgetedWebSocketProtocol",  # large messages under CHAT_WS_DECODE_BUDGET_MB
        "log_config": logging_config(settings.log_level, settings.log_format),  # workers apply it too
        "timeout_graceful_shutdown": 10,
        "proxy_headers": True,
        "http": BoundedHttpToolsProtocol,  # 431 for an over-size request head; workers get it too
    }
    if args.workers > 1:
        uvicorn.run("chat_http.asgi:create_from_env", factory=True, workers=args.workers, **common)
    else:
        from chat_http.app import create_app

        app = create_app(settings)
        tune_gc()
        _stopping_is_success()
        uvicorn.run(app, **common)
    return 0


def _stop(signum: int, _: object) -> None:
    raise SystemExit(0)


def _stopping_is_success() -> None:
    """SIGTERM or SIGINT: uvicorn shuts down cleanly, puts back the handlers it found, then raises the signal
    again; with these that ends the process with status 0 (not 143 for SIGTERM, nor a KeyboardInterrupt). A
    signal before uvicorn takes over ends it at once, also with 0: nothing was served yet."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _stop)


def tune_gc() -> None:
    """Fewer, cheaper garbage collections for a server that allocates in bursts (a long room list makes tens of
    thousands of objects): the modules and app loaded so far are frozen out of every later collection, and the
    youngest generation is collected after 50,000 allocations instead of 700. The tail latency of long room
    lists was full collections over every object of the process (bench/README.md has the figures)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def cmd_db(args: argparse.Namespace) -> int:
    from chat_adapters.sql.engine import downgrade, upgrade
    from chat_http import preflight
    from chat_http.wiring import chat_layout

    settings = load_settings(dev=True)
    layout = chat_layout(settings)
    _run(preflight.reachable(settings, may_create=args.action == "upgrade"))
    if args.action == "upgrade":
        _run(upgrade(settings.database_url, args.revision or "head", layout=layout))
    else:
        if not args.revision:
            raise SettingsError("chat db downgrade needs a revision, e.g. `chat db downgrade base`")
        _run(downgrade(settings.database_url, args.revision, layout=layout))
    print(f"database {args.action}d to {args.revision or 'head'}")
    return 0


def _user_json(user: Any) -> str:
    return json.dumps({"id": user.id, "name": user.name, "email": user.email, "avatar_url": user.avatar_url})


def _check_email(email: str) -> str:
    email = email.strip()
    if not re.fullmatch(r"[^@\s]+@[^@\s]+", email) or len(email) > 254:
        raise SettingsError(f"not an email address: {email!r}")
    return email


def cmd_users(args: argparse.Namespace) -> int:
    from chat_http import preflight

    settings = load_settings(dev=True)
    _own_users_only(settings)
    if args.action == "add":
        email = _check_email(args.email)
        if not args.name.strip():
            raise SettingsError("--name must not be empty")
        _run(preflight.migrated(settings))
        user = _run(
            _with_users(settings, lambda d: d.add(name=args.name.strip(), email=email, avatar_url=args.avatar_url))
        )
        print(_user_json(user))
        return 0
    rows = _read_csv(Path(args.file))
    _run(preflight.migrated(settings))

    async def sync(directory: Any) -> tuple[int, int]:
        created = updated = 0
        for row in rows:
            _, was_created = await directory.upsert_by_email(**row)
            created += was_created
            updated += not was_created
        return created, updated

    created, updated = _run(_with_users(settings, sync))
    print(json.dumps({"created": created, "updated": updated, "total": len(rows)}))
    return 0


def _read_csv(path: Path) -> list[dict[str, Any]]:
    """Every row checked before anything is written, so a bad file changes nothing."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            fields = set(reader.fieldnames or ())
            if not {"email", "name"} <= fields:
                raise SettingsError(f"{path}: the header must have email and name (and optionally avatar_url)")
            rows = []
            for number, row in enumerate(reader, start=2):
                try:
                    email = _check_email(row.get("email") or "")
                except SettingsError as exc:
                    raise SettingsError(f"{path}:{number}: {exc}") from None
                name = (row.get("name") or "").strip()
                if not name:
                    raise SettingsError(f"{path}:{number}: name is empty")
                rows.append({"email": email, "name": name, "avatar_url": (row.get("avatar_url") or "").strip() or None})
    except OSError as exc:
        raise SettingsError(f"cannot read {path}: {exc.strerror}") from None
    return rows


def cmd_token(args: argparse.Namespace) -> int:
    from chat_http.tokens import AuthError, mint_token

    if not os.environ.get("CHAT_JWT_SECRET") and (kept := dev_secret(create=False)):
        os.environ["CHAT_JWT_SECRET"] = kept
    settings = load_settings()
    if args.user_id < 1:
        raise SettingsError("--user-id must be a positive user id")
    if args.ttl < 1:
        raise SettingsError("--ttl must be a positive number of seconds")
    try:
        print(mint_token(settings, args.user_id, ttl=args.ttl))
    except AuthError as exc:
        raise SettingsError(exc.detail) from None
    return 0


def cmd_files(args: argparse.Namespace) -> int:
    """Expire unclaimed uploads, then delete stored files that no message or upload refers to."""
    from contextlib import AsyncExitStack

    from chat_http import preflight
    from chat_http.wiring import build_services

    settings = load_settings(dev=True)
    _run(preflight.migrated(settings))
    tty = sys.stderr.isatty()

    def progress(scanned: int, orphans: int) -> None:
        end = "\r" if tty else "\n"
        print(f"scanned {scanned} files, {orphans} unreferenced", end=end, file=sys.stderr, flush=True)

    async def run() -> dict[str, Any]:
        async with AsyncExitStack() as stack:
            chat = (await build_services(settings, stack)).chat
            expired = 0 if args.dry_run else await chat.expire_uploads(settings.upload_ttl)
            orphans = await chat.orphan_files(progress=progress)
            if tty:
                print(file=sys.stderr)
            if args.dry_run or not orphans:
                removed: list[str] = []
            else:
                await asyncio.sleep(args.grace)  # let sends that stored a file a moment ago commit
                removed = await chat.remove_orphans(orphans)
            for key in orphans if args.dry_run else removed:
                print(f"{'would delete' if args.dry_run else 'deleted'} {key}", file=sys.stderr)
            return {
                "dry_run": args.dry_run,
                "expired_uploads": expired,
                "unreferenced": len(orphans),
                "deleted": len(removed),
            }

    print(json.dumps(_run(run())))
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="chat", description="chatcore: real-time 1-on-1 chat for HR systems")
    root.add_argument("--version", action="version", version=f"%(prog)s {version('chatcore')}")
    sub = root.add_subparsers(dest="command", required=True)

    serve = sub.add_parser(
        "serve", help="migrate the database to head, then serve", formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument("--workers", type=int, default=1, help="processes; more than one needs a redis:// broker")
    serve.add_argument(
        "--dev", action="store_true", help="generate a JWT secret if none is set; sign-in by email in the web page"
    )
    serve.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database migrations")
    db.add_argument("action", choices=["upgrade", "downgrade"])
    db.add_argument("revision", nargs="?")
    db.set_defaults(func=cmd_db)

    users = sub.add_parser("users", help="the service's own users")
    users_sub = users.add_subparsers(dest="action", required=True)
    add = users_sub.add_parser("add", help="create a user; prints it as one JSON line")
    add.add_argument("--email", required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--avatar-url")
    imp = users_sub.add_parser("import", help="create or update users from a CSV (email,name[,avatar_url])")
    imp.add_argument("file")
    users.set_defaults(func=cmd_users)

    token = sub.add_parser("token", help="print a JWT for a user, signed with CHAT_JWT_SECRET")
    token.add_argument("--user-id", type=int, required=True)
    token.add_argument("--ttl", type=int, default=3600, help="seconds (default 3600)")
    token.set_defaults(func=cmd_token)
    files = sub.add_parser("files", help="stored files")
    files_sub = files.add_subparsers(dest="action", required=True)
    cleanup = files_sub.add_parser("cleanup", help="delete stored files no message refers to")
    cleanup.add_argument("--dry-run", action="store_true", help="only list what would be deleted")
    cleanup.add_argument("--grace", type=float, default=5.0, help="seconds to wait before deleting (default 5)")
    files.set_defaults(func=cmd_files)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    from chat_http.logs import configure_logging
    from chat_http.preflight import CommandError

    args = parser().parse_args(argv)
    try:
        configure_logging(log_level(os.environ), log_format(os.environ))
        logging.captureWarnings(True)  # Python's warnings become log lines in the same format
        for warning in unknown_variables(os.environ):
            log.warning("%s", warning)
        code: int = args.func(args)
    except SettingsError as exc:
        print(f"chat: error: {exc}", file=sys.stderr)
        return 2
    except CommandError as exc:
        print(f"chat: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        from chatcore import ChatError

        if isinstance(exc, ChatError):
            print(f"chat: error: {exc.detail}", file=sys.stderr)
            return 1
        raise
    return code


if __name__ == "__main__":
    sys.exit(main())
