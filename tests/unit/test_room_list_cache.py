"""Kept room lists: only rooms whose version moved are read again; the cache is bounded by rooms held."""

from __future__ import annotations

import pytest

from chatcore import Limits, RoomId
from chatcore.caching import RoomList, RoomListCache
from chatcore.model import UserId
from tests.unit.helpers import ALICE, BOB, CAROL, DAVE, Chat, make_chat

KEEP_ALL = Limits(room_list_cache_min=1)


@pytest.fixture
async def kept() -> tuple[Chat, list[RoomId]]:
    chat = make_chat(limits=KEEP_ALL)
    rooms = []
    for other in (BOB, CAROL, DAVE):
        chat.clock.advance(1)
        rooms.append(await chat.room(ALICE, other))
        await chat.say(other, rooms[-1], f"hi from {other}")
    return chat, rooms


async def test_an_unchanged_list_is_not_read_again(kept: tuple[Chat, list[RoomId]]) -> None:
    chat, _ = kept
    first = await chat.service.list_rooms(ALICE)
    chat.db.summary_reads.clear()

    again = await chat.service.list_rooms(ALICE)

    assert chat.db.summary_reads == []
    assert again == first
    assert all(a is b for a, b in zip(again, first, strict=True))  # the lines themselves were kept


async def test_only_the_rooms_whose_version_moved_are_read_again(kept: tuple[Chat, list[RoomId]]) -> None:
    chat, (with_bob, with_carol, with_dave) = kept
    before = await chat.service.list_rooms(ALICE)
    chat.clock.advance(1)
    await chat.say(BOB, with_bob, "news")
    chat.db.summary_reads.clear()

    after = await chat.service.list_rooms(ALICE)

    assert chat.db.summary_reads == [[with_bob]]
    assert [r.id for r in after] == [with_bob, with_dave, with_carol]  # Bob's room moved to the top
    assert after[0].last_message is not None
    assert after[0].last_message.content == "news"
    assert after[1] is before[0]


async def test_when_more_rooms_moved_than_a_page_holds_the_list_is_read_whole() -> None:
    chat = make_chat(limits=Limits(room_list_cache_min=1, max_per_page=2))
    rooms = [await chat.room(ALICE, other) for other in (BOB, CAROL, DAVE)]
    await chat.service.list_rooms(ALICE)
    for room_id in rooms:
        await chat.say(ALICE, room_id)
    chat.db.summary_reads.clear()

    listed = await chat.service.list_rooms(ALICE)

    assert chat.db.summary_reads == [None]
    assert {r.id for r in listed} == set(rooms)


async def test_a_list_shorter_than_the_minimum_is_read_each_time() -> None:
    chat = make_chat(limits=Limits(room_list_cache_min=3))
    await chat.room(ALICE, BOB)
    await chat.room(ALICE, CAROL)
    chat.db.summary_reads.clear()

    for _ in range(2):
        await chat.service.list_rooms(ALICE)

    assert chat.db.summary_reads == [None, None]


@pytest.mark.parametrize(
    "limits",
    [Limits(cache=False, room_list_cache_min=1), Limits(room_list_cache_rooms=0, room_list_cache_min=1)],
    ids=["no caches", "CHAT_ROOM_LIST_CACHE=0"],
)
async def test_without_caching_every_list_is_read_whole(limits: Limits) -> None:
    chat = make_chat(limits=limits)
    await chat.room(ALICE, BOB)
    chat.db.summary_reads.clear()

    for _ in range(2):
        await chat.service.list_rooms(ALICE)

    assert chat.db.summary_reads == [None, None]


async def test_a_page_of_the_list_is_always_read() -> None:
    """Pages are small and cheap; only the whole list is kept."""
    chat = make_chat(limits=KEEP_ALL)
    await chat.room(ALICE, BOB)
    await chat.service.list_rooms(ALICE)
    chat.db.summary_reads.clear()

    await chat.service.room_page(ALICE, limit=1)

    assert chat.db.summary_reads == [None]


def _list(rooms: int) -> RoomList:
    return RoomList(versions={RoomId(i): 0 for i in range(rooms)}, summaries=[object()] * rooms, built={})  # type: ignore[list-item]


def test_the_least_recently_used_lists_go_first_when_too_many_rooms_are_kept() -> None:
    cache = RoomListCache(capacity=5, min_rooms=1)
    cache.put(UserId(1), _list(2))
    cache.put(UserId(2), _list(2))
    assert cache.get(UserId(1)) is not None  # now the most recently used

    cache.put(UserId(3), _list(2))

    assert (cache.get(UserId(1)) is not None, cache.get(UserId(2)), cache.get(UserId(3)) is not None) == (
        True,
        None,
        True,
    )
    assert cache.rooms == 4


def test_a_list_put_again_replaces_the_old_one_in_the_count() -> None:
    cache = RoomListCache(capacity=10, min_rooms=1)
    cache.put(UserId(1), _list(4))
    newer = _list(6)

    cache.put(UserId(1), newer)

    assert cache.get(UserId(1)) is newer
    assert cache.rooms == 6


@pytest.mark.parametrize("rooms", [1, 11])
def test_lists_too_short_or_too_long_are_not_kept(rooms: int) -> None:
    cache = RoomListCache(capacity=10, min_rooms=2)
    cache.put(UserId(1), _list(5))

    cache.put(UserId(1), _list(rooms))

    assert cache.get(UserId(1)) is None  # nor is the older list left behind
    assert cache.rooms == 0
