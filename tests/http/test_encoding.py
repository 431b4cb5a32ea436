"""The socket's msgspec event encoder writes exactly the bytes of the core's cattrs + json encoder."""

from __future__ import annotations

import random
import typing
from datetime import UTC, datetime, timedelta, timezone

import pytest

from chat_http.wire import encode_event as fast
from chatcore.codec import encode_event as reference
from chatcore.events import (
    Event,
    MembersChanged,
    MessageDeleted,
    MessagePinned,
    MessagesRead,
    MessageUnpinned,
    MessageUpdated,
    NewMessage,
    PresenceChanged,
    ReactionAdded,
    ReactionRemoved,
    RoomUpdated,
    Typing,
)
from chatcore.model import GroupAction, MessageId, MessageType, ReplyPreview, Role, RoomId, RoomType, UserId
from chatcore.views import MemberCard, MessageView, ReactionView, SystemInfo

TEXTS = ["", "hi", 'quote " back \\ slash', "héllo ✓ 日本語 😀", "line\nbreak\ttab \u2028 \u0001", "<b>&amp;</b>"]
TIMES = [
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    datetime(2026, 1, 2, 3, 4, 5, 123, tzinfo=UTC),
    datetime(2026, 1, 2, 3, 4, 5, 999999, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(1999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-8))),
    datetime(2026, 6, 1, 12, 0),  # naive: taken as UTC by both
]


def _view(rng: random.Random) -> MessageView:
    text, maybe = rng.choice(TEXTS), (lambda value: value if rng.random() < 0.5 else None)
    return MessageView(
        id=MessageId(rng.randrange(1, 2**63)),
        room_id=RoomId(rng.randrange(1, 10**6)),
        sender_id=UserId(rng.randrange(1, 10**6)),
        receiver_id=UserId(rng.randrange(1, 10**6)),
        sender_name=rng.choice(TEXTS),
        receiver_name=rng.choice(TEXTS),
        sender_avatar=maybe("https://hr.test/a.png?x=1&y=2"),
        receiver_avatar=maybe(text),
        message_type=rng.choice(list(MessageType)),
        content=maybe(text),
        file_name=maybe("report ✓.pdf"),
        file_path=maybe("chat_files/files/x.pdf"),
        file_size=maybe(rng.randrange(0, 50 * 2**20)),
        mime_type=maybe("application/pdf"),
        file_url=maybe("/static/chat_files/files/x.pdf?expires=1&sig=abc"),
        created_at=rng.choice(TIMES),
        updated_at=maybe(rng.choice(TIMES)),
        is_read=rng.random() < 0.5,
        is_deleted=rng.random() < 0.5,
        is_edited=rng.random() < 0.5,
        client_msg_id=maybe(text),
        system=maybe(SystemInfo(action=rng.choice(list(GroupAction)), actor_id=UserId(7), user_ids=[UserId(8)])),
        reply_to_id=maybe(MessageId(5)),
        reply_to=maybe(
            ReplyPreview(
                id=MessageId(5),
                sender_id=maybe(UserId(7)),
                message_type=maybe(rng.choice(list(MessageType))),
                preview=maybe(text),
                is_deleted=rng.random() < 0.5,
            )
        ),
        mentions=[UserId(n) for n in range(rng.randrange(0, 3))],
        reactions=[
            ReactionView(emoji=rng.choice(["👍", "👨‍👩‍👧", "#️⃣"]), user_ids=[UserId(n) for n in range(1, 3)])
            for _ in range(rng.randrange(0, 3))
        ],
        pinned_by=maybe(UserId(9)),
        pinned_at=maybe(rng.choice(TIMES)),
    )


def _card(rng: random.Random, n: int) -> MemberCard:
    return MemberCard(
        id=UserId(n),
        name=rng.choice(TEXTS),
        email="a@b.test",
        avatar_url=rng.choice([None, "https://hr.test/a.png"]),
        is_online=rng.random() < 0.5,
        role=rng.choice(list(Role)),
        joined_at=rng.choice(TIMES),
    )


def _events(rng: random.Random) -> list[Event]:
    view = _view(rng)
    return [
        NewMessage(message=view),
        MessageUpdated(message=view),
        MessageDeleted(id=view.id, room_id=view.room_id),
        MessagesRead(room_id=view.room_id, user_id=view.sender_id, last_read_message_id=rng.choice([None, view.id])),
        PresenceChanged(user_id=view.sender_id, user_name=view.sender_name, is_online=True, last_seen=view.created_at),
        Typing(
            room_id=view.room_id,
            user_id=view.sender_id,
            user_name=view.sender_name,
            is_typing=rng.random() < 0.5,
            typing_users=sorted({view.sender_id, UserId(1)}),
        ),
        RoomUpdated(
            room_id=view.room_id,
            kind=RoomType.GROUP,
            name=rng.choice(TEXTS),
            is_active=True,
            updated_at=view.created_at,
        ),
        MembersChanged(
            room_id=view.room_id,
            action=rng.choice(list(GroupAction)),
            actor_id=view.sender_id,
            added=[UserId(3)],
            removed=[],
            members=[_card(rng, n) for n in range(rng.randrange(0, 4))],
        ),
        ReactionAdded(room_id=view.room_id, message_id=view.id, emoji="👍🏽", user_id=view.sender_id),
        ReactionRemoved(room_id=view.room_id, message_id=view.id, emoji="❤️", user_id=view.sender_id),
        MessagePinned(room_id=view.room_id, message_id=view.id, user_id=view.sender_id, pinned_at=rng.choice(TIMES)),
        MessageUnpinned(room_id=view.room_id, message_id=view.id, user_id=view.sender_id),
    ]


def test_every_kind_of_event_is_encoded_here() -> None:
    assert {type(event) for event in _events(random.Random(0))} == set(typing.get_args(Event))


@pytest.mark.parametrize("seed", range(50))
def test_every_event_encodes_to_the_same_bytes(seed: int) -> None:
    for event in _events(random.Random(seed)):
        assert fast(event) == reference(event)
