"""Two `chat serve` processes on PostgreSQL + Redis: events, presence and typing cross between them."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import text

from chat_adapters.sql.engine import create_engine, session_factory
from chat_adapters.sql.users import SqlUserDirectory
from chat_http.http_limits import MAX_HEADER_FIELDS
from tests.e2e.conftest import Api, Person, Server, close_code, start_server, stop_server, token_for
from tests.pg import PgServer, create_database, pg_server
from tests.redis_server import RedisServer, redis_server

__all__ = ["pg_server", "redis_server"]


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, pg_server: PgServer, redis_server: RedisServer
) -> Iterator[tuple[Server, Server]]:
    redis_server.flush()
    database = pg_server.url(asyncio.run(create_database(pg_server)))
    files = tmp_path_factory.mktemp("shared-files")
    env = {"CHAT_DATABASE_URL": database, "CHAT_BROKER_URL": redis_server.url, "CHAT_STORAGE_URL": f"file://{files}"}
    first, a = start_server(Path(tmp_path_factory.mktemp("a")), env)
    try:
        second, b = start_server(Path(tmp_path_factory.mktemp("b")), env)
        try:
            yield a, b
        finally:
            stop_server(second)
    finally:
        stop_server(first)
    for server in (a, b):
        assert "Traceback" not in server.log(), server.log()[-3000:]


@pytest.fixture
async def nodes(cluster: tuple[Server, Server]) -> AsyncIterator[tuple[Api, Api]]:
    a, b = Api.open(cluster[0]), Api.open(cluster[1])
    try:
        yield a, b
    finally:
        await a.aclose()
        await b.aclose()


async def test_a_message_sent_on_a_reaches_the_receiver_on_b(nodes: tuple[Api, Api]) -> None:
    a, b = nodes
    alice, bob = await a.person("Alice"), await a.person("Bob")
    room = await a.room(alice, bob)
    async with a.socket(alice, room) as sender, b.socket(bob, room) as receiver, b.socket(alice) as sender_elsewhere:
        await sender.send("send_message", content="across processes", client_msg_id="x1")
        got = await receiver.next("new_message")
        echo = await sender.next("new_message")
        other_tab = await sender_elsewhere.next("new_message")
    assert got["data"]["content"] == "across processes"
    assert got == echo == other_tab
    history = (await bob.http.get(f"{b.server.base_url}/api/v1/chat/rooms/{room}/messages")).json()
    assert history["total"] == 1


async def test_presence_and_online_users_are_cluster_wide(nodes: tuple[Api, Api]) -> None:
    a, b = nodes
    alice, bob = await a.person("Alice"), await a.person("Bob")
    await a.room(alice, bob)
    async with a.socket(alice) as watcher:
        async with b.socket(bob):
            online = await watcher.next("presence")
            assert online["data"]["user_id"] == bob.id
            assert online["data"]["is_online"] is True
            listed = (await alice.http.get(f"{a.server.base_url}/api/v1/chat/online-users")).json()
            assert bob.id in [u["user_id"] for u in listed["online_users"]]
        offline = await watcher.next("presence")
        assert offline["data"]["is_online"] is False


async def test_typing_crosses_processes(nodes: tuple[Api, Api]) -> None:
    a, b = nodes
    alice, bob = await a.person("Alice"), await a.person("Bob")
    room = await a.room(alice, bob)
    async with a.socket(alice, room) as typist, b.socket(bob, room) as reader:
        await typist.send("typing", is_typing=True)
        event = await reader.next("typing")
    assert event["data"]["typing_users"] == [alice.id]


async def test_a_kept_room_list_shows_what_the_other_process_changed(nodes: tuple[Api, Api]) -> None:
    """Alice's 100 rooms make each process keep her list (CHAT_ROOM_LIST_CACHE, lists of 100 or more); a
    message, a read and a delete made through b show in a's next list, which stays equal to b's."""
    a, b = nodes
    alice = await a.person("Alice")
    engine = create_engine(a.server.env["CHAT_DATABASE_URL"])
    try:
        directory = SqlUserDirectory(session_factory(engine))
        peers = [await directory.add(name=f"Peer {i}", email=f"peer{i}.{alice.id}@example.com") for i in range(100)]
    finally:
        await engine.dispose()
    rooms = [(await alice.http.post("/api/v1/chat/rooms", json={"receiver_id": p.id})).json()["id"] for p in peers]
    url_a, url_b = f"{a.server.base_url}/api/v1/chat/rooms", f"{b.server.base_url}/api/v1/chat/rooms"

    async def lists() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
        on_a, on_b = (await alice.http.get(url_a)).json(), (await alice.http.get(url_b)).json()
        assert on_a["total"] == on_b["total"] == 100
        return on_a["rooms"], on_b["rooms"]

    first, _ = await lists()  # both processes keep it now
    peer, room = peers[37], rooms[37]
    async with b.socket(token_for(peer.id), room) as sock:
        await sock.send("send_message", content="sent through b", client_msg_id="kept-1")
        sent = (await sock.next("new_message"))["data"]
        on_a, on_b = await lists()
        assert on_a == on_b != first
        assert (on_a[0]["id"], on_a[0]["last_message"]["content"], on_a[0]["unread_count"]) == (
            room,
            "sent through b",
            1,
        )

        read = await alice.http.post(f"{b.server.base_url}/api/v1/chat/rooms/{room}/read")
        assert read.status_code == 200
        on_a, on_b = await lists()
        assert on_a == on_b
        assert on_a[0]["unread_count"] == 0

        deleted = await b.client(token_for(peer.id)).delete(f"/api/v1/chat/messages/{sent['id']}")
        assert deleted.status_code == 200
        on_a, on_b = await lists()
        assert on_a == on_b
        assert on_a[0]["last_message"]["content"] != "sent through b"


async def test_workers_share_events_through_redis(
    tmp_path: Path, pg_server: PgServer, redis_server: RedisServer
) -> None:
    """`chat serve --workers 2`: sockets land on either worker and still hear each other."""
    database = pg_server.url(await create_database(pg_server))
    env = {"CHAT_DATABASE_URL": database, "CHAT_BROKER_URL": redis_server.url, "CHAT_STORAGE_URL": f"file://{tmp_path}"}
    proc, server = await asyncio.to_thread(start_server, tmp_path, env, args=("--workers", "2"))
    api = Api.open(server)
    try:
        alice, bob = await api.person("Alice"), await api.person("Bob")
        room = await api.room(alice, bob)
        async with contextlib.AsyncExitStack() as stack:
            bobs = [await stack.enter_async_context(api.socket(bob, room)) for _ in range(4)]
            sender = await stack.enter_async_context(api.socket(alice, room))
            await sender.send("send_message", content="to every worker")
            for sock in bobs:
                assert (await sock.next("new_message"))["data"]["content"] == "to every worker"
        too_many = {f"X-Field-{i}": "1" for i in range(2 * MAX_HEADER_FIELDS)}
        for _ in range(4):  # each on a new connection (431 closes it), whichever worker accepts it
            assert (await api.http.get("/health", headers=too_many)).status_code == 431
        pids = {
            line.split("[")[1].split("]")[0] for line in server.log().splitlines() if "Started server process" in line
        }
        assert len(pids) == 2
    finally:
        await api.aclose()
        await asyncio.to_thread(stop_server, proc)


async def test_a_user_removed_from_the_directory_is_refused_and_their_sockets_close_everywhere(
    nodes: tuple[Api, Api],
) -> None:
    """An employee deleted from the users table: REST refuses the next request on either process, and every open
    socket of theirs, on both processes, closes with 4001 within seconds (bounded here at 15)."""
    a, b = nodes
    leaver, colleague = await a.person("Leaver"), await a.person("Colleague")
    room = await a.room(leaver, colleague)
    assert (await leaver.http.get(f"{b.server.base_url}/api/v1/chat/rooms")).status_code == 200  # cached on b too
    async with a.socket(leaver, room) as on_a, b.socket(leaver, room) as on_b:
        engine = create_engine(a.server.env["CHAT_DATABASE_URL"])
        try:
            async with engine.begin() as connection:
                await connection.execute(text("DELETE FROM users WHERE id = :id"), {"id": leaver.id})
        finally:
            await engine.dispose()

        for server in (a.server, b.server):
            refused = await leaver.http.get(f"{server.base_url}/api/v1/chat/rooms")
            assert refused.status_code == 401
        assert [await on_a.closed_with(within=15), await on_b.closed_with(within=15)] == [4001, 4001]


async def test_per_user_limits_count_sockets_and_searches_on_every_process(nodes: tuple[Api, Api]) -> None:
    """CHAT_MAX_CONNECTIONS_PER_USER (10) and CHAT_SEARCH_PER_MINUTE (30) hold for the user, not per process."""
    a, b = nodes
    alice = await a.person("Alice")
    async with contextlib.AsyncExitStack() as stack:
        for n in range(10):  # five on each process
            await stack.enter_async_context((a if n % 2 else b).socket(alice))
        for api in (a, b):
            assert await close_code(f"{api.server.ws_url}?token={alice.token}") == 1008

    statuses = [
        (
            await alice.http.get(
                f"{(a if n % 2 else b).server.base_url}/api/v1/chat/search-users", params={"email": "example"}
            )
        ).status_code
        for n in range(31)
    ]
    assert statuses == [200] * 30 + [429]


async def test_a_group_message_reaches_every_member_on_both_processes_and_a_removed_one_stops_at_once(
    nodes: tuple[Api, Api],
) -> None:
    """Removal goes out on the group's channel: each process stops passing the group to the removed member's
    sockets before the next event of the group. Cat's own direct message, sent after, is the sentinel: it
    must arrive and nothing of the group before it."""
    a, b = nodes
    ann, ben, cat = await a.person("Ann"), await a.person("Ben"), await a.person("Cat")
    created = await ann.http.post(
        f"{a.server.base_url}/api/v1/chat/rooms", json={"name": "Case", "member_ids": [ben.id, cat.id]}
    )
    group = created.json()["id"]
    direct = await a.room(ann, cat)
    async with (
        a.socket(ann) as ann_a,
        b.socket(ben) as ben_b,
        a.socket(cat) as cat_a,
        b.socket(cat) as cat_b,
    ):
        await ann_a.send("send_message", room_id=group, content="to all", client_msg_id="c1")
        for sock in (ann_a, ben_b, cat_a, cat_b):
            assert (await sock.next("new_message"))["data"]["content"] == "to all"

        removed = await ann.http.delete(f"{a.server.base_url}/api/v1/chat/rooms/{group}/members/{cat.id}")
        assert removed.status_code == 200
        for sock in (cat_a, cat_b):
            assert (await sock.next("members_changed"))["data"]["removed"] == [cat.id]
        await ann_a.send("send_message", room_id=group, content="after Cat", client_msg_id="c2")
        await ann_a.send("send_message", room_id=direct, content="sentinel", client_msg_id="c3")
        for sock in (cat_a, cat_b):
            assert (await sock.next("new_message"))["data"]["content"] == "sentinel"
        seen = [(await ben_b.next("new_message"))["data"]["content"] for _ in range(2)]
        assert seen == ["Ann removed Cat", "after Cat"]
        gone = await cat.http.get(f"{b.server.base_url}/api/v1/chat/rooms/{group}/messages")
        assert gone.status_code == 404


async def test_concurrent_adds_on_two_processes_keep_one_consistent_group(nodes: tuple[Api, Api]) -> None:
    a, b = nodes
    ann, ben, cat = await a.person("Ann"), await a.person("Ben"), await a.person("Cat")
    extra = [await a.person(f"P{n}") for n in range(6)]
    created = await ann.http.post(
        f"{a.server.base_url}/api/v1/chat/rooms", json={"name": "Race", "member_ids": [ben.id, cat.id]}
    )
    group = created.json()["id"]
    await ann.http.put(f"{a.server.base_url}/api/v1/chat/rooms/{group}/members/{ben.id}", json={"role": "admin"})
    ann_b = b.client(ann.token)

    async def add(client: Any, base: str, people: list[Person]) -> None:
        for person in people:
            response = await client.post(f"{base}/api/v1/chat/rooms/{group}/members", json={"user_ids": [person.id]})
            assert response.status_code == 200, response.text

    await asyncio.gather(
        add(ben.http, a.server.base_url, extra[:4]),
        add(ann_b, b.server.base_url, extra[2:]),  # two overlap: added once
    )
    detail = (await cat.http.get(f"{b.server.base_url}/api/v1/chat/rooms/{group}")).json()
    assert sorted(m["id"] for m in detail["members"]) == sorted([ann.id, ben.id, cat.id, *(p.id for p in extra)])
    added_notes = [m for m in detail["message_list"]["messages"] if (m["system"] or {}).get("action") == "added"]
    assert sorted(u for m in added_notes for u in m["system"]["user_ids"]) == sorted(p.id for p in extra)


async def test_a_reaction_storm_on_two_processes_ends_where_the_answers_say(nodes: tuple[Api, Api]) -> None:
    """Eight people add and remove reactions at once, each alternating between the processes, with more distinct
    emoji than fit: the stored reactions, and what a socket on each process heard, equal what the answers said."""
    a, b = nodes
    people = [await a.person(f"R{n}") for n in range(8)]
    owner = people[0]
    created = await owner.http.post(
        f"{a.server.base_url}/api/v1/chat/rooms", json={"name": "Storm", "member_ids": [p.id for p in people[1:]]}
    )
    group = created.json()["id"]
    palette = [chr(0x1F600 + n) for n in range(24)]  # more than the 20 distinct a message holds
    async with a.socket(owner) as on_a, b.socket(people[1]) as on_b:
        await on_a.send("send_message", room_id=group, content="react!", client_msg_id="storm")
        message = (await on_a.next("new_message"))["data"]["id"]
        rng = random.Random(18)
        plans = [[(rng.random() < 0.7, rng.choice(palette)) for _ in range(12)] for _ in people]

        async def storm(index: int) -> set[str]:
            person, mine = people[index], set()
            clients = (person.http, b.client(person.token))
            for step, (adding, emoji) in enumerate(plans[index]):
                base = (a, b)[step % 2].server.base_url
                url = f"{base}/api/v1/chat/messages/{message}/reactions/{quote(emoji, safe='')}"
                client = clients[step % 2]
                response = await (client.put(url) if adding else client.delete(url))
                assert response.status_code in (200, 409), response.text
                if response.status_code == 200:
                    (mine.add if adding else mine.discard)(emoji)
            return mine

        finals = await asyncio.gather(*(storm(i) for i in range(len(people))))
        truth = {(p.id, e) for p, mine in zip(people, finals, strict=True) for e in mine}
        stored = (await owner.http.get(f"{b.server.base_url}/api/v1/chat/rooms/{group}/messages")).json()
        shown = {(u, r["emoji"]) for r in stored["messages"][0]["reactions"] for u in r["user_ids"]}
        heard = [await _replay(sock, truth) for sock in (on_a, on_b)]

    assert shown == truth
    assert len({e for _, e in truth}) <= 20
    assert heard == [truth, truth]


async def _replay(sock: Any, truth: set[tuple[int, str]]) -> set[tuple[int, str]]:
    """Apply reaction events as a client does until the state equals `truth` (or the wait runs out)."""
    state: set[tuple[int, str]] = set()
    with contextlib.suppress(AssertionError):
        while state != truth:
            event = await sock.next()
            if event["type"] in ("reaction_added", "reaction_removed"):
                key = (event["data"]["user_id"], event["data"]["emoji"])
                (state.add if event["type"] == "reaction_added" else state.discard)(key)
    return state


async def test_two_processes_pinning_one_message_at_once_pin_it_once(nodes: tuple[Api, Api]) -> None:
    a, b = nodes
    ann, ben = await a.person("Ann"), await a.person("Ben")
    room = await a.room(ann, ben)
    async with a.socket(ann, room) as ann_socket:
        await ann_socket.send("send_message", content="pin me", client_msg_id="p1")
        message = (await ann_socket.next("new_message"))["data"]["id"]
        answers = await asyncio.gather(
            ann.http.put(f"{a.server.base_url}/api/v1/chat/messages/{message}/pin"),
            b.client(ben.token).put(f"{b.server.base_url}/api/v1/chat/messages/{message}/pin"),
        )
        pinned = await ann_socket.next("message_pinned")
        await ann_socket.silent("message_pinned")

    assert [r.status_code for r in answers] == [200, 200]
    assert {r.json()["pinned_by"] for r in answers} == {pinned["data"]["user_id"]}
    pins = (await ben.http.get(f"{a.server.base_url}/api/v1/chat/rooms/{room}/pins")).json()["messages"]
    assert [m["id"] for m in pins] == [message]
