"""In-memory fakes of every port: for the core's own tests, and for hosts testing code that uses chatcore.

They keep real state and the same rules as the real adapters (unique pairs, client_msg_id dedupe,
rollback unless committed), so a test against them says something about the real thing.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections import Counter, defaultdict
from collections.abc import AsyncIterable, AsyncIterator, Collection, Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self
from urllib.parse import quote

import attrs

from chatcore.broker import MemoryBroker
from chatcore.errors import ConflictError, InvalidError, NotFoundError
from chatcore.groups import Group
from chatcore.model import (
    HistoryQuery,
    Member,
    Membership,
    Message,
    MessageDraft,
    MessageId,
    MessageType,
    Participant,
    Presence,
    ReplyPreview,
    Room,
    RoomCursor,
    RoomId,
    RoomSummary,
    RoomType,
    Upload,
    User,
    UserId,
)
from chatcore.ports import Messages, PresenceLog, Rooms, Uploads
from chatcore.presence import MemoryLiveState
from chatcore.reactions import grouped, may_add
from chatcore.search import SearchQuery, matches, searchable

__all__ = [
    "FakeClock",
    "MemoryBroker",
    "MemoryDatabase",
    "MemoryLiveState",
    "MemoryStorage",
    "MemoryUnitOfWork",
    "MemoryUserDirectory",
    "SequentialIds",
]

log = logging.getLogger("chatcore.testing")


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2024, 1, 21, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)


class SequentialIds:
    """Predictable 'uuids' (00000000000000000000000000000001, ...) so tests can name stored files."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def uuid4(self) -> str:
        return f"{next(self._counter):032x}"


class MemoryUserDirectory:
    """Both the read-only directory and the registry of the service's own users."""

    def __init__(self, users: Collection[User] = ()) -> None:
        self._users: dict[UserId, User] = {user.id: user for user in users}
        self._ids = itertools.count(max(self._users, default=0) + 1)

    async def get_many(self, ids: Collection[UserId]) -> dict[UserId, User]:
        return {user_id: self._users[user_id] for user_id in ids if user_id in self._users}

    def remove(self, user_id: UserId) -> None:
        """As a host removes an employee from its own table: the chat is not told."""
        self._users.pop(user_id, None)

    async def search_email(self, fragment: str, *, exclude: UserId, limit: int) -> list[User]:
        needle = fragment.casefold()
        found = [u for u in self._users.values() if needle in u.email.casefold() and u.id != exclude]
        return sorted(found, key=lambda u: u.email.casefold())[:limit]

    def _by_email(self, email: str) -> User | None:
        return next((u for u in self._users.values() if u.email.casefold() == email.casefold()), None)

    async def add(self, *, name: str, email: str, avatar_url: str | None = None) -> User:
        if self._by_email(email) is not None:
            raise ConflictError(f"a user with email {email} exists", field="email")
        user = User(id=UserId(next(self._ids)), name=name, email=email, avatar_url=avatar_url)
        self._users[user.id] = user
        return user

    async def upsert_by_email(self, *, name: str, email: str, avatar_url: str | None = None) -> tuple[User, bool]:
        existing = self._by_email(email)
        if existing is None:
            return await self.add(name=name, email=email, avatar_url=avatar_url), True
        user = attrs.evolve(existing, name=name, avatar_url=avatar_url)
        self._users[user.id] = user
        return user, False


@attrs.define
class _Tables:
    rooms: dict[RoomId, Room] = attrs.field(factory=dict)
    participants: dict[tuple[RoomId, UserId], Participant] = attrs.field(factory=dict)
    messages: dict[MessageId, Message] = attrs.field(factory=dict)
    presence: dict[UserId, Presence] = attrs.field(factory=dict)
    uploads: dict[str, Upload] = attrs.field(factory=dict)
    versions: dict[RoomId, int] = attrs.field(factory=dict)  # chat_rooms.version; merged as increments
    reactions: dict[tuple[MessageId, UserId, str], int] = attrs.field(factory=dict)  # -> arrival order
    pins: dict[MessageId, tuple[UserId, datetime, int]] = attrs.field(factory=dict)  # -> by, at, order


class MemoryDatabase:
    """The committed state that every MemoryUnitOfWork starts from; call it to get a unit of work."""

    def __init__(self) -> None:
        self.tables = _Tables()
        self.commits = 0
        self._sequences = {name: itertools.count(1) for name in ("rooms", "messages", "reactions", "pins")}

    def __call__(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self)

    def next_id(self, table: str) -> int:
        """Like a SQL sequence: shared by every unit of work, never reused, not rolled back."""
        return next(self._sequences[table])


def _pair_key(a: UserId, b: UserId) -> tuple[UserId, UserId]:
    return (a, b) if a < b else (b, a)


def _check_unique(tables: _Tables) -> None:
    """The constraints the SQL schema enforces: one direct room per pair, one client_msg_id per sender."""
    pairs: set[tuple[UserId, UserId]] = set()
    by_room: dict[RoomId, list[UserId]] = defaultdict(list)
    for room_id, user_id in tables.participants:
        by_room[room_id].append(user_id)
    for room_id, members in by_room.items():
        if tables.rooms[room_id].room_type is RoomType.DIRECT and len(members) == 2:
            pair = _pair_key(members[0], members[1])
            if pair in pairs:
                raise ConflictError("a direct room for this pair exists")
            pairs.add(pair)
    client_ids: set[tuple[UserId, str]] = set()
    for message in tables.messages.values():
        if message.client_msg_id is not None:
            key = (message.sender_id, message.client_msg_id)
            if key in client_ids:
                raise ConflictError("client_msg_id was already used", field="client_msg_id")
            client_ids.add(key)


def _copy(tables: _Tables) -> _Tables:
    return _Tables(
        rooms=dict(tables.rooms),
        participants=dict(tables.participants),
        messages=dict(tables.messages),
        presence=dict(tables.presence),
        uploads=dict(tables.uploads),
        versions=dict(tables.versions),
        reactions=dict(tables.reactions),
        pins=dict(tables.pins),
    )


class MemoryUnitOfWork:
    """Works on a private copy of the committed state; commit merges its changes back."""

    def __init__(self, db: MemoryDatabase) -> None:
        self._db = db
        self._start = db.tables
        self.tables = _copy(db.tables)
        self._bumps: Counter[RoomId] = Counter()
        # Typed as the ports (the UnitOfWork protocol's attributes are invariant), as the SQL store does.
        self.rooms: Rooms = _MemoryRooms(self)
        self.messages: Messages = _MemoryMessages(self)
        self.presence: PresenceLog = _MemoryPresence(self)
        self.uploads: Uploads = _MemoryUploads(self)

    async def __aenter__(self) -> Self:
        self._start = self._db.tables
        self.tables = _copy(self._start)
        self._bumps.clear()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.rollback()

    async def commit(self) -> None:
        """Apply this unit's changes onto the committed state, re-checking constraints there."""
        merged = _copy(self._db.tables)
        for name in ("rooms", "participants", "messages", "presence", "uploads", "reactions", "pins"):
            mine, before, target = getattr(self.tables, name), getattr(self._start, name), getattr(merged, name)
            for key, value in mine.items():
                if before.get(key) is not value:
                    target[key] = value
            for key in before.keys() - mine.keys():  # deleted in this unit
                if key not in target:  # a database would have made us wait, then delete nothing
                    raise ConflictError(f"a {name} row was removed by another unit of work meanwhile")
                del target[key]
        for room_id, bumps in self._bumps.items():  # like `version = version + 1`: no increment is lost
            merged.versions[room_id] = merged.versions.get(room_id, 0) + bumps
        self._bumps.clear()
        _check_unique(merged)
        self._db.tables = merged
        self._db.commits += 1
        self._start = merged
        self.tables = _copy(merged)

    async def rollback(self) -> None:
        self.tables = _copy(self._start)
        self._bumps.clear()

    def room_changed(self, room_id: RoomId) -> None:
        """What the SQL store's `room_changed` does: the room's version grows by one at commit."""
        if room_id in self.tables.rooms:
            self.tables.versions[room_id] = self.tables.versions.get(room_id, 0) + 1
            self._bumps[room_id] += 1

    def next_id(self, table: str) -> int:
        return self._db.next_id(table)


class _MemoryRooms:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    def _members(self, room_id: RoomId) -> list[UserId]:
        return [user for (room, user) in self._uow.tables.participants if room == room_id]

    async def direct_between(self, a: UserId, b: UserId) -> Room | None:
        for room in self._uow.tables.rooms.values():
            if room.room_type is RoomType.DIRECT and set(self._members(room.id)) == {a, b}:
                return room
        return None

    async def create_direct(self, *, created_by: UserId, other: UserId, name: str, at: datetime) -> Room:
        tables = self._uow.tables
        if await self.direct_between(created_by, other) is not None:
            await self._uow.rollback()  # like SQL: a failed statement ends the transaction
            raise ConflictError("a direct room for this pair exists")
        room = Room(
            id=RoomId(self._uow.next_id("rooms")),
            name=name,
            room_type=RoomType.DIRECT,
            created_by=created_by,
            created_at=at,
            updated_at=at,
        )
        tables.rooms[room.id] = room
        for user in (created_by, other):
            tables.participants[(room.id, user)] = Participant(room_id=room.id, user_id=user, joined_at=at)
        return room

    async def create_group(self, *, created_by: UserId, name: str, members: Sequence[Member], at: datetime) -> Room:
        tables = self._uow.tables
        room = Room(
            id=RoomId(self._uow.next_id("rooms")),
            name=name,
            room_type=RoomType.GROUP,
            created_by=created_by,
            created_at=at,
            updated_at=at,
        )
        tables.rooms[room.id] = room
        for m in members:
            tables.participants[(room.id, m.user_id)] = Participant(
                room_id=room.id, user_id=m.user_id, joined_at=m.joined_at, role=m.role
            )
        return room

    async def lock(self, room_id: RoomId) -> Room | None:
        room = self._uow.tables.rooms.get(room_id)
        if room is not None:
            self._uow.room_changed(room_id)
        return room

    def _newest(self, room_id: RoomId) -> MessageId | None:
        return max((m.id for m in self._uow.tables.messages.values() if m.room_id == room_id), default=None)

    async def save_group(self, room_id: RoomId, group: Group, *, at: datetime) -> None:
        tables = self._uow.tables
        room = tables.rooms[room_id]
        tables.rooms[room_id] = attrs.evolve(room, name=group.name, is_active=group.is_active, updated_at=at)
        wanted = {m.user_id: m for m in group.members}
        for key in [key for key in tables.participants if key[0] == room_id and key[1] not in wanted]:
            del tables.participants[key]
        newest = self._newest(room_id)
        for user, m in wanted.items():
            stored = tables.participants.get((room_id, user))
            if stored is None:
                tables.participants[(room_id, user)] = Participant(
                    room_id=room_id,
                    user_id=user,
                    joined_at=m.joined_at,
                    role=m.role,
                    last_read_message_id=newest,
                    history_from=newest,
                )
            elif stored.role is not m.role:
                tables.participants[(room_id, user)] = attrs.evolve(stored, role=m.role)
        self._uow.room_changed(room_id)

    async def members(self, room_id: RoomId) -> list[Member]:
        return (await self.members_of([room_id]))[room_id]

    async def members_of(self, room_ids: Collection[RoomId]) -> dict[RoomId, list[Member]]:
        found: dict[RoomId, list[Member]] = {room: [] for room in room_ids}
        for (room, _), participant in self._uow.tables.participants.items():
            if room in found:
                found[room].append(participant.member())
        return {room: sorted(members, key=Member.seniority) for room, members in found.items()}

    async def group_ids(self, user: UserId) -> list[RoomId]:
        tables = self._uow.tables
        return sorted(
            room
            for (room, who) in tables.participants
            if who == user and tables.rooms[room].room_type is RoomType.GROUP and tables.rooms[room].is_active
        )

    async def membership(self, user: UserId, room_id: RoomId) -> Membership:
        tables = self._uow.tables
        room = tables.rooms.get(room_id)
        me = tables.participants.get((room_id, user))
        if room is None or me is None:
            raise NotFoundError("room not found", field="room_id")
        other = None
        if room.room_type is RoomType.DIRECT:
            other = next((m for m in self._members(room_id) if m != user), user)
        return Membership(room=room, user_id=user, other_user_id=other, role=me.role, history_from=me.history_from)

    async def summaries(
        self,
        user: UserId,
        room_ids: Collection[RoomId] | None = None,
        *,
        after: RoomCursor | None = None,
        limit: int | None = None,
    ) -> list[RoomSummary]:
        tables = self._uow.tables
        mine = [room for (room, who) in tables.participants if who == user]
        if room_ids is not None:
            mine = [room for room in mine if room in room_ids]
        unread = await self.unread_counts(user)
        found = []
        for room_id in mine:
            in_room = [m for m in tables.messages.values() if m.room_id == room_id]
            mark = tables.participants[(room_id, user)].last_read_message_id or 0
            mentioned = [m for m in in_room if m.id > mark and user in m.mentions and m.sender_id != user]
            last = max(in_room, key=lambda m: m.id) if in_room else None
            membership = await self.membership(user, room_id)
            found.append(
                RoomSummary(
                    room=membership.room,
                    other_user_id=membership.other_user_id,
                    last_message=None if last is None else last.preview(),
                    unread_count=unread.get(room_id, 0),
                    mention_count=sum(1 for m in mentioned if not m.is_deleted),
                )
            )
        found.sort(key=RoomSummary.activity, reverse=True)
        if after is not None:
            found = [s for s in found if s.activity() < (after.updated_at, after.room_id)]
        return found if limit is None else found[:limit]

    async def count(self, user: UserId) -> int:
        return sum(1 for (_, who) in self._uow.tables.participants if who == user)

    async def versions(self, user: UserId) -> dict[RoomId, int]:
        tables = self._uow.tables
        return {room: tables.versions.get(room, 0) for (room, who) in tables.participants if who == user}

    async def touch(self, room_id: RoomId, at: datetime) -> None:
        tables = self._uow.tables
        if room_id in tables.rooms:  # like an UPDATE that matches no row
            tables.rooms[room_id] = attrs.evolve(tables.rooms[room_id], updated_at=at)
            self._uow.room_changed(room_id)

    async def co_participants(self, user: UserId) -> set[UserId]:
        rooms = {room for (room, who) in self._uow.tables.participants if who == user}
        return {who for (room, who) in self._uow.tables.participants if room in rooms and who != user}

    async def mark_read(self, room_id: RoomId, user: UserId) -> MessageId | None:
        tables = self._uow.tables
        key = (room_id, user)
        if key not in tables.participants:
            raise NotFoundError("room not found", field="room_id")
        before = tables.participants[key].last_read_message_id
        newest = self._newest(room_id)
        if newest is not None and (before is None or newest > before):
            tables.participants[key] = attrs.evolve(tables.participants[key], last_read_message_id=newest)
            self._uow.room_changed(room_id)
            return newest
        return before

    async def unread_counts(self, user: UserId) -> dict[RoomId, int]:
        tables = self._uow.tables
        marks = {room: p.last_read_message_id or 0 for (room, who), p in tables.participants.items() if who == user}
        counts = dict.fromkeys(marks, 0)
        for m in tables.messages.values():
            counted = m.sender_id != user and not m.is_deleted and m.message_type is not MessageType.SYSTEM
            if counted and m.room_id in marks and m.id > marks[m.room_id]:
                counts[m.room_id] += 1
        return counts


class _MemoryMessages:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    async def add(self, draft: MessageDraft) -> Message:
        tables = self._uow.tables
        if draft.client_msg_id is not None and await self.by_client_msg_id(draft.sender_id, draft.client_msg_id):
            await self._uow.rollback()  # like SQL: a failed statement ends the transaction
            raise ConflictError("client_msg_id was already used", field="client_msg_id")
        if draft.room_id not in tables.rooms:
            await self._uow.rollback()
            raise NotFoundError("room not found", field="room_id")
        message = draft.stored(MessageId(self._uow.next_id("messages")))
        tables.messages[message.id] = message
        self._uow.room_changed(message.room_id)
        return message

    def _full(self, message: Message) -> Message:
        """What the SQL store reads beside a message: the reply's original as it is now, reactions, the pin."""
        tables = self._uow.tables
        reply_to = None
        if message.reply_to_id is not None:
            original = tables.messages.get(message.reply_to_id)
            reply_to = ReplyPreview.of(original) if original else ReplyPreview.gone(message.reply_to_id)
        rows = sorted(
            (order, emoji, user) for (mid, user, emoji), order in tables.reactions.items() if mid == message.id
        )
        pin = tables.pins.get(message.id)
        return attrs.evolve(
            message,
            reply_to=reply_to,
            reactions=tuple(grouped((emoji, user) for _, emoji, user in rows)),
            pinned_by=None if pin is None else pin[0],
            pinned_at=None if pin is None else pin[1],
        )

    async def get(self, message_id: MessageId) -> Message | None:
        found = self._uow.tables.messages.get(message_id)
        return None if found is None else self._full(found)

    async def by_client_msg_id(self, sender: UserId, client_msg_id: str) -> Message | None:
        return next(
            (
                self._full(m)
                for m in self._uow.tables.messages.values()
                if m.sender_id == sender and m.client_msg_id == client_msg_id
            ),
            None,
        )

    async def save(self, message: Message) -> None:
        tables = self._uow.tables
        if message.id not in tables.messages:
            raise NotFoundError("message not found", field="message_id")
        tables.messages[message.id] = message
        if message.is_deleted:
            for key in [key for key in tables.reactions if key[0] == message.id]:
                del tables.reactions[key]
            tables.pins.pop(message.id, None)
        self._uow.room_changed(message.room_id)

    async def add_reaction(self, message_id: MessageId, user: UserId, emoji: str, *, at: datetime, limit: int) -> bool:
        tables = self._uow.tables
        message = tables.messages.get(message_id)
        if message is None:
            raise NotFoundError("message not found", field="message_id")
        if message.is_deleted:
            raise ConflictError("a deleted message takes no reactions", field="message_id")
        if (message_id, user, emoji) in tables.reactions:
            return False
        if not may_add({e for (mid, _, e) in tables.reactions if mid == message_id}, emoji, limit=limit):
            raise ConflictError(f"a message has at most {limit} different reactions", field="emoji")
        tables.reactions[(message_id, user, emoji)] = self._uow.next_id("reactions")
        return True

    async def remove_reaction(self, message_id: MessageId, user: UserId, emoji: str) -> bool:
        return self._uow.tables.reactions.pop((message_id, user, emoji), None) is not None

    async def pin(self, message_id: MessageId, *, by: UserId, at: datetime) -> bool:
        tables = self._uow.tables
        if message_id not in tables.messages:
            raise NotFoundError("message not found", field="message_id")
        if message_id in tables.pins:
            return False
        tables.pins[message_id] = (by, at, self._uow.next_id("pins"))
        return True

    async def unpin(self, message_id: MessageId) -> bool:
        return self._uow.tables.pins.pop(message_id, None) is not None

    async def pins(self, room_id: RoomId, *, visible_after: MessageId | None = None) -> list[Message]:
        tables = self._uow.tables
        after = visible_after or 0
        pinned = [mid for mid in tables.pins if mid > after and tables.messages[mid].room_id == room_id]
        pinned.sort(key=lambda mid: (tables.pins[mid][1], mid), reverse=True)  # by pinned_at as SQL orders
        return [self._full(tables.messages[mid]) for mid in pinned]

    async def search(self, user: UserId, query: SearchQuery) -> list[Message]:
        tables = self._uow.tables
        starts = {room: p.history_from or 0 for (room, who), p in tables.participants.items() if who == user}
        found = [
            m
            for m in tables.messages.values()
            if m.room_id in starts
            and m.id > starts[m.room_id]
            and not m.is_deleted
            and (query.room_id is None or m.room_id == query.room_id)
            and (query.sender_id is None or m.sender_id == query.sender_id)
            and (query.after is None or m.created_at >= query.after)
            and (query.before is None or m.created_at < query.before)
            and (query.before_id is None or m.id < query.before_id)
            and matches(query.terms, searchable(m.message_type, m.content, m.file_name))
        ]
        found.sort(key=lambda m: m.id, reverse=True)
        return [self._full(m) for m in found[: query.limit + 1]]

    def _in_room(self, room_id: RoomId, visible_after: MessageId | None = None) -> list[Message]:
        after = visible_after or 0
        return sorted(
            (self._full(m) for m in self._uow.tables.messages.values() if m.room_id == room_id and m.id > after),
            key=lambda m: m.id,
        )

    async def history(
        self, room_id: RoomId, query: HistoryQuery, *, visible_after: MessageId | None = None
    ) -> tuple[list[Message], bool]:
        messages = self._in_room(room_id, visible_after)
        if query.after_id is not None:
            after = [m for m in messages if m.id > query.after_id]
            return after[: query.per_page], len(after) > query.per_page
        newest = [m for m in reversed(messages) if query.before_id is None or m.id < query.before_id]
        page = newest[query.offset : query.offset + query.per_page]
        return page, len(newest) > query.offset + query.per_page

    async def latest(self, room_id: RoomId, limit: int, *, visible_after: MessageId | None = None) -> list[Message]:
        return self._in_room(room_id, visible_after)[-limit:] if limit > 0 else []

    async def count(self, room_id: RoomId, *, visible_after: MessageId | None = None) -> int:
        return len(self._in_room(room_id, visible_after))

    async def with_file(self, key: str) -> Message | None:
        found = (m for m in self._uow.tables.messages.values() if m.storage_key == key and not m.is_deleted)
        return next((self._full(m) for m in found), None)

    async def referenced_keys(self, keys: Collection[str]) -> set[str]:
        wanted = set(keys)
        return {
            key
            for m in self._uow.tables.messages.values()
            if not m.is_deleted and (key := m.storage_key) is not None and key in wanted
        }


class _MemoryUploads:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    async def add(self, upload: Upload) -> None:
        self._uow.tables.uploads[upload.id] = upload

    async def take(self, upload_id: str, user: UserId) -> Upload | None:
        upload = self._uow.tables.uploads.get(upload_id)
        if upload is None or upload.user_id != user:
            return None
        del self._uow.tables.uploads[upload_id]
        return upload

    async def older_than(self, when: datetime, limit: int) -> list[Upload]:
        found = sorted(
            (u for u in self._uow.tables.uploads.values() if u.created_at < when), key=lambda u: u.created_at
        )
        return found[:limit]

    async def remove(self, upload_ids: Collection[str]) -> None:
        for upload_id in upload_ids:
            self._uow.tables.uploads.pop(upload_id, None)

    async def referenced_keys(self, keys: Collection[str]) -> set[str]:
        wanted = set(keys)
        return {u.file.key for u in self._uow.tables.uploads.values() if u.file.key in wanted}


class _MemoryPresence:
    def __init__(self, uow: MemoryUnitOfWork) -> None:
        self._uow = uow

    async def save(self, presence: Presence) -> None:
        self._uow.tables.presence[presence.user_id] = presence

    async def get_many(self, ids: Collection[UserId]) -> dict[UserId, Presence]:
        table = self._uow.tables.presence
        return {user: table[user] for user in ids if user in table}


_STORAGE_KEY = re.compile(r"^[A-Za-z0-9_-]+(/[^/\\\x00]+)+$")


class MemoryStorage:
    """Files in a dict; URLs are opaque `memory://` strings that carry their expiry."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        self.names: dict[str, str | None] = {}  # the names files were sent with, as put() was told
        self._clock = clock or FakeClock()

    @staticmethod
    def _checked(key: str) -> str:
        """The real adapters' key rule (LocalStorage.path): relative, under a top folder, no '.' or '..'."""
        if not _STORAGE_KEY.match(key) or any(part in {".", ".."} for part in key.split("/")):
            raise InvalidError(f"bad storage key {key!r}")
        return key

    async def put(self, key: str, data: bytes, content_type: str, *, file_name: str | None = None) -> None:
        self.files[self._checked(key)] = (bytes(data), content_type)
        self.names[key] = file_name

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], content_type: str, *, file_name: str | None = None
    ) -> int:
        self._checked(key)
        data = bytearray()
        async for chunk in chunks:
            data += chunk
        self.files[key] = (bytes(data), content_type)
        self.names[key] = file_name
        return len(data)

    async def get(self, key: str) -> bytes:
        if self._checked(key) not in self.files:
            raise NotFoundError("file not found")
        return self.files[key][0]

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        data = await self.get(key)
        for start in range(0, len(data), 65536):
            yield data[start : start + 65536]

    async def exists(self, key: str) -> bool:
        return self._checked(key) in self.files

    async def delete(self, key: str) -> None:
        self.files.pop(self._checked(key), None)
        self.names.pop(key, None)

    async def url(self, key: str, *, expires_in: timedelta) -> str:
        self._checked(key)
        expires = int((self._clock.now() + expires_in).timestamp())
        return f"memory://{quote(key)}?expires={expires}"

    async def keys(self) -> AsyncIterator[str]:
        for key in sorted(self.files):
            yield key
