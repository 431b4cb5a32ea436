"""Client intents: the input of the use cases, and the `data` of each client WebSocket event."""

from __future__ import annotations

import attrs

from chatcore.model import MessageType, RoomId, UserId


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
class Ping:
    pass


ClientCommand = SendMessage | SetTyping | JoinRoom | LeaveRoom | MarkRead | Ping

CLIENT_EVENTS: dict[str, type[ClientCommand]] = {
    "send_message": SendMessage,
    "typing": SetTyping,
    "join_room": JoinRoom,
    "leave_room": LeaveRoom,
    "mark_read": MarkRead,
    "ping": Ping,
}
