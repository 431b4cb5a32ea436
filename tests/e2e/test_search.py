"""Message search over a real server (contract section 13): what is found, what never is, and bad input."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Api, Socket
from tests.e2e.test_groups import make_group

BASE = "/api/v1/chat"


async def say(sock: Socket, room: int, content: str) -> dict[str, Any]:
    """Send, and the echo of this message (a group's system notes may come first)."""
    await sock.send("send_message", room_id=room, content=content)
    for _ in range(5):
        sent: dict[str, Any] = (await sock.next("new_message"))["data"]
        if sent["content"] == content:
            return sent
    raise AssertionError(f"no echo of {content!r}")


async def test_search_finds_what_the_caller_may_read_newest_first_with_snippets(api: Api) -> None:
    ann, ben, cat, dan = [await api.person(n) for n in ("Ann", "Ben", "Cat", "Dan")]
    direct = await api.room(ann, ben)
    async with api.socket(ann) as ann_socket:
        first = await say(ann_socket, direct, "Herr Müller signed contract PO-1234")
        second = await say(ann_socket, direct, "<img src=x onerror=alert(1)> müller again")
        group = await make_group(ann, ben, cat)
        before = await say(ann_socket, group["id"], "muller before Dan")
        added = await ann.http.post(f"{BASE}/rooms/{group['id']}/members", json={"user_ids": [dan.id]})
        assert added.status_code == 200
        after = await say(ann_socket, group["id"], "muller after Dan")

    found = (await ben.http.get(f"{BASE}/search", params={"q": "MULLER"})).json()
    for_dan = (await dan.http.get(f"{BASE}/search", params={"q": "muller"})).json()
    phrase = (await ben.http.get(f"{BASE}/search", params={"q": '"signed contract" po-12'})).json()

    assert [hit["message"]["id"] for hit in found["results"]] == [after["id"], before["id"], second["id"], first["id"]]
    hit = found["results"][2]
    assert hit["snippet"] == "<img src=x onerror=alert(1)> müller again"  # text, as written
    assert [hit["snippet"][a:b] for a, b in hit["highlights"]] == ["müller"]
    assert [h["message"]["id"] for h in for_dan["results"]] == [after["id"]]
    assert [h["message"]["id"] for h in phrase["results"]] == [first["id"]]
    assert before["id"] not in {h["message"]["id"] for h in for_dan["results"]}


async def test_edits_are_found_by_their_new_text_and_deletions_never(api: Api) -> None:
    ann, ben = await api.person("Ann"), await api.person("Ben")
    room = await api.room(ann, ben)
    async with api.socket(ann) as ann_socket:
        sent = await say(ann_socket, room, "salary review Monday")
    await ann.http.put(f"{BASE}/messages/{sent['id']}", json={"content": "appraisal Tuesday"})

    old = (await ben.http.get(f"{BASE}/search", params={"q": "salary"})).json()["results"]
    new = (await ben.http.get(f"{BASE}/search", params={"q": "appraisal"})).json()["results"]
    await ann.http.delete(f"{BASE}/messages/{sent['id']}")
    gone = (await ben.http.get(f"{BASE}/search", params={"q": "appraisal"})).json()["results"]

    assert (old, [h["message"]["id"] for h in new], gone) == ([], [sent["id"]], [])


@pytest.mark.parametrize(
    "params",
    [
        {"q": ""},
        {"q": "!!!"},
        {"q": "x" * 201},
        {"q": "ok", "limit": "0"},
        {"q": "ok", "limit": "51"},
        {"q": "ok", "cursor": "nope"},
        {"q": "ok", "after": "yesterday"},
        {"q": "ok", "room_id": "0"},
        {"q": "ok", "sender_id": str(2**63)},
        {"q": "ok", "after": "2026-03-02", "before": "2026-03-01"},
    ],
)
async def test_bad_searches_are_a_clear_400(api: Api, params: dict[str, str]) -> None:
    ann = await api.person("Ann")

    response = await ann.http.get(f"{BASE}/search", params=params)

    assert response.status_code == 400, response.text
    assert response.json()["detail"]


async def test_a_missing_q_is_a_400_and_no_token_a_401(api: Api) -> None:
    ann = await api.person("Ann")

    assert (await ann.http.get(f"{BASE}/search")).status_code == 400
    assert (await api.http.get(f"{BASE}/search", params={"q": "x"})).status_code == 401
