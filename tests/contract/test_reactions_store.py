"""Issue 18 on every backend: reactions, replies, mentions (and the room list's `mention_count`) and pins, as the
Messages and Rooms ports keep them; the fakes are the reference the SQL stores must match."""

from __future__ import annotations

import attrs
import pytest
from sqlalchemy import text

from chatcore.errors import ConflictError, NotFoundError
from chatcore.model import (
    HistoryQuery,
    Message,
    MessageDraft,
    MessageId,
    Reaction,
    ReplyPreview,
    RoomId,
    UserId,
)
from chatcore.testing import MemoryDatabase
from tests.contract.backends import Backend
from tests.contract.builders import ALICE, BOB, CAROL, DAVE, T0, at, draft, photo, room

THUMBS, HEART, LAUGH = "👍", "❤️", "😂"


async def _add(backend: Backend, *drafts: MessageDraft) -> list[Message]:
    async with backend.uow() as uow:
        added = [await uow.messages.add(d) for d in drafts]
        await uow.commit()
    return added


async def _get(backend: Backend, message_id: MessageId) -> Message:
    async with backend.uow() as uow:
        found = await uow.messages.get(message_id)
    assert found is not None
    return found


async def _react(backend: Backend, message_id: MessageId, user: UserId, emoji: str, *, limit: int = 20) -> bool:
    async with backend.uow() as uow:
        added = await uow.messages.add_reaction(message_id, user, emoji, at=T0, limit=limit)
        await uow.commit()
    return added


async def _save(backend: Backend, message: Message) -> None:
    async with backend.uow() as uow:
        await uow.messages.save(message)
        await uow.commit()


async def _purge(backend: Backend, message_id: MessageId) -> None:
    """The row goes altogether, as retention will purge it (no port does that yet)."""
    if isinstance(backend.database, MemoryDatabase):
        del backend.database.tables.messages[message_id]
        return
    assert backend.engine is not None
    async with backend.engine.begin() as connection:
        await connection.execute(text("DELETE FROM chat_messages WHERE id = :id"), {"id": message_id})


async def _mentions(backend: Backend, user: UserId) -> dict[RoomId, int]:
    async with backend.uow() as uow:
        return {s.room.id: s.mention_count for s in await uow.rooms.summaries(user)}


def _reply(original: Message, *args: object, **kw: object) -> MessageDraft:
    return attrs.evolve(draft(*args, **kw), reply_to=ReplyPreview.of(original))  # type: ignore[arg-type]


# -- reactions ------------------------------------------------------------------------------------------------


async def test_reactions_are_grouped_by_emoji_in_arrival_order(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)
    (message,) = await _add(backend, draft(created.id, ALICE, BOB))

    assert await _react(backend, message.id, BOB, HEART)
    assert await _react(backend, message.id, ALICE, THUMBS)
    assert await _react(backend, message.id, ALICE, HEART)
    assert not await _react(backend, message.id, BOB, HEART)  # already there: nothing added
    assert await _react(backend, message.id, CAROL, THUMBS)

    found = await _get(backend, message.id)
    assert found.reactions == (
        Reaction(emoji=HEART, user_ids=(BOB, ALICE)),
        Reaction(emoji=THUMBS, user_ids=(ALICE, CAROL)),
    )
    async with backend.uow() as uow:
        assert await uow.messages.remove_reaction(message.id, BOB, HEART)
        assert not await uow.messages.remove_reaction(message.id, BOB, HEART)
        assert not await uow.messages.remove_reaction(message.id, DAVE, LAUGH)
        await uow.commit()
    assert await _react(backend, message.id, BOB, HEART)  # back, now the last to come

    # The heart's first reaction is now Alice's, which came after her thumbs up.
    assert (await _get(backend, message.id)).reactions == (
        Reaction(emoji=THUMBS, user_ids=(ALICE, CAROL)),
        Reaction(emoji=HEART, user_ids=(ALICE, BOB)),
    )


async def test_every_read_carries_the_reactions_of_its_messages(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)
    plain, liked, image = await _add(
        backend,
        draft(created.id, ALICE, BOB, "plain", client_msg_id="c-1"),
        draft(created.id, BOB, ALICE, "liked", client_msg_id="c-2"),
        draft(created.id, BOB, ALICE, None, file=photo()),
    )
    await _react(backend, liked.id, ALICE, THUMBS)
    await _react(backend, image.id, ALICE, HEART)
    thumbs, heart = (Reaction(emoji=THUMBS, user_ids=(ALICE,)),), (Reaction(emoji=HEART, user_ids=(ALICE,)),)

    async with backend.uow() as uow:
        page, _ = await uow.messages.history(created.id, HistoryQuery(per_page=10))
        latest = await uow.messages.latest(created.id, 10)
        by_client = await uow.messages.by_client_msg_id(BOB, "c-2")
        with_file = await uow.messages.with_file("images/a.png")

    assert [m.reactions for m in page] == [heart, thumbs, ()]
    assert [m.reactions for m in latest] == [(), thumbs, heart]
    assert by_client is not None and by_client.reactions == thumbs  # noqa: PT018
    assert with_file is not None and with_file.reactions == heart  # noqa: PT018
    assert (await _get(backend, plain.id)).reactions == ()


async def test_the_limit_counts_distinct_emoji_and_an_existing_one_always_fits(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)
    (message,) = await _add(backend, draft(created.id, ALICE, BOB))
    for emoji in (THUMBS, HEART, LAUGH):
        assert await _react(backend, message.id, ALICE, emoji, limit=3)

    with pytest.raises(ConflictError) as raised:
        await _react(backend, message.id, BOB, "🎉", limit=3)
    assert raised.value.field == "emoji"
    assert await _react(backend, message.id, BOB, LAUGH, limit=3)  # joining one that is there
    assert not await _react(backend, message.id, ALICE, THUMBS, limit=3)  # already there: no error either

    assert [(r.emoji, r.user_ids) for r in (await _get(backend, message.id)).reactions] == [
        (THUMBS, (ALICE,)),
        (HEART, (ALICE,)),
        (LAUGH, (ALICE, BOB)),
    ]


async def test_a_deleted_message_takes_no_reaction_and_a_missing_one_is_not_found(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)
    (message,) = await _add(backend, draft(created.id, ALICE, BOB))
    await _save(backend, message.deleted(by=ALICE, at=at(5)))

    with pytest.raises(ConflictError) as raised:
        await _react(backend, message.id, BOB, THUMBS)
    assert raised.value.field == "message_id"
    with pytest.raises(NotFoundError):
        await _react(backend, MessageId(message.id + 1000), BOB, THUMBS)
    assert (await _get(backend, message.id)).reactions == ()


async def test_deleting_a_message_drops_its_reactions_pin_and_mentions(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)
    (message,) = await _add(backend, attrs.evolve(draft(created.id, ALICE, BOB, "hey <@2>"), mentions=(BOB,)))
    await _react(backend, message.id, BOB, THUMBS)
    async with backend.uow() as uow:
        assert await uow.messages.pin(message.id, by=BOB, at=at(3))
        await uow.commit()
    assert await _mentions(backend, BOB) == {created.id: 1}

    await _save(backend, (await _get(backend, message.id)).deleted(by=ALICE, at=at(5)))

    found = await _get(backend, message.id)
    assert (found.reactions, found.pinned_by, found.pinned_at, found.mentions) == ((), None, None, ())
    assert await _mentions(backend, BOB) == {created.id: 0}
    async with backend.uow() as uow:
        assert await uow.messages.pins(created.id) == []


async def test_a_purged_message_takes_its_reactions_with_it(backend: Backend) -> None:
    if backend.engine is None:
        pytest.skip("the foreign key's cascade is the database's")
    created = await room(backend, ALICE, BOB)
    kept, purged = await _add(backend, draft(created.id, ALICE, BOB), draft(created.id, ALICE, BOB))
    for message in (kept, purged):
        await _react(backend, message.id, BOB, THUMBS)
    async with backend.uow() as uow:
        await uow.messages.add(attrs.evolve(draft(created.id, ALICE, BOB, "<@2>"), mentions=(BOB,)))
        await uow.commit()

    await _purge(backend, purged.id)

    async with backend.engine.connect() as connection:
        reacted = (await connection.execute(text("SELECT message_id FROM chat_reactions"))).scalars().all()
        mentioned = (await connection.execute(text("SELECT count(*) FROM chat_mentions"))).scalar_one()
    assert reacted == [kept.id]
    assert mentioned == 1


# -- replies --------------------------------------------------------------------------------------------------


async def test_a_reply_shows_its_original_as_it_is_now(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)
    (original,) = await _add(backend, draft(created.id, ALICE, BOB, "the question", client_msg_id="q"))
    (reply,) = await _add(backend, _reply(original, created.id, BOB, ALICE, "the answer", client_msg_id="a"))

    assert reply.reply_to_id == original.id
    assert reply.reply_to == ReplyPreview(
        id=original.id, sender_id=ALICE, message_type=original.message_type, preview="the question", is_deleted=False
    )
    assert await _get(backend, reply.id) == reply

    edited = original.edited(by=ALICE, content="x" * 300, at=at(10))
    await _save(backend, edited)
    preview = (await _get(backend, reply.id)).reply_to
    assert preview == ReplyPreview.of(edited)
    assert preview is not None and preview.preview == "x" * 119 + "…"  # noqa: PT018

    await _save(backend, edited.deleted(by=ALICE, at=at(11)))
    async with backend.uow() as uow:
        (in_history,), _ = await uow.messages.history(created.id, HistoryQuery(per_page=1))
        by_client = await uow.messages.by_client_msg_id(BOB, "a")
    assert in_history.reply_to == ReplyPreview(
        id=original.id, sender_id=ALICE, message_type=original.message_type, preview=None, is_deleted=True
    )
    assert by_client == in_history

    await _purge(backend, original.id)
    assert (await _get(backend, reply.id)).reply_to == ReplyPreview.gone(original.id)
    assert (await _get(backend, reply.id)).reply_to_id == original.id


async def test_a_reply_to_a_file_shows_its_name(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)
    (image,) = await _add(backend, draft(created.id, ALICE, BOB, None, file=photo("plan.png")))
    (reply,) = await _add(backend, _reply(image, created.id, BOB, ALICE, "nice"))

    async with backend.uow() as uow:
        (found,) = await uow.messages.latest(created.id, 1)
    assert found == reply
    assert found.reply_to is not None and found.reply_to.preview == "plan.png"  # noqa: PT018


# -- mentions -------------------------------------------------------------------------------------------------


async def test_mentions_are_stored_and_unread_ones_counted_per_room(backend: Backend) -> None:
    direct, other = await room(backend, ALICE, BOB), await room(backend, BOB, CAROL)
    first, _, self_named, _ = await _add(
        backend,
        attrs.evolve(draft(direct.id, ALICE, BOB, "<@2> look", when=at(1)), mentions=(BOB,)),
        draft(direct.id, ALICE, BOB, "no mention", when=at(2)),
        attrs.evolve(draft(direct.id, BOB, ALICE, "<@2> <@1>", when=at(3)), mentions=(BOB, ALICE)),
        attrs.evolve(draft(other.id, CAROL, BOB, "<@2>", when=at(4)), mentions=(BOB,)),
    )

    assert (await _get(backend, first.id)).mentions == (BOB,)
    assert (await _get(backend, self_named.id)).mentions == (BOB, ALICE)
    assert await _mentions(backend, BOB) == {direct.id: 1, other.id: 1}  # his own naming of himself: not his news
    assert await _mentions(backend, ALICE) == {direct.id: 1}
    assert await _mentions(backend, CAROL) == {other.id: 0}

    async with backend.uow() as uow:
        await uow.rooms.mark_read(direct.id, BOB)
        await uow.commit()
    assert await _mentions(backend, BOB) == {direct.id: 0, other.id: 1}

    (later,) = await _add(backend, attrs.evolve(draft(direct.id, ALICE, BOB, "<@2>", when=at(5)), mentions=(BOB,)))
    assert await _mentions(backend, BOB) == {direct.id: 1, other.id: 1}
    await _save(backend, later.deleted(by=ALICE, at=at(6)))
    assert await _mentions(backend, BOB) == {direct.id: 0, other.id: 1}


async def test_an_edit_adds_and_removes_mentions(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)
    (message,) = await _add(backend, draft(created.id, ALICE, BOB, "plain"))
    assert await _mentions(backend, BOB) == {created.id: 0}

    named = message.edited(by=ALICE, content="<@2> see", at=at(5), mentions=(BOB,))
    await _save(backend, named)
    assert (await _get(backend, message.id)).mentions == (BOB,)
    assert await _mentions(backend, BOB) == {created.id: 1}
    await _save(backend, named)  # saved again as it is: still one mention
    assert await _mentions(backend, BOB) == {created.id: 1}

    await _save(backend, named.edited(by=ALICE, content="never mind", at=at(6)))
    assert (await _get(backend, message.id)).mentions == ()
    assert await _mentions(backend, BOB) == {created.id: 0}


# -- pins -----------------------------------------------------------------------------------------------------


async def test_pins_keep_the_first_pin_and_list_the_latest_first(backend: Backend) -> None:
    created, elsewhere = await room(backend, ALICE, BOB), await room(backend, ALICE, CAROL)
    one, two, three = await _add(backend, *(draft(created.id, ALICE, BOB, f"m{i}") for i in range(3)))
    (stranger,) = await _add(backend, draft(elsewhere.id, ALICE, CAROL))

    async with backend.uow() as uow:
        assert await uow.messages.pin(two.id, by=BOB, at=at(10))
        assert await uow.messages.pin(one.id, by=ALICE, at=at(20))
        assert await uow.messages.pin(three.id, by=ALICE, at=at(15))
        assert await uow.messages.pin(stranger.id, by=CAROL, at=at(30))
        assert not await uow.messages.pin(two.id, by=ALICE, at=at(40))  # pinned already: the first pin stays
        with pytest.raises(NotFoundError):
            await uow.messages.pin(MessageId(three.id + 1000), by=ALICE, at=at(40))
        await uow.commit()

    async with backend.uow() as uow:
        pins = await uow.messages.pins(created.id)
        visible = await uow.messages.pins(created.id, visible_after=one.id)
    assert [(m.id, m.pinned_by, m.pinned_at) for m in pins] == [
        (one.id, ALICE, at(20)),
        (three.id, ALICE, at(15)),
        (two.id, BOB, at(10)),
    ]
    assert [m.id for m in visible] == [three.id, two.id]
    assert (await _get(backend, two.id)).pinned_by == BOB

    async with backend.uow() as uow:
        assert await uow.messages.unpin(three.id)
        assert not await uow.messages.unpin(three.id)
        assert not await uow.messages.unpin(MessageId(three.id + 1000))
        await uow.commit()
    async with backend.uow() as uow:
        assert [m.id for m in await uow.messages.pins(created.id)] == [one.id, two.id]
    found = await _get(backend, three.id)
    assert (found.pinned_by, found.pinned_at) == (None, None)


async def test_pins_carry_replies_and_reactions(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)
    (original,) = await _add(backend, draft(created.id, ALICE, BOB, "q"))
    (reply,) = await _add(backend, _reply(original, created.id, BOB, ALICE, "a"))
    await _react(backend, reply.id, ALICE, THUMBS)
    async with backend.uow() as uow:
        await uow.messages.pin(reply.id, by=ALICE, at=at(3))
        await uow.commit()

    async with backend.uow() as uow:
        (pinned,) = await uow.messages.pins(created.id)
    assert pinned == attrs.evolve(
        reply, reactions=(Reaction(emoji=THUMBS, user_ids=(ALICE,)),), pinned_by=ALICE, pinned_at=at(3)
    )
