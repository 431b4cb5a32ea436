"""The service on S3 storage (moto on loopback): chosen by CHAT_STORAGE_URL alone, files round-trip."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Api, Server, start_server, stop_server
from tests.s3 import S3Server, s3_server
from tests.unit import helpers as samples

__all__ = ["s3_server"]

API = "/api/v1/chat"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server) -> Iterator[Server]:
    """This module's `chat serve` keeps its files in S3; the e2e `api` fixture opens on it."""
    env = {
        "CHAT_STORAGE_URL": s3_server.fresh_url(),
        "CHAT_S3_ENDPOINT_URL": s3_server.endpoint_url,
        "AWS_ACCESS_KEY_ID": s3_server.access_key_id,
        "AWS_SECRET_ACCESS_KEY": s3_server.secret_access_key,
        "AWS_REGION": s3_server.region,
    }
    proc, server = start_server(Path(tmp_path_factory.mktemp("s3chat")), env)
    try:
        yield server
    finally:
        stop_server(proc)


async def test_files_round_trip_through_presigned_urls_and_go_with_their_message(api: Api) -> None:
    alice, bob = await api.person("Alice"), await api.person("Bob")
    room = await api.room(alice, bob)
    pdf = samples.pdf() + bytes(200_000)
    upload = (await alice.http.post(f"{API}/uploads", files={"file": ("Gehaltsabrechnung März.pdf", pdf)})).json()
    async with api.socket(alice, room) as a, api.socket(bob, room) as b:
        await a.send(
            "send_message", message_type="image", file_data=base64.b64encode(samples.png()).decode(), file_name="p.png"
        )
        image = (await b.next("new_message"))["data"]
        await a.send("send_message", message_type="file", upload_id=upload["upload_id"])
        document = (await b.next("new_message"))["data"]
    assert not image["file_url"].startswith("/static/")
    assert "X-Amz-Signature" in image["file_url"]
    async with httpx.AsyncClient() as plain:
        assert (await plain.get(image["file_url"])).content == samples.png()
        fetched = await plain.get(document["file_url"])
        assert fetched.content == pdf
        assert fetched.headers["content-disposition"] == (  # the name it was sent with, not its storage key
            "attachment; filename=\"Gehaltsabrechnung Marz.pdf\"; filename*=UTF-8''Gehaltsabrechnung%20M%C3%A4rz.pdf"
        )
        shown = (await plain.get(image["file_url"])).headers["content-disposition"]
        assert shown == "inline; filename=\"p.png\"; filename*=UTF-8''p.png"
        assert (await bob.http.get("/static/" + document["file_path"])).content == pdf  # participant's token
        assert (await alice.http.delete(f"{API}/messages/{document['id']}")).status_code == 200
        assert (await plain.get(document["file_url"])).status_code == 404
