"""A throwaway redis-server for the tests: started once per session, emptied before each test, restartable.

It listens on 127.0.0.1 on a free port, in a temp dir, without persistence. Test modules import the
fixtures (`redis_server`, `fresh_redis`); a reference count starts one server however many modules do.
A missing redis-server skips the tests locally and fails them in CI.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.conftest import skip_or_fail
from tests.ports import free_port

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


class RedisServer:
    """One redis-server process; `stop()` and `start()` keep the port, so clients can come back to it."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.root = Path(tempfile.mkdtemp(prefix="chat-redis-"))
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def client(self) -> redis.Redis:
        """A synchronous client that fails at once rather than retrying; close it after use."""
        return redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
        )

    def start(self) -> None:
        with (self.root / "log").open("ab") as log:
            self._process = subprocess.Popen(
                [
                    self.binary,
                    "--port", str(self.port),
                    "--bind", "127.0.0.1",
                    "--save", "",
                    "--appendonly", "no",
                    "--dir", str(self.root),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
            )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while not self._answers():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start: {(self.root / 'log').read_text()[-2000:]}")
            time.sleep(0.02)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT)

    def restart(self) -> None:
        self.stop()
        self.start()

    def flush(self) -> None:
        with self.client() as client:
            client.flushall()

    def _answers(self) -> bool:
        try:
            with self.client() as client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


_shared: dict[str, RedisServer] = {}
_users = [0]


def _acquire() -> RedisServer:
    if "server" not in _shared:
        binary = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin:/usr/local/bin")
        if binary is None:
            skip_or_fail("redis-server not found; apt-get install redis-server")
        assert binary is not None
        server = RedisServer(binary)
        try:
            server.start()
        except RuntimeError as exc:
            server.remove()
            skip_or_fail(str(exc))
        _shared["server"] = server
    _users[0] += 1
    return _shared["server"]


def _release() -> None:
    _users[0] -= 1
    if _users[0] == 0:
        _shared.pop("server").remove()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = _acquire()
    try:
        yield server
    finally:
        _release()


@pytest.fixture
def fresh_redis(redis_server: RedisServer) -> RedisServer:
    """The shared server, running (a restart test may have left it stopped) and empty."""
    if not redis_server.running:
        redis_server.start()
    redis_server.flush()
    return redis_server
