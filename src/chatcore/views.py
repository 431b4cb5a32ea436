"""What clients see: the seed's response shapes, built from domain objects and user references."""

from __future__ import annotations

from datetime import datetime

import attrs

from chatcore.model import (
    GroupAction,
    Member,
    Message,
    MessageId,
    MessageType,
    Reaction,
    ReplyPreview,
    Role,
    Room,
    RoomId,
    RoomType,
    SystemNote,
    User,
    UserId,
)


@attrs.frozen(kw_only=True)
class UserCard:
    id: UserId
    name: str
    email: str
    avatar_url: str | None
    is_online: bool

    @classmethod
    def of(cls, user: User, *, is_online: bool) -> UserCard:
        return cls(id=user.id, name=user.name, email=user.email, avatar_url=user.avatar_url, is_online=is_online)


@attrs.frozen(kw_only=True)
class MemberCard:
    """A room's member as room objects and `members_changed` list them."""

    id: UserId
    name: str
    email: str
    avatar_url: str | None
    is_online: bool
    role: Role
    joined_at: datetime

    @classmethod
    def of(cls, member: Member, user: User, *, is_online: bool) -> MemberCard:
        return cls(
            id=member.user_id,
            name=user.name,
            email=user.email,
            avatar_url=user.avatar_url,
            is_online=is_online,
            role=member.role,
            joined_at=member.joined_at,
        )


def member_cards(members: list[Member], users: dict[UserId, User], online: set[UserId]) -> list[MemberCard]:
    return [
        MemberCard.of(m, users.get(m.user_id) or unknown_user(m.user_id), is_online=m.user_id in online)
        for m in members
    ]


@attrs.frozen(kw_only=True)
class SystemInfo:
    """The `system` field of a system message: what changed, who did it, and to whom."""

    action: GroupAction
    actor_id: UserId
    user_ids: list[UserId]

    @classmethod
    def of(cls, note: SystemNote | None) -> SystemInfo | None:
        if note is None:
            return None
        return cls(action=note.action, actor_id=note.actor_id, user_ids=list(note.user_ids))


@attrs.frozen(kw_only=True)
class ReactionView:
    """One entry of a message's `reactions`."""

    emoji: str
    user_ids: list[UserId]

    @classmethod
    def of(cls, reaction: Reaction) -> ReactionView:
        return cls(emoji=reaction.emoji, user_ids=list(reaction.user_ids))


@attrs.frozen(kw_only=True)
class LastMessage:
    id: MessageId
    content: str | None
    message_type: MessageType
    created_at: datetime
    sender_name: str
    sender_id: UserId  # beside the seed's sender_name: a group's list tells "You" apart by it


@attrs.frozen(kw_only=True)
class MessageView:
    id: MessageId
    room_id: RoomId
    sender_id: UserId
    receiver_id: UserId | None  # None in a group, and so are the receiver's name and avatar
    sender_name: str
    receiver_name: str | None
    sender_avatar: str | None
    receiver_avatar: str | None
    message_type: MessageType
    content: str | None
    file_name: str | None
    file_path: str | None
    file_size: int | None
    mime_type: str | None
    file_url: str | None
    created_at: datetime
    updated_at: datetime | None
    is_read: bool
    is_deleted: bool
    is_edited: bool
    client_msg_id: str | None
    system: SystemInfo | None = None
    reply_to_id: MessageId | None = None
    reply_to: ReplyPreview | None = None
    mentions: list[UserId] = attrs.field(factory=list)
    reactions: list[ReactionView] = attrs.field(factory=list)
    pinned_by: UserId | None = None
    pinned_at: datetime | None = None

    @classmethod
    def of(cls, message: Message, users: dict[UserId, User], *, file_url: str | None) -> MessageView:
        sender = users.get(message.sender_id) or unknown_user(message.sender_id)
        receiver_id = message.receiver_id
        receiver = None if receiver_id is None else users.get(receiver_id) or unknown_user(receiver_id)
        return cls(
            id=message.id,
            room_id=message.room_id,
            sender_id=message.sender_id,
            receiver_id=receiver_id,
            sender_name=sender.name,
            receiver_name=None if receiver is None else receiver.name,
            sender_avatar=sender.avatar_url,
            receiver_avatar=None if receiver is None else receiver.avatar_url,
            message_type=message.message_type,
            content=message.content,
            file_name=message.file_name,
            file_path=message.file_path,
            file_size=message.file_size,
            mime_type=message.mime_type,
            file_url=file_url,
            created_at=message.created_at,
            updated_at=message.updated_at,
            is_read=message.is_read,
            is_deleted=message.is_deleted,
            is_edited=message.is_edited,
            client_msg_id=message.client_msg_id,
            system=SystemInfo.of(message.system),
            reply_to_id=message.reply_to_id,
            reply_to=message.reply_to,
            mentions=list(message.mentions),
            reactions=[ReactionView.of(reaction) for reaction in message.reactions],
            pinned_by=message.pinned_by,
            pinned_at=message.pinned_at,
        )


def unknown_user(user_id: UserId) -> User:
    """Stands in for a user the directory no longer has (removed from the HRMS), so history still renders."""
    return User(id=user_id, name="Unknown user", email="", avatar_url=None)


@attrs.frozen(kw_only=True)
class RoomView:
    """The seed's room object, plus `kind` (= `room_type`) and `members`; a group has no `other_user`."""

    id: RoomId
    name: str
    room_type: RoomType
    created_by: UserId
    created_at: datetime
    updated_at: datetime
    is_active: bool
    other_user: UserCard | None
    last_message: LastMessage | None
    unread_count: int
    kind: RoomType
    members: list[MemberCard]
    mention_count: int = 0  # unread messages that mention the caller

    @classmethod
    def of(
        cls,
        room: Room,
        *,
        other_user: UserCard | None,
        last_message: LastMessage | None,
        unread_count: int,
        members: list[MemberCard],
        mention_count: int = 0,
    ) -> RoomView:
        return cls(
            id=room.id,
            name=room.name,
            room_type=room.room_type,
            created_by=room.created_by,
            created_at=room.created_at,
            updated_at=room.updated_at,
            is_active=room.is_active,
            other_user=other_user,
            last_message=last_message,
            unread_count=unread_count,
            kind=room.room_type,
            members=members,
            mention_count=mention_count,
        )


@attrs.frozen(kw_only=True)
class MessageList:
    messages: list[MessageView]
    total: int


@attrs.frozen(kw_only=True)
class RoomDetail(RoomView):
    message_list: MessageList


@attrs.frozen(kw_only=True)
class RoomPage:
    """The room list, or one page of it: `total` counts all the caller's rooms, `next_cursor` asks for more."""

    rooms: list[RoomView]
    total: int
    has_more: bool = False
    next_cursor: str | None = None


@attrs.frozen(kw_only=True)
class HistoryPage:
    messages: list[MessageView]
    total: int
    has_more: bool


@attrs.frozen(kw_only=True)
class PinList:
    """`GET /rooms/{id}/pins`: most recently pinned first."""

    messages: list[MessageView]


@attrs.frozen(kw_only=True)
class SearchHit:
    """One found message, with a part of its text around the matches and where they are in that part
    (`highlights`: [start, end) character offsets): plain text, for a client to mark up itself."""

    message: MessageView
    snippet: str
    highlights: list[list[int]]


@attrs.frozen(kw_only=True)
class SearchPage:
    """`GET /search`: newest first; `next_cursor` asks for the older ones."""

    results: list[SearchHit]
    has_more: bool
    next_cursor: str | None = None


@attrs.frozen(kw_only=True)
class OnlineUser:
    user_id: UserId
    last_seen: datetime | None
    is_online: bool


@attrs.frozen(kw_only=True)
class MessageReads:
    """`GET /rooms/{id}/messages/{message_id}/reads`: the members who received the message, by whether they
    have read it (its sender and those who joined after it are in neither list)."""

    message_id: MessageId
    read_by: list[UserCard]
    not_read_by: list[UserCard]
