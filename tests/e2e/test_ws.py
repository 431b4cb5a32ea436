"""The WebSocket protocol on a real server: close codes, every event, delivery rules, limits."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.e2e.conftest import WAIT, Api, close_code, token_for

API = "/api/v1/chat"


async def test_bad_tokens_close_with_4001(api: Api) -> None:
    alice = await api.person("Alice")
    base = api.server.ws_url
    for url in (
        base,
        f"{base}?token=",
        f"{base}?token=garbage",
        f"{base}?token={token_for(alice.id, ttl=-5)}",
        f"{base}?token={token_for(123456789)}",
        f"{base}?token={token_for(alice.id, secret='z' * 40)}",
    ):
        assert await close_code(url) == 4001, url


async def test_room_of_someone_else_closes_with_4003(api: Api) -> None:
    alice, bob, eve = await api.person("Alice"), await api.person("Bob"), await api.person("Eve")
    room = await api.room(alice, bob)
    for room_id in (str(room), "abc", str(2**70)):
        assert await close_code(f"{api.server.ws_url}?token={eve.token}&room_id={room_id}") == 4003


async def test_client_close_is_normal_1000(api: Api) -> None:
    alice = await api.person("Alice")
    async with api.socket(alice) as sock:
        await sock.send("ping")
        assert (await sock.next("pong"))["data"] == {}
        await sock.ws.close()
    assert sock.ws.close_code == 1000


async def test_message_reaches_every_connection_of_both_people(api: Api) -> None:
    alice, bob = await api.person("Alice"), await api.person("Bob")
    room = await api.room(alice, bob)
    async with api.socket(alice, room) as a1, api.socket(alice) as a2, api.socket(bob) as b1:
        await a1.send("send_message", receiver_id=bob.id, message_type="text", content="Hello there!")
        events = [await sock.next("new_message") for sock in (a1, a2, b1)]
    assert all(e == events[0] for e in events)
    data = events[0]["data"]
    assert data["content"] == "Hello there!"
    assert data["sender_id"] == alice.id
    assert data["receiver_id"] == bob.id
    assert data["sender_name"] == "Alice"
    assert data["receiver_name"] == "Bob"
    assert data["room_id"] == room
    assert data["created_at"].endswith("Z")
    for field in ("file_name", "file_path", "file_size", "mime_type", "file_url", "updated_at", "client_msg_id"):
        assert data[field] is None
    assert data["is_read"] is False
    assert data["is_deleted"] is False
    assert data["is_edited"] is False


async def test_join_room_then_send_with_room_id_in_event(api: Api) -> None:
    alice, bob = await api.person("Alice"), await api.person("Bob")
    room = await api.room(alice, bob)
    async with api.socket(alice) as sock:
        await sock.send("send_message", content="no room yet")
        error = await sock.next("error")
        assert error["data"]["code"] == "invalid"
        assert "room_id" in error["data"]["message"]
        await sock.send("join_room", room_id=room)
        await sock.send("send_message", content="joined")
        assert (await sock.next("new_message"))["data"]["content"] == "joined"
        await sock.send("leave_room")
        await sock.send("send_message", room_id=room, receiver_id=bob.id, content="explicit")
        assert (await sock.next("new_message"))["data"]["content"] == "explicit"
        await sock.send("send_message", room_id=room, receiver_id=alice.id, content="wrong receiver")
        assert (await sock.next("error"))["data"]["code"] == "invalid"


async def test_typing_goes_to_joiners_and_expires_flag_listed(api: Api) -> None:
    alice, bob = await api.person("Alice"), await api.person("Bob")
    room = await api.room(alice, bob)
    async with api.socket(bob, room) as joined, api.socket(bob) as not_joined, api.socket(alice, room) as typist:
        await typist.send("typing", is_typing=True)
        event = await joined.next("typing")
        assert event["data"] == {
            "room_id": room,
            "user_id": alice.id,
            "user_name": "Alice",
            "is_typing": True,
            "typing_users": [alice.id],
        }
        await not_joined.silent("typing")
        await typist.send("typing", room_id=room, is_typing=False)
        assert (await joined.next("typing"))["data"]["typing_users"] == []


async def test_presence_goes_to_people_who_share_a_room(api: Api) -> None:
    alice, bob, stranger = await api.person("Alice"), await api.person("Bob"), await api.person("Stranger")
    await api.room(alice, bob)
    async with api.socket(alice) as watcher, api.socket(stranger) as outsider:
        async with api.socket(bob):
            online = await watcher.next("presence")
            assert online["data"]["user_id"] == bob.id
            assert online["data"]["user_name"] == "Bob"
            assert online["data"]["is_online"] is True
        offline = await watcher.next("presence")
        assert offline["data"]["is_online"] is False
        assert offline["data"]["last_seen"].endswith("Z")
        await outsider.silent("presence")


async def test_read_marks_reach_the_sender(api: Api) -> None:
    alice, bob = await api.person("Alice"), await api.person("Bob")
    room = await api.room(alice, bob)
    async with api.socket(alice, room) as a, api.socket(bob, room) as b:
        await a.send("send_message", content="read me")
        message_id = (await b.next("new_message"))["data"]["id"]
        await b.send("mark_read")
        event = await a.next("messages_read")
        assert event["data"] == {"room_id": room, "user_id": bob.id, "last_read_message_id": message_id}
        response = await bob.http.post(f"{API}/rooms/{room}/read")
        assert response.status_code == 200
        assert (await a.next("messages_read"))["data"]["user_id"] == bob.id


async def test_bad_frames_get_error_events_and_the_socket_stays_open(api: Api) -> None:
    alice, bob = await api.person("Alice"), await api.person("Bob")
    room = await api.room(alice, bob)
    async with api.socket(alice, room) as sock:
        for raw in (
            "not json",
            "[1, 2]",
            '{"type": "shout", "data": {}}',
            '{"type": "join_room", "data": {}}',
            '{"type": "send_message", "data": {"content": "x", "room_id": "1"}}',
            '{"type": "send_message", "data": {"content": NaN}}',
            '{"type": "send_message", "data": {"content": "a\\u0000b"}}',
            '{"type": "send_message", "data": {"content": "\\ud800"}}',
            '{"type": "send_message", "data": {"room_id": 99999999999999999999}}',
            '{"type": "send_message", "data": {"message_type": "gif"}}',
            '{"type": "typing", "data": {"room_id": 1, "x": ' + "[" * 40 + "]" * 40 + "}}",
            '{"type": "send_message", "data": {"content": "' + "x" * 10_001 + '"}}',
        ):
            await sock.ws.send(raw)
            error = await sock.next()
            assert error["type"] == "error", raw
            assert set(error["data"]) == {"code", "message", "client_msg_id"}
        await sock.ws.send(b"\xff\xfe")
        assert (await sock.next())["type"] == "error"
        await sock.send("send_message", content="still here", client_msg_id="c1")
        assert (await sock.next("new_message"))["data"]["content"] == "still here"


DEEP = '{"type": "ping", "data": {"x": ' + "[" * 1000 + "]" * 1000 + "}}"


async def test_frames_nested_a_thousand_deep_are_invalid_and_the_socket_keeps_working(api: Api) -> None:
    """msgspec raised RecursionError on these: an `internal` error and a logged traceback per frame."""
    alice = await api.person("Alice")
    async with api.socket(alice) as sock:
        for raw in (
            DEEP,
            '{"type": "send_message", "data": ' + '{"a": ' * 1000 + "1" + "}" * 1000 + "}",
            '{"type": "typing", "data": {}, "extra": ' + "[" * 100_000 + "]" * 100_000 + "}",
            "[" * 100_000 + "]" * 100_000,
        ):
            await sock.ws.send(raw)
            error = await sock.next()
            assert error["data"]["code"] == "invalid", error
            assert "nested deeper than 32 levels" in error["data"]["message"]
        await sock.send("ping")
        assert (await sock.next())["type"] == "pong"
        for _ in range(100):
            await sock.ws.send(DEEP)
        codes = [(await sock.next("error"))["data"]["code"] for _ in range(100)]
        assert set(codes) == {"invalid", "rate_limited"}  # the burst of 50 each got their answer
        for _ in range(50):  # the bucket refills at 20 per second
            await sock.send("ping")
            if (await sock.next())["type"] == "pong":
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the socket stopped answering ping")
    assert "Traceback" not in api.server.log()


async def test_unknown_fields_are_ignored_and_known_ones_stay_strict(api: Api) -> None:
    """A newer client's extra fields were refused with `extra fields found`; now only known fields are checked."""
    alice, bob = await api.person("Alice"), await api.person("Bob")
    room = await api.room(alice, bob)
    async with api.socket(alice, room) as sock:
        await sock.ws.send(
            json.dumps({"type": "send_message", "data": {"content": "hi", "reply_to": {"id": 1}}, "v": 2})
        )
        assert (await sock.next("new_message"))["data"]["content"] == "hi"
        long_text = "y" * 6000  # a longer frame takes the core's parser: the same answer
        await sock.send("send_message", content=long_text, colour="red", client_msg_id="long")
        assert (await sock.next("new_message"))["data"]["content"] == long_text
        await sock.send("typing", room_id=room, is_typing=True, since="now")
        assert (await sock.next("typing"))["data"]["typing_users"] == [alice.id]
        await sock.send("ping", seq=1)
        assert (await sock.next())["type"] == "pong"

        await sock.send("send_message", content="x", room_id=str(room), colour="red")
        error = (await sock.next("error"))["data"]
        assert (error["code"], error["message"]) == ("invalid", "expected an integer, got str @ $.data.room_id")
        await sock.send("send_message", message_type="file", file_name="cv\x00.pdf", file_data="JVBERi0=")
        error = (await sock.next("error"))["data"]
        assert error["message"] == "NUL characters are not allowed @ $.data.file_name"


async def test_error_names_the_client_msg_id(api: Api) -> None:
    alice, bob = await api.person("Alice"), await api.person("Bob")
    room = await api.room(alice, bob)
    async with api.socket(alice, room) as sock:
        await sock.send("send_message", content="", client_msg_id="abc")
        error = await sock.next("error")
        assert error["data"]["client_msg_id"] == "abc"


async def test_client_msg_id_retry_stores_nothing_new(api: Api) -> None:
    alice, bob = await api.person("Alice"), await api.person("Bob")
    room = await api.room(alice, bob)
    async with api.socket(alice, room) as sock, api.socket(bob, room) as other:
        await sock.send("send_message", content="once", client_msg_id="retry-1")
        first = await sock.next("new_message")
        await other.next("new_message")
        await sock.send("send_message", content="once", client_msg_id="retry-1")
        second = await sock.next("new_message")
        assert second["data"]["id"] == first["data"]["id"]
        assert second["data"]["client_msg_id"] == "retry-1"
        await other.silent("new_message")
    history = (await alice.http.get(f"{API}/rooms/{room}/messages")).json()
    assert history["total"] == 1


async def test_reconnect_recovers_missed_messages_with_after_id(api: Api) -> None:
    alice, bob = await api.person("Alice"), await api.person("Bob")
    room = await api.room(alice, bob)
    async with api.socket(bob, room) as b, api.socket(alice, room) as a:
        await a.send("send_message", content="before")
        last_seen = (await b.next("new_message"))["data"]["id"]
    async with api.socket(alice, room) as a:
        for n in range(3):
            await a.send("send_message", content=f"missed {n}")
            await a.next("new_message")
    missed = (await bob.http.get(f"{API}/rooms/{room}/messages", params={"after_id": last_seen})).json()
    assert [m["content"] for m in missed["messages"]] == ["missed 0", "missed 1", "missed 2"]
    assert missed["has_more"] is False


async def test_rate_limit_gives_rate_limited_errors(api: Api) -> None:
    alice = await api.person("Alice")
    async with api.socket(alice) as sock:
        for _ in range(60):
            await sock.send("ping")
        kinds = [(await sock.next())["type"] for _ in range(60)]
    assert kinds.count("pong") >= 49  # the burst of 50, less the ping that opened the socket
    assert "error" in kinds


async def test_too_many_connections_per_user_is_refused(api: Api) -> None:
    alice = await api.person("Alice")
    url = f"{api.server.ws_url}?token={alice.token}"
    sockets = [await connect(url, open_timeout=WAIT) for _ in range(10)]
    try:
        for ws in sockets:  # all ten are really open
            await ws.send(json.dumps({"type": "ping"}))
            assert json.loads(await asyncio.wait_for(ws.recv(), WAIT))["type"] == "pong"
        assert await close_code(url) == 1008
    finally:
        for ws in sockets:
            await ws.close()


async def test_foreign_origin_is_refused(api: Api) -> None:
    alice = await api.person("Alice")
    url = f"{api.server.ws_url}?token={alice.token}"
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, origin="http://evil.example", open_timeout=WAIT):  # type: ignore[arg-type]
            pass
    assert refused.value.response.status_code == 403
    host = api.server.base_url.removeprefix("http://")
    async with connect(url, origin=f"http://{host}", open_timeout=WAIT) as ws:  # type: ignore[arg-type]
        await ws.send(json.dumps({"type": "ping"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), WAIT))["type"] == "pong"


async def test_socket_closes_with_4001_when_its_token_expires(api: Api) -> None:
    alice = await api.person("Alice")
    url = f"{api.server.ws_url}?token={token_for(alice.id, ttl=2)}"
    async with connect(url, open_timeout=WAIT) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 6)  # nothing is sent to this socket but the close
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4001
