"""Groups over a real server and real sockets with three and more people (contract section 11)."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Api, Person

BASE = "/api/v1/chat"


async def make_group(owner: Person, *others: Person, name: str = "Case team") -> dict[str, Any]:
    response = await owner.http.post(f"{BASE}/rooms", json={"name": name, "member_ids": [p.id for p in others]})
    assert response.status_code == 201, response.text
    room: dict[str, Any] = response.json()
    return room


async def test_a_group_is_created_listed_and_its_messages_reach_every_member(api: Api) -> None:
    ann, ben, cat = await api.person("Ann"), await api.person("Ben"), await api.person("Cat")
    async with api.socket(ben) as ben_socket, api.socket(cat) as cat_socket:
        room = await make_group(ann, ben, cat)
        created = await ben_socket.next("members_changed")
        await cat_socket.next("members_changed")
        async with api.socket(ann) as ann_socket:
            await ann_socket.send("send_message", room_id=room["id"], content="hello team", client_msg_id="g1")
            got = [(await s.next("new_message"))["data"] for s in (ann_socket, ben_socket, cat_socket)]

    assert (room["kind"], room["room_type"], room["name"], room["other_user"]) == ("group", "group", "Case team", None)
    assert [(m["id"], m["role"]) for m in room["members"]] == [
        (ann.id, "owner"),
        (ben.id, "member"),
        (cat.id, "member"),
    ]
    assert created["data"]["added"] == [ann.id, ben.id, cat.id]
    assert {g["id"] for g in got} == {got[0]["id"]}
    assert got[0]["receiver_id"] is None
    listed = (await cat.http.get(f"{BASE}/rooms")).json()["rooms"]
    assert [(r["name"], r["unread_count"], r["last_message"]["content"]) for r in listed] == [
        ("Case team", 1, "hello team")
    ]
    unread = (await ben.http.get(f"{BASE}/unread-count")).json()["unread_counts"]
    assert unread == {str(room["id"]): 1}


async def test_read_state_per_member_and_the_reads_list(api: Api) -> None:
    ann, ben, cat = await api.person("Ann"), await api.person("Ben"), await api.person("Cat")
    room = await make_group(ann, ben, cat)
    async with api.socket(ann) as ann_socket:
        await ann_socket.send("send_message", room_id=room["id"], content="please read", client_msg_id="r1")
        sent = (await ann_socket.next("new_message"))["data"]
        assert (await ben.http.post(f"{BASE}/rooms/{room['id']}/read")).status_code == 200
        heard = (await ann_socket.next("messages_read"))["data"]

    reads = (await ann.http.get(f"{BASE}/rooms/{room['id']}/messages/{sent['id']}/reads")).json()
    history = (await ann.http.get(f"{BASE}/rooms/{room['id']}/messages")).json()["messages"]
    assert heard["user_id"] == ben.id
    assert ([u["id"] for u in reads["read_by"]], [u["id"] for u in reads["not_read_by"]]) == ([ben.id], [cat.id])
    assert history[0]["id"] == sent["id"]
    assert history[0]["is_read"] is False
    await cat.http.post(f"{BASE}/rooms/{room['id']}/read")
    history = (await ann.http.get(f"{BASE}/rooms/{room['id']}/messages")).json()["messages"]
    assert history[0]["is_read"] is True
    stranger = await api.person("Dan")
    response = await stranger.http.get(f"{BASE}/rooms/{room['id']}/messages/{sent['id']}/reads")
    assert response.status_code == 404


async def test_membership_changes_roles_and_access(api: Api) -> None:
    ann, ben, cat, dan = [await api.person(n) for n in ("Ann", "Ben", "Cat", "Dan")]
    room = await make_group(ann, ben, cat)
    rid = room["id"]
    before = (await ann.http.get(f"{BASE}/rooms/{rid}/messages")).json()["total"]

    assert (await ben.http.post(f"{BASE}/rooms/{rid}/members", json={"user_ids": [dan.id]})).status_code == 403
    set_role = await ann.http.put(f"{BASE}/rooms/{rid}/members/{ben.id}", json={"role": "admin"})
    assert set_role.status_code == 200
    async with api.socket(dan) as dan_socket:
        added = await ben.http.post(f"{BASE}/rooms/{rid}/members", json={"user_ids": [dan.id]})
        assert added.status_code == 200, added.text
        assert (await dan_socket.next("members_changed"))["data"]["added"] == [dan.id]
    dan_history = (await dan.http.get(f"{BASE}/rooms/{rid}/messages")).json()
    assert [m["content"] for m in dan_history["messages"]] == ["Ben added Dan"]  # nothing from before Dan joined

    removed = await ben.http.delete(f"{BASE}/rooms/{rid}/members/{cat.id}")
    assert removed.status_code == 200
    for path in (f"/rooms/{rid}", f"/rooms/{rid}/messages"):
        assert (await cat.http.get(BASE + path)).status_code == 404
    assert (await cat.http.post(f"{BASE}/rooms/{rid}/read")).status_code == 404

    renamed = await ben.http.patch(f"{BASE}/rooms/{rid}", json={"name": "Case 42"})
    assert renamed.json()["name"] == "Case 42"
    left = await ann.http.delete(f"{BASE}/rooms/{rid}/members/{ann.id}")
    assert left.json()["message"] == "You left the group"
    members = (await dan.http.get(f"{BASE}/rooms/{rid}")).json()["members"]
    assert {m["id"]: m["role"] for m in members} == {ben.id: "owner", dan.id: "member"}
    notes = [m["content"] for m in (await ben.http.get(f"{BASE}/rooms/{rid}/messages")).json()["messages"]]
    assert len(notes) - before == 6
    assert notes[:3] == ["Ben now owns the group", "Ann left", "Ben renamed the group to Case 42"]


async def test_bad_group_requests_are_clear_4xx_and_write_nothing(api: Api) -> None:
    ann, ben, cat = await api.person("Ann"), await api.person("Ben"), await api.person("Cat")
    cases: list[tuple[str, str, Any, int]] = [
        ("post", "/rooms", {"name": "Too small", "member_ids": [ben.id]}, 400),
        ("post", "/rooms", {"name": "", "member_ids": [ben.id, cat.id]}, 400),
        ("post", "/rooms", {"name": "x" * 101, "member_ids": [ben.id, cat.id]}, 400),
        ("post", "/rooms", {"name": "Ghosts", "member_ids": [ben.id, 2**62]}, 404),
        ("post", "/rooms", {"name": "Neg", "member_ids": [ben.id, -1]}, 404),
        ("post", "/rooms", {"name": "Str", "member_ids": [ben.id, "3"]}, 400),
        ("post", "/rooms", {"name": "Big", "member_ids": list(range(1, 300))}, 400),
        ("post", "/rooms", {"name": "Extra", "member_ids": [ben.id, cat.id], "x": 1}, 400),
        ("post", "/rooms", {"name": "Ctl\x07", "member_ids": [ben.id, cat.id]}, 400),
    ]
    for method, path, body, status in cases:
        response = await getattr(ann.http, method)(BASE + path, json=body)
        assert response.status_code == status, (body, response.text)
    assert (await ann.http.get(f"{BASE}/rooms")).json()["total"] == 0

    room = await make_group(ann, ben, cat)
    rid = room["id"]
    for method, path, body, status in [
        ("patch", f"/rooms/{rid}", {"name": 5}, 400),
        ("patch", f"/rooms/{rid}", {}, 400),
        ("put", f"/rooms/{rid}/members/{ben.id}", {"role": "owner"}, 400),
        ("put", f"/rooms/{rid}/members/{ben.id}", {"role": "boss"}, 400),
        ("put", f"/rooms/{rid}/members/999999999", {"role": "admin"}, 404),
        ("post", f"/rooms/{rid}/members", {"user_ids": "nope"}, 400),
        ("post", f"/rooms/{rid}/members", {"user_ids": [2**62]}, 404),
    ]:
        response = await ann.http.request(method.upper(), BASE + path, json=body)
        assert response.status_code == status, (path, body, response.text)
    assert (await ann.http.delete(f"{BASE}/rooms/{rid}/members/{2**70}")).status_code == 404
    direct = await api.room(ann, ben)
    assert (await ann.http.patch(f"{BASE}/rooms/{direct}", json={"name": "Ours"})).status_code == 400
    assert (await cat.http.patch(f"{BASE}/rooms/{direct}", json={"name": "Theirs"})).status_code == 404
    history = (await ann.http.get(f"{BASE}/rooms/{rid}/messages")).json()
    assert history["total"] == 1  # only the creation note


async def test_typing_lists_every_typing_member(api: Api) -> None:
    ann, ben, cat = await api.person("Ann"), await api.person("Ben"), await api.person("Cat")
    room = await make_group(ann, ben, cat)
    rid = room["id"]
    async with api.socket(ann, rid) as a, api.socket(ben, rid) as b, api.socket(cat, rid) as c:
        await a.send("typing", room_id=rid, is_typing=True)
        await c.next("typing")
        await b.send("typing", room_id=rid, is_typing=True)
        both = await c.next("typing")
    assert both["data"]["typing_users"] == sorted([ann.id, ben.id])


async def test_a_seed_client_sees_direct_rooms_as_before(api: Api) -> None:
    ann, ben = await api.person("Ann"), await api.person("Ben")
    room = await api.room(ann, ben)
    async with api.socket(ben, room) as b:
        await ann.http.post(f"{BASE}/rooms/{room}/read")
        async with api.socket(ann, room) as a:
            await a.send("send_message", room_id=room, receiver_id=ben.id, content="hi", client_msg_id="s1")
            got = (await b.next("new_message"))["data"]
    assert (got["receiver_id"], got["receiver_name"], got["is_read"]) == (ben.id, "Ben", False)
    detail = (await ann.http.get(f"{BASE}/rooms/{room}")).json()
    assert (detail["name"], detail["room_type"], detail["other_user"]["id"]) == ("Direct Chat", "direct", ben.id)
    await ben.http.post(f"{BASE}/rooms/{room}/read")
    detail = (await ann.http.get(f"{BASE}/rooms/{room}")).json()
    assert detail["message_list"]["messages"][-1]["is_read"] is True
