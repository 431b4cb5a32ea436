"""Direct rooms: opening one, the room list, a room's detail, joining and unread counts."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest

from chatcore import ConflictError, InvalidError, Limits, MessageType, NotFoundError, RoomId, SendMessage
from tests.unit.helpers import ALICE, BOB, CAROL, DAVE, STRANGER, Chat, make_chat, png

NOON = datetime(2024, 1, 21, 12, 0, tzinfo=UTC)


async def test_opening_a_direct_room_creates_it_once(chat: Chat) -> None:
    first, created = await chat.service.open_direct_room(ALICE, BOB)
    again, created_again = await chat.service.open_direct_room(ALICE, BOB)

    assert created is True
    assert created_again is False
    assert again.id == first.id
    assert len(chat.db.tables.rooms) == 1


async def test_opening_from_the_other_side_returns_the_same_room(chat: Chat) -> None:
    first, _ = await chat.service.open_direct_room(ALICE, BOB)
    theirs, created = await chat.service.open_direct_room(BOB, ALICE)

    assert created is False
    assert theirs.id == first.id
    assert theirs.other_user.id == ALICE


async def test_a_new_room_looks_like_the_seed_says(chat: Chat) -> None:
    view, _ = await chat.service.open_direct_room(ALICE, BOB)

    assert view.name == "Direct Chat"
    assert view.room_type == "direct"
    assert view.created_by == ALICE
    assert view.created_at == view.updated_at == NOON
    assert view.is_active is True
    assert view.other_user.id == BOB
    assert view.other_user.name == "John Doe"
    assert view.other_user.email == "John.Doe@Example.com"
    assert view.other_user.avatar_url == "https://example.com/john.jpg"
    assert view.other_user.is_online is False
    assert view.last_message is None
    assert view.unread_count == 0


async def test_the_other_user_of_a_room_shows_whether_they_are_online(chat: Chat) -> None:
    await chat.service.connect(BOB, "phone")

    view, _ = await chat.service.open_direct_room(ALICE, BOB)

    assert view.other_user.is_online is True


async def test_each_pair_gets_its_own_room(chat: Chat) -> None:
    with_bob = await chat.room(ALICE, BOB)
    with_carol = await chat.room(ALICE, CAROL)
    bob_carol = await chat.room(BOB, CAROL)

    assert len({with_bob, with_carol, bob_carol}) == 3


async def test_opening_a_room_with_yourself_is_invalid(chat: Chat) -> None:
    with pytest.raises(InvalidError) as raised:
        await chat.service.open_direct_room(ALICE, ALICE)

    assert raised.value.field == "receiver_id"
    assert chat.db.tables.rooms == {}


async def test_opening_a_room_with_an_unknown_user_is_not_found(chat: Chat) -> None:
    with pytest.raises(NotFoundError) as raised:
        await chat.service.open_direct_room(ALICE, STRANGER)

    assert raised.value.field == "receiver_id"
    assert chat.db.tables.rooms == {}


async def test_a_room_created_concurrently_by_the_other_user_is_returned_not_duplicated(chat: Chat) -> None:
    theirs: list[RoomId] = []

    async def bob_opens_it_first() -> None:
        view, _ = await chat.service.open_direct_room(BOB, ALICE)
        theirs.append(view.id)

    chat.db.before_commit = bob_opens_it_first

    mine, created = await chat.service.open_direct_room(ALICE, BOB)

    assert created is False
    assert [mine.id] == theirs
    assert len(chat.db.tables.rooms) == 1


async def test_a_room_that_can_neither_be_created_nor_found_is_a_conflict(chat: Chat) -> None:
    chat.db.fail_commits_with = ConflictError("unique constraint")

    with pytest.raises(ConflictError):
        await chat.service.open_direct_room(ALICE, BOB)

    assert chat.db.tables.rooms == {}


async def test_rooms_are_listed_newest_activity_first(chat: Chat) -> None:
    with_bob = await chat.room(ALICE, BOB)
    chat.clock.advance(60)
    with_carol = await chat.room(ALICE, CAROL)
    chat.clock.advance(60)
    with_dave = await chat.room(ALICE, DAVE)
    chat.clock.advance(60)
    await chat.say(BOB, with_bob, "bump")

    rooms = await chat.service.list_rooms(ALICE)

    assert [r.id for r in rooms] == [with_bob, with_dave, with_carol]
    assert rooms[0].updated_at == chat.clock.now()


async def test_the_room_list_shows_the_last_message_with_its_sender_name(chat: Chat, room: RoomId) -> None:
    await chat.say(ALICE, room, "Hi John!")
    chat.clock.advance(30)
    last = await chat.say(BOB, room, "Hello there!")

    (view,) = await chat.service.list_rooms(ALICE)

    assert view.last_message is not None
    assert view.last_message.id == last.id
    assert view.last_message.content == "Hello there!"
    assert view.last_message.message_type == MessageType.TEXT
    assert view.last_message.created_at == last.created_at
    assert view.last_message.sender_name == "John Doe"


async def test_the_room_list_counts_unread_messages_per_room(chat: Chat) -> None:
    with_bob = await chat.room(ALICE, BOB)
    with_carol = await chat.room(ALICE, CAROL)
    for _ in range(2):
        await chat.say(BOB, with_bob)
    await chat.say(ALICE, with_bob, "mine do not count")
    await chat.say(CAROL, with_carol)

    rooms = {r.id: r.unread_count for r in await chat.service.list_rooms(ALICE)}

    assert rooms == {with_bob: 2, with_carol: 1}


async def test_the_room_list_holds_only_the_callers_rooms(chat: Chat) -> None:
    await chat.room(ALICE, BOB)
    carol_dave = await chat.room(CAROL, DAVE)

    assert [r.id for r in await chat.service.list_rooms(CAROL)] == [carol_dave]
    assert await chat.service.list_rooms(STRANGER) == []


async def test_the_room_list_comes_a_page_at_a_time_without_gaps_or_repeats(chat: Chat) -> None:
    rooms = []
    for other in (BOB, CAROL, DAVE):
        rooms.append(await chat.room(ALICE, other))
        chat.clock.advance(60)
    whole = [r.id for r in await chat.service.list_rooms(ALICE)]

    first = await chat.service.room_page(ALICE, limit=2)
    assert first.next_cursor is not None
    second = await chat.service.room_page(ALICE, limit=2, cursor=first.next_cursor)

    assert whole == rooms[::-1]
    assert ([r.id for r in first.rooms], first.total, first.has_more) == (whole[:2], 3, True)
    assert ([r.id for r in second.rooms], second.total, second.has_more) == (whole[2:], 3, False)
    assert second.next_cursor is None
    assert second.rooms[0].other_user.id == BOB


async def test_a_room_that_moves_to_the_top_while_paging_is_not_listed_again(chat: Chat) -> None:
    oldest = await chat.room(ALICE, BOB)
    chat.clock.advance(60)
    middle = await chat.room(ALICE, CAROL)
    chat.clock.advance(60)
    newest = await chat.room(ALICE, DAVE)

    first = await chat.service.room_page(ALICE, limit=1)
    chat.clock.advance(60)
    await chat.say(DAVE, newest)  # already seen: the client hears of it as an event
    await chat.say(BOB, oldest)  # moves above the cursor: also an event, not a second listing
    second = await chat.service.room_page(ALICE, limit=5, cursor=first.next_cursor)

    assert [r.id for r in first.rooms] == [newest]
    assert [r.id for r in second.rooms] == [middle]


async def test_a_page_without_a_limit_is_the_rest_of_the_list(chat: Chat) -> None:
    older = await chat.room(ALICE, BOB)
    chat.clock.advance(60)
    newer = await chat.room(ALICE, CAROL)

    first = await chat.service.room_page(ALICE, limit=1)
    rest = await chat.service.room_page(ALICE, cursor=first.next_cursor)
    everything = await chat.service.room_page(ALICE)

    assert [r.id for r in first.rooms] == [newer]
    assert ([r.id for r in rest.rooms], rest.has_more, rest.next_cursor) == ([older], False, None)
    assert ([r.id for r in everything.rooms], everything.total) == ([newer, older], 2)


@pytest.mark.parametrize("limit", [0, -1, 101])
async def test_a_page_limit_out_of_range_is_invalid(chat: Chat, limit: int) -> None:
    with pytest.raises(InvalidError) as caught:
        await chat.service.room_page(ALICE, limit=limit)
    assert caught.value.field == "limit"


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "x",
        "1",
        "1.",
        ".1",
        "-1.5",
        "1.-5",
        "1.0",
        "1.2.3",
        "+1.2",
        "9" * 30 + ".1",
        "1." + "9" * 20,
        "1_0.2",
        "\u0661.\u0662",  # Arabic-Indic digits: int() would take them
    ],
)
async def test_a_cursor_this_server_did_not_give_out_is_invalid(chat: Chat, cursor: str) -> None:
    with pytest.raises(InvalidError) as caught:
        await chat.service.room_page(ALICE, limit=5, cursor=cursor)
    assert caught.value.field == "cursor"


async def test_a_user_removed_from_the_directory_still_renders_as_unknown(chat: Chat, room: RoomId) -> None:
    await chat.say(BOB, room, "bye")
    chat.users._users.pop(BOB)  # left the company
    chat.clock.advance(31)  # past the service's 30 s cache of directory entries

    (view,) = await chat.service.list_rooms(ALICE)
    page = await chat.service.history(ALICE, room)

    assert view.other_user.name == "Unknown user"
    assert view.last_message is not None
    assert view.last_message.sender_name == "Unknown user"
    assert page.messages[0].sender_name == "Unknown user"


async def test_room_detail_lists_messages_oldest_first_with_the_total(chat: Chat, room: RoomId) -> None:
    sent = []
    for n in range(3):
        sent.append(await chat.say(ALICE if n % 2 == 0 else BOB, room, f"m{n}"))
        chat.clock.advance(1)

    detail = await chat.service.room_detail(ALICE, room)

    assert [m.id for m in detail.message_list.messages] == [m.id for m in sent]
    assert detail.message_list.total == 3
    assert detail.id == room
    assert detail.other_user.id == BOB
    assert detail.last_message is not None
    assert detail.last_message.id == sent[-1].id
    assert detail.unread_count == 1
    first = detail.message_list.messages[0]
    assert (first.sender_name, first.receiver_name) == ("Alice Smith", "John Doe")
    assert (first.sender_avatar, first.receiver_avatar) == (
        "https://example.com/alice.jpg",
        "https://example.com/john.jpg",
    )


async def test_room_detail_holds_only_the_latest_messages_up_to_the_limit() -> None:
    chat = make_chat(limits=Limits(room_detail_limit=3))
    room = await chat.room()
    sent = [await chat.say(ALICE, room, f"m{n}") for n in range(5)]

    detail = await chat.service.room_detail(BOB, room)

    assert [m.content for m in detail.message_list.messages] == ["m2", "m3", "m4"]
    assert [m.id for m in detail.message_list.messages] == [m.id for m in sent[2:]]
    assert detail.message_list.total == 5


async def test_room_detail_of_an_empty_room_has_no_messages(chat: Chat, room: RoomId) -> None:
    detail = await chat.service.room_detail(BOB, room)

    assert detail.message_list.messages == []
    assert detail.message_list.total == 0
    assert detail.last_message is None


async def test_room_detail_for_a_non_participant_is_not_found(chat: Chat, room: RoomId) -> None:
    with pytest.raises(NotFoundError):
        await chat.service.room_detail(CAROL, room)


async def test_room_detail_of_a_missing_room_is_not_found(chat: Chat) -> None:
    with pytest.raises(NotFoundError):
        await chat.service.room_detail(ALICE, RoomId(12345))


async def test_room_detail_gives_file_messages_a_url(chat: Chat, room: RoomId) -> None:
    sent = await chat.send_file(ALICE, room, MessageType.IMAGE, "dot.png", png())

    detail = await chat.service.room_detail(BOB, room)

    (shown,) = detail.message_list.messages
    assert shown.file_path == sent.file_path
    assert shown.file_url is not None
    assert shown.file_url.startswith("memory://images/")


async def test_joining_a_room_needs_participation(chat: Chat, room: RoomId) -> None:
    membership = await chat.service.join_room(BOB, room)

    assert membership.room.id == room
    assert membership.other_user_id == ALICE
    with pytest.raises(NotFoundError):
        await chat.service.join_room(CAROL, room)


async def test_unread_counts_cover_every_room_zeros_included(chat: Chat) -> None:
    with_bob = await chat.room(ALICE, BOB)
    with_carol = await chat.room(ALICE, CAROL)
    with_dave = await chat.room(DAVE, ALICE)
    await chat.say(BOB, with_bob)
    await chat.say(BOB, with_bob)
    for _ in range(5):
        await chat.say(CAROL, with_carol)
    await chat.say(ALICE, with_dave, "only mine")

    assert await chat.service.unread_counts(ALICE) == {with_bob: 2, with_carol: 5, with_dave: 0}
    assert await chat.service.unread_counts(STRANGER) == {}


async def test_deleted_messages_are_not_counted_as_unread(chat: Chat, room: RoomId) -> None:
    await chat.say(BOB, room, "keep")
    gone = await chat.say(BOB, room, "oops")

    await chat.service.delete_message(BOB, gone.id)

    assert await chat.service.unread_counts(ALICE) == {room: 1}
    (view,) = await chat.service.list_rooms(ALICE)
    assert view.unread_count == 1


async def test_a_message_in_a_room_of_others_is_no_message_of_mine(chat: Chat) -> None:
    carol_dave = await chat.room(CAROL, DAVE)
    await chat.service.send_message(CAROL, SendMessage(room_id=carol_dave, content="private"))

    assert await chat.service.unread_counts(ALICE) == {}


async def test_directory_entries_are_reused_for_thirty_seconds(chat: Chat, room: RoomId) -> None:
    await chat.say(BOB, room, "hi")
    chat.users._users[BOB] = attrs.evolve(chat.users._users[BOB], name="John Renamed")

    (cached,) = await chat.service.list_rooms(ALICE)
    chat.clock.advance(31)
    (fresh,) = await chat.service.list_rooms(ALICE)

    assert cached.other_user.name == "John Doe"
    assert fresh.other_user.name == "John Renamed"
