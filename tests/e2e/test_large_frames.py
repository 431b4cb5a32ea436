"""Large file frames on a real `chat serve` whose decode budget (1 MiB) is far below what is sent at once."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Api, Server, serving
from tests.unit import helpers as samples


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """1 MiB of large frames at once for this module's server; the e2e `api` fixture opens on it."""
    with serving(tmp_path_factory.mktemp("budget"), {"CHAT_WS_DECODE_BUDGET_MB": "1"}) as server:
        yield server


async def test_large_frames_beyond_the_budget_wait_their_turn_and_all_arrive(api: Api) -> None:
    """Six 2 MB files at once with 1 MiB to share: each socket reads in turn (the oldest first), none is refused,
    and each message is counted only until handled (were it never given back, the later ones would wait for
    good and this would time out)."""
    receiver = await api.person("Receiver")
    senders = [await api.person(f"Sender {n}") for n in range(6)]
    rooms = [await api.room(sender, receiver) for sender in senders]
    data = samples.pdf() + b"%" * (2 * 2**20)
    encoded = base64.b64encode(data).decode()

    async with contextlib.AsyncExitStack() as stack:  # every socket stays open until all are stored
        inbox = await stack.enter_async_context(api.socket(receiver))
        socks = [await stack.enter_async_context(api.socket(s, r)) for s, r in zip(senders, rooms, strict=True)]
        for n, sock in enumerate(socks):
            await sock.send(
                "send_message",
                message_type="file",
                file_name=f"report-{n}.pdf",
                file_size=len(data),
                file_data=encoded,
                client_msg_id=f"big-{n}",
            )
        stored = [dict((await sock.next("new_message", within=30))["data"]) for sock in socks]
        delivered = {(await inbox.next("new_message", within=30))["data"]["client_msg_id"] for _ in range(6)}

    assert sorted(m["client_msg_id"] for m in stored) == [f"big-{n}" for n in range(6)]  # type: ignore[type-var]
    assert delivered == {f"big-{n}" for n in range(6)}
    assert all(m["file_size"] == len(data) for m in stored)
    fetched = await api.http.get(str(stored[0]["file_url"]))
    assert fetched.content == data
