"""The ports: what the core needs from the outside world, each a small Protocol named by its role.

Adapters need not inherit from these; mypy checks them where they are wired.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Collection, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Protocol, Self

from chatcore.groups import Group
from chatcore.model import (
    HistoryQuery,
    Member,
    Membership,
    Message,
    MessageDraft,
    MessageId,
    Presence,
    Room,
    RoomCursor,
    RoomId,
    RoomSummary,
    Upload,
    User,
    UserId,
)
from chatcore.search import SearchQuery


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware UTC."""
        ...


class IdSource(Protocol):
    def uuid4(self) -> str:
        """A fresh random id as 32 hex digits, for stored file names and upload ids."""
        ...


class UserDirectory(Protocol):
    """Read-only view of the people who can chat: the service's own table or the host's."""

    async def get_many(self, ids: Collection[UserId]) -> dict[UserId, User]: ...

    async def search_email(self, fragment: str, *, exclude: UserId, limit: int) -> list[User]:
        """Case-insensitive substring match on email, ordered by email."""
        ...


class UserRegistry(Protocol):
    """Writes to the service's own users table (never to a host's)."""

    async def add(self, *, name: str, email: str, avatar_url: str | None = None) -> User:
        """ConflictError if the email is taken (emails compare case-insensitively)."""
        ...

    async def upsert_by_email(self, *, name: str, email: str, avatar_url: str | None = None) -> tuple[User, bool]:
        """Create or update the user with this email; True when created."""
        ...


class Rooms(Protocol):
    async def direct_between(self, a: UserId, b: UserId) -> Room | None: ...

    async def create_direct(self, *, created_by: UserId, other: UserId, name: str, at: datetime) -> Room:
        """Room plus both participants. ConflictError if the pair already has one (a unique constraint)."""
        ...

    async def create_group(self, *, created_by: UserId, name: str, members: Sequence[Member], at: datetime) -> Room:
        """A group room (`room_type` group, no direct key) with these members and their roles."""
        ...

    async def lock(self, room_id: RoomId) -> Room | None:
        """The room with its row locked until the transaction ends and its version bumped, so concurrent changes
        to one group (on any process) run one after the other; None if there is no such room."""
        ...

    async def save_group(self, room_id: RoomId, group: Group, *, at: datetime) -> None:
        """Make the stored group what `group` says: name, `is_active`, `updated_at` = `at`, members and roles.
        Members not stored yet are added with `history_from` and `last_read` at the room's newest message (they
        see and count what comes after their joining); members no longer listed are removed."""
        ...

    async def members(self, room_id: RoomId) -> list[Member]:
        """Everyone in the room, longest-standing first (`Member.seniority`), with read markers."""
        ...

    async def members_of(self, room_ids: Collection[RoomId]) -> dict[RoomId, list[Member]]:
        """`members` of several rooms in one statement (every listed room has a key)."""
        ...

    async def group_ids(self, user: UserId) -> list[RoomId]:
        """The active groups `user` is in, by id: the channels a new socket of theirs listens to."""
        ...

    async def membership(self, user: UserId, room_id: RoomId) -> Membership:
        """NotFoundError unless `user` is a participant."""
        ...

    async def summaries(
        self,
        user: UserId,
        room_ids: Collection[RoomId] | None = None,
        *,
        after: RoomCursor | None = None,
        limit: int | None = None,
    ) -> list[RoomSummary]:
        """Rooms of `user` (all, or those listed) with last message, unread count and unread mentions of `user`
        (`mention_count`: live messages past their read marker whose `mentions` name them), newest activity
        first; only those after `after` in that order, at most `limit` of them.

        Runs a fixed number of statements whatever the number of rooms and messages.
        """
        ...

    async def count(self, user: UserId) -> int:
        """How many rooms `user` is in."""
        ...

    async def versions(self, user: UserId) -> dict[RoomId, int]:
        """Every room of `user` with its version, a number that grows with every change to what `summaries` says
        of the room (a message sent, edited, deleted or read) in the transaction making it: a room whose version
        is unchanged has an unchanged summary. One statement, without the messages."""
        ...

    async def touch(self, room_id: RoomId, at: datetime) -> None: ...

    async def co_participants(self, user: UserId) -> set[UserId]:
        """Everyone who shares a room with `user`."""
        ...

    async def mark_read(self, room_id: RoomId, user: UserId) -> MessageId | None:
        """Move `user`'s read marker (`last_read`) to the room's newest message, never back, bumping the room's
        version when it moved; the marker after. NotFoundError unless `user` is in the room. The room's row is
        locked first, as a send locks it, so no message can commit below the marker after it was read."""
        ...

    async def unread_counts(self, user: UserId) -> dict[RoomId, int]:
        """Every room of `user`, zeros included: others' messages past their read marker; deleted and system
        messages do not count."""
        ...


class Messages(Protocol):
    """Every message returned carries what the store keeps beside it: `reply_to` built from the original as it
    is now (`ReplyPreview.gone` if no longer stored), `reactions` grouped by emoji in the order they came (each
    emoji's users in the order they reacted), `mentions`, and the pin."""

    async def add(self, draft: MessageDraft) -> Message:
        """ConflictError if (sender, client_msg_id) was already used. Bumps the room's version, not its
        `updated_at` (`Rooms.touch` does). Stores `reply_to_id` and `mentions` (for `mention_count`)."""
        ...

    async def get(self, message_id: MessageId) -> Message | None: ...

    async def by_client_msg_id(self, sender: UserId, client_msg_id: str) -> Message | None: ...

    async def save(self, message: Message) -> None:
        """Persist content, file fields, flags, `updated_at` and `mentions` of an existing message, bumping its
        room's version. A deleted message loses its reactions and its pin with its content."""
        ...

    async def add_reaction(self, message_id: MessageId, user: UserId, emoji: str, *, at: datetime, limit: int) -> bool:
        """Add `user`'s reaction with `emoji`; False if it was there already. Decided under a lock of the
        message's row, with one row per (message, user, emoji) kept by a unique constraint, so concurrent adds on
        any process neither duplicate nor pass the limit: ConflictError, nothing added, when the message already
        has `limit` distinct emoji and not this one, or is deleted (or gone: NotFoundError)."""
        ...

    async def remove_reaction(self, message_id: MessageId, user: UserId, emoji: str) -> bool:
        """Remove `user`'s reaction with `emoji`; False if there was none."""
        ...

    async def pin(self, message_id: MessageId, *, by: UserId, at: datetime) -> bool:
        """Pin the message; False (and the first pin kept) if it was pinned already."""
        ...

    async def unpin(self, message_id: MessageId) -> bool:
        """False if it was not pinned."""
        ...

    async def pins(self, room_id: RoomId, *, visible_after: MessageId | None = None) -> list[Message]:
        """The room's pinned messages (above `visible_after`), most recently pinned first."""
        ...

    async def search(self, user: UserId, query: SearchQuery) -> list[Message]:
        """Live messages `user` may read (of their rooms, above their `history_from`) whose text matches every
        term of the query as `chatcore.search.matches` says (the store indexes `chatcore.search.index_text` in
        the transaction that writes the message), within its room, sender and time filters, older than its
        `before_id`: newest first, at most `limit` + 1 (one more says there is a next page)."""
        ...

    async def history(
        self, room_id: RoomId, query: HistoryQuery, *, visible_after: MessageId | None = None
    ) -> tuple[list[Message], bool]:
        """A page and whether more lie beyond it: newest first, or oldest first after `after_id`; only messages
        with an id above `visible_after` (a group member's `history_from`)."""
        ...

    async def latest(self, room_id: RoomId, limit: int, *, visible_after: MessageId | None = None) -> list[Message]:
        """The newest `limit` messages (above `visible_after`), oldest first."""
        ...

    async def count(self, room_id: RoomId, *, visible_after: MessageId | None = None) -> int: ...

    async def referenced_keys(self, keys: Collection[str]) -> set[str]:
        """Those of these storage keys that a live message still points to."""
        ...

    async def with_file(self, key: str) -> Message | None:
        """The live message whose file is stored under `key`."""
        ...


class MessageWriter(Protocol):
    """The send path's one write: new messages stored and their rooms touched, in one transaction.

    Rooms are touched first, in id order, so their row locks order concurrent sends (ids grow in commit
    order per room) and two batches cannot deadlock. A group message (no receiver) is stored only while its
    sender is in the group, checked in the same transaction: the send path need not ask first. All or nothing:
    ConflictError for a used (sender, client_msg_id), NotFoundError for a room that is gone or a sender no longer
    in the group, UnavailableError for a lost database
    (OutcomeUnknownError when it was lost with the batch under way: it may have committed).
    """

    async def add_batch(self, drafts: Sequence[MessageDraft]) -> list[Message]: ...


class Uploads(Protocol):
    async def add(self, upload: Upload) -> None: ...

    async def take(self, upload_id: str, user: UserId) -> Upload | None:
        """Remove and return the user's upload (another user's is None, as if missing)."""
        ...

    async def older_than(self, when: datetime, limit: int) -> list[Upload]: ...

    async def remove(self, upload_ids: Collection[str]) -> None: ...

    async def referenced_keys(self, keys: Collection[str]) -> set[str]:
        """Those of these storage keys that a pending upload holds."""
        ...


class PresenceLog(Protocol):
    """The durable `user_presence` table: last known state and last seen time, for the record."""

    async def save(self, presence: Presence) -> None: ...

    async def get_many(self, ids: Collection[UserId]) -> dict[UserId, Presence]: ...


class UnitOfWork(Protocol):
    """One transaction over the chat tables; rolled back on exit unless committed."""

    rooms: Rooms
    messages: Messages
    presence: PresenceLog
    uploads: Uploads

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]


class FileStorage(Protocol):
    """Uploaded bytes, keyed like 'images/<uuid4>-a.jpg'. (The adapters also offer `get` and `exists` for
    inspection; the chat itself never needs them.)"""

    async def put(self, key: str, data: bytes, content_type: str, *, file_name: str | None = None) -> None:
        """`file_name` is the name the file was sent with: a storage whose links skip the app (S3) keeps it
        for the download's Content-Disposition; one served by the app may ignore it."""
        ...

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], content_type: str, *, file_name: str | None = None
    ) -> int:
        """Store chunks as they arrive, never holding the whole file; the stored size.

        If `chunks` raises, nothing is kept under `key` and the error propagates.
        """
        ...

    def stream(self, key: str) -> AsyncIterator[bytes]:
        """The file in chunks, for serving large files; NotFoundError (on first iteration) if missing."""
        ...

    async def delete(self, key: str) -> None:
        """A missing key is no error."""
        ...

    async def url(self, key: str, *, expires_in: timedelta) -> str:
        """A URL that lets whoever holds it read the file until it expires."""
        ...

    def keys(self) -> AsyncIterator[str]:
        """Every stored key, for cleanup."""
        ...


Deliver = Callable[[bytes], None]


class Broker(Protocol):
    """Fan-out of encoded events to channels ('user:<id>', 'room:<id>') on every server process."""

    async def publish(self, channels: Sequence[str], payload: bytes) -> None: ...

    async def subscribe(
        self, channel: str, deliver: Deliver, *, on_gap: Callable[[], None] | None = None
    ) -> Callable[[], Awaitable[None]]:
        """Call `deliver` for each payload on `channel` until the returned coroutine function is awaited.

        `on_gap` is called when payloads may have been lost (the subscription was down for a while, or was not
        confirmed when this returned), once delivery is certain again: whatever is published after the call
        arrives, so a subscriber that catches up from the record then misses nothing.
        """
        ...


class LiveState(Protocol):
    """Who is connected and who is typing, shared by every server process, with expiry."""

    async def connect(self, user: UserId, connection: str, *, limit: int | None = None) -> bool:
        """Record a connection; True if the user was offline before. With `limit`: TooManyConnectionsError, and
        nothing recorded, if the user has that many other live connections already (on any process)."""
        ...

    async def heartbeat(self, user: UserId, connection: str) -> None: ...

    async def disconnect(self, user: UserId, connection: str) -> bool:
        """Forget a connection; True if it was the user's last one."""
        ...

    async def online(self, users: Collection[UserId]) -> set[UserId]: ...

    async def online_users(self) -> set[UserId]: ...

    async def set_typing(self, room_id: RoomId, user: UserId, is_typing: bool) -> frozenset[UserId]:
        """Who is typing in the room after this change."""
        ...


class RateLimiter(Protocol):
    """Token buckets by key ('search:7'), counted alike by every server process."""

    async def take(self, key: str, *, rate: float, burst: int, what: str = "requests") -> None:
        """Spend one token of the bucket (`burst` at most, refilled at `rate` per second), or RateLimitedError
        saying when to retry, with nothing spent."""
        ...
