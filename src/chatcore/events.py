"""Server events, named like their wire `type`; each is encoded once and fanned out as bytes."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

import attrs

from chatcore.model import GroupAction, MessageId, RoomId, RoomType, UserId
from chatcore.views import MemberCard, MessageView


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
class ReactionAdded:
    type: ClassVar[str] = "reaction_added"
    room_id: RoomId
    message_id: MessageId
    emoji: str
    user_id: UserId


@attrs.frozen(kw_only=True)
class ReactionRemoved:
    type: ClassVar[str] = "reaction_removed"
    room_id: RoomId
    message_id: MessageId
    emoji: str
    user_id: UserId


@attrs.frozen(kw_only=True)
class MessagePinned:
    type: ClassVar[str] = "message_pinned"
    room_id: RoomId
    message_id: MessageId
    user_id: UserId
    pinned_at: datetime


@attrs.frozen(kw_only=True)
class MessageUnpinned:
    type: ClassVar[str] = "message_unpinned"
    room_id: RoomId
    message_id: MessageId
    user_id: UserId


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


@attrs.frozen(kw_only=True)
class RoomUpdated:
    """A group renamed: to every member."""

    type: ClassVar[str] = "room_updated"
    room_id: RoomId
    kind: RoomType
    name: str
    is_active: bool
    updated_at: datetime


@attrs.frozen(kw_only=True)
class MembersChanged:
    """Who is in a group now: to every member before the change, and to those it added. A socket's process
    reads `added` and `removed` to start or stop passing the group's events to it."""

    type: ClassVar[str] = "members_changed"
    room_id: RoomId
    action: GroupAction
    actor_id: UserId
    added: list[UserId]
    removed: list[UserId]
    members: list[MemberCard]


Event = (
    NewMessage
    | MessageUpdated
    | MessageDeleted
    | MessagesRead
    | Typing
    | PresenceChanged
    | RoomUpdated
    | MembersChanged
    | ReactionAdded
    | ReactionRemoved
    | MessagePinned
    | MessageUnpinned
)


def user_channel(user: UserId) -> str:
    return f"user:{user}"


def room_channel(room_id: RoomId) -> str:
    """The sockets that joined the room (typing)."""
    return f"room:{room_id}"


GROUP_CHANNEL = "group:"


def group_channel(room_id: RoomId) -> str:
    """Every socket of every member of a group, one subscription per group per process (the hub keeps which)."""
    return f"{GROUP_CHANNEL}{room_id}"
