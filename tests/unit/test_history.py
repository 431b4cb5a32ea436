"""history: pages newest first, cursors that stay put, and catching up after a reconnect."""

from __future__ import annotations

import pytest

from chatcore import InvalidError, MessageId, NotFoundError, RoomId
from tests.unit.helpers import ALICE, BOB, CAROL, Chat


async def fill(chat: Chat, room: RoomId, count: int) -> list[MessageId]:
    ids = []
    for n in range(count):
        view = await chat.say(ALICE if n % 2 == 0 else BOB, room, f"m{n}")
        ids.append(view.id)
        chat.clock.advance(1)
    return ids


async def test_history_pages_are_newest_first(chat: Chat, room: RoomId) -> None:
    ids = await fill(chat, room, 7)

    first = await chat.service.history(ALICE, room, page=1, per_page=3)
    second = await chat.service.history(ALICE, room, page=2, per_page=3)
    last = await chat.service.history(ALICE, room, page=3, per_page=3)

    assert [m.id for m in first.messages] == ids[::-1][0:3]
    assert [m.id for m in second.messages] == ids[::-1][3:6]
    assert [m.id for m in last.messages] == ids[::-1][6:]
    assert (first.has_more, second.has_more, last.has_more) == (True, True, False)
    assert first.total == second.total == last.total == 7


async def test_history_defaults_to_fifty_per_page(chat: Chat, room: RoomId) -> None:
    await fill(chat, room, 51)

    page = await chat.service.history(BOB, room)

    assert len(page.messages) == 50
    assert page.has_more is True
    assert page.total == 51


async def test_a_page_past_the_end_is_empty(chat: Chat, room: RoomId) -> None:
    await fill(chat, room, 2)

    page = await chat.service.history(ALICE, room, page=5, per_page=10)

    assert page.messages == []
    assert page.has_more is False
    assert page.total == 2


async def test_history_of_an_exactly_full_page_has_no_more(chat: Chat, room: RoomId) -> None:
    await fill(chat, room, 4)

    page = await chat.service.history(ALICE, room, per_page=4)

    assert len(page.messages) == 4
    assert page.has_more is False


@pytest.mark.parametrize("per_page", [1, 100])
async def test_per_page_accepts_one_to_a_hundred(chat: Chat, room: RoomId, per_page: int) -> None:
    await fill(chat, room, 2)

    page = await chat.service.history(ALICE, room, per_page=per_page)

    assert len(page.messages) == min(per_page, 2)


@pytest.mark.parametrize("per_page", [0, -1, 101])
async def test_per_page_out_of_bounds_is_invalid(chat: Chat, room: RoomId, per_page: int) -> None:
    with pytest.raises(InvalidError) as raised:
        await chat.service.history(ALICE, room, per_page=per_page)

    assert raised.value.field == "per_page"


@pytest.mark.parametrize("page", [0, -3])
async def test_page_below_one_is_invalid(chat: Chat, room: RoomId, page: int) -> None:
    with pytest.raises(InvalidError) as raised:
        await chat.service.history(ALICE, room, page=page)

    assert raised.value.field == "page"


async def test_before_id_pages_stay_stable_while_new_messages_arrive(chat: Chat, room: RoomId) -> None:
    ids = await fill(chat, room, 6)
    first = await chat.service.history(ALICE, room, per_page=2)
    oldest_seen = first.messages[-1].id

    await fill(chat, room, 3)  # new messages would shift page numbers, not a cursor
    second = await chat.service.history(ALICE, room, per_page=2, before_id=oldest_seen)
    third = await chat.service.history(ALICE, room, per_page=2, before_id=second.messages[-1].id)

    assert [m.id for m in second.messages] == [ids[3], ids[2]]
    assert [m.id for m in third.messages] == [ids[1], ids[0]]
    assert second.has_more is True
    assert third.has_more is False
    assert third.total == 9


async def test_after_id_returns_what_was_missed_oldest_first(chat: Chat, room: RoomId) -> None:
    ids = await fill(chat, room, 3)
    last_seen = ids[-1]

    missed = await fill(chat, room, 4)  # sent while the client was away
    page = await chat.service.history(BOB, room, after_id=last_seen, per_page=3)
    rest = await chat.service.history(BOB, room, after_id=page.messages[-1].id, per_page=3)

    assert [m.id for m in page.messages] == missed[:3]
    assert page.has_more is True
    assert [m.id for m in rest.messages] == missed[3:]
    assert rest.has_more is False


async def test_after_the_newest_message_nothing_is_missed(chat: Chat, room: RoomId) -> None:
    ids = await fill(chat, room, 2)

    page = await chat.service.history(BOB, room, after_id=ids[-1])

    assert page.messages == []
    assert page.has_more is False


async def test_before_id_and_after_id_together_are_invalid(chat: Chat, room: RoomId) -> None:
    with pytest.raises(InvalidError) as raised:
        await chat.service.history(ALICE, room, before_id=MessageId(5), after_id=MessageId(1))

    assert raised.value.field == "after_id"


async def test_history_for_a_non_participant_is_not_found(chat: Chat, room: RoomId) -> None:
    await fill(chat, room, 1)

    with pytest.raises(NotFoundError):
        await chat.service.history(CAROL, room)


async def test_history_keeps_rooms_apart(chat: Chat, room: RoomId) -> None:
    other = await chat.room(ALICE, CAROL)
    await fill(chat, room, 2)
    await chat.say(CAROL, other, "elsewhere")

    page = await chat.service.history(ALICE, room)

    assert {m.room_id for m in page.messages} == {room}
    assert page.total == 2
