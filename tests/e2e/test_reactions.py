"""Reactions, replies, mentions and pins over a real server and real sockets (contract section 12)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from tests.e2e.conftest import Api, Socket
from tests.e2e.test_groups import make_group

BASE = "/api/v1/chat"


async def say(sock: Socket, room: int, content: str, **fields: Any) -> dict[str, Any]:
    await sock.send("send_message", room_id=room, content=content, **fields)
    sent: dict[str, Any] = (await sock.next("new_message"))["data"]
    return sent


def reaction_url(message: int, emoji: str) -> str:
    return f"{BASE}/messages/{message}/reactions/{quote(emoji, safe='')}"


@pytest.mark.parametrize("emoji", ["👍", "👍🏽", "👨‍👩‍👧", "🇫🇷", "#️⃣"])
async def test_one_emoji_of_any_shape_is_a_reaction_both_people_hear_of(api: Api, emoji: str) -> None:
    ann, ben = await api.person("Ann"), await api.person("Ben")
    room = await api.room(ann, ben)
    async with api.socket(ann) as ann_socket, api.socket(ben) as ben_socket:
        sent = await say(ann_socket, room, "Offer signed")
        await ben_socket.next("new_message")
        first = await ben.http.put(reaction_url(sent["id"], emoji))
        heard = [(await s.next("reaction_added"))["data"] for s in (ann_socket, ben_socket)]
        again = await ben.http.put(reaction_url(sent["id"], emoji))
        await ann_socket.silent("reaction_added")

    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["reactions"] == again.json()["reactions"] == [{"emoji": emoji, "user_ids": [ben.id]}]
    assert heard == [{"room_id": room, "message_id": sent["id"], "emoji": emoji, "user_id": ben.id}] * 2
    history = (await ann.http.get(f"{BASE}/rooms/{room}/messages")).json()["messages"]
    assert history[0]["reactions"] == [{"emoji": emoji, "user_ids": [ben.id]}]


@pytest.mark.parametrize("raw", [":)", "<b>", "<img src=x onerror=alert(1)>", "👍👍", "a", " 👍"])
async def test_anything_but_one_emoji_is_a_400_and_leaves_no_reaction(api: Api, raw: str) -> None:
    ann, ben = await api.person("Ann"), await api.person("Ben")
    room = await api.room(ann, ben)
    async with api.socket(ann) as ann_socket:
        sent = await say(ann_socket, room, "hello")
        response = await ben.http.put(reaction_url(sent["id"], raw))

    assert response.status_code == 400, response.text
    assert "emoji" in response.json()["detail"]
    assert (await ann.http.get(f"{BASE}/rooms/{room}/messages")).json()["messages"][0]["reactions"] == []


async def test_reactions_over_the_socket_a_stranger_and_the_limit(api: Api) -> None:
    ann, ben, eve = await api.person("Ann"), await api.person("Ben"), await api.person("Eve")
    room = await api.room(ann, ben)
    async with api.socket(ann) as ann_socket, api.socket(ben) as ben_socket, api.socket(eve) as eve_socket:
        sent = await say(ann_socket, room, "hello")
        await ben_socket.send("add_reaction", message_id=sent["id"], emoji="❤")
        added = (await ann_socket.next("reaction_added"))["data"]
        await ben_socket.send("add_reaction", message_id=sent["id"], emoji="❤️")
        repeat = (await ben_socket.next("reaction_added"))["data"]  # answered to its sender alone
        await ann_socket.silent("reaction_added")
        await eve_socket.send("add_reaction", message_id=sent["id"], emoji="👍")
        refused = (await eve_socket.next("error"))["data"]
        await ben_socket.send("remove_reaction", message_id=sent["id"], emoji="❤️")
        removed = (await ann_socket.next("reaction_removed"))["data"]
        for n in range(20):
            assert (await ann.http.put(reaction_url(sent["id"], chr(0x1F600 + n)))).status_code == 200
        full = await ben.http.put(reaction_url(sent["id"], "🎉"))
        joined = await ben.http.put(reaction_url(sent["id"], chr(0x1F600)))

    assert added["emoji"] == repeat["emoji"] == "❤️"  # one spelling
    assert refused["code"] == "not_found"
    assert removed == {"room_id": room, "message_id": sent["id"], "emoji": "❤️", "user_id": ben.id}
    assert full.status_code == 409
    assert joined.status_code == 200
    assert joined.json()["reactions"][0] == {"emoji": chr(0x1F600), "user_ids": [ann.id, ben.id]}
    assert len(joined.json()["reactions"]) == 20
    stranger = await eve.http.put(reaction_url(sent["id"], "👍"))
    assert stranger.status_code == 404


async def test_a_reply_quotes_its_original_as_it_is_now_and_only_within_its_room(api: Api) -> None:
    ann, ben, cat = await api.person("Ann"), await api.person("Ben"), await api.person("Cat")
    room, other = await api.room(ann, ben), await api.room(ann, cat)
    async with api.socket(ann) as ann_socket, api.socket(ben) as ben_socket:
        original = await say(ann_socket, room, "<img src=x onerror=alert(1)> is the payslip ready?")
        elsewhere = await say(ann_socket, other, "private")
        await ben_socket.next("new_message")
        reply = await say(ben_socket, room, "yes", reply_to_id=original["id"], client_msg_id="r1")
        await ben_socket.send("send_message", room_id=room, content="no", reply_to_id=elsewhere["id"])
        refused = (await ben_socket.next("error"))["data"]

    assert reply["reply_to_id"] == original["id"]
    assert reply["reply_to"] == {
        "id": original["id"],
        "sender_id": ann.id,
        "message_type": "text",
        "preview": "<img src=x onerror=alert(1)> is the payslip ready?",  # text, as sent: the client shows it as text
        "is_deleted": False,
    }
    assert refused["code"] == "invalid"
    assert "reply_to_id" in refused["message"]
    assert (
        await ann.http.put(f"{BASE}/messages/{original['id']}", json={"content": "is it ready?"})
    ).status_code == 200
    quoted = (await ben.http.get(f"{BASE}/rooms/{room}/messages")).json()["messages"][0]
    assert quoted["reply_to"]["preview"] == "is it ready?"
    assert (await ann.http.delete(f"{BASE}/messages/{original['id']}")).status_code == 200
    quoted = (await ben.http.get(f"{BASE}/rooms/{room}/messages")).json()["messages"][0]
    assert (quoted["reply_to"]["preview"], quoted["reply_to"]["is_deleted"]) == (None, True)
    total = (await ben.http.get(f"{BASE}/rooms/{room}/messages")).json()["total"]
    assert total == 2  # the refused reply left nothing


async def test_mentions_count_in_the_room_list_until_read(api: Api) -> None:
    ann, ben, cat, dan = [await api.person(n) for n in ("Ann", "Ben", "<b>Cat</b>", "Dan")]
    room = await make_group(ann, ben, cat)
    async with api.socket(ann) as ann_socket:
        sent = await say(ann_socket, room["id"], f"<@{cat.id}> and <@{dan.id}>: see the policy")
        await say(ann_socket, room["id"], f"<@{cat.id}> reminder")

    assert sent["mentions"] == [cat.id]  # Dan is no member: his id stays text
    listed = {r["id"]: r for r in (await cat.http.get(f"{BASE}/rooms")).json()["rooms"]}
    assert listed[room["id"]]["mention_count"] == 2
    assert (await ben.http.get(f"{BASE}/rooms")).json()["rooms"][0]["mention_count"] == 0
    detail = (await cat.http.get(f"{BASE}/rooms/{room['id']}")).json()
    assert detail["mention_count"] == 2
    assert (await cat.http.post(f"{BASE}/rooms/{room['id']}/read")).status_code == 200
    assert (await cat.http.get(f"{BASE}/rooms")).json()["rooms"][0]["mention_count"] == 0


async def test_pins_who_may_and_the_pins_list(api: Api) -> None:
    ann, ben, cat, eve = [await api.person(n) for n in ("Ann", "Ben", "Cat", "Eve")]
    room = await make_group(ann, ben, cat)
    rid = room["id"]
    async with api.socket(ann) as ann_socket, api.socket(cat) as cat_socket:
        first = await say(ann_socket, rid, "Holiday policy")
        second = await say(ann_socket, rid, "Expense policy")
        by_member = await ben.http.put(f"{BASE}/messages/{first['id']}/pin")
        pinned = await ann.http.put(f"{BASE}/messages/{first['id']}/pin")
        heard = (await cat_socket.next("message_pinned"))["data"]
        await ann.http.put(f"{BASE}/messages/{second['id']}/pin")
        listed = (await cat.http.get(f"{BASE}/rooms/{rid}/pins")).json()["messages"]
        unpinned = await ann.http.delete(f"{BASE}/messages/{second['id']}/pin")
        heard_unpin = (await cat_socket.next("message_unpinned"))["data"]

    assert by_member.status_code == 403
    assert pinned.status_code == 200
    assert (pinned.json()["pinned_by"], heard["message_id"], heard["user_id"]) == (ann.id, first["id"], ann.id)
    assert [m["id"] for m in listed] == [second["id"], first["id"]]
    assert (unpinned.status_code, unpinned.json()["pinned_at"]) == (200, None)
    assert heard_unpin == {"room_id": rid, "message_id": second["id"], "user_id": ann.id}
    assert (await eve.http.get(f"{BASE}/rooms/{rid}/pins")).status_code == 404
    assert (await eve.http.put(f"{BASE}/messages/{first['id']}/pin")).status_code == 404
    direct = await api.room(ben, eve)
    async with api.socket(ben) as ben_socket:
        said = await say(ben_socket, direct, "anyone pins here")
    assert (await eve.http.put(f"{BASE}/messages/{said['id']}/pin")).status_code == 200
