"""Client intents: the input of the use cases, and the `data` of each client WebSocket event."""

from __future__ import annotations

import attrs

from chatcore.model import MessageId, MessageType, RoomId, UserId


@attrs.frozen(kw_only=True)
class SendMessage:
    room_id: RoomId | None = None
    receiver_id: UserId | None = None
    message_type: MessageType = MessageType.TEXT
    content: str | None = None
    file_data: str | None = None
    file_name: str | None = None
    file_size: int | None = None
    mime_type: str | None = None
    client_msg_id: str | None = None
    upload_id: str | None = None
    reply_to_id: MessageId | None = None


@attrs.frozen(kw_only=True)
class SetTyping:
    room_id: RoomId | None = None
    is_typing: bool = True


@attrs.frozen(kw_only=True)
class JoinRoom:
    room_id: RoomId


@attrs.frozen(kw_only=True)
class LeaveRoom:
    room_id: RoomId | None = None


@attrs.frozen(kw_only=True)
class MarkRead:
    room_id: RoomId | None = None


@attrs.frozen(kw_only=True)
class AddReaction:
    message_id: MessageId
    emoji: str


@attrs.frozen(kw_only=True)
class RemoveReaction:
    message_id: MessageId
    emoji: str


@attrs.frozen(kw_only=True)
class Ping:
    pass


ClientCommand = SendMessage | SetTyping | JoinRoom | LeaveRoom | MarkRead | AddReaction | RemoveReaction | Ping

CLIENT_EVENTS: dict[str, type[ClientCommand]] = {
    "send_message": SendMessage,
    "typing": SetTyping,
    "join_room": JoinRoom,
    "leave_room": LeaveRoom,
    "mark_read": MarkRead,
    "add_reaction": AddReaction,
    "remove_reaction": RemoveReaction,
    "ping": Ping,
}
