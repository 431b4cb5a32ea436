"""An S3 endpoint for the tests: moto's server on 127.0.0.1, started once per session, with one bucket.

Moto accepts any credentials and does not enforce presigned URL expiry. If it cannot be imported or
started, the tests that need it skip locally and fail in CI.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator

import attrs
import httpx
import pytest

from tests.conftest import skip_or_fail

START_TIMEOUT = 15.0


@attrs.frozen
class S3Server:
    endpoint_url: str
    bucket: str
    region: str = "us-east-1"
    access_key_id: str = "testing"
    secret_access_key: str = "testing"

    def fresh_url(self) -> str:
        """A storage URL with a prefix no other test uses, so tests share the bucket but not keys."""
        return f"s3://{self.bucket}/t-{uuid.uuid4().hex}"


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        skip_or_fail(f"moto[server] is not installed: {exc}")
    quiet = logging.getLogger("werkzeug")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # one access-log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)  # port 0: the OS picks a free one
    # start() waits forever if the server cannot bind, so wait for it from the side, bounded.
    starter = threading.Thread(target=server.start, daemon=True)
    starter.start()
    starter.join(START_TIMEOUT)
    if starter.is_alive():
        quiet.setLevel(level)
        skip_or_fail(f"moto server did not start within {START_TIMEOUT} s")
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        bucket = "chat-test"
        response = httpx.put(f"{endpoint}/{bucket}", timeout=10)  # moto takes unsigned requests
        if response.status_code != 200:
            skip_or_fail(f"moto refused to create a bucket: {response.status_code} {response.text[:200]}")
        yield S3Server(endpoint_url=endpoint, bucket=bucket)
    finally:
        server.stop()
        quiet.setLevel(level)
