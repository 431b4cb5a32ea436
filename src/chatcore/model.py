"""Entities and value objects of the chat domain, with the rules that belong to their data."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import NewType, Self

import attrs

from chatcore.errors import ForbiddenError, InvalidError

UserId = NewType("UserId", int)
RoomId = NewType("RoomId", int)
MessageId = NewType("MessageId", int)


class MessageType(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    FILE = "file"
    VOICE = "voice"
    SYSTEM = "system"  # a group's membership change, written by the server (contract section 11)


class RoomType(StrEnum):
    """The seed's `room_type`, also given as `kind`."""

    DIRECT = "direct"
    GROUP = "group"


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"  # everyone in a direct room


class GroupAction(StrEnum):
    CREATED = "created"
    RENAMED = "renamed"
    ADDED = "added"
    REMOVED = "removed"
    LEFT = "left"
    ROLE_CHANGED = "role_changed"
    OWNER_CHANGED = "owner_changed"
    CLOSED = "closed"


FILE_KINDS = frozenset({MessageType.IMAGE, MessageType.FILE, MessageType.VOICE})


FILE_PATH_PREFIX = "chat_files/"  # the seed's `file_path` is this prefix and the storage key


def file_path_of(key: str) -> str:
    return FILE_PATH_PREFIX + key


@attrs.frozen(kw_only=True)
class User:
    """A reference to a person in the host's user directory; the chat never owns more of them."""

    id: UserId
    name: str
    email: str
    avatar_url: str | None = None


@attrs.frozen(kw_only=True)
class Room:
    id: RoomId
    name: str
    room_type: RoomType
    created_by: UserId
    created_at: datetime
    updated_at: datetime
    is_active: bool = True


@attrs.frozen(kw_only=True)
class Member:
    """Someone in a room: their role, since when, how far they have read (`last_read`: the newest message id
    they marked read) and where their history starts (`history_from`: messages with a larger id are theirs to
    see; None for everything, as for the people who created the room)."""

    user_id: UserId
    role: Role = Role.MEMBER
    joined_at: datetime
    last_read: MessageId | None = None
    history_from: MessageId | None = None

    def seniority(self) -> tuple[datetime, int]:
        """Who has stood longest first; equal joining times by the smaller id, so the order never depends on
        how rows come back."""
        return self.joined_at, int(self.user_id)

    def received(self, message_id: MessageId) -> bool:
        """Whether the message reached this member: it came after their joining."""
        return self.history_from is None or message_id > self.history_from

    sees = received  # a member reading (Membership.sees): what reached them is what they may read

    def has_read(self, message_id: MessageId) -> bool:
        return self.last_read is not None and self.last_read >= message_id


@attrs.frozen(kw_only=True)
class Participant:
    room_id: RoomId
    user_id: UserId
    joined_at: datetime
    last_read_message_id: MessageId | None = None
    role: Role = Role.MEMBER
    history_from: MessageId | None = None

    def member(self) -> Member:
        return Member(
            user_id=self.user_id,
            role=self.role,
            joined_at=self.joined_at,
            last_read=self.last_read_message_id,
            history_from=self.history_from,
        )


@attrs.frozen(kw_only=True)
class Membership:
    """A room seen by one of its participants: who is on the other side of a direct chat (None in a group),
    and where the participant's history starts."""

    room: Room
    user_id: UserId
    other_user_id: UserId | None
    role: Role = Role.MEMBER
    history_from: MessageId | None = None

    @property
    def is_group(self) -> bool:
        return self.room.room_type is RoomType.GROUP

    def sees(self, message_id: MessageId) -> bool:
        """Whether the message is in this participant's history: it came after their joining."""
        return self.history_from is None or message_id > self.history_from

    def receiver_for(self, sender: UserId) -> UserId | None:
        """The other person of a direct room; a group message has no single receiver."""
        if self.is_group:
            return None
        other = self.other_user_id if self.other_user_id is not None else self.user_id
        return other if sender == self.user_id else self.user_id


@attrs.frozen(kw_only=True)
class SystemNote:
    """What a group change writes into the history as a `system` message (`system: {action, actor_id,
    user_ids}`); `role` and `name` say what a role change or a naming set."""

    action: GroupAction
    actor_id: UserId
    user_ids: tuple[UserId, ...] = ()
    role: Role | None = None
    name: str | None = None

    def sentence(self, names: Mapping[UserId, str]) -> str:
        """The human sentence of the message's `content`; unknown people by their id."""

        def who(user: UserId) -> str:
            return names.get(user) or f"user {user}"

        actor = who(self.actor_id)
        people = _listing([who(user) for user in self.user_ids])
        match self.action:
            case GroupAction.CREATED:
                return f"{actor} created the group {self.name}"
            case GroupAction.RENAMED:
                return f"{actor} renamed the group to {self.name}"
            case GroupAction.ADDED:
                return f"{actor} added {people}"
            case GroupAction.REMOVED:
                return f"{actor} removed {people}"
            case GroupAction.LEFT:
                return f"{actor} left"
            case GroupAction.ROLE_CHANGED:
                return f"{actor} made {people} {'an admin' if self.role is Role.ADMIN else 'a member'}"
            case GroupAction.OWNER_CHANGED:
                return f"{people} now owns the group"
            case GroupAction.CLOSED:
                return "The group was closed: its last member left"


def _listing(names: list[str]) -> str:
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + f" and {names[-1]}"


@attrs.frozen(kw_only=True)
class StoredFile:
    """Where an uploaded file lives and what it was checked to be."""

    key: str
    file_name: str
    file_size: int
    mime_type: str

    @property
    def file_path(self) -> str:
        return file_path_of(self.key)


@attrs.frozen(kw_only=True)
class Upload:
    """A file streamed in ahead of its message (`POST /uploads`); a message claims it by `upload_id`."""

    id: str
    user_id: UserId
    kind: MessageType
    file: StoredFile
    created_at: datetime


@attrs.frozen(kw_only=True)
class Reaction:
    """One emoji on a message and who put it there, as message objects carry them (`reactions`)."""

    emoji: str
    user_ids: tuple[UserId, ...]


PREVIEW_LENGTH = 120  # characters of a reply's preview


@attrs.frozen(kw_only=True)
class ReplyPreview:
    """What a reply shows of the message it answers (`reply_to`), built from the original as it is now: an
    edit shows, a deletion hides the text. `sender_id` and `message_type` are None once the original is gone
    from the store altogether."""

    id: MessageId
    sender_id: UserId | None
    message_type: MessageType | None
    preview: str | None
    is_deleted: bool

    @classmethod
    def of(cls, original: Message) -> ReplyPreview:
        text = None if original.is_deleted else original.content or original.file_name
        if text is not None and len(text) > PREVIEW_LENGTH:
            text = text[: PREVIEW_LENGTH - 1] + "…"
        return cls(
            id=original.id,
            sender_id=original.sender_id,
            message_type=original.message_type,
            preview=text,
            is_deleted=original.is_deleted,
        )

    @classmethod
    def gone(cls, message_id: MessageId) -> ReplyPreview:
        """The original no longer exists (purged): the reply still says it answered something."""
        return cls(id=message_id, sender_id=None, message_type=None, preview=None, is_deleted=True)

    def withheld(self) -> ReplyPreview:
        """What someone who may not read the original (they joined the group after it) sees of it: that there
        is one, nothing of it."""
        return attrs.evolve(self, sender_id=None, message_type=None, preview=None, is_deleted=False)

    @property
    def is_withheld(self) -> bool:
        return self.sender_id is None and not self.is_deleted


@attrs.frozen(kw_only=True)
class MessageDraft:
    """A message that passed every check and waits for its id."""

    room_id: RoomId
    sender_id: UserId
    receiver_id: UserId | None  # None in a group
    message_type: MessageType
    content: str | None
    file: StoredFile | None
    created_at: datetime
    client_msg_id: str | None = None
    system: SystemNote | None = None
    reply_to: ReplyPreview | None = None  # of the original as the send found it
    mentions: tuple[UserId, ...] = ()

    def stored(self, message_id: MessageId) -> Message:
        """The message this draft becomes once the store gave it an id: unread, unedited, not deleted."""
        file = self.file
        return Message(
            id=message_id,
            room_id=self.room_id,
            sender_id=self.sender_id,
            receiver_id=self.receiver_id,
            message_type=self.message_type,
            content=self.content,
            file_name=file.file_name if file else None,
            file_path=file.file_path if file else None,
            file_size=file.file_size if file else None,
            mime_type=file.mime_type if file else None,
            created_at=self.created_at,
            client_msg_id=self.client_msg_id,
            system=self.system,
            reply_to_id=None if self.reply_to is None else self.reply_to.id,
            reply_to=self.reply_to,
            mentions=self.mentions,
        )


@attrs.frozen(kw_only=True)
class Message:
    """`is_read` is not stored: the use cases set it from the members' read markers (`Member.has_read`).

    The store fills `reply_to` (from the original as it is when read), `reactions` and the pin on every message
    it returns; `mentions` are the members `<@ID>` named when the text was written.
    """

    id: MessageId
    room_id: RoomId
    sender_id: UserId
    receiver_id: UserId | None
    message_type: MessageType
    content: str | None
    file_name: str | None = None
    file_path: str | None = None
    file_size: int | None = None
    mime_type: str | None = None
    created_at: datetime
    updated_at: datetime | None = None
    is_read: bool = False
    is_deleted: bool = False
    is_edited: bool = False
    client_msg_id: str | None = None
    system: SystemNote | None = None
    reply_to_id: MessageId | None = None
    reply_to: ReplyPreview | None = None
    mentions: tuple[UserId, ...] = ()
    reactions: tuple[Reaction, ...] = ()
    pinned_by: UserId | None = None
    pinned_at: datetime | None = None

    @property
    def storage_key(self) -> str | None:
        """The storage key behind `file_path` ('chat_files/images/x.png' -> 'images/x.png')."""
        if self.file_path is None:
            return None
        return self.file_path.removeprefix(FILE_PATH_PREFIX)

    def preview(self) -> MessagePreview:
        return MessagePreview(
            id=self.id,
            sender_id=self.sender_id,
            message_type=self.message_type,
            content=self.content,
            created_at=self.created_at,
        )

    def edited(self, *, by: UserId, content: str, at: datetime, mentions: tuple[UserId, ...] = ()) -> Self:
        """`mentions` of the new text: an edit may name other members (and they hear of it if unread)."""
        if by != self.sender_id:
            raise ForbiddenError("only the sender may edit a message")
        if self.message_type is not MessageType.TEXT or self.is_deleted:
            raise ForbiddenError("only live text messages can be edited")
        return attrs.evolve(self, content=content, updated_at=at, is_edited=True, mentions=mentions)

    def deleted(self, *, by: UserId, at: datetime) -> Self:
        if by != self.sender_id:
            raise ForbiddenError("only the sender may delete a message")
        if self.message_type is MessageType.SYSTEM:
            raise ForbiddenError("a group's system messages stay in its history")
        return attrs.evolve(
            self,
            content=None,
            file_name=None,
            file_path=None,
            file_size=None,
            mime_type=None,
            updated_at=at,
            is_deleted=True,
            mentions=(),
            reactions=(),
            pinned_by=None,
            pinned_at=None,
        )


@attrs.frozen(kw_only=True)
class Presence:
    user_id: UserId
    is_online: bool
    last_seen: datetime | None = None


@attrs.frozen(kw_only=True)
class MessagePreview:
    """What a room list shows of a room's newest message: the store reads these columns and no others."""

    id: MessageId
    sender_id: UserId
    message_type: MessageType
    content: str | None
    created_at: datetime


@attrs.frozen(kw_only=True)
class RoomSummary:
    """One line of a user's room list, as the store computes it in one query.

    Flat (no Membership, a preview rather than the whole Message): a list of 1,000 rooms builds 1,000 of
    these, and each object and column less is measurable there.
    """

    room: Room
    other_user_id: UserId | None  # None for a group
    last_message: MessagePreview | None
    unread_count: int
    mention_count: int = 0  # unread messages that mention the user

    def activity(self) -> tuple[datetime, RoomId]:
        """The room list's sort key, newest first when reversed: last activity, then id (as the SQL orders)."""
        return self.room.updated_at, self.room.id


MAX_ID = 2**63 - 1  # ids are BIGINT
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@attrs.frozen(kw_only=True)
class RoomCursor:
    """Where a page of the room list ended: its last room's sort key (activity time, then id).

    A key rather than an offset or a room id: a room that moves to the top while a client pages on is
    neither listed twice nor makes the next page start over (the client hears of it as an event).
    """

    updated_at: datetime
    room_id: RoomId

    @classmethod
    def after(cls, room: Room) -> RoomCursor:
        return cls(updated_at=room.updated_at, room_id=room.id)

    def encode(self) -> str:
        """Opaque to clients: '<microseconds since 1970>.<room id>'."""
        return f"{(self.updated_at - _EPOCH) // _MICROSECOND}.{self.room_id}"

    @classmethod
    def decode(cls, text: str) -> RoomCursor:
        when, _, room = text.partition(".")
        digits = len(text) <= 40 and (when + room).isascii() and when.isdigit() and room.isdigit()
        if digits and 1 <= int(room) <= MAX_ID:
            try:
                return cls(updated_at=_EPOCH + int(when) * _MICROSECOND, room_id=RoomId(int(room)))
            except OverflowError:  # past the year 9999
                pass
        raise InvalidError("cursor is not one this server gave out", field="cursor")


@attrs.frozen(kw_only=True)
class HistoryQuery:
    """A page of a room's history: by page number, or by cursor around a message id."""

    page: int = 1
    per_page: int = 50
    before_id: MessageId | None = None
    after_id: MessageId | None = None

    @property
    def offset(self) -> int:
        return 0 if self.after_id is not None else (self.page - 1) * self.per_page
