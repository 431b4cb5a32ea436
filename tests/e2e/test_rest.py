"""Every REST endpoint of the seed and the contract, against a real server."""

from __future__ import annotations

import asyncio
import time

import jwt

from tests.e2e.conftest import SECRET, Api, token_for

API = "/api/v1/chat"


async def test_health_ready_and_openapi_need_no_token(api: Api) -> None:
    assert (await api.http.get("/health")).json() == {"status": "ok", "checks": {}}
    ready = await api.http.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}
    schema = (await api.http.get("/schema/openapi.json")).json()
    assert f"{API}/rooms/{{room_id}}/messages" in schema["paths"]
    assert (await api.http.get("/schema/swagger")).status_code == 200


async def test_openapi_lists_the_error_answers_of_each_route(api: Api) -> None:
    """401 wherever a token is needed, 404 wherever a room or message id is given, 429 where calls are counted,
    413 for uploads; each with the error body's shape."""
    schema = (await api.http.get("/schema/openapi.json")).json()
    operations = {
        (method.upper(), path): operation
        for path, item in schema["paths"].items()
        if path.startswith(API)
        for method, operation in item.items()
    }
    assert len(operations) >= 11, sorted(operations)
    for (method, path), operation in operations.items():
        listed = set(operation["responses"])
        assert {"401", "503"} <= listed, (method, path, listed)
        if "{room_id}" in path or "{message_id}" in path:
            assert "404" in listed, (method, path, listed)
        body = operation["responses"]["401"]["content"]["application/json"]["schema"]
        if "$ref" in body:
            body = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
        assert set(body["properties"]) == {"status_code", "detail"}
    assert "429" in operations[("GET", f"{API}/search-users")]["responses"]
    assert "413" in operations[("POST", f"{API}/uploads")]["responses"]
    assert "404" in operations[("POST", f"{API}/rooms")]["responses"]  # no such receiver


async def test_requests_without_a_valid_token_get_401(api: Api) -> None:
    alice = await api.person("Alice")
    expired = token_for(alice.id, ttl=-10)
    unsigned = jwt.encode({"sub": str(alice.id), "exp": int(time.time()) + 60}, None, algorithm="none")
    wrong_key = token_for(alice.id, secret="another-secret-" + "y" * 40)
    no_exp = jwt.encode({"sub": str(alice.id)}, SECRET, algorithm="HS256")
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic abc"},
        {"Authorization": f"Bearer {expired}"},
        {"Authorization": f"Bearer {unsigned}"},
        {"Authorization": f"Bearer {wrong_key}"},
        {"Authorization": f"Bearer {no_exp}"},
        {"Authorization": f"Bearer {token_for(987654321)}"},
    ):
        response = await api.http.get(f"{API}/rooms", headers=headers)
        assert response.status_code == 401, headers
        assert set(response.json()) >= {"status_code", "detail"}


async def test_numeric_sub_claim_is_accepted(api: Api) -> None:
    alice = await api.person("Alice")
    token = jwt.encode({"sub": alice.id, "exp": int(time.time()) + 60}, SECRET, algorithm="HS256")
    response = await api.http.get(f"{API}/rooms", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


async def test_a_subject_that_is_not_the_canonical_user_id_gets_401(api: Api) -> None:
    alice = await api.person("Alice")
    digits = str(alice.id)
    arabic = "".join(chr(0x0660 + int(d)) for d in digits)  # Arabic-Indic digits: int() reads them too
    for sub in (f" {digits}", f"0{digits}", arabic, f"+{digits}", f"{digits} ", f"{digits}\n", ""):
        token = jwt.encode({"sub": sub, "exp": int(time.time()) + 60}, SECRET, algorithm="HS256")
        response = await api.http.get(f"{API}/rooms", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, repr(sub)
    assert (await alice.http.get(f"{API}/rooms")).status_code == 200  # str(id), as `chat token` writes it


async def test_search_users_by_email_fragment(api: Api) -> None:
    alice, bob = await api.person("Alice"), await api.person("Bob")
    found = await alice.http.get(f"{API}/search-users", params={"email": bob.email.upper()[:12]})
    assert found.status_code == 200
    body = found.json()
    assert body["total"] == len(body["users"]) >= 1
    card = next(u for u in body["users"] if u["id"] == bob.id)
    assert card == {"id": bob.id, "name": "Bob", "email": bob.email, "avatar_url": None, "is_online": False}
    mine = await alice.http.get(f"{API}/search-users", params={"email": alice.email})
    assert mine.json() == {"users": [], "total": 0}
    short = await alice.http.get(f"{API}/search-users", params={"email": "a"})
    assert short.status_code == 400
    assert "email" in short.json()["detail"]
    assert (await alice.http.get(f"{API}/search-users")).status_code == 400


async def test_search_users_with_characters_no_email_has_is_refused(api: Api) -> None:
    """`?email=%00%00` listed the whole directory (SQLite's LIKE ends its pattern at a NUL)."""
    alice = await api.person("Alice")
    await api.person("Bob")
    for fragment in ("\x00\x00", "\x00@example", "bob smith", "\x1b[0m"):
        response = await alice.http.get(f"{API}/search-users", params={"email": fragment})
        assert response.status_code == 400, (fragment, response.text)
        assert "email" in response.json()["detail"]


async def test_open_room_then_same_room_again(api: Api) -> None:
    alice, bob = await api.person("Alice"), await api.person("Bob")
    first = await alice.http.post(f"{API}/rooms", json={"receiver_id": bob.id})
    assert first.status_code == 201
    room = first.json()
    assert room["name"] == "Direct Chat"
    assert room["room_type"] == "direct"
    assert room["created_by"] == alice.id
    assert room["is_active"] is True
    assert room["other_user"]["id"] == bob.id
    assert room["last_message"] is None
    assert room["unread_count"] == 0
    assert room["created_at"].endswith("Z")
    again = await bob.http.post(f"{API}/rooms", json={"receiver_id": alice.id})
    assert again.status_code == 200
    assert again.json()["id"] == room["id"]
    assert again.json()["other_user"]["id"] == alice.id


async def test_open_room_errors(api: Api) -> None:
    alice = await api.person("Alice")
    cases = [
        ({"receiver_id": alice.id}, 400),
        ({"receiver_id": 99999999}, 404),
        ({"receiver_id": "2"}, 400),
        ({"receiver_id": 2**70}, 400),
        ({}, 400),
        ({"receiver_id": 2, "extra": 1}, 400),
    ]
    for body, status in cases:
        response = await alice.http.post(f"{API}/rooms", json=body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["status_code"] == status
    for raw in (b"not json", b"[NaN]", b"", b'{"receiver_id": 1e400}'):
        response = await alice.http.post(f"{API}/rooms", content=raw, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, raw


async def test_room_list_detail_history_read_unread(api: Api) -> None:
    alice, bob, carol = await api.person("Alice"), await api.person("Bob"), await api.person("Carol")
    room_ab = await api.room(alice, bob)
    room_ac = await api.room(alice, carol)
    async with api.socket(bob, room_ab) as ws_bob:
        for n in range(3):
            await ws_bob.send("send_message", message_type="text", content=f"hello {n}")
            await ws_bob.next("new_message")
    rooms = (await alice.http.get(f"{API}/rooms")).json()
    assert rooms["total"] == 2
    assert [r["id"] for r in rooms["rooms"]] == [room_ab, room_ac]
    first = rooms["rooms"][0]
    assert first["unread_count"] == 3
    assert first["last_message"]["content"] == "hello 2"
    assert first["last_message"]["sender_name"] == "Bob"
    # the seed's fields, and sender_id beside them (a group's list tells the caller's own messages apart by it)
    assert set(first["last_message"]) == {"id", "content", "message_type", "created_at", "sender_name", "sender_id"}

    detail = (await alice.http.get(f"{API}/rooms/{room_ab}")).json()
    assert detail["message_list"]["total"] == 3
    assert [m["content"] for m in detail["message_list"]["messages"]] == ["hello 0", "hello 1", "hello 2"]
    message = detail["message_list"]["messages"][0]
    assert message["sender_id"] == bob.id
    assert message["receiver_id"] == alice.id
    assert message["sender_name"] == "Bob"
    assert message["receiver_name"] == "Alice"
    assert message["is_read"] is False

    page = (await alice.http.get(f"{API}/rooms/{room_ab}/messages", params={"per_page": 2})).json()
    assert [m["content"] for m in page["messages"]] == ["hello 2", "hello 1"]
    assert page["total"] == 3
    assert page["has_more"] is True
    page2 = (await alice.http.get(f"{API}/rooms/{room_ab}/messages", params={"per_page": 2, "page": 2})).json()
    assert [m["content"] for m in page2["messages"]] == ["hello 0"]
    assert page2["has_more"] is False
    oldest_id = page2["messages"][0]["id"]
    after = (await alice.http.get(f"{API}/rooms/{room_ab}/messages", params={"after_id": oldest_id})).json()
    assert [m["content"] for m in after["messages"]] == ["hello 1", "hello 2"]
    before = (await alice.http.get(f"{API}/rooms/{room_ab}/messages", params={"before_id": oldest_id + 2})).json()
    assert [m["content"] for m in before["messages"]] == ["hello 1", "hello 0"]

    unread = (await alice.http.get(f"{API}/unread-count")).json()
    assert unread == {"unread_counts": {str(room_ab): 3, str(room_ac): 0}}
    read = await alice.http.post(f"{API}/rooms/{room_ab}/read")
    assert read.status_code == 200
    assert read.json() == {"status": "success", "message": "Room marked as read"}
    assert (await alice.http.get(f"{API}/unread-count")).json()["unread_counts"][str(room_ab)] == 0
    detail = (await alice.http.get(f"{API}/rooms/{room_ab}")).json()
    assert all(m["is_read"] for m in detail["message_list"]["messages"])


async def test_room_list_by_pages(api: Api) -> None:
    alice = await api.person("Alice")
    rooms = [await api.room(alice, await api.person(name)) for name in ("Bob", "Carol", "Dave")]
    whole = (await alice.http.get(f"{API}/rooms")).json()
    assert [r["id"] for r in whole["rooms"]] == rooms[::-1]
    assert (whole["total"], whole["has_more"], whole["next_cursor"]) == (3, False, None)

    first = (await alice.http.get(f"{API}/rooms", params={"limit": 2})).json()
    second = (await alice.http.get(f"{API}/rooms", params={"limit": 2, "cursor": first["next_cursor"]})).json()

    assert [r["id"] for r in first["rooms"]] == rooms[:0:-1]
    assert (first["total"], first["has_more"]) == (3, True)
    assert first["rooms"] == whole["rooms"][:2]
    assert second["rooms"] == whole["rooms"][2:]
    assert (second["total"], second["has_more"], second["next_cursor"]) == (3, False, None)
    for params in ({"limit": 0}, {"limit": 101}, {"limit": "x"}, {"limit": 2, "cursor": "nope"}, {"cursor": "1.2.3"}):
        response = await alice.http.get(f"{API}/rooms", params=params)
        assert response.status_code == 400, (params, response.text)
        assert response.json()["status_code"] == 400


async def test_history_parameters_are_checked(api: Api) -> None:
    alice, bob = await api.person("Alice"), await api.person("Bob")
    room = await api.room(alice, bob)
    for params in (
        {"per_page": 0},
        {"per_page": 101},
        {"page": 0},
        {"page": "x"},
        {"after_id": 1, "before_id": 5},
        {"after_id": -1},
        {"before_id": 2**64},
        {"page": 10**30},
    ):
        response = await alice.http.get(f"{API}/rooms/{room}/messages", params=params)
        assert response.status_code == 400, (params, response.text)


async def test_strangers_see_404_for_rooms_and_messages(api: Api) -> None:
    alice, bob, eve = await api.person("Alice"), await api.person("Bob"), await api.person("Eve")
    room = await api.room(alice, bob)
    async with api.socket(alice, room) as ws:
        await ws.send("send_message", content="private")
        message_id = (await ws.next("new_message"))["data"]["id"]
    for method, path in (
        ("GET", f"{API}/rooms/{room}"),
        ("GET", f"{API}/rooms/{room}/messages"),
        ("POST", f"{API}/rooms/{room}/read"),
        ("DELETE", f"{API}/messages/{message_id}"),
        ("GET", f"{API}/rooms/{2**70}"),
        ("DELETE", f"{API}/messages/{2**70}"),
    ):
        response = await eve.http.request(method, path)
        assert response.status_code == 404, (method, path)
    edit = await eve.http.put(f"{API}/messages/{message_id}", data={"content": "hacked"})
    assert edit.status_code == 404


async def test_edit_by_form_and_json_and_delete(api: Api) -> None:
    alice, bob = await api.person("Alice"), await api.person("Bob")
    room = await api.room(alice, bob)
    async with api.socket(alice, room) as ws:
        await ws.send("send_message", content="first")
        message_id = (await ws.next("new_message"))["data"]["id"]
        edited = await alice.http.put(f"{API}/messages/{message_id}", data={"content": "Updated message content"})
        assert edited.status_code == 200
        body = edited.json()
        assert body["content"] == "Updated message content"
        assert body["is_edited"] is True
        assert body["updated_at"].endswith("Z")
        update = await ws.next("message_updated")
        assert update["data"]["content"] == "Updated message content"
        as_json = await alice.http.put(f"{API}/messages/{message_id}", json={"content": "again"})
        assert as_json.json()["content"] == "again"

        assert (await bob.http.put(f"{API}/messages/{message_id}", data={"content": "x"})).status_code == 403
        assert (await alice.http.put(f"{API}/messages/{message_id}", data={"content": ""})).status_code == 400
        too_long = await alice.http.put(f"{API}/messages/{message_id}", data={"content": "x" * 10_001})
        assert too_long.status_code == 400
        assert (await alice.http.put(f"{API}/messages/{message_id}", data={})).status_code == 400
        assert (await bob.http.delete(f"{API}/messages/{message_id}")).status_code == 403

        deleted = await alice.http.delete(f"{API}/messages/{message_id}")
        assert deleted.json() == {"status": "success", "message": "Message deleted"}
        gone = await ws.next("message_deleted")
        assert gone["data"] == {"id": message_id, "room_id": room}
    history = (await bob.http.get(f"{API}/rooms/{room}/messages")).json()["messages"]
    assert history[0]["is_deleted"] is True
    assert history[0]["content"] is None
    after_delete = await alice.http.put(f"{API}/messages/{message_id}", data={"content": "back"})
    assert after_delete.status_code == 403


def _multipart(content: bytes, part_type: str = "text/plain") -> tuple[bytes, dict[str, str]]:
    body = (
        b'--b0undary\r\nContent-Disposition: form-data; name="content"\r\nContent-Type: '
        + part_type.encode()
        + b"\r\n\r\n"
        + content
        + b"\r\n--b0undary--\r\n"
    )
    return body, {"content-type": "multipart/form-data; boundary=b0undary"}


async def test_edit_by_form_takes_utf8_only(api: Api) -> None:
    """A multipart `content` that was not UTF-8 (or named a charset Python lacks) was a 500; urlencoded
    bytes were read as Latin-1, so `content=Grüße` sent unescaped (as `curl -d` does) came out garbled."""
    alice, bob = await api.person("Alice"), await api.person("Bob")
    room = await api.room(alice, bob)
    async with api.socket(alice, room) as ws:
        await ws.send("send_message", content="first")
        message_id = (await ws.next("new_message"))["data"]["id"]
    url = f"{API}/messages/{message_id}"
    form = {"content-type": "application/x-www-form-urlencoded"}
    for body, headers in (
        _multipart(b"caf\xe9"),
        _multipart(b"hello", "text/plain; charset=no-such-charset"),
        (b"content=caf%E9", form),
        (b"content=caf\xe9", form),
    ):
        refused = await alice.http.put(url, content=body, headers=headers)
        assert refused.status_code == 400, (body, refused.text)
        assert "content" in refused.json()["detail"]
    for body, headers in (
        _multipart("Grüße 👋".encode()),
        ("content=Grüße 👋".encode(), form),
        (b"content=Gr%C3%BC%C3%9Fe+%F0%9F%91%8B", form),
    ):
        edited = await alice.http.put(url, content=body, headers=headers)
        assert edited.status_code == 200, (body, edited.text)
        assert edited.json()["content"] == "Grüße 👋"


async def test_online_users_lists_connected_people(api: Api) -> None:
    alice, bob = await api.person("Alice"), await api.person("Bob")
    async with api.socket(bob):
        online = (await alice.http.get(f"{API}/online-users")).json()["online_users"]
        entry = next(u for u in online if u["user_id"] == bob.id)
        assert entry["is_online"] is True
        assert entry["last_seen"].endswith("Z")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the server notices the close a moment later
        online = (await alice.http.get(f"{API}/online-users")).json()["online_users"]
        if bob.id not in [u["user_id"] for u in online]:
            break
        await asyncio.sleep(0.05)
    assert bob.id not in [u["user_id"] for u in online]


async def test_metrics_count_connections_messages_errors_and_requests(api: Api) -> None:
    alice, bob = await api.person("Alice"), await api.person("Bob")
    room = await api.room(alice, bob)
    async with api.socket(alice, room) as sock:
        await sock.send("send_message", content="counted")
        await sock.next("new_message")
        await sock.send("send_message", content="")
        await sock.next("error")
        text = (await api.http.get("/metrics")).text
        assert "chat_ws_connections 1.0" in text or "chat_ws_connections{" in text
    assert 'chat_messages_sent_total{message_type="text"}' in text
    assert 'chat_errors_total{code="invalid"}' in text
    assert 'chat_ws_event_seconds_bucket{le="0.005",type="send_message"}' in text
    assert "chat_requests_total" in text
    assert f"/rooms/{room}" not in text  # routes are grouped, not one series per room
