"""A throwaway PostgreSQL cluster for the tests: started once per session, a fresh database for each test.

The cluster lives in a temp dir, listens on 127.0.0.1 on a free port with trust auth and no fsync, and is
shared through a reference count, so the contract and the integration suites (each importing these
fixtures in their conftest) start it once. Missing binaries skip the tests locally and fail them in CI.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import attrs
import pytest

from tests.conftest import skip_or_fail
from tests.ports import free_port

PG_USER = "postgres"
START_TIMEOUT = 60.0
TEMPLATE = "chat_template"  # the chat schema, created once; per-test databases are copies of it


@attrs.frozen
class PgServer:
    host: str
    port: int
    user: str

    def url(self, database: str, driver: str = "asyncpg") -> str:
        return f"postgresql+{driver}://{self.user}@{self.host}:{self.port}/{database}"

    async def connect(self, database: str = "postgres") -> asyncpg.Connection:
        return await asyncpg.connect(host=self.host, port=self.port, user=self.user, database=database, timeout=10)


def _bin_dir() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists() and Path(candidate, "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class _Cluster:
    """initdb + pg_ctl as an unprivileged user (initdb refuses to run as root); `durable` keeps PostgreSQL's
    own crash-safe defaults (fsync, synchronous_commit, full_page_writes on) instead of turning them off."""

    def __init__(self, bin_dir: Path, *, durable: bool = False) -> None:
        self.bin_dir = bin_dir
        self.durable = durable
        self.root = Path(tempfile.mkdtemp(prefix="chat-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            entry = pwd.getpwnam(PG_USER)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            self._as_user = ["runuser", "-u", PG_USER, "--"]

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as_user, *args], check=True, capture_output=True, timeout=START_TIMEOUT, cwd=self.root)

    def start(self) -> PgServer:
        self._run(
            str(self.bin_dir / "initdb"),
            "-D", str(self.data),
            "-U", PG_USER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        )  # fmt: skip
        self.resume()
        return PgServer(host="127.0.0.1", port=self.port, user=PG_USER)

    def resume(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-o", options, "-w",
            "-t", str(int(START_TIMEOUT)), "start",
        )  # fmt: skip

    def pause(self) -> None:
        """Stop as a crash would (immediate mode), keeping the data for `resume`."""
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        try:
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


_shared: dict[str, object] = {"users": 0}


def _acquire() -> PgServer:
    if "server" not in _shared:
        bin_dir = _bin_dir()
        if bin_dir is None:
            skip_or_fail("PostgreSQL binaries (initdb, pg_ctl) not found; apt-get install postgresql")
        assert bin_dir is not None
        if os.geteuid() == 0 and (shutil.which("runuser") is None or not _has_user(PG_USER)):
            skip_or_fail(f"running as root and there is no '{PG_USER}' user to run initdb as")
        cluster = _Cluster(bin_dir)
        try:
            _shared["server"] = cluster.start()
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            log = cluster.root / "log"
            detail = log.read_text() if log.exists() else getattr(exc, "stderr", b"").decode(errors="replace")
            cluster.stop()
            skip_or_fail(f"PostgreSQL did not start: {exc}\n{detail}")
        _shared["cluster"] = cluster
    _shared["users"] = int(str(_shared["users"])) + 1
    server = _shared["server"]
    assert isinstance(server, PgServer)
    return server


def _release() -> None:
    _shared["users"] = int(str(_shared["users"])) - 1
    if _shared["users"] == 0:
        cluster = _shared.pop("cluster")
        _shared.pop("server")
        _shared.pop("template", None)
        assert isinstance(cluster, _Cluster)
        cluster.stop()


def stop_cluster() -> None:
    """Take the shared server down (for fault tests); `start_cluster` brings it back on the same port."""
    cluster = _shared["cluster"]
    assert isinstance(cluster, _Cluster)
    cluster.pause()


def start_cluster() -> None:
    cluster = _shared["cluster"]
    assert isinstance(cluster, _Cluster)
    cluster.resume()


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = _acquire()
    try:
        yield server
    finally:
        _release()


_names = itertools.count(1)


async def create_database(server: PgServer, *, template: str = "template0", name: str | None = None) -> str:
    """A new empty (or templated) database, by default with a name unique in this test session."""
    name = name or f"chat_test_{os.getpid()}_{next(_names)}"
    connection = await server.connect()
    try:
        await connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await connection.close(timeout=10)
    return name


async def fresh_database(server: PgServer, *, schema: bool = True) -> str:
    """The URL of a new database: with the chat schema (copied from a template made once), or empty."""
    if schema and "template" not in _shared:
        await _create_template(server)
        _shared["template"] = True
    return server.url(await create_database(server, template=TEMPLATE if schema else "template0"))


async def _create_template(server: PgServer) -> None:
    from chat_adapters.sql.engine import create_engine
    from chat_adapters.sql.tables import metadata

    await create_database(server, name=TEMPLATE)
    engine = create_engine(server.url(TEMPLATE))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
    finally:
        await engine.dispose()
