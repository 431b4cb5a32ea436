"""The Messages port on every backend: add, dedupe, save, history pages and cursors, file references."""

from __future__ import annotations

import attrs
import pytest

from chatcore.errors import ConflictError, NotFoundError
from chatcore.model import HistoryQuery, Message, MessageDraft, MessageId, MessageType, RoomId
from chatcore.ports import UnitOfWork
from tests.contract.backends import Backend
from tests.contract.builders import ALICE, BOB, CAROL, T0, at, draft, photo, room, send


async def test_add_stores_every_field_and_get_returns_it(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)

    async with backend.uow() as uow:
        text = await uow.messages.add(draft(created.id, ALICE, BOB, "héllo ✓", when=at(0.5), client_msg_id="c-1"))
        image = await uow.messages.add(draft(created.id, BOB, ALICE, None, when=at(1), file=photo()))
        await uow.commit()

    assert text.id < image.id
    assert (text.room_id, text.sender_id, text.receiver_id) == (created.id, ALICE, BOB)
    assert (text.message_type, text.content, text.client_msg_id) == (MessageType.TEXT, "héllo ✓", "c-1")
    assert text.created_at == at(0.5)
    assert (text.updated_at, text.is_read, text.is_deleted, text.is_edited) == (None, False, False, False)
    assert (image.file_name, image.file_path, image.file_size, image.mime_type) == (
        "a.png",
        "chat_files/images/a.png",
        3,
        "image/png",
    )
    assert image.storage_key == "images/a.png"
    async with backend.uow() as uow:
        assert await uow.messages.get(text.id) == text
        assert await uow.messages.get(image.id) == image
        assert await uow.messages.get(MessageId(image.id + 1000)) is None


async def test_add_to_a_missing_room_is_not_found(backend: Backend) -> None:
    async with backend.uow() as uow:
        with pytest.raises(NotFoundError):
            await uow.messages.add(draft(RoomId(12345), ALICE, BOB))


async def test_client_msg_id_is_unique_per_sender(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)
    async with backend.uow() as uow:
        first = await uow.messages.add(draft(created.id, ALICE, BOB, client_msg_id="same"))
        await uow.messages.add(draft(created.id, BOB, ALICE, client_msg_id="same"))  # another sender: fine
        await uow.messages.add(draft(created.id, ALICE, BOB))  # no id: never a conflict
        await uow.messages.add(draft(created.id, ALICE, BOB))
        await uow.commit()

    async with backend.uow() as uow:
        with pytest.raises(ConflictError) as raised:
            await uow.messages.add(draft(created.id, ALICE, BOB, client_msg_id="same"))
        assert raised.value.field == "client_msg_id"
    async with backend.uow() as uow:
        assert await uow.messages.by_client_msg_id(ALICE, "same") == first
        assert await uow.messages.by_client_msg_id(ALICE, "other") is None
        assert await uow.messages.count(created.id) == 4


async def test_a_conflict_rolls_back_the_whole_unit_of_work(backend: Backend) -> None:
    """PostgreSQL cannot go on after a failed statement, so every backend drops the unit's earlier changes."""
    created = await room(backend, ALICE, BOB)
    await send(backend, created.id, ALICE, BOB)
    async with backend.uow() as uow:
        await uow.messages.add(draft(created.id, ALICE, BOB, client_msg_id="x"))
        await uow.commit()

    async with backend.uow() as uow:
        await uow.rooms.touch(created.id, at(100))
        with pytest.raises(ConflictError):
            await uow.messages.add(draft(created.id, ALICE, BOB, client_msg_id="x"))
        await uow.commit()

    async with backend.uow() as uow:
        assert (await uow.rooms.membership(ALICE, created.id)).room.updated_at == at(1)
        assert await uow.messages.count(created.id) == 2


async def test_same_client_msg_id_racing_in_two_units_conflicts(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)

    async with backend.uow() as first, backend.uow() as second:
        await first.messages.add(draft(created.id, ALICE, BOB, client_msg_id="retry"))
        await first.commit()
        with pytest.raises(ConflictError):  # at the insert (SQL) or at the latest on commit (the fake)
            await _add_and_commit(second, draft(created.id, ALICE, BOB, client_msg_id="retry"))


async def _add_and_commit(uow: UnitOfWork, message: MessageDraft) -> None:
    await uow.messages.add(message)
    await uow.commit()


async def test_save_persists_edits_and_soft_deletes(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)
    async with backend.uow() as uow:
        text = await uow.messages.add(draft(created.id, ALICE, BOB, "first"))
        image = await uow.messages.add(draft(created.id, ALICE, BOB, None, file=photo()))
        await uow.commit()
    edited = text.edited(by=ALICE, content="second", at=at(60))
    deleted = image.deleted(by=ALICE, at=at(61))

    async with backend.uow() as uow:
        await uow.messages.save(edited)
        await uow.messages.save(deleted)
        await uow.commit()

    async with backend.uow() as uow:
        assert await uow.messages.get(text.id) == edited
        assert await uow.messages.get(image.id) == deleted
    assert (edited.is_edited, edited.updated_at) == (True, at(60))
    assert (deleted.is_deleted, deleted.file_path, deleted.content) == (True, None, None)


async def test_save_of_a_missing_message_is_not_found(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)
    (message,) = await send(backend, created.id, ALICE, BOB)

    async with backend.uow() as uow:
        with pytest.raises(NotFoundError):
            await uow.messages.save(attrs.evolve(message, id=MessageId(message.id + 1000)))


def _contents(messages: list[Message]) -> list[str | None]:
    return [m.content for m in messages]


async def test_history_pages_go_newest_first(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)
    await send(backend, created.id, ALICE, BOB, count=5)
    other = await room(backend, ALICE, CAROL)
    await send(backend, other.id, CAROL, ALICE, count=3)

    async with backend.uow() as uow:
        first = await uow.messages.history(created.id, HistoryQuery(page=1, per_page=2))
        second = await uow.messages.history(created.id, HistoryQuery(page=2, per_page=2))
        third = await uow.messages.history(created.id, HistoryQuery(page=3, per_page=2))
        beyond = await uow.messages.history(created.id, HistoryQuery(page=4, per_page=2))
        exact = await uow.messages.history(created.id, HistoryQuery(page=1, per_page=5))

    assert (_contents(first[0]), first[1]) == (["m4", "m3"], True)
    assert (_contents(second[0]), second[1]) == (["m2", "m1"], True)
    assert (_contents(third[0]), third[1]) == (["m0"], False)
    assert beyond == ([], False)
    assert (_contents(exact[0]), exact[1]) == (["m4", "m3", "m2", "m1", "m0"], False)


async def test_history_before_id_is_a_stable_cursor(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)
    sent = await send(backend, created.id, ALICE, BOB, count=5)

    async with backend.uow() as uow:
        page, more = await uow.messages.history(created.id, HistoryQuery(per_page=2, before_id=sent[3].id))
        page2, more2 = await uow.messages.history(created.id, HistoryQuery(page=2, per_page=2, before_id=sent[3].id))

    assert (_contents(page), more) == (["m2", "m1"], True)
    assert (_contents(page2), more2) == (["m0"], False)


async def test_history_after_id_goes_oldest_first(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)
    sent = await send(backend, created.id, ALICE, BOB, count=5)

    async with backend.uow() as uow:
        page, more = await uow.messages.history(created.id, HistoryQuery(per_page=2, after_id=sent[1].id))
        rest, no_more = await uow.messages.history(created.id, HistoryQuery(per_page=2, after_id=sent[3].id))
        nothing = await uow.messages.history(created.id, HistoryQuery(per_page=2, after_id=sent[4].id))

    assert (_contents(page), more) == (["m2", "m3"], True)
    assert (_contents(rest), no_more) == (["m4"], False)
    assert nothing == ([], False)


async def test_latest_is_the_newest_messages_oldest_first(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)
    await send(backend, created.id, ALICE, BOB, count=4)

    async with backend.uow() as uow:
        assert _contents(await uow.messages.latest(created.id, 2)) == ["m2", "m3"]
        assert _contents(await uow.messages.latest(created.id, 10)) == ["m0", "m1", "m2", "m3"]
        assert await uow.messages.latest(created.id, 0) == []
        assert await uow.messages.latest(RoomId(created.id + 1000), 5) == []


async def test_count_includes_deleted_messages(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)
    sent = await send(backend, created.id, ALICE, BOB, count=3)
    async with backend.uow() as uow:
        await uow.messages.save(sent[0].deleted(by=ALICE, at=T0))
        await uow.commit()

    async with backend.uow() as uow:
        assert await uow.messages.count(created.id) == 3
        assert await uow.messages.count(RoomId(created.id + 1000)) == 0


async def test_referenced_keys_are_files_of_live_messages(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)
    async with backend.uow() as uow:
        await uow.messages.add(draft(created.id, ALICE, BOB, None, file=photo("kept.png")))
        gone = await uow.messages.add(draft(created.id, ALICE, BOB, None, file=photo("gone.png")))
        await uow.messages.save(gone.deleted(by=ALICE, at=T0))
        await uow.commit()
    many = [f"images/orphan-{i}.png" for i in range(1200)]  # more than one IN (...) chunk

    async with backend.uow() as uow:
        found = await uow.messages.referenced_keys(["images/kept.png", "images/gone.png", *many])
        assert await uow.messages.referenced_keys([]) == set()

    assert found == {"images/kept.png"}
