"""Reactions, replies, mentions and pins as use cases on the fakes (contract section 12): who may, what is
stored, who hears of it, and what a refusal leaves behind."""

from __future__ import annotations

import pytest

from chatcore import ChatService, ConflictError, ForbiddenError, InvalidError, Limits, NotFoundError, RoomId, UserId
from chatcore.model import MessageType
from chatcore.reactions import MAX_PINS, MAX_REACTIONS
from chatcore.testing import SequentialIds
from tests.unit.helpers import ALICE, BOB, CAROL, DAVE, EMOJI, Chat, make_chat, png


async def group(chat: Chat, *others: UserId) -> RoomId:
    return (await chat.service.create_group(ALICE, "Case 12", [BOB, CAROL, *others])).id


# -- reactions ------------------------------------------------------------------------------------


async def test_a_reaction_is_added_once_and_both_people_hear_of_it_once(chat: Chat, room: RoomId) -> None:
    sent = await chat.say(ALICE, room, "Contract signed")
    to_alice, to_bob = await chat.listen(f"user:{ALICE}"), await chat.listen(f"user:{BOB}")

    first = await chat.service.add_reaction(BOB, sent.id, "👍")
    again = await chat.service.add_reaction(BOB, sent.id, "👍")

    assert (first.changed, again.changed) == (True, False)
    assert [(r.emoji, r.user_ids) for r in again.message.reactions] == [("👍", [BOB])]
    event = {"room_id": room, "message_id": sent.id, "emoji": "👍", "user_id": BOB}
    assert to_alice.data("reaction_added") == to_bob.data("reaction_added") == [event]
    assert to_bob.types == ["reaction_added"]


async def test_reactions_are_grouped_by_emoji_in_the_order_they_came_and_show_in_history(chat: Chat) -> None:
    room = await group(chat)
    sent = await chat.say(ALICE, room, "Welcome Carol")
    for who, emoji in ((BOB, EMOJI[0]), (CAROL, "❤"), (ALICE, EMOJI[0]), (CAROL, EMOJI[0])):
        await chat.service.add_reaction(who, sent.id, emoji)

    (shown,) = [m for m in (await chat.service.history(CAROL, room)).messages if m.id == sent.id]

    assert [(r.emoji, r.user_ids) for r in shown.reactions] == [(EMOJI[0], [BOB, ALICE, CAROL]), ("❤️", [CAROL])]


async def test_removing_a_reaction_is_idempotent_and_told_once(chat: Chat, room: RoomId) -> None:
    sent = await chat.say(ALICE, room)
    await chat.service.add_reaction(BOB, sent.id, "👍")
    to_alice = await chat.listen(f"user:{ALICE}")

    first = await chat.service.remove_reaction(BOB, sent.id, "👍")
    again = await chat.service.remove_reaction(BOB, sent.id, "👍")

    assert (first.changed, again.changed, again.message.reactions) == (True, False, [])
    assert to_alice.data("reaction_removed") == [
        {"room_id": room, "message_id": sent.id, "emoji": "👍", "user_id": BOB}
    ]


async def test_twenty_distinct_emoji_at_most_yet_anyone_may_join_one_of_them(chat: Chat) -> None:
    room = await group(chat)
    sent = await chat.say(ALICE, room)
    for emoji in EMOJI[:MAX_REACTIONS]:
        await chat.service.add_reaction(ALICE, sent.id, emoji)

    with pytest.raises(ConflictError) as error:
        await chat.service.add_reaction(BOB, sent.id, EMOJI[MAX_REACTIONS])
    joined = await chat.service.add_reaction(BOB, sent.id, EMOJI[3])

    assert error.value.field == "emoji"
    assert len(joined.message.reactions) == MAX_REACTIONS
    assert EMOJI[MAX_REACTIONS] not in {emoji for (_, _, emoji) in chat.db.tables.reactions}


@pytest.mark.parametrize("raw", [":)", "<b>x</b>", "👍👍", "", "ok"])
async def test_anything_but_one_emoji_is_a_400_and_leaves_nothing(chat: Chat, room: RoomId, raw: str) -> None:
    sent = await chat.say(ALICE, room)
    to_bob = await chat.listen(f"user:{BOB}")

    with pytest.raises(InvalidError) as error:
        await chat.service.add_reaction(BOB, sent.id, raw)

    assert error.value.field == "emoji"
    assert chat.db.tables.reactions == {}
    assert to_bob.frames == []


async def test_strangers_and_late_joiners_cannot_react_to_what_they_cannot_see(chat: Chat, room: RoomId) -> None:
    sent = await chat.say(ALICE, room)
    group_room = await group(chat)
    before = await chat.say(ALICE, group_room, "before Dave")
    await chat.service.add_members(ALICE, group_room, [DAVE])

    for who, message in ((CAROL, sent.id), (DAVE, before.id)):
        with pytest.raises(NotFoundError):
            await chat.service.add_reaction(who, message, "👍")
    assert chat.db.tables.reactions == {}


async def test_a_deleted_message_takes_no_reactions_and_loses_its_own(chat: Chat, room: RoomId) -> None:
    sent = await chat.say(ALICE, room)
    await chat.service.add_reaction(BOB, sent.id, "👍")
    await chat.service.delete_message(ALICE, sent.id)

    with pytest.raises(ConflictError):
        await chat.service.add_reaction(BOB, sent.id, "❤️")

    assert chat.db.tables.reactions == {}


# -- replies --------------------------------------------------------------------------------------


async def test_a_reply_quotes_its_original_as_it_is_now(chat: Chat, room: RoomId) -> None:
    original = await chat.say(ALICE, room, "Is the offer letter ready?")

    reply = await chat.say(BOB, room, "Yes, sending it now", reply_to_id=original.id)
    await chat.service.edit_message(ALICE, original.id, "Is the offer letter for Anna ready?")
    edited = (await chat.service.history(ALICE, room)).messages[0]
    await chat.service.delete_message(ALICE, original.id)
    deleted = (await chat.service.history(ALICE, room)).messages[0]

    assert reply.reply_to_id == original.id
    assert reply.reply_to is not None
    assert (reply.reply_to.sender_id, reply.reply_to.preview) == (ALICE, "Is the offer letter ready?")
    assert edited.reply_to is not None
    assert edited.reply_to.preview == "Is the offer letter for Anna ready?"
    assert deleted.reply_to is not None
    assert (deleted.reply_to.preview, deleted.reply_to.is_deleted) == (None, True)


async def test_a_reply_to_a_file_shows_its_name(chat: Chat, room: RoomId) -> None:
    photo = await chat.send_file(ALICE, room, MessageType.IMAGE, "badge.png", png())

    reply = await chat.say(BOB, room, "nice", reply_to_id=photo.id)

    assert reply.reply_to is not None
    assert (reply.reply_to.preview, reply.reply_to.message_type) == ("badge.png", MessageType.IMAGE)


async def test_a_reply_to_another_rooms_or_an_unseen_message_is_refused_and_nothing_is_sent(chat: Chat) -> None:
    direct = await chat.room(ALICE, BOB)
    elsewhere = await chat.say(ALICE, await chat.room(ALICE, CAROL), "private to Carol")
    group_room = await group(chat)
    before = await chat.say(ALICE, group_room, "before Dave")
    await chat.service.add_members(ALICE, group_room, [DAVE])
    gone = await chat.say(ALICE, direct, "oops")
    await chat.service.delete_message(ALICE, gone.id)
    count = chat.message_count

    for who, room, target in ((BOB, direct, elsewhere.id), (DAVE, group_room, before.id), (BOB, direct, gone.id)):
        with pytest.raises(InvalidError) as error:
            await chat.say(who, room, "re", reply_to_id=target)
        assert error.value.field == "reply_to_id"
    assert chat.message_count == count


# -- mentions -------------------------------------------------------------------------------------


async def test_only_members_are_mentioned_and_the_room_list_counts_unread_mentions(chat: Chat) -> None:
    room = await group(chat)
    to_carol = await chat.service.list_rooms(CAROL)
    assert to_carol[0].mention_count == 0

    first = await chat.say(ALICE, room, f"<@{CAROL}> please check, and <@{DAVE}> too")
    await chat.say(BOB, room, f"<@{CAROL}> <@{CAROL}> urgent")
    await chat.say(BOB, room, "no mention")

    assert first.mentions == [CAROL]  # Dave is not in the group: his id stays text
    (listed,) = await chat.service.list_rooms(CAROL)
    assert (listed.mention_count, listed.unread_count) == (2, 3)
    assert (await chat.service.list_rooms(BOB))[0].mention_count == 0

    await chat.service.mark_read(CAROL, room)

    assert (await chat.service.list_rooms(CAROL))[0].mention_count == 0


async def test_an_edit_may_add_a_mention_and_a_deletion_takes_it_back(chat: Chat, room: RoomId) -> None:
    sent = await chat.say(ALICE, room, "see the contract")

    edited = await chat.service.edit_message(ALICE, sent.id, f"<@{BOB}> see the contract")
    mentioned = (await chat.service.list_rooms(BOB))[0].mention_count
    await chat.service.delete_message(ALICE, sent.id)

    assert edited.mentions == [BOB]
    assert mentioned == 1
    assert (await chat.service.list_rooms(BOB))[0].mention_count == 0


async def test_the_kept_room_list_follows_mentions() -> None:
    chat = make_chat(limits=Limits(room_list_cache_min=0))
    room = await chat.room(ALICE, BOB)
    assert (await chat.service.list_rooms(BOB))[0].mention_count == 0  # now kept

    await chat.say(ALICE, room, f"hi <@{BOB}>")
    kept = (await chat.service.list_rooms(BOB))[0].mention_count
    await chat.service.mark_read(BOB, room)

    assert kept == 1
    assert (await chat.service.list_rooms(BOB))[0].mention_count == 0


# -- pins -----------------------------------------------------------------------------------------


async def test_anyone_in_a_direct_room_pins_and_both_hear_of_it(chat: Chat, room: RoomId) -> None:
    first = await chat.say(ALICE, room, "Policy v1")
    second = await chat.say(ALICE, room, "Policy v2")
    to_alice = await chat.listen(f"user:{ALICE}")

    await chat.service.pin(BOB, first.id)
    chat.clock.advance(1)
    pinned = await chat.service.pin(BOB, second.id)
    again = await chat.service.pin(ALICE, second.id)

    assert (pinned.pinned_by, again.pinned_by) == (BOB, BOB)  # the first pin is kept
    assert [m.id for m in (await chat.service.pins(ALICE, room)).messages] == [second.id, first.id]
    assert to_alice.types == ["message_pinned", "message_pinned"]

    await chat.service.unpin(ALICE, second.id)
    await chat.service.unpin(ALICE, second.id)

    assert to_alice.data("message_unpinned") == [{"room_id": room, "message_id": second.id, "user_id": ALICE}]
    assert [m.id for m in (await chat.service.pins(BOB, room)).messages] == [first.id]


async def test_in_a_group_only_owner_and_admins_pin_and_late_joiners_see_only_later_pins(chat: Chat) -> None:
    room = await group(chat)
    early = await chat.say(BOB, room, "early")
    with pytest.raises(ForbiddenError):
        await chat.service.pin(BOB, early.id)
    await chat.service.pin(ALICE, early.id)
    await chat.service.add_members(ALICE, room, [DAVE])
    late = await chat.say(BOB, room, "late")
    await chat.service.pin(ALICE, late.id)

    assert [m.id for m in (await chat.service.pins(DAVE, room)).messages] == [late.id]
    assert [m.id for m in (await chat.service.pins(CAROL, room)).messages] == [late.id, early.id]
    with pytest.raises(NotFoundError):
        await chat.service.pins(DAVE, await chat.room(ALICE, BOB))


async def test_a_room_holds_a_bounded_number_of_pins_and_a_deletion_unpins(chat: Chat, room: RoomId) -> None:
    sent = [await chat.say(ALICE, room, f"n{n}") for n in range(MAX_PINS + 1)]
    for message in sent[:MAX_PINS]:
        await chat.service.pin(ALICE, message.id)

    with pytest.raises(ConflictError):
        await chat.service.pin(ALICE, sent[-1].id)
    await chat.service.delete_message(ALICE, sent[0].id)
    await chat.service.pin(ALICE, sent[-1].id)

    pinned = {m.id for m in (await chat.service.pins(ALICE, room)).messages}
    assert sent[0].id not in pinned
    assert sent[-1].id in pinned
    with pytest.raises(ConflictError):
        await chat.service.pin(ALICE, sent[0].id)


async def test_a_service_without_an_emoji_checker_refuses_every_reaction(room: RoomId, chat: Chat) -> None:
    bare = ChatService(
        uow=chat.db,
        users=chat.users,
        storage=chat.storage,
        broker=chat.broker,
        live=chat.live,
        clock=chat.clock,
        ids=SequentialIds(),
    )
    sent = await chat.say(ALICE, room)

    with pytest.raises(InvalidError):
        await bare.add_reaction(BOB, sent.id, "👍")
    assert chat.db.tables.reactions == {}


async def test_a_late_joiner_never_reads_a_quote_of_what_came_before_their_joining(chat: Chat) -> None:
    room = await group(chat)
    before = await chat.say(ALICE, room, "salary bands for 2027")
    await chat.service.add_members(ALICE, room, [DAVE])
    to_group = await chat.listen(f"group:{room}")

    reply = await chat.say(BOB, room, "agreed", reply_to_id=before.id)

    (heard,) = to_group.data("new_message")
    assert heard["reply_to"] == {
        "id": before.id,
        "sender_id": None,
        "message_type": None,
        "preview": None,
        "is_deleted": False,
    }
    assert reply.reply_to is not None
    assert reply.reply_to.preview is None
    for who, preview in ((DAVE, None), (CAROL, "salary bands for 2027")):
        (shown,) = [m for m in (await chat.service.history(who, room)).messages if m.id == reply.id]
        assert shown.reply_to is not None
        assert shown.reply_to.preview == preview
    edited = await chat.service.edit_message(BOB, reply.id, "agreed, see above")
    assert edited.reply_to is not None
    assert edited.reply_to.preview is None  # the edit goes to every member too
