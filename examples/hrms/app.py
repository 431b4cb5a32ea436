"""A small "existing HRMS": its own `employees` table, its own login and session tokens, and chat added in a few lines.

Run it (from the repository root, with chatcore installed):

    .venv/bin/python examples/hrms/app.py --port 8000

then log in with POST /login {"email": "alice@acme.test", "password": "demo"} and use the token for the chat
under /chat (REST /chat/api/v1/chat/..., WebSocket /chat/api/v1/chat/ws?token=...).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import uvicorn
from litestar import Litestar, Request, get, post
from litestar.exceptions import NotAuthorizedException
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from chat_adapters.sql import create_engine, upgrade
from chat_http import ChatPlugin, Identity, Settings

SESSION_SECONDS = 8 * 3600
DEMO_PASSWORD = "demo"
DEMO_EMPLOYEES = [
    (7, "Alice Smith", "alice@acme.test", "https://i.pravatar.cc/150?u=alice"),
    (12, "John Doe", "john@acme.test", None),
    (19, "Maria Garcia", "maria@acme.test", None),
]


def password_hash(password: str, salt: str) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 100_000).hex()


@attrs.frozen(kw_only=True)
class Login:
    email: str
    password: str


@attrs.frozen(kw_only=True)
class Employee:
    emp_id: int
    full_name: str
    work_email: str


@attrs.frozen(kw_only=True)
class Session:
    token: str
    employee: Employee


class Hrms:
    """The HRMS's own world: employees, passwords, sessions. It knows nothing about chat."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create_schema(self) -> None:
        async with self.engine.begin() as db:
            await db.execute(
                text(
                    "CREATE TABLE IF NOT EXISTS employees (emp_id INTEGER PRIMARY KEY, full_name TEXT NOT NULL,"
                    " work_email TEXT NOT NULL UNIQUE, photo TEXT, salt TEXT NOT NULL, password_hash TEXT NOT NULL)"
                )
            )
            await db.execute(
                text(
                    "CREATE TABLE IF NOT EXISTS hr_sessions (token TEXT PRIMARY KEY,"
                    " emp_id INTEGER NOT NULL REFERENCES employees (emp_id), expires_at REAL NOT NULL)"
                )
            )
            if (await db.execute(text("SELECT count(*) FROM employees"))).scalar_one() == 0:
                for emp_id, name, email, photo in DEMO_EMPLOYEES:
                    salt = secrets.token_hex(8)
                    await db.execute(
                        text("INSERT INTO employees VALUES (:id, :name, :email, :photo, :salt, :hash)"),
                        {"id": emp_id, "name": name, "email": email, "photo": photo, "salt": salt,
                         "hash": password_hash(DEMO_PASSWORD, salt)},
                    )  # fmt: skip

    async def login(self, email: str, password: str) -> Session:
        async with self.engine.begin() as db:
            row = (
                await db.execute(
                    text(
                        "SELECT emp_id, full_name, work_email, salt, password_hash FROM employees WHERE work_email = :e"
                    ),
                    {"e": email.strip().lower()},
                )
            ).first()
            if row is None or not secrets.compare_digest(password_hash(password, row.salt), row.password_hash):
                raise NotAuthorizedException("wrong email or password")
            token = secrets.token_urlsafe(32)
            await db.execute(
                text("INSERT INTO hr_sessions VALUES (:t, :id, :exp)"),
                {"t": token, "id": row.emp_id, "exp": time.time() + SESSION_SECONDS},
            )
        return Session(
            token=token, employee=Employee(emp_id=row.emp_id, full_name=row.full_name, work_email=row.work_email)
        )

    async def session_user(self, token: str) -> Identity | None:
        """The HRMS's session check, handed to the chat as is: REST, WebSocket and file links all use it."""
        async with self.engine.connect() as db:
            row = (
                await db.execute(
                    text("SELECT emp_id, expires_at FROM hr_sessions WHERE token = :t AND expires_at > :now"),
                    {"t": token, "now": time.time()},
                )
            ).first()
        return None if row is None else Identity(user_id=row.emp_id, expires_at=row.expires_at)


def create_hrms(data_dir: Path) -> Litestar:
    data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite+aiosqlite:///{data_dir / 'hrms.db'}")  # the HRMS's engine, SQLite pragmas on
    hrms = Hrms(engine)

    # --- chat, added in a few lines: the HRMS's employees table, its session check, its engine. ---
    chat = ChatPlugin(
        Settings(
            users_table="employees",
            users_columns={"id": "emp_id", "name": "full_name", "email": "work_email", "avatar_url": "photo"},
            table_prefix="hrchat_",  # chat tables sit beside the HRMS's: hrchat_chat_rooms, ...
            storage_url=f"file://{data_dir / 'chat_files'}",
            file_url_secret=os.environ.get("HRMS_FILE_URL_SECRET") or secrets.token_urlsafe(32),
        ),
        path="/chat",
        verify_token=hrms.session_user,
        engine=engine,
    )

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await hrms.create_schema()
        await upgrade(engine, layout=chat.layout)  # the chat's migrations, on the HRMS's database
        try:
            yield
        finally:
            await engine.dispose()

    @post("/login", status_code=200)
    async def login(data: Login) -> Session:
        return await hrms.login(data.email, data.password)

    @get("/me")
    async def me(request: Request[Any, Any, Any]) -> Employee:
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        identity = await hrms.session_user(token)
        if identity is None:
            raise NotAuthorizedException("log in first")
        async with engine.connect() as db:
            row = (
                await db.execute(
                    text("SELECT emp_id, full_name, work_email FROM employees WHERE emp_id = :id"),
                    {"id": identity.user_id},
                )
            ).one()
        return Employee(emp_id=row.emp_id, full_name=row.full_name, work_email=row.work_email)

    # The chat's lifespan runs after the HRMS's (plugins append theirs), so the tables exist when it starts.
    return Litestar(route_handlers=[login, me], lifespan=[lifespan], plugins=[chat])


def main() -> None:
    parser = argparse.ArgumentParser(description="A tiny HRMS with chatcore mounted under /chat")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--data", default="./hrms-data", help="folder for hrms.db and the chat's files")
    args = parser.parse_args()
    uvicorn.run(create_hrms(Path(args.data)), host=args.host, port=args.port, ws_max_size=80 * 2**20)


if __name__ == "__main__":
    main()
