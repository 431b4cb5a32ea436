"""send_message for text: checks, retries by client_msg_id, and what a failure leaves behind."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest

from chatcore import (
    ConflictError,
    InvalidError,
    MessageType,
    NotFoundError,
    OutcomeUnknownError,
    RoomId,
    SendMessage,
    UnavailableError,
)
from chatcore.model import Message, MessageDraft, StoredFile
from chatcore.testing import MemoryStorage, MemoryUnitOfWork
from tests.unit.helpers import ALICE, BOB, CAROL, BrokenBroker, Chat, b64, make_chat, png, uuid


async def test_a_text_message_is_stored_and_returned(chat: Chat, room: RoomId) -> None:
    chat.clock.advance(90)

    view, created = await chat.service.send_message(ALICE, SendMessage(room_id=room, content="Hi John!"))

    assert created is True
    assert view.room_id == room
    assert (view.sender_id, view.receiver_id) == (ALICE, BOB)
    assert (view.sender_name, view.receiver_name) == ("Alice Smith", "John Doe")
    assert view.message_type == MessageType.TEXT
    assert view.content == "Hi John!"
    assert view.created_at == datetime(2024, 1, 21, 12, 1, 30, tzinfo=UTC)
    assert (view.file_name, view.file_path, view.file_size, view.mime_type, view.file_url) == (None,) * 5
    assert (view.is_read, view.is_deleted, view.is_edited, view.updated_at) == (False, False, False, None)
    stored = chat.db.tables.messages[view.id]
    assert stored.content == "Hi John!"
    assert stored.receiver_id == BOB


async def test_the_receiver_is_the_other_participant_whoever_sends(chat: Chat, room: RoomId) -> None:
    reply = await chat.say(BOB, room, "Hello Alice!")

    assert (reply.sender_id, reply.receiver_id) == (BOB, ALICE)
    assert (reply.sender_name, reply.receiver_name) == ("John Doe", "Alice Smith")


async def test_sending_moves_the_room_to_the_top(chat: Chat, room: RoomId) -> None:
    chat.clock.advance(300)

    await chat.say(BOB, room)

    assert chat.db.tables.rooms[room].updated_at == chat.clock.now()


async def test_a_matching_receiver_id_is_accepted(chat: Chat, room: RoomId) -> None:
    view, _ = await chat.service.send_message(ALICE, SendMessage(room_id=room, receiver_id=BOB, content="hi"))

    assert view.receiver_id == BOB


async def test_a_receiver_id_that_is_not_the_other_participant_is_invalid(chat: Chat, room: RoomId) -> None:
    with pytest.raises(InvalidError) as raised:
        await chat.service.send_message(ALICE, SendMessage(room_id=room, receiver_id=CAROL, content="hi"))

    assert raised.value.field == "receiver_id"
    assert chat.message_count == 0


async def test_a_message_without_room_id_is_invalid(chat: Chat, room: RoomId) -> None:
    with pytest.raises(InvalidError) as raised:
        await chat.service.send_message(ALICE, SendMessage(receiver_id=BOB, content="hi"))

    assert raised.value.field == "room_id"
    assert chat.message_count == 0


@pytest.mark.parametrize("content", [None, "", "   ", "\n\t"])
async def test_an_empty_text_message_is_invalid(chat: Chat, room: RoomId, content: str | None) -> None:
    with pytest.raises(InvalidError) as raised:
        await chat.service.send_message(ALICE, SendMessage(room_id=room, content=content))

    assert raised.value.field == "content"
    assert chat.message_count == 0


async def test_text_of_exactly_ten_thousand_characters_is_accepted(chat: Chat, room: RoomId) -> None:
    view = await chat.say(ALICE, room, "x" * 10_000)

    assert len(view.content or "") == 10_000


async def test_text_longer_than_ten_thousand_characters_is_invalid(chat: Chat, room: RoomId) -> None:
    with pytest.raises(InvalidError) as raised:
        await chat.say(ALICE, room, "x" * 10_001)

    assert raised.value.field == "content"
    assert chat.message_count == 0


async def test_text_with_a_nul_character_is_invalid(chat: Chat, room: RoomId) -> None:
    with pytest.raises(InvalidError):
        await chat.say(ALICE, room, "a\x00b")


async def test_one_character_of_text_is_enough(chat: Chat, room: RoomId) -> None:
    assert (await chat.say(ALICE, room, "k")).content == "k"


@pytest.mark.parametrize(("field", "value"), [("file_data", b64(png())), ("file_name", "a.png"), ("upload_id", "u1")])
async def test_a_text_message_carries_no_file(chat: Chat, room: RoomId, field: str, value: str) -> None:
    extra: dict[str, Any] = {field: value}
    command = attrs.evolve(SendMessage(room_id=room, content="hi"), **extra)

    with pytest.raises(InvalidError) as raised:
        await chat.service.send_message(ALICE, command)

    assert raised.value.field == field
    assert chat.storage.files == {}


async def test_sending_to_a_room_you_are_not_in_is_not_found(chat: Chat, room: RoomId) -> None:
    with pytest.raises(NotFoundError):
        await chat.say(CAROL, room, "let me in")

    assert chat.message_count == 0


async def test_sending_a_file_to_a_room_you_are_not_in_stores_nothing(chat: Chat, room: RoomId) -> None:
    with pytest.raises(NotFoundError):
        await chat.send_file(CAROL, room, MessageType.IMAGE, "dot.png", png())

    assert chat.storage.files == {}
    assert chat.message_count == 0


async def test_sending_to_a_missing_room_is_not_found(chat: Chat) -> None:
    with pytest.raises(NotFoundError):
        await chat.say(ALICE, RoomId(777), "anyone?")


async def test_resending_a_client_msg_id_returns_the_original_and_stores_nothing(chat: Chat, room: RoomId) -> None:
    command = SendMessage(room_id=room, content="only once", client_msg_id="c-1")
    first, created = await chat.service.send_message(ALICE, command)
    inbox = await chat.listen(f"user:{BOB}")

    again, created_again = await chat.service.send_message(ALICE, command)

    assert (created, created_again) == (True, False)
    assert again == first
    assert again.client_msg_id == "c-1"
    assert chat.message_count == 1
    assert inbox.frames == []  # a retry is not news


async def test_a_retry_is_recognised_by_client_msg_id_even_with_other_content(chat: Chat, room: RoomId) -> None:
    first = await chat.say(ALICE, room, "draft", client_msg_id="c-1")

    again = await chat.say(ALICE, room, "edited draft", client_msg_id="c-1")

    assert again.id == first.id
    assert again.content == "draft"


async def test_client_msg_ids_belong_to_their_sender(chat: Chat, room: RoomId) -> None:
    mine = await chat.say(ALICE, room, "a", client_msg_id="same")
    theirs = await chat.say(BOB, room, "b", client_msg_id="same")

    assert mine.id != theirs.id
    assert chat.message_count == 2


async def test_resending_a_file_by_client_msg_id_leaves_a_single_file(chat: Chat, room: RoomId) -> None:
    first = await chat.send_file(ALICE, room, MessageType.IMAGE, "dot.png", png(), client_msg_id="f-1")

    again = await chat.send_file(ALICE, room, MessageType.IMAGE, "dot.png", png(), client_msg_id="f-1")

    assert again.id == first.id
    assert again.file_path == first.file_path
    assert list(chat.storage.files) == [f"images/{uuid(1)}-dot.png"]
    assert chat.message_count == 1


async def test_a_retry_that_races_the_original_returns_the_original(chat: Chat, room: RoomId) -> None:
    """Another process stores the first attempt while this retry is between its checks and its commit."""
    command = SendMessage(
        room_id=room, message_type=MessageType.IMAGE, file_data=b64(png()), file_name="dot.png", client_msg_id="r-1"
    )
    winner: list[Message] = []

    async def the_first_attempt_commits_meanwhile() -> None:
        await chat.storage.put("images/first-dot.png", png(), "image/png")
        file = StoredFile(key="images/first-dot.png", file_name="dot.png", file_size=len(png()), mime_type="image/png")
        draft = MessageDraft(
            room_id=room,
            sender_id=ALICE,
            receiver_id=BOB,
            message_type=MessageType.IMAGE,
            content=None,
            file=file,
            created_at=chat.clock.now(),
            client_msg_id="r-1",
        )
        async with MemoryUnitOfWork(chat.db) as other:
            winner.append(await other.messages.add(draft))
            await other.commit()

    chat.db.before_commit = the_first_attempt_commits_meanwhile

    view, created = await chat.service.send_message(ALICE, command)

    assert created is False
    assert view.id == winner[0].id
    assert chat.message_count == 1
    assert list(chat.storage.files) == ["images/first-dot.png"]  # the loser's copy was removed
    assert view.file_path == "chat_files/images/first-dot.png"


@pytest.mark.parametrize("client_msg_id", ["", "x" * 65])
async def test_a_client_msg_id_outside_one_to_sixty_four_characters_is_invalid(
    chat: Chat, room: RoomId, client_msg_id: str
) -> None:
    with pytest.raises(InvalidError) as raised:
        await chat.say(ALICE, room, "hi", client_msg_id=client_msg_id)

    assert raised.value.field == "client_msg_id"
    assert chat.message_count == 0


async def test_a_client_msg_id_of_sixty_four_characters_is_accepted(chat: Chat, room: RoomId) -> None:
    view = await chat.say(ALICE, room, "hi", client_msg_id="x" * 64)

    assert view.client_msg_id == "x" * 64


STORED = f"images/{uuid(1)}-dot.png"


@pytest.mark.parametrize(
    ("failure", "raised", "kept"),
    [
        pytest.param(UnavailableError("database went away"), UnavailableError, [], id="a-failed-commit-removes-it"),
        pytest.param(asyncio.CancelledError(), asyncio.CancelledError, [STORED], id="cancelled-midway-keeps-it"),
        pytest.param(OutcomeUnknownError("lost"), UnavailableError, [STORED], id="unknown-outcome-keeps-it"),
    ],
)
async def test_the_file_already_stored_goes_only_when_the_commit_surely_failed(
    chat: Chat, room: RoomId, failure: BaseException, raised: type[BaseException], kept: list[str]
) -> None:
    """A commit that may have happened (cancelled midway, lost on the wire) keeps the file: an orphan at worst,
    found by cleanup, while a message whose file is gone would be broken for good."""
    chat.db.fail_commits_with = failure

    with pytest.raises(raised):
        await chat.send_file(ALICE, room, MessageType.IMAGE, "dot.png", png())

    assert list(chat.storage.files) == kept
    if not kept:
        assert chat.message_count == 0


async def test_a_batch_of_unknown_outcome_is_not_sent_again_message_by_message(chat: Chat, room: RoomId) -> None:
    """Two file messages share a batch whose commit is lost on the wire: it may have committed, so neither is
    inserted again alone (a second copy, or a conflict that would throw its file away) and both files stay."""
    commits = []

    async def lost() -> None:
        commits.append("batch")
        chat.db.fail_commits_with = UnavailableError("still down")  # what a retry alone would meet
        raise OutcomeUnknownError("lost during the commit")

    chat.db.before_commit = lost
    sends = [chat.send_file(ALICE, room, MessageType.IMAGE, f"{n}.png", png(), client_msg_id=f"f{n}") for n in "ab"]

    outcomes = await asyncio.gather(*sends, return_exceptions=True)

    assert [type(o) for o in outcomes] == [OutcomeUnknownError, OutcomeUnknownError]
    assert commits == ["batch"]  # one batch of both, and no retry
    assert sorted(chat.storage.files) == [f"images/{uuid(1)}-a.png", f"images/{uuid(2)}-b.png"]


async def test_a_sender_gone_while_its_file_message_commits_leaves_the_message_and_its_file(
    chat: Chat, room: RoomId
) -> None:
    """The sender's socket closes (its task is cancelled) while the group commit holds its message: the
    message commits and is delivered, so its file must stay."""
    inbox = await chat.listen(f"user:{BOB}")
    committing, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        committing.set()
        await release.wait()

    chat.db.before_commit = hold
    send = asyncio.create_task(chat.send_file(ALICE, room, MessageType.IMAGE, "dot.png", png()))
    await asyncio.wait_for(committing.wait(), 5)
    send.cancel()
    with pytest.raises(asyncio.CancelledError):
        await send
    release.set()
    for _ in range(100):  # bounded: the batch finishes on the group commit's own task
        if inbox.data("new_message"):
            break
        await asyncio.sleep(0)

    (delivered,) = inbox.data("new_message")
    assert chat.message_count == 1
    assert list(chat.storage.files) == [f"images/{uuid(1)}-dot.png"]
    assert delivered["file_path"].endswith(f"images/{uuid(1)}-dot.png")


async def test_a_conflict_at_commit_without_client_msg_id_is_raised_and_leaves_nothing(
    chat: Chat, room: RoomId
) -> None:
    chat.db.fail_commits_with = ConflictError("constraint")

    with pytest.raises(ConflictError):
        await chat.send_file(ALICE, room, MessageType.IMAGE, "dot.png", png())

    assert chat.storage.files == {}
    assert chat.message_count == 0


async def test_a_conflict_at_commit_with_an_unused_client_msg_id_is_raised(chat: Chat, room: RoomId) -> None:
    chat.db.fail_commits_with = ConflictError("constraint")

    with pytest.raises(ConflictError):
        await chat.send_file(ALICE, room, MessageType.IMAGE, "dot.png", png(), client_msg_id="new")

    assert chat.storage.files == {}


class StuckStorage(MemoryStorage):
    """Storage that takes files but cannot remove them."""

    async def delete(self, key: str) -> None:
        raise OSError("disk is read-only")


async def test_when_the_file_cannot_be_removed_the_original_error_is_raised() -> None:
    stuck = make_chat(storage=StuckStorage())
    stuck_room = await stuck.room()
    stuck.db.fail_commits_with = UnavailableError("database went away")

    with pytest.raises(UnavailableError):
        await stuck.send_file(ALICE, stuck_room, MessageType.IMAGE, "dot.png", png())

    assert stuck.message_count == 0


async def test_a_broker_outage_does_not_fail_the_send() -> None:
    chat = make_chat(broker=BrokenBroker())
    room = await chat.room()

    view, created = await chat.service.send_message(ALICE, SendMessage(room_id=room, content="still here"))

    assert created is True
    assert chat.db.tables.messages[view.id].content == "still here"


async def test_a_sender_removed_from_the_directory_still_sends(chat: Chat) -> None:
    ghost = (await chat.users.add(name="Temp", email="temp@corp.test")).id
    room = await chat.room(ghost, ALICE)
    chat.users._users.pop(ghost)  # left the company, token still valid
    chat.clock.advance(31)  # past the 30 s a found name is kept

    view = await chat.say(ghost, room, "from beyond")

    assert view.sender_name == "Unknown user"
    assert view.sender_avatar is None


async def test_a_client_msg_id_reused_in_another_room_is_a_conflict(chat: Chat, room: RoomId) -> None:
    other_room = await chat.room(ALICE, CAROL)
    await chat.say(ALICE, room, "first", client_msg_id="same")

    with pytest.raises(ConflictError) as error:
        await chat.say(ALICE, other_room, "second", client_msg_id="same")

    assert error.value.field == "client_msg_id"
    assert chat.message_count == 1


@pytest.mark.parametrize("caption", ["", "   ", None])
async def test_a_file_message_may_have_an_empty_caption(chat: Chat, room: RoomId, caption: str | None) -> None:
    view = await chat.send_file(ALICE, room, MessageType.IMAGE, "a.png", png(), content=caption)

    assert view.content is None
    assert view.file_name == "a.png"


async def test_a_file_message_keeps_its_caption(chat: Chat, room: RoomId) -> None:
    view = await chat.send_file(ALICE, room, MessageType.IMAGE, "a.png", png(), content="the org chart")

    assert view.content == "the org chart"


async def test_a_socket_s_joined_room_is_used_when_the_command_names_none(chat: Chat) -> None:
    room = await chat.room(ALICE, BOB)
    other = await chat.room(ALICE, CAROL)

    joined, _ = await chat.service.send_message(ALICE, SendMessage(content="to the joined room"), joined=room)
    named, _ = await chat.service.send_message(ALICE, SendMessage(room_id=other, content="named"), joined=room)

    assert (joined.room_id, joined.receiver_id) == (room, BOB)
    assert (named.room_id, named.receiver_id) == (other, CAROL)
