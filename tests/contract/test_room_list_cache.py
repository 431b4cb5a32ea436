"""The cached room list on every backend: always the list an uncached service reads, whoever made the change.

Two services share one database, live state and clock, as two processes behind a load balancer share the
database and Redis: `one` and `two` keep room lists (from one room on), `plain` keeps none and is the reference.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs
import pytest

from chatcore import ChatService, Limits, SendMessage, User
from chatcore.model import RoomId
from chatcore.testing import FakeClock, MemoryBroker, MemoryLiveState, MemoryStorage, SequentialIds
from chatcore.views import RoomView
from tests.contract.backends import Backend


@attrs.define
class Processes:
    one: ChatService
    two: ChatService
    plain: ChatService
    live: MemoryLiveState
    clock: FakeClock
    alice: User
    people: list[User]
    rooms: list[RoomId]

    async def lists(self) -> tuple[list[RoomView], list[RoomView], list[RoomView]]:
        alice = self.alice.id
        return await self.one.list_rooms(alice), await self.two.list_rooms(alice), await self.plain.list_rooms(alice)


@pytest.fixture
async def procs(backend: Backend) -> Processes:
    clock = FakeClock()
    live = MemoryLiveState(clock)
    storage = MemoryStorage(clock)

    def service(limits: Limits) -> ChatService:
        return ChatService(
            uow=backend.database,  # type: ignore[arg-type]  # MemoryDatabase's attributes are its own classes
            users=backend.users,
            storage=storage,
            broker=MemoryBroker(),
            live=live,
            clock=clock,
            ids=SequentialIds(),
            limits=limits,
            writer=backend.writer,
        )

    cached = Limits(room_list_cache_min=1)
    alice = await backend.users.add(name="Alice Smith", email="alice@example.com")
    people = [await backend.users.add(name=f"Peer {i}", email=f"peer{i}@corp.test") for i in range(4)]
    one, two, plain = service(cached), service(cached), service(Limits(cache=False))
    rooms = []
    for peer in people[:3]:
        view, _ = await plain.open_direct_room(peer.id, alice.id)
        rooms.append(view.id)
        clock.advance(1)
        await plain.send_message(peer.id, SendMessage(room_id=view.id, content=f"hi from {peer.name}"))
    await live.connect(people[2].id, "socket-2")
    return Processes(one=one, two=two, plain=plain, live=live, clock=clock, alice=alice, people=people, rooms=rooms)


async def _send(p: Processes) -> None:
    p.clock.advance(1)
    await p.two.send_message(p.people[0].id, SendMessage(room_id=p.rooms[0], content="news"))  # to the bottom room


async def _reply(p: Processes) -> None:
    p.clock.advance(1)
    await p.two.send_message(p.alice.id, SendMessage(room_id=p.rooms[1], content="a reply"))


async def _read(p: Processes) -> None:
    await p.two.mark_read(p.alice.id, p.rooms[2])


async def _edit(p: Processes) -> None:
    last = (await p.two.history(p.alice.id, p.rooms[1], per_page=1)).messages[0]
    await p.two.edit_message(last.sender_id, last.id, "edited")


async def _delete(p: Processes) -> None:
    last = (await p.two.history(p.alice.id, p.rooms[2], per_page=1)).messages[0]
    await p.two.delete_message(last.sender_id, last.id)


async def _new_room(p: Processes) -> None:
    p.clock.advance(1)
    await p.two.open_direct_room(p.people[3].id, p.alice.id)


async def _online(p: Processes) -> None:
    await p.live.connect(p.people[1].id, "socket-1")


async def _offline(p: Processes) -> None:
    await p.live.disconnect(p.people[2].id, "socket-2")


CHANGES: dict[str, Callable[[Processes], Awaitable[None]]] = {
    "message moves a room to the top": _send,
    "own message": _reply,
    "read": _read,
    "edit of the last message": _edit,
    "delete of the last message": _delete,
    "new room": _new_room,
    "peer comes online": _online,
    "peer goes offline": _offline,
}


@pytest.mark.parametrize("change", CHANGES)
async def test_a_change_made_elsewhere_shows_in_the_kept_list(procs: Processes, change: str) -> None:
    one, two, before = await procs.lists()
    assert one == two == before  # both lists are kept now

    await CHANGES[change](procs)

    one, two, plain = await procs.lists()
    assert plain != before  # a change the list shows
    assert one == plain
    assert two == plain


async def test_every_change_in_a_row_keeps_the_lists_equal(procs: Processes) -> None:
    for change in CHANGES.values():
        await change(procs)
        one, two, plain = await procs.lists()
        assert one == two == plain


@pytest.mark.parametrize("renamed", ["other user", "sender of the last message"])
async def test_a_renamed_user_shows_once_the_directory_entry_expires(
    procs: Processes, backend: Backend, renamed: str
) -> None:
    """Neither the room nor its version changes: the kept line is built again because one of its users did."""
    await _reply(procs)  # rooms[1]: the other user is people[1], the last message is Alice's
    await procs.lists()
    user = procs.people[1] if renamed == "other user" else procs.alice

    await backend.users.upsert_by_email(name="Renamed", email=user.email)
    procs.clock.advance(31)  # past the 30 s a directory entry is reused

    one, two, plain = await procs.lists()
    assert one == two == plain
    (line,) = [r for r in one if r.id == procs.rooms[1]]
    assert line.last_message is not None
    assert (line.other_user.name, line.last_message.sender_name) == (
        ("Renamed", "Alice Smith") if renamed == "other user" else ("Peer 1", "Renamed")
    )


async def test_unread_mentions_show_in_the_kept_lists(procs: Processes) -> None:
    """Mentions change with sends, edits, deletes and reads only, which all move the room's version: an edit
    of an older message changes nothing else a room list shows than its `mention_count`."""
    peer, room_id = procs.people[1], procs.rooms[1]
    procs.clock.advance(1)
    older, _ = await procs.plain.send_message(peer.id, SendMessage(room_id=room_id, content="a plain one"))
    await procs.plain.send_message(peer.id, SendMessage(room_id=room_id, content="the newest"))
    await procs.lists()

    async def mentions() -> list[int]:
        lists = await procs.lists()
        assert lists[0] == lists[1] == lists[2]
        return [line.mention_count for line in lists[0] if line.id == room_id]

    await procs.two.edit_message(peer.id, older.id, f"now for <@{procs.alice.id}>")
    assert await mentions() == [1]
    await procs.two.delete_message(peer.id, older.id)
    assert await mentions() == [0]
    procs.clock.advance(1)
    await procs.two.send_message(peer.id, SendMessage(room_id=room_id, content=f"<@{procs.alice.id}> again"))
    assert await mentions() == [1]
    await procs.two.mark_read(procs.alice.id, room_id)
    assert await mentions() == [0]
