"""The send path's SQLite writer runs its batch through aiosqlite's private `_execute` and `_conn` (writer.py:
`in_sqlite_thread`; aiosqlite has no public way to run a function on its thread). pyproject bounds aiosqlite to
the versions checked here; raising the bound makes this test the place where a change shows."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import aiosqlite
import pytest

from chat_adapters.sql.driver import in_sqlite_thread


async def test_in_sqlite_thread_runs_on_aiosqlites_thread_with_its_connection(tmp_path: Path) -> None:
    async with aiosqlite.connect(tmp_path / "t.db") as driver:
        await driver.execute("CREATE TABLE t (x INTEGER)")
        await driver.commit()
        await driver.create_function("worker", 0, threading.get_ident)  # runs on aiosqlite's thread
        public_thread = (await driver.execute_fetchall("SELECT worker()"))[0][0]

        def work(conn: sqlite3.Connection) -> tuple[int, int]:
            assert isinstance(conn, sqlite3.Connection)
            conn.execute("INSERT INTO t VALUES (1)")
            conn.commit()
            return threading.get_ident(), conn.execute("SELECT count(*) FROM t").fetchone()[0]

        thread, count = await in_sqlite_thread(driver, work)
        assert thread == public_thread
        assert thread != threading.get_ident()
        assert count == 1
        assert (await driver.execute_fetchall("SELECT count(*) FROM t"))[0][0] == 1  # the public API's connection

        def fails(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO nowhere VALUES (1)")

        with pytest.raises(sqlite3.OperationalError, match="no such table"):
            await in_sqlite_thread(driver, fails)
        assert (await driver.execute_fetchall("SELECT 1"))[0][0] == 1  # still usable after a failed call
