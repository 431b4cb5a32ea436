"""Server events, named like their wire `type`; each is encoded once and fanned out as bytes."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import attrs

from chatcore.model import MessageId, RoomId, UserId
from chatcore.views import MessageView


@attrs.frozen(kw_only=True)
class NewMessage:
    type: ClassVar[str] = "new_message"
    message: MessageView


@attrs.frozen(kw_only=True)
class MessageUpdated:
    type: ClassVar[str] = "message_updated"
    message: MessageView


@attrs.frozen(kw_only=True)
class MessageDeleted:
    type: ClassVar[str] = "message_deleted"
    id: MessageId
    room_id: RoomId


@attrs.frozen(kw_only=True)
class MessagesRead:
    type: ClassVar[str] = "messages_read"
    room_id: RoomId
    user_id: UserId
    last_read_message_id: MessageId | None


@attrs.frozen(kw_only=True)
class Typing:
    type: ClassVar[str] = "typing"
    room_id: RoomId
    user_id: UserId
    user_name: str
    is_typing: bool
    typing_users: list[UserId]


@attrs.frozen(kw_only=True)
class PresenceChanged:
    type: ClassVar[str] = "presence"
    user_id: UserId
    user_name: str
    is_online: bool
    last_seen: datetime | None


Event = NewMessage | MessageUpdated | MessageDeleted | MessagesRead | Typing | PresenceChanged


def user_channel(user: UserId) -> str:
    return f"user:{user}"


def room_channel(room_id: RoomId) -> str:
    return f"room:{room_id}"
