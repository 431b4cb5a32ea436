"""Presence (online while any connection lives) and typing (a flag that expires by itself)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chatcore import NotFoundError, RoomId
from chatcore.testing import FakeClock, MemoryLiveState
from tests.unit.helpers import ALICE, BOB, CAROL, DAVE, Chat

# -- presence -----------------------------------------------------------------------------------


async def test_a_user_with_two_connections_stays_online_until_both_close(chat: Chat, room: RoomId) -> None:
    to_bob = await chat.listen(f"user:{BOB}")

    await chat.service.connect(ALICE, "laptop")
    await chat.service.connect(ALICE, "phone")
    await chat.service.disconnect(ALICE, "laptop")
    still_online = await chat.live.online([ALICE])
    await chat.service.disconnect(ALICE, "phone")

    assert still_online == {ALICE}
    assert await chat.live.online([ALICE]) == set()
    assert [(d["is_online"]) for d in to_bob.data("presence")] == [True, False]


async def test_last_seen_is_set_when_the_last_connection_closes(chat: Chat, room: RoomId) -> None:
    to_bob = await chat.listen(f"user:{BOB}")
    await chat.service.connect(ALICE, "laptop")
    for _ in range(120):  # an hour online, heartbeating every 30 s
        chat.clock.advance(30)
        await chat.service.heartbeat(ALICE, "laptop")

    await chat.service.disconnect(ALICE, "laptop")

    logged = chat.db.tables.presence[ALICE]
    assert logged.is_online is False
    assert logged.last_seen == datetime(2024, 1, 21, 13, 0, tzinfo=UTC)
    assert to_bob.data("presence")[-1] == {
        "user_id": ALICE,
        "user_name": "Alice Smith",
        "is_online": False,
        "last_seen": "2024-01-21T13:00:00Z",
    }


async def test_closing_an_unknown_connection_changes_nothing(chat: Chat, room: RoomId) -> None:
    await chat.service.connect(ALICE, "laptop")
    to_bob = await chat.listen(f"user:{BOB}")

    await chat.service.disconnect(ALICE, "never-opened")
    await chat.service.disconnect(CAROL, "never-opened")

    assert to_bob.frames == []
    assert await chat.live.online([ALICE]) == {ALICE}


async def test_a_user_whose_heartbeats_stop_goes_offline_after_sixty_seconds(chat: Chat) -> None:
    await chat.service.connect(ALICE, "crashed-server-socket")

    chat.clock.advance(59)
    assert await chat.live.online([ALICE]) == {ALICE}
    chat.clock.advance(1)
    assert await chat.live.online([ALICE]) == set()
    assert await chat.service.online_users(BOB) == []


async def test_heartbeats_keep_a_user_online(chat: Chat) -> None:
    await chat.service.connect(ALICE, "laptop")

    for _ in range(5):
        chat.clock.advance(50)
        await chat.service.heartbeat(ALICE, "laptop")

    assert await chat.live.online([ALICE]) == {ALICE}


async def test_a_heartbeat_after_expiry_brings_the_connection_back(chat: Chat) -> None:
    await chat.service.connect(ALICE, "laptop")
    chat.clock.advance(120)

    await chat.service.heartbeat(ALICE, "laptop")

    assert await chat.live.online([ALICE]) == {ALICE}


async def test_an_expired_connection_is_not_counted_when_reconnecting(chat: Chat, room: RoomId) -> None:
    to_bob = await chat.listen(f"user:{BOB}")
    await chat.service.connect(ALICE, "old")
    chat.clock.advance(61)

    await chat.service.connect(ALICE, "new")

    assert [d["is_online"] for d in to_bob.data("presence")] == [True, True]  # she was gone in between


async def test_online_users_lists_everyone_connected_with_last_seen(chat: Chat) -> None:
    await chat.service.connect(BOB, "b")
    chat.clock.advance(10)
    await chat.service.connect(DAVE, "d")
    await chat.service.connect(CAROL, "c")
    await chat.service.disconnect(CAROL, "c")

    online = await chat.service.online_users(ALICE)

    assert [(u.user_id, u.is_online, u.last_seen) for u in online] == [
        (BOB, True, datetime(2024, 1, 21, 12, 0, tzinfo=UTC)),
        (DAVE, True, datetime(2024, 1, 21, 12, 0, 10, tzinfo=UTC)),
    ]


async def test_online_users_without_a_presence_record_are_seen_now(chat: Chat) -> None:
    await chat.live.connect(BOB, "another-process")  # the record lives elsewhere
    chat.clock.advance(7)

    (online,) = await chat.service.online_users(ALICE)

    assert (online.user_id, online.last_seen) == (BOB, chat.clock.now())


async def test_live_state_expiry_follows_its_own_ttl() -> None:
    clock = FakeClock()
    live = MemoryLiveState(clock, presence_ttl=timedelta(seconds=5))

    assert await live.connect(ALICE, "a") is True
    assert await live.connect(ALICE, "b") is False
    clock.advance(5)
    assert await live.online_users() == set()
    assert await live.disconnect(ALICE, "a") is False


# -- typing -------------------------------------------------------------------------------------


async def test_typing_users_lists_everyone_typing_in_the_room(chat: Chat, room: RoomId) -> None:
    first = await chat.service.set_typing(ALICE, room, True)
    both = await chat.service.set_typing(BOB, room, True)

    assert first.typing_users == [ALICE]
    assert both.typing_users == [ALICE, BOB]
    assert (both.user_id, both.user_name, both.is_typing, both.room_id) == (BOB, "John Doe", True, room)


async def test_stopping_typing_removes_the_user(chat: Chat, room: RoomId) -> None:
    await chat.service.set_typing(ALICE, room, True)
    await chat.service.set_typing(BOB, room, True)

    event = await chat.service.set_typing(ALICE, room, False)

    assert event.is_typing is False
    assert event.typing_users == [BOB]


async def test_a_typing_flag_expires_by_itself_after_ten_seconds(chat: Chat, room: RoomId) -> None:
    await chat.service.set_typing(ALICE, room, True)
    chat.clock.advance(9)
    assert (await chat.service.set_typing(BOB, room, True)).typing_users == [ALICE, BOB]

    chat.clock.advance(1)

    assert (await chat.service.set_typing(BOB, room, True)).typing_users == [BOB]


async def test_typing_again_keeps_the_flag_alive(chat: Chat, room: RoomId) -> None:
    await chat.service.set_typing(ALICE, room, True)
    chat.clock.advance(8)
    await chat.service.set_typing(ALICE, room, True)
    chat.clock.advance(8)

    assert (await chat.service.set_typing(BOB, room, False)).typing_users == [ALICE]


async def test_typing_is_kept_per_room(chat: Chat, room: RoomId) -> None:
    other = await chat.room(ALICE, CAROL)
    await chat.service.set_typing(ALICE, room, True)

    assert (await chat.service.set_typing(CAROL, other, True)).typing_users == [CAROL]


async def test_stopping_when_nobody_types_leaves_nobody_typing(chat: Chat, room: RoomId) -> None:
    assert (await chat.service.set_typing(ALICE, room, False)).typing_users == []


async def test_typing_in_a_room_you_are_not_in_is_not_found(chat: Chat, room: RoomId) -> None:
    in_room = await chat.listen(f"room:{room}")

    with pytest.raises(NotFoundError):
        await chat.service.set_typing(CAROL, room, True)

    assert in_room.frames == []
