"""Crashes at the worst moment on a real `chat serve`: nothing a client saw acknowledged is lost.

Clients send numbered messages with `client_msg_id`, each waiting for its echo (the acknowledgement) and
retrying the same id after a reconnect, as `test_faults.py` does. On SQLite a small preloaded library
(`powercut.c`) gives two crashes no signal from outside can time: a kill after a commit reached the disk but
before SQLite returned from it, and what a power cut would leave of the database files.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import shutil
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail
from tests.e2e.conftest import Api, Server, start_server, stop_server
from tests.faults.test_faults import MESSAGES, Sender, assert_nothing_lost, send_all, stored
from tests.pg import PgServer, create_database, pg_server

__all__ = ["pg_server"]

SENDERS = 3
SHIM = Path(__file__).with_name("powercut.c")


@pytest.fixture(scope="module")
def powercut(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """powercut.c built for this run."""
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        skip_or_fail("a C compiler (gcc) is needed to build tests/faults/powercut.c")
    assert compiler is not None
    built = tmp_path_factory.mktemp("powercut") / "powercut.so"
    subprocess.run(
        [compiler, "-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-o", str(built), str(SHIM), "-ldl"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return built


def powercut_env(workdir: Path, library: Path, **extra: str) -> dict[str, str]:
    (workdir / "durable").mkdir(parents=True, exist_ok=True)
    return {"LD_PRELOAD": str(library), "POWERCUT_DIR": str(workdir.resolve()), **extra}


def cut_power(workdir: Path, into: Path) -> Path:
    """The database files as a power cut now would leave them: what was synced, as the library kept it."""
    into.mkdir(parents=True)
    with (workdir / "durable.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the library copies under the same lock: db and WAL from one moment
        for name in ("chat.db", "chat.db-wal"):
            if (workdir / "durable" / name).exists():
                shutil.copyfile(workdir / "durable" / name, into / name)
    return into


def surviving(files: Path, room: int) -> dict[str, int]:
    """client_msg_id -> id of the room's messages found after opening the files (SQLite replays the WAL)."""
    connection = sqlite3.connect(files / "chat.db")
    try:
        rows = connection.execute("SELECT client_msg_id, id FROM chat_messages WHERE room_id = ?", (room,))
        return dict(rows.fetchall())
    except sqlite3.OperationalError:  # not even the tables reached the disk
        return {}
    finally:
        connection.close()


@pytest.mark.parametrize(("synchronous", "durable"), [(None, True), ("normal", False)], ids=["default", "normal"])
async def test_a_power_cut_at_any_acknowledgement_keeps_every_acknowledged_message(
    tmp_path: Path, powercut: Path, synchronous: str | None, durable: bool
) -> None:
    """After each acknowledgement, the files a power cut would leave are copied and opened: with the default
    (synchronous FULL) every message acknowledged so far is there, under the id its echo carried.

    What it proves: each commit was on disk (fsync returned) before its message was acknowledged, and SQLite
    recovers a consistent database from the synced files alone. The model is the strict one: every write not
    yet synced is lost. It cannot show a disk or hypervisor that acknowledges a sync it did not make (a write
    cache without power-loss protection), a file system that loses a synced file's directory entry, or torn
    writes inside a page. The same run with CHAT_SQLITE_SYNCHRONOUS=normal must lose acknowledged messages
    (its commits reach the WAL file by write() but are synced only at checkpoints): that the copy would
    then miss them shows it is not the page cache's view of the files, which a plain copy would be.
    """
    workdir = tmp_path / "server"
    extra = {} if synchronous is None else {"CHAT_SQLITE_SYNCHRONOUS": synchronous}
    proc, server = await asyncio.to_thread(start_server, workdir, powercut_env(workdir, powercut, **extra))
    api = Api.open(server)
    cuts: list[tuple[dict[str, int], Path]] = []
    try:
        alice, bob = await api.person("Alice"), await api.person("Bob")
        room = await api.room(alice, bob)
        sender = Sender(alice, room, [server.ws_url])
        try:
            for n in range(20):
                await sender.send(f"m{n}", f"message {n}")
                cuts.append((dict(sender.acked), cut_power(workdir, tmp_path / "cuts" / str(n))))
        finally:
            await sender.close()
    finally:
        await api.aclose()
        await asyncio.to_thread(stop_server, proc)
    assert "Traceback" not in server.log(), server.log()[-4000:]

    lost = {}
    for acked, files in cuts:
        found = surviving(files, room)
        assert all(found[client_id] == message_id for client_id, message_id in acked.items() if client_id in found)
        if missing := sorted(set(acked) - set(found)):
            lost[files.name] = missing
    if durable:
        assert lost == {}
    else:
        assert len(lost) >= len(cuts) // 2, lost


async def _senders(api: Api, server: Server) -> list[Sender]:
    senders = []
    for n in range(SENDERS):
        writer, reader = await api.person(f"Writer{n}"), await api.person(f"Reader{n}")
        senders.append(Sender(writer, await api.room(writer, reader), [server.ws_url]))
    return senders


async def _acked_by_all(senders: list[Sender], *, within: float = 20.0) -> None:
    """Every sender has its socket open and a message through, so the next commits are messages only."""
    for _ in range(int(within / 0.01)):
        if all(len(sender.acked) >= 3 for sender in senders):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the senders did not get going")


async def _finish(senders: list[Sender], sending: list[asyncio.Task[None]], database_url: str) -> None:
    try:
        await asyncio.wait_for(asyncio.gather(*sending), 90)
    finally:
        for sender in senders:
            await sender.close()
    for sender in senders:
        assert_nothing_lost(sender, await stored(database_url, sender.room))


async def test_a_process_killed_between_commit_and_acknowledgement_loses_nothing_on_sqlite(
    tmp_path: Path, powercut: Path
) -> None:
    """Killed (SIGKILL) as a commit of messages is on disk and before it returns: those messages were stored
    and never acknowledged. Once the process is back on the same database and port, the senders resend them
    with the same `client_msg_id` and get the stored originals; every message is there exactly once."""
    workdir = tmp_path / "server"
    env = powercut_env(workdir, powercut)
    proc, server = await asyncio.to_thread(start_server, workdir, env)
    database_url = server.env["CHAT_DATABASE_URL"]
    api = Api.open(server)
    try:
        senders = await _senders(api, server)
        sending = [asyncio.create_task(send_all(sender, {})) for sender in senders]
        await _acked_by_all(senders)
        (workdir / "kill-armed").touch()
        assert await asyncio.to_thread(proc.wait, 20) == -signal.SIGKILL
        acked = {(sender.room, client_id) for sender in senders for client_id in sender.acked}
        found = {
            (sender.room, client_id) for sender in senders for _, client_id in await stored(database_url, sender.room)
        }
        assert found - acked, "the kill did not fall between a commit and its acknowledgement"
        assert acked <= found
        port = int(server.base_url.rsplit(":", 1)[1])
        proc, server = await asyncio.to_thread(start_server, workdir, env, port=port)
        await _finish(senders, sending, database_url)
    finally:
        await api.aclose()
        await asyncio.to_thread(stop_server, proc)


@pytest.mark.postgres
async def test_a_process_killed_mid_traffic_loses_nothing_on_postgres(tmp_path: Path, pg_server: PgServer) -> None:
    """The same on PostgreSQL, which commits on its own: the kill comes from outside while three senders keep
    messages in flight, so where it falls between a commit and its echo is left to chance."""
    name = await create_database(pg_server)
    connection = await pg_server.connect()
    try:  # the shared test cluster commits asynchronously for speed; this database commits durably
        await connection.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = on')
    finally:
        await connection.close()
    database_url = pg_server.url(name)
    workdir = tmp_path / "server"
    workdir.mkdir()
    env = {"CHAT_DATABASE_URL": database_url}
    proc, server = await asyncio.to_thread(start_server, workdir, env)
    api = Api.open(server)
    try:
        senders = await _senders(api, server)
        sending = [asyncio.create_task(send_all(sender, {})) for sender in senders]
        await _acked_by_all(senders)
        await asyncio.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
        assert await asyncio.to_thread(proc.wait, 20) == -signal.SIGKILL
        port = int(server.base_url.rsplit(":", 1)[1])
        proc, server = await asyncio.to_thread(start_server, workdir, env, port=port)
        await _finish(senders, sending, database_url)
        assert all(len(sender.acked) == MESSAGES for sender in senders)
    finally:
        await api.aclose()
        await asyncio.to_thread(stop_server, proc)
