"""Group use cases on the fakes (contract section 11): the history's notes, events and who hears them, read state
with three members, history from joining, and access lost at once."""

from __future__ import annotations

import pytest

from chatcore import ForbiddenError, InvalidError, Limits, NotFoundError, RoomId, RoomType, SendMessage, UserId
from chatcore.model import GroupAction, MessageType, Role
from tests.unit.helpers import ALICE, BOB, CAROL, DAVE, STRANGER, Chat, make_chat, png


async def group(chat: Chat, *members: UserId) -> RoomId:
    view = await chat.service.create_group(ALICE, "Onboarding", [BOB, CAROL, *members])
    return view.id


async def test_a_new_group_lists_its_members_with_roles_and_writes_who_created_it(chat: Chat) -> None:
    to_bob = await chat.listen(f"user:{BOB}")

    view = await chat.service.create_group(ALICE, "  Onboarding  ", [BOB, CAROL, BOB, ALICE])

    assert (view.kind, view.room_type, view.name, view.other_user) == (
        RoomType.GROUP,
        RoomType.GROUP,
        "Onboarding",
        None,
    )
    assert [(m.id, m.role) for m in view.members] == [(ALICE, Role.OWNER), (BOB, Role.MEMBER), (CAROL, Role.MEMBER)]
    assert to_bob.types == ["members_changed"]
    (changed,) = to_bob.data("members_changed")
    assert (changed["action"], changed["added"], changed["removed"]) == ("created", [ALICE, BOB, CAROL], [])
    page = await chat.service.history(BOB, view.id)
    (note,) = page.messages
    assert note.message_type is MessageType.SYSTEM
    assert note.content == "Alice Smith created the group Onboarding"
    assert note.system is not None
    assert (note.system.action, note.system.user_ids) == (GroupAction.CREATED, [BOB, CAROL])
    assert note.receiver_id is None
    assert note.receiver_name is None


async def test_unknown_people_are_a_404_and_nothing_is_created(chat: Chat) -> None:
    with pytest.raises(NotFoundError) as error:
        await chat.service.create_group(ALICE, "Case", [BOB, STRANGER])

    assert error.value.field == "member_ids"
    assert chat.db.tables.rooms == {}


async def test_a_group_message_goes_to_the_groups_channel_and_counts_unread_for_each_other_member(chat: Chat) -> None:
    room = await group(chat)
    to_group = await chat.listen(f"group:{room}")
    to_bob = await chat.listen(f"user:{BOB}")

    sent = await chat.say(BOB, room, "hi all")

    assert to_group.data("new_message")[0]["id"] == sent.id
    assert to_bob.frames == []  # a member's sockets hear it through the group channel, once
    assert sent.receiver_id is None
    counts = {user: (await chat.service.unread_counts(user))[room] for user in (ALICE, BOB, CAROL)}
    assert counts == {ALICE: 1, BOB: 0, CAROL: 1}  # system notes never count


async def test_a_message_is_read_once_every_other_member_read_it(chat: Chat) -> None:
    room = await group(chat)
    sent = await chat.say(ALICE, room, "welcome")
    to_group = await chat.listen(f"group:{room}")

    await chat.service.mark_read(BOB, room)
    assert not (await chat.service.history(ALICE, room)).messages[0].is_read
    reads = await chat.service.message_reads(ALICE, room, sent.id)
    assert ([u.id for u in reads.read_by], [u.id for u in reads.not_read_by]) == ([BOB], [CAROL])

    await chat.service.mark_read(CAROL, room)
    assert (await chat.service.history(ALICE, room)).messages[0].is_read
    assert [d["user_id"] for d in to_group.data("messages_read")] == [BOB, CAROL]
    assert (await chat.service.unread_counts(CAROL))[room] == 0


async def test_a_member_added_later_sees_and_counts_only_what_came_after_joining(chat: Chat) -> None:
    room = await group(chat)
    await chat.say(ALICE, room, "before Dave")
    to_dave = await chat.listen(f"user:{DAVE}")

    await chat.service.add_members(ALICE, room, [DAVE, BOB])
    after = await chat.say(BOB, room, "after Dave")

    assert to_dave.data("members_changed")[0]["added"] == [DAVE]
    page = await chat.service.history(DAVE, room)
    assert [m.content for m in reversed(page.messages)] == ["Alice Smith added Dave Null", "after Dave"]
    assert page.total == 2
    assert (await chat.service.unread_counts(DAVE))[room] == 1
    detail = await chat.service.room_detail(DAVE, room)
    assert [m.id for m in detail.message_list.messages][-1] == after.id
    assert detail.message_list.total == 2
    earlier = (await chat.service.history(ALICE, room)).messages[-2]
    with pytest.raises(NotFoundError):
        await chat.service.message_reads(DAVE, room, earlier.id)


async def test_a_removed_member_loses_the_room_at_once(chat: Chat) -> None:
    room = await group(chat)
    to_group = await chat.listen(f"group:{room}")

    await chat.service.remove_member(ALICE, room, CAROL)

    (changed,) = to_group.data("members_changed")
    assert (changed["action"], changed["removed"]) == ("removed", [CAROL])
    for attempt in (
        chat.service.history(CAROL, room),
        chat.service.room_detail(CAROL, room),
        chat.service.mark_read(CAROL, room),
        chat.service.send_message(CAROL, SendMessage(room_id=room, content="still here?")),
    ):
        with pytest.raises(NotFoundError):
            await attempt
    assert room not in await chat.service.unread_counts(CAROL)
    assert await chat.service.group_ids(CAROL) == []


async def test_members_may_not_manage_but_may_leave_and_the_owner_hands_over(chat: Chat) -> None:
    room = await group(chat, DAVE)
    with pytest.raises(ForbiddenError):
        await chat.service.add_members(BOB, room, [DAVE])
    with pytest.raises(ForbiddenError):
        await chat.service.rename_group(CAROL, room, "Mine")
    await chat.service.set_role(ALICE, room, DAVE, Role.ADMIN)

    await chat.service.remove_member(ALICE, room, ALICE)

    view = (await chat.service.list_rooms(DAVE))[0]
    assert {m.id: m.role for m in view.members} == {BOB: Role.MEMBER, CAROL: Role.MEMBER, DAVE: Role.OWNER}
    notes = [m.content for m in reversed((await chat.service.history(BOB, room)).messages)]
    assert notes[-3:] == ["Alice Smith made Dave Null an admin", "Alice Smith left", "Dave Null now owns the group"]


async def test_the_last_member_out_closes_the_group(chat: Chat) -> None:
    room = await group(chat)
    for user in (BOB, CAROL, ALICE):
        await chat.service.remove_member(user, room, user)

    assert not chat.db.tables.rooms[room].is_active
    assert all(key[0] != room for key in chat.db.tables.participants)


async def test_a_rename_is_a_room_updated_event_and_a_note(chat: Chat) -> None:
    room = await group(chat)
    to_group = await chat.listen(f"group:{room}")

    view = await chat.service.rename_group(ALICE, room, "Case 42")

    assert view.name == "Case 42"
    assert to_group.types == ["room_updated", "new_message"]
    assert to_group.data("room_updated")[0]["name"] == "Case 42"


async def test_changes_that_change_nothing_write_nothing(chat: Chat) -> None:
    room = await group(chat)
    before = chat.message_count

    await chat.service.rename_group(ALICE, room, "Onboarding")
    await chat.service.add_members(ALICE, room, [BOB])

    assert chat.message_count == before


async def test_a_direct_room_has_no_members_to_manage_and_strangers_learn_nothing(chat: Chat, room: RoomId) -> None:
    with pytest.raises(InvalidError):
        await chat.service.rename_group(ALICE, room, "Ours")
    with pytest.raises(NotFoundError):
        await chat.service.rename_group(CAROL, room, "Theirs")
    group_room = await group(chat)
    with pytest.raises(NotFoundError):
        await chat.service.add_members(DAVE, group_room, [DAVE])


async def test_a_system_message_cannot_be_deleted_or_edited(chat: Chat) -> None:
    room = await group(chat)
    (note,) = (await chat.service.history(ALICE, room)).messages

    with pytest.raises(ForbiddenError):
        await chat.service.delete_message(ALICE, note.id)
    with pytest.raises(ForbiddenError):
        await chat.service.edit_message(ALICE, note.id, "rewritten")


async def test_a_group_message_names_no_receiver(chat: Chat) -> None:
    room = await group(chat)

    with pytest.raises(InvalidError) as error:
        await chat.service.send_message(ALICE, SendMessage(room_id=room, receiver_id=BOB, content="x"))

    assert error.value.field == "receiver_id"


async def test_direct_rooms_list_both_people_as_members(chat: Chat, room: RoomId) -> None:
    (view,) = await chat.service.list_rooms(ALICE)

    assert view.kind is RoomType.DIRECT
    assert view.other_user is not None
    assert [m.id for m in view.members] == [BOB, ALICE]


async def test_a_file_from_before_joining_is_not_for_a_member_added_later(chat: Chat) -> None:
    room = await group(chat)
    early = await chat.send_file(ALICE, room, MessageType.IMAGE, "a.png", png())
    await chat.service.add_members(ALICE, room, [DAVE])
    late = await chat.send_file(ALICE, room, MessageType.IMAGE, "b.png", png())

    early_key, late_key = (str(v.file_path).removeprefix("chat_files/") for v in (early, late))
    assert await chat.service.can_read_file(BOB, early_key)
    assert not await chat.service.can_read_file(DAVE, early_key)
    assert await chat.service.can_read_file(DAVE, late_key)


async def test_a_member_who_sent_before_cannot_send_once_removed(chat: Chat) -> None:
    room = await group(chat)
    await chat.say(CAROL, room, "I am here")  # her membership is kept for her next sends
    await chat.service.remove_member(ALICE, room, CAROL)
    before = chat.message_count

    for _ in range(2):  # refused by the writer's own check, then by the store
        with pytest.raises(NotFoundError):
            await chat.say(CAROL, room, "still here?")

    assert chat.message_count == before


async def test_a_kept_room_list_shows_every_group_change() -> None:
    chat = make_chat(limits=Limits(room_list_cache_min=1))
    room = await group(chat)
    await chat.service.list_rooms(BOB)  # kept from here on

    await chat.service.rename_group(ALICE, room, "Case 42")
    await chat.service.add_members(ALICE, room, [DAVE])
    await chat.say(CAROL, room, "news")
    (view,) = await chat.service.list_rooms(BOB)

    assert view.name == "Case 42"
    assert [m.id for m in view.members] == [ALICE, BOB, CAROL, DAVE]
    assert view.last_message is not None
    assert view.last_message.content == "news"
    assert view.unread_count == 1
    await chat.service.remove_member(ALICE, room, BOB)
    assert await chat.service.list_rooms(BOB) == []
