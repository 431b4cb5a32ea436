"""Reactions, replies, mentions and pins as pure decisions (contract section 12; issue 18's first step)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chatcore.errors import ForbiddenError, InvalidError
from chatcore.model import (
    PREVIEW_LENGTH,
    Membership,
    Message,
    MessageId,
    MessageType,
    Reaction,
    ReplyPreview,
    Role,
    Room,
    RoomId,
    RoomType,
    UserId,
)
from chatcore.reactions import (
    MAX_REACTIONS,
    check_emoji,
    check_pin,
    check_reply,
    grouped,
    may_add,
    mentions,
)

NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ANN, BEN, CAT = UserId(1), UserId(2), UserId(3)
KNOWN = {"👍", "❤️", "👍🏽", "👨‍👩‍👧", "🇫🇷"}  # stands in for the emoji library's answer


def spelled(text: str) -> str | None:
    return "❤️" if text == "❤" else text if text in KNOWN or text == "👍" * 40 else None


def message(content: str | None = "hello", **fields: object) -> Message:
    values: dict[str, object] = {
        "id": MessageId(7),
        "room_id": RoomId(1),
        "sender_id": ANN,
        "receiver_id": BEN,
        "message_type": MessageType.TEXT,
        "content": content,
        "created_at": NOON,
    }
    values.update(fields)
    return Message(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("emoji", sorted(KNOWN))
def test_one_emoji_is_a_reaction_whatever_its_code_points(emoji: str) -> None:
    assert check_emoji(emoji, spelled) == emoji


def test_an_emoji_takes_its_one_spelling() -> None:
    assert check_emoji("❤", spelled) == "❤️"


@pytest.mark.parametrize("raw", ["", ":)", "<b>", "👍👍", "ok", "👍" * 40])
def test_anything_but_one_emoji_is_refused(raw: str) -> None:
    with pytest.raises(InvalidError) as error:
        check_emoji(raw, spelled)
    assert error.value.field == "emoji"


def test_twenty_distinct_emoji_at_most_but_joining_an_existing_one_always_fits() -> None:
    full = [f"e{n}" for n in range(MAX_REACTIONS)]

    assert may_add(full[:-1], "new")
    assert not may_add(full, "new")
    assert may_add(full, "e3")


def test_reactions_are_grouped_by_emoji_in_the_order_they_came() -> None:
    rows = [("👍", BEN), ("❤️", ANN), ("👍", CAT), ("👍", BEN)]

    assert grouped(rows) == [Reaction(emoji="👍", user_ids=(BEN, CAT)), Reaction(emoji="❤️", user_ids=(ANN,))]


def test_a_reply_preview_follows_its_original_through_edits_and_deletion() -> None:
    long = "x" * 300

    assert ReplyPreview.of(message("short")).preview == "short"
    cut = ReplyPreview.of(message(long)).preview
    assert cut is not None
    assert len(cut) == PREVIEW_LENGTH
    assert cut.endswith("…")
    gone = ReplyPreview.of(message(None, is_deleted=True))
    assert (gone.preview, gone.is_deleted) == (None, True)
    file = ReplyPreview.of(message(None, message_type=MessageType.FILE, file_name="offer.pdf"))
    assert (file.preview, file.message_type) == ("offer.pdf", MessageType.FILE)


def membership(kind: RoomType, role: Role, *, room: int = 1, history_from: int | None = None) -> Membership:
    found = Room(id=RoomId(room), name="r", room_type=kind, created_by=ANN, created_at=NOON, updated_at=NOON)
    start = None if history_from is None else MessageId(history_from)
    return Membership(room=found, user_id=ANN, other_user_id=None, role=role, history_from=start)


def test_a_reply_must_answer_a_live_message_its_sender_sees_in_its_own_room() -> None:
    assert check_reply(message("hi"), membership(RoomType.DIRECT, Role.MEMBER)) == ReplyPreview.of(message("hi"))
    assert check_reply(message(), membership(RoomType.GROUP, Role.MEMBER, history_from=6)).id == MessageId(7)
    refused = (
        (message(), membership(RoomType.DIRECT, Role.MEMBER, room=2)),  # another room's
        (None, membership(RoomType.DIRECT, Role.MEMBER)),  # none at all
        (message(), membership(RoomType.GROUP, Role.MEMBER, history_from=7)),  # from before the sender joined
        (message(None, is_deleted=True), membership(RoomType.DIRECT, Role.MEMBER)),
    )
    for original, seen_by in refused:
        with pytest.raises(InvalidError) as error:
            check_reply(original, seen_by)
        assert error.value.field == "reply_to_id"


def test_a_reply_to_a_purged_original_still_says_it_answered_something() -> None:
    gone = ReplyPreview.gone(MessageId(7))
    assert (gone.id, gone.sender_id, gone.preview, gone.is_deleted) == (MessageId(7), None, None, True)


def test_only_members_are_mentioned_once_each_in_order() -> None:
    text = "hi <@3> and <@2>, <@3> again; <@99> is no member, <@0> <@-1> <@abc> <@ 2> are no mentions"

    assert mentions(text, {ANN, BEN, CAT}) == [CAT, BEN]
    assert mentions(None, {ANN}) == []
    assert mentions("<@99999999999999999999999>", {ANN}) == []  # longer than any id: plain text


def test_anyone_pins_in_a_direct_room_and_owners_and_admins_in_a_group() -> None:
    check_pin(membership(RoomType.DIRECT, Role.MEMBER))
    check_pin(membership(RoomType.GROUP, Role.ADMIN))
    check_pin(membership(RoomType.GROUP, Role.OWNER))
    with pytest.raises(ForbiddenError):
        check_pin(membership(RoomType.GROUP, Role.MEMBER))
