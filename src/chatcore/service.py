"""ChatService: one method per use case. Check, load, ask the model, save, commit, then publish."""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import AsyncIterable, Callable, Collection, Iterable, Sequence
from datetime import datetime, timedelta

import attrs

from chatcore.batching import GroupCommit, UnitOfWorkWriter
from chatcore.caching import BuiltRoom, CachedUserDirectory, Lru, RoomList, RoomListCache
from chatcore.codec import encode_event
from chatcore.commands import SendMessage
from chatcore.errors import (
    ChatError,
    ConflictError,
    InvalidError,
    NotFoundError,
    OutcomeUnknownError,
    UnavailableError,
)
from chatcore.events import (
    Event,
    MessageDeleted,
    MessagesRead,
    MessageUpdated,
    NewMessage,
    PresenceChanged,
    Typing,
    room_channel,
    user_channel,
)
from chatcore.model import (
    FILE_KINDS,
    HistoryQuery,
    Membership,
    Message,
    MessageDraft,
    MessageId,
    MessageType,
    Presence,
    RoomCursor,
    RoomId,
    RoomSummary,
    StoredFile,
    Upload,
    User,
    UserId,
)
from chatcore.ports import (
    Broker,
    Clock,
    FileStorage,
    IdSource,
    LiveState,
    MessageWriter,
    RateLimiter,
    UnitOfWork,
    UnitOfWorkFactory,
    UserDirectory,
)
from chatcore.ratelimit import MemoryRateLimiter
from chatcore.uploads import HEAD_SIZE, UploadPolicy, decode_base64
from chatcore.views import (
    HistoryPage,
    LastMessage,
    MessageList,
    MessageView,
    OnlineUser,
    RoomDetail,
    RoomPage,
    RoomView,
    UserCard,
    unknown_user,
)

log = logging.getLogger("chatcore")

DIRECT_ROOM_NAME = "Direct Chat"


class _Committed(Exception):
    """A send's message committed, but what came after failed: the error to report, with nothing to undo."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _not_committed(error: BaseException) -> bool:
    """A chat error says the write did not happen; after any other failure (a connection lost mid-commit, a
    cancellation, a bug) the outcome is unknown and a stored file is kept: an orphan is found by `chat files
    cleanup`, while a message whose file is gone would be broken for good."""
    return isinstance(error, ChatError) and not isinstance(error, OutcomeUnknownError)


@attrs.frozen(kw_only=True)
class Limits:
    max_text_length: int = 10_000
    room_detail_limit: int = 500
    max_per_page: int = 100
    search_min_length: int = 2
    search_max_results: int = 20
    search_per_minute: int = 30
    max_connections_per_user: int | None = None  # live sockets of one user on every process together
    max_client_msg_id: int = 64
    file_url_ttl: timedelta = timedelta(minutes=15)
    cache: bool = True  # users for a few seconds, room membership for good, room lists checked on each use
    room_list_cache_rooms: int = 20_000  # rooms kept in all the cached room lists (0: none kept)
    room_list_cache_min: int = 100  # shorter lists are read whole each time


def _check_text(content: str | None, limits: Limits, *, field: str = "content") -> str:
    if content is None or not content.strip():
        raise InvalidError(f"{field} must not be empty", field=field)
    if len(content) > limits.max_text_length:
        raise InvalidError(f"{field} may be at most {limits.max_text_length} characters", field=field)
    if "\x00" in content:
        raise InvalidError(f"{field} must not contain NUL characters", field=field)
    return content


MAX_EMAIL_LENGTH = 254  # RFC 5321's longest address


def _check_fragment(fragment: str) -> None:
    """No email holds a space or a control character, so a fragment with one cannot match: refused, not
    searched (a NUL ended SQLite's LIKE pattern early, so `%00%00` matched the whole directory)."""
    if len(fragment) > MAX_EMAIL_LENGTH:
        raise InvalidError(f"email may be at most {MAX_EMAIL_LENGTH} characters", field="email")
    if any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in fragment):
        raise InvalidError("email must not contain spaces or control characters", field="email")


class ChatService:
    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        users: UserDirectory,
        storage: FileStorage,
        broker: Broker,
        live: LiveState,
        clock: Clock,
        ids: IdSource,
        policy: UploadPolicy | None = None,
        limits: Limits | None = None,
        writer: MessageWriter | None = None,
        encode: Callable[[Event], bytes] = encode_event,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        """`encode` turns events into broker payloads; an adapter may give a faster one writing the same bytes.
        `rate_limiter` counts per-user limits; the default counts in this process only."""
        self._uow = uow
        self._writer: MessageWriter = writer or UnitOfWorkWriter(uow)
        self._encode = encode
        self._directory = users  # asked directly whether someone is still there; `_users` for names and avatars
        self._users: UserDirectory = CachedUserDirectory(users, clock) if limits is None or limits.cache else users
        self._storage = storage
        self._broker = broker
        self._live = live
        self._clock = clock
        self._ids = ids
        self.policy = policy or UploadPolicy()
        self.limits = limits or Limits()
        self._members: Lru[tuple[UserId, RoomId], Membership] = Lru(100_000)  # direct rooms never change hands
        self._room_lists = (
            RoomListCache(capacity=self.limits.room_list_cache_rooms, min_rooms=self.limits.room_list_cache_min)
            if self.limits.cache and self.limits.room_list_cache_rooms > 0
            else None
        )
        self._inserts: GroupCommit[MessageDraft, MessageView] = GroupCommit(self._store_and_publish)
        self._limiter: RateLimiter = rate_limiter or MemoryRateLimiter(clock)

    # -- people -----------------------------------------------------------------------------------

    async def search_users(self, me: UserId, email: str) -> list[UserCard]:
        fragment = email.strip()
        if len(fragment) < self.limits.search_min_length:
            raise InvalidError(f"email must have at least {self.limits.search_min_length} characters", field="email")
        _check_fragment(fragment)
        per_minute = self.limits.search_per_minute
        await self._limiter.take(f"search:{me}", rate=per_minute / 60, burst=per_minute, what="searches")
        found = await self._users.search_email(fragment, exclude=me, limit=self.limits.search_max_results)
        online = await self._live.online([user.id for user in found])
        return [UserCard.of(user, is_online=user.id in online) for user in found]

    async def user(self, user_id: UserId) -> User:
        """NotFoundError for ids the directory does not know (a valid token for a removed employee). Asked of the
        directory itself, never a cache: a removal takes effect on the next request."""
        found = await self._directory.get_many([user_id])
        if user_id not in found:
            raise NotFoundError("user not found", field="user_id")
        return found[user_id]

    async def gone(self, users: Collection[UserId], *, batch: int = 500) -> set[UserId]:
        """Those of `users` the directory no longer knows (removed employees, whose sockets must close)."""
        ids = sorted(set(users))
        missing: set[UserId] = set()
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            found = await self._directory.get_many(chunk)
            missing.update(user for user in chunk if user not in found)
        return missing

    # -- rooms ------------------------------------------------------------------------------------

    async def open_direct_room(self, me: UserId, receiver_id: UserId) -> tuple[RoomView, bool]:
        """The pair's direct room, created if it does not exist yet; True when created."""
        if receiver_id == me:
            raise InvalidError("you cannot open a chat with yourself", field="receiver_id")
        if receiver_id not in await self._users.get_many([receiver_id]):
            raise NotFoundError("receiver not found", field="receiver_id")
        created = False
        async with self._uow() as uow:
            room = await uow.rooms.direct_between(me, receiver_id)
            if room is None:
                try:
                    room = await uow.rooms.create_direct(
                        created_by=me, other=receiver_id, name=DIRECT_ROOM_NAME, at=self._clock.now()
                    )
                    await uow.commit()
                    created = True
                except ConflictError:
                    await uow.rollback()  # someone else created it a moment ago: use theirs
                    room = None
        if room is None:
            async with self._uow() as uow:
                room = await uow.rooms.direct_between(me, receiver_id)
            if room is None:
                raise ConflictError("the room could not be created; try again")
        views = await self._room_views(me, [room.id])
        return views[0], created

    async def list_rooms(self, me: UserId) -> list[RoomView]:
        """The whole list, newest activity first. A user with many rooms gets their last list again with only
        the rooms whose version moved read and built anew (see RoomListCache)."""
        cache = self._room_lists
        if cache is None:
            return await self._room_views(me, None)
        async with self._uow() as uow:
            versions = await uow.rooms.versions(me)  # first: a summary read after it is at least as new
            kept = cache.get(me)
            summaries = await self._current_summaries(uow, me, versions, kept)
        built: dict[RoomId, BuiltRoom] = {}
        views = await self._build_room_views(me, summaries, reuse=kept.built if kept else None, built=built)
        cache.put(me, RoomList(versions=versions, summaries=summaries, built=built))
        return views

    async def _current_summaries(
        self, uow: UnitOfWork, me: UserId, versions: dict[RoomId, int], kept: RoomList | None
    ) -> list[RoomSummary]:
        """The kept summaries with the rooms whose version moved read again (all of them if many moved)."""
        if kept is None:
            return await uow.rooms.summaries(me)
        moved = [room for room, version in versions.items() if kept.versions.get(room) != version]
        if not moved and len(versions) == len(kept.versions):
            return kept.summaries
        if len(moved) > self.limits.max_per_page:
            return await uow.rooms.summaries(me)
        fresh = await uow.rooms.summaries(me, moved) if moved else []
        stale = set(moved)
        current = [s for s in kept.summaries if s.room.id in versions and s.room.id not in stale]
        current.extend(fresh)
        current.sort(key=RoomSummary.activity, reverse=True)  # as the store orders them
        return current

    async def room_page(self, me: UserId, *, limit: int | None = None, cursor: str | None = None) -> RoomPage:
        """The room list a page at a time, for callers with many rooms: at most `limit` rooms after `cursor`
        (the `next_cursor` of the page before). The whole list of 1,000 rooms is ~500 KB and tens of ms."""
        if limit is not None and not 1 <= limit <= self.limits.max_per_page:
            raise InvalidError(f"limit must be between 1 and {self.limits.max_per_page}", field="limit")
        after = None if cursor is None else RoomCursor.decode(cursor)
        async with self._uow() as uow:
            summaries = await uow.rooms.summaries(me, after=after, limit=None if limit is None else limit + 1)
            total = await uow.rooms.count(me)
        has_more = limit is not None and len(summaries) > limit
        if has_more:
            del summaries[limit:]
        return RoomPage(
            rooms=await self._build_room_views(me, summaries),
            total=total,
            has_more=has_more,
            next_cursor=RoomCursor.after(summaries[-1].room).encode() if has_more else None,
        )

    async def room_detail(self, me: UserId, room_id: RoomId) -> RoomDetail:
        async with self._uow() as uow:
            summaries = await uow.rooms.summaries(me, [room_id])
            if not summaries:
                raise NotFoundError("room not found", field="room_id")
            latest = await uow.messages.latest(room_id, self.limits.room_detail_limit)
            total = await uow.messages.count(room_id)
        (summary,) = summaries
        base = (await self._build_room_views(me, summaries))[0]
        users = await self._users.get_many({me, summary.other_user_id})
        messages = await self._message_views(latest, users)
        return RoomDetail(**attrs.asdict(base, recurse=False), message_list=MessageList(messages=messages, total=total))

    async def history(
        self,
        me: UserId,
        room_id: RoomId,
        *,
        page: int = 1,
        per_page: int = 50,
        before_id: MessageId | None = None,
        after_id: MessageId | None = None,
    ) -> HistoryPage:
        if page < 1:
            raise InvalidError("page must be 1 or more", field="page")
        if not 1 <= per_page <= self.limits.max_per_page:
            raise InvalidError(f"per_page must be between 1 and {self.limits.max_per_page}", field="per_page")
        if before_id is not None and after_id is not None:
            raise InvalidError("give before_id or after_id, not both", field="after_id")
        query = HistoryQuery(page=page, per_page=per_page, before_id=before_id, after_id=after_id)
        async with self._uow() as uow:
            membership = await uow.rooms.membership(me, room_id)
            messages, has_more = await uow.messages.history(room_id, query)
            total = await uow.messages.count(room_id)
        users = await self._users.get_many({me, membership.other_user_id})
        return HistoryPage(messages=await self._message_views(messages, users), total=total, has_more=has_more)

    async def join_room(self, me: UserId, room_id: RoomId) -> Membership:
        """NotFoundError unless `me` is a participant; the socket layer then subscribes to the room."""
        return await self._membership(me, room_id)

    async def unread_counts(self, me: UserId) -> dict[RoomId, int]:
        async with self._uow() as uow:
            return await uow.rooms.unread_counts(me)

    async def mark_read(self, me: UserId, room_id: RoomId) -> MessagesRead:
        async with self._uow() as uow:
            membership = await uow.rooms.membership(me, room_id)
            last = await uow.rooms.mark_read(room_id, me)
            await uow.commit()
        event = MessagesRead(room_id=room_id, user_id=me, last_read_message_id=last)
        await self._publish(event, self._to_participants(membership))
        return event

    # -- messages ---------------------------------------------------------------------------------

    async def send_message(
        self, me: UserId, command: SendMessage, *, joined: RoomId | None = None
    ) -> tuple[MessageView, bool]:
        """The stored message and True, or the original and False when `client_msg_id` was seen before.

        `joined` is the socket's joined room, for a command that names none.
        """
        room_id = command.room_id if command.room_id is not None else joined
        if room_id is None:
            raise InvalidError("room_id is required: give it in the event, the URL or join_room first", field="room_id")
        self._check_command(command)
        membership = await self._membership(me, room_id)
        if command.receiver_id is not None and command.receiver_id != membership.receiver_for(me):
            raise InvalidError("receiver_id is not the other participant of this room", field="receiver_id")
        if command.file_data is not None and command.client_msg_id is not None:
            earlier = await self._earlier(me, command.client_msg_id, room_id)  # spare storing the file again
            if earlier is not None:
                return await self._view(earlier), False
        stored = await self._store_file(command) if command.file_data is not None else None
        now = self._clock.now()
        try:
            if command.upload_id is None:
                # Stored with whatever else was sent meanwhile, and published. From here the group commit owns the
                # file: it discards it when, and only when, the message did not commit, whatever befalls this
                # caller meanwhile (a socket closing mid-send cancels it while the batch may still commit).
                return await self._inserts.submit(self._draft(me, command, membership, stored, now)), True
            message = await self._insert_claiming(me, command, membership, now)
        except _Committed as committed:  # the message and its file stay
            raise committed.error from None
        except ConflictError:
            earlier = await self._earlier(me, command.client_msg_id, room_id) if command.client_msg_id else None
            if earlier is None:
                raise
            return await self._view(earlier), False  # a retry of a message stored before
        view = await self._view(message)
        await self._publish(NewMessage(message=view), self._to_participants(membership))
        return view, True

    @staticmethod
    def _draft(
        me: UserId, command: SendMessage, membership: Membership, file: StoredFile | None, now: datetime
    ) -> MessageDraft:
        return MessageDraft(
            room_id=membership.room.id,
            sender_id=me,
            receiver_id=membership.receiver_for(me),
            message_type=command.message_type,
            content=command.content if command.content and command.content.strip() else None,
            file=file,
            created_at=now,
            client_msg_id=command.client_msg_id,
        )

    async def _earlier(self, me: UserId, client_msg_id: str, room_id: RoomId) -> Message | None:
        async with self._uow() as uow:
            earlier = await uow.messages.by_client_msg_id(me, client_msg_id)
        if earlier is not None and earlier.room_id != room_id:
            raise ConflictError("client_msg_id was already used in another room", field="client_msg_id")
        return earlier

    async def _store_and_publish(self, drafts: Sequence[MessageDraft]) -> list[MessageView | BaseException]:
        """The batch's transaction, then each message published from here, in order, as soon as it committed:
        its recipients need not wait for the sender's coroutine to be resumed first."""
        outcomes: list[MessageView | BaseException] = []
        inserted: list[Message | BaseException]
        try:
            inserted = await self._insert_batch(drafts)
        except Exception as exc:  # a one-message batch failed
            inserted = [exc]
        for draft, stored in zip(drafts, inserted, strict=True):
            if isinstance(stored, BaseException):
                if _not_committed(stored):  # surely not committed: its file would be an orphan
                    await self._discard(draft.file)
                outcomes.append(stored)
                continue
            try:
                view = await self._view(stored)
            except Exception as exc:  # stored all the same: a retry with its client_msg_id gets it back
                outcomes.append(_Committed(exc))
                continue
            await self._publish(
                NewMessage(message=view), [user_channel(draft.sender_id), user_channel(draft.receiver_id)]
            )
            outcomes.append(view)
        return outcomes

    async def _insert_batch(self, drafts: Sequence[MessageDraft]) -> list[Message | BaseException]:
        """One transaction for every send that queued meanwhile; if it surely failed, each goes alone (one used
        client_msg_id must not fail the others). After a failure of unknown outcome the batch may have committed:
        going alone would store those without a client_msg_id twice, so each gets the failure instead."""
        try:
            return list(await self._writer.add_batch(drafts))
        except Exception as exc:
            if len(drafts) == 1:
                raise
            if not _not_committed(exc):
                return [exc] * len(drafts)
        outcomes: list[Message | BaseException] = []
        for draft in drafts:
            try:
                outcomes.extend(await self._writer.add_batch([draft]))
            except Exception as exc:
                outcomes.append(exc)
        return outcomes

    async def _insert_claiming(
        self, me: UserId, command: SendMessage, membership: Membership, now: datetime
    ) -> Message:
        """The upload becomes the message's file in the message's own transaction."""
        async with self._uow() as uow:
            await uow.rooms.touch(membership.room.id, now)
            file = await self._claim_upload(uow, me, command)
            message = await uow.messages.add(self._draft(me, command, membership, file, now))
            await uow.commit()
        return message

    async def _membership(self, me: UserId, room_id: RoomId) -> Membership:
        """Who is in a direct room never changes, so a found membership is kept (NotFoundError is not)."""
        key = (me, room_id)
        found = self._members.get(key) if self.limits.cache else None
        if found is None:
            async with self._uow() as uow:
                found = await uow.rooms.membership(me, room_id)
            self._members.put(key, found)
        return found

    def _check_command(self, command: SendMessage) -> None:
        if command.client_msg_id is not None and not 1 <= len(command.client_msg_id) <= self.limits.max_client_msg_id:
            raise InvalidError(
                f"client_msg_id must have 1 to {self.limits.max_client_msg_id} characters", field="client_msg_id"
            )
        if command.message_type is MessageType.TEXT:
            _check_text(command.content, self.limits)
            for name in ("file_data", "upload_id", "file_name"):
                if getattr(command, name) is not None:
                    raise InvalidError(f"a text message carries no {name}", field=name)
            return
        if command.content is not None and command.content.strip():  # an optional caption
            _check_text(command.content, self.limits)
        if (command.file_data is None) == (command.upload_id is None):
            raise InvalidError(
                f"a {command.message_type.value} message needs file_data or upload_id (one of them)", field="file_data"
            )
        if command.file_data is not None and not command.file_name:
            raise InvalidError(f"a {command.message_type.value} message needs file_name", field="file_name")

    @staticmethod
    async def _claim_upload(uow: UnitOfWork, me: UserId, command: SendMessage) -> StoredFile:
        """The upload becomes the message's file in the same transaction: a failed send leaves it claimable."""
        assert command.upload_id is not None
        upload = await uow.uploads.take(command.upload_id, me)
        if upload is None:
            raise NotFoundError("upload not found (unknown, already used or expired)", field="upload_id")
        if upload.kind is not command.message_type:
            raise InvalidError(
                f"upload_id holds a {upload.kind.value} file, not a {command.message_type.value}", field="message_type"
            )
        return upload.file

    async def _store_file(self, command: SendMessage) -> StoredFile:
        """Decode and check the file, then store it; nothing is stored unless every check passed."""
        assert command.file_data is not None
        assert command.file_name is not None
        kind = command.message_type
        encoded_limit = (self.policy.limit(kind) + 2) // 3 * 4 + 4
        if len(command.file_data) > encoded_limit + 64:  # data: URL prefix
            raise InvalidError(
                f"{kind.value} files may be at most {self.policy.limit(kind) // 2**20} MB", field="file_data"
            )
        data = decode_base64(command.file_data)
        self.policy.check_size(kind, len(data), declared=command.file_size)
        accepted = self.policy.accept(kind, command.file_name, data[:HEAD_SIZE], uuid=self._ids.uuid4())
        await self._storage.put(accepted.key, data, accepted.mime_type, file_name=accepted.file_name)
        return accepted.stored(len(data))

    async def upload_file(
        self, me: UserId, file_name: str, chunks: AsyncIterable[bytes], *, kind: MessageType | None = None
    ) -> Upload:
        """Stream a file to storage under the upload policy; a message claims it later by its id."""
        kind = kind or self.policy.kind_of(file_name)
        if kind not in FILE_KINDS:
            raise InvalidError("message_type must be image, file or voice", field="message_type")
        accepted, body = await self.policy.stream_checked(kind, file_name, chunks, uuid=self._ids.uuid4())
        size = await self._storage.put_stream(accepted.key, body, accepted.mime_type, file_name=accepted.file_name)
        stored = StoredFile(
            key=accepted.key, file_name=accepted.file_name, file_size=size, mime_type=accepted.mime_type
        )
        upload = Upload(id=self._ids.uuid4(), user_id=me, kind=kind, file=stored, created_at=self._clock.now())
        try:
            async with self._uow() as uow:
                await uow.uploads.add(upload)
                await uow.commit()
        except BaseException:
            await self._discard(stored)
            raise
        return upload

    async def expire_uploads(self, older_than: timedelta, *, batch: int = 500) -> int:
        """Forget uploads no message claimed in time, and their files; how many went."""
        removed = 0
        cutoff = self._clock.now() - older_than
        for _ in range(10_000):  # bounded: at most 5,000,000 uploads per call
            async with self._uow() as uow:
                stale = await uow.uploads.older_than(cutoff, batch)
                await uow.uploads.remove([u.id for u in stale])
                await uow.commit()
            for upload in stale:
                await self._discard(upload.file)
            removed += len(stale)
            if len(stale) < batch:
                break
        return removed

    async def unreferenced(self, keys: Collection[str]) -> set[str]:
        """Those of these stored keys that neither a live message nor a pending upload holds."""
        async with self._uow() as uow:
            held = await uow.messages.referenced_keys(keys) | await uow.uploads.referenced_keys(keys)
        return set(keys) - held

    async def orphan_files(self, *, batch: int = 500, progress: Callable[[int, int], None] | None = None) -> list[str]:
        """Stored files nothing refers to (the seed's orphaned files), scanning storage in batches."""
        orphans: list[str] = []
        scanned = 0
        pending: list[str] = []
        async for key in self._storage.keys():
            pending.append(key)
            if len(pending) >= batch:
                orphans += sorted(await self.unreferenced(pending))
                scanned += len(pending)
                pending = []
                if progress:
                    progress(scanned, len(orphans))
        if pending:
            orphans += sorted(await self.unreferenced(pending))
            scanned += len(pending)
        if progress:
            progress(scanned, len(orphans))
        return orphans

    async def remove_orphans(self, keys: Collection[str]) -> list[str]:
        """Delete those still unreferenced now (a send may have claimed one since it was listed)."""
        gone = sorted(await self.unreferenced(keys))
        for key in gone:
            await self._storage.delete(key)
        return gone

    async def can_read_file(self, me: UserId, key: str) -> bool:
        """A participant of the room whose live message holds this file may read it."""
        if "\x00" in key:  # no stored key holds one (names lose their control characters); PostgreSQL refuses it
            return False
        async with self._uow() as uow:
            message = await uow.messages.with_file(key)
            if message is None:
                return False
            try:
                await uow.rooms.membership(me, message.room_id)
            except NotFoundError:
                return False
        return True

    async def file_name_of(self, key: str) -> str | None:
        """The name a stored file was sent with, for its download; None if no live message holds it."""
        if "\x00" in key:
            return None
        async with self._uow() as uow:
            message = await uow.messages.with_file(key)
        return message.file_name if message is not None else None

    async def _discard(self, stored: StoredFile | None) -> None:
        if stored is None:
            return
        try:
            await self._storage.delete(stored.key)
        except Exception:  # the original error matters more; cleanup finds the orphan later
            log.exception("could not remove %s after a failed send", stored.key)

    async def edit_message(self, me: UserId, message_id: MessageId, content: str) -> MessageView:
        content = _check_text(content, self.limits)
        async with self._uow() as uow:
            found, membership = await self._visible(uow, me, message_id)
            message = found.edited(by=me, content=content, at=self._clock.now())
            await uow.messages.save(message)
            await uow.commit()
        view = await self._view(message)
        await self._publish(MessageUpdated(message=view), self._to_participants(membership))
        return view

    async def delete_message(self, me: UserId, message_id: MessageId) -> None:
        """Soft delete: the row stays, its content and file go; deleting twice is no error."""
        async with self._uow() as uow:
            found, membership = await self._visible(uow, me, message_id)
            message = found.deleted(by=me, at=self._clock.now())
            if found.is_deleted:
                return
            await uow.messages.save(message)
            await uow.commit()
        key = found.storage_key
        if key is not None:
            try:
                await self._storage.delete(key)
            except Exception:
                log.exception("could not remove the file of deleted message %s", message_id)
        event = MessageDeleted(id=message_id, room_id=found.room_id)
        await self._publish(event, self._to_participants(membership))

    @staticmethod
    async def _visible(uow: UnitOfWork, me: UserId, message_id: MessageId) -> tuple[Message, Membership]:
        """The message and its room, or NotFoundError alike for a missing message and a stranger's."""
        message = await uow.messages.get(message_id)
        if message is None:
            raise NotFoundError("message not found", field="message_id")
        try:
            membership = await uow.rooms.membership(me, message.room_id)
        except NotFoundError:
            raise NotFoundError("message not found", field="message_id") from None
        return message, membership

    # -- presence and typing ----------------------------------------------------------------------

    async def connect(self, me: UserId, connection: str) -> None:
        """TooManyConnectionsError when `me` has `max_connections_per_user` live sockets already."""
        if await self._live.connect(me, connection, limit=self.limits.max_connections_per_user):
            await self._presence_changed(me, is_online=True)

    async def heartbeat(self, me: UserId, connection: str) -> None:
        await self._live.heartbeat(me, connection)

    async def disconnect(self, me: UserId, connection: str) -> None:
        if await self._live.disconnect(me, connection):
            await self._presence_changed(me, is_online=False)

    async def _presence_changed(self, me: UserId, *, is_online: bool) -> None:
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.presence.save(Presence(user_id=me, is_online=is_online, last_seen=now))
            await uow.commit()
            others = await uow.rooms.co_participants(me)
        user = (await self._users.get_many([me])).get(me) or unknown_user(me)
        event = PresenceChanged(user_id=me, user_name=user.name, is_online=is_online, last_seen=now)
        await self._publish(event, [user_channel(other) for other in sorted(others)])

    async def online_users(self, me: UserId) -> list[OnlineUser]:
        online = sorted(await self._live.online_users())
        async with self._uow() as uow:
            logged = await uow.presence.get_many(online)
        now = self._clock.now()
        return [
            OnlineUser(user_id=user, last_seen=logged[user].last_seen if user in logged else now, is_online=True)
            for user in online
        ]

    async def set_typing(self, me: UserId, room_id: RoomId, is_typing: bool) -> Typing:
        await self._membership(me, room_id)
        typing = await self._live.set_typing(room_id, me, is_typing)
        user = (await self._users.get_many([me])).get(me) or unknown_user(me)
        event = Typing(
            room_id=room_id, user_id=me, user_name=user.name, is_typing=is_typing, typing_users=sorted(typing)
        )
        await self._publish(event, [room_channel(room_id)])
        return event

    # -- shaping ----------------------------------------------------------------------------------

    async def _room_views(self, me: UserId, room_ids: Collection[RoomId] | None) -> list[RoomView]:
        async with self._uow() as uow:
            summaries = await uow.rooms.summaries(me, room_ids)
        return await self._build_room_views(me, summaries)

    async def _build_room_views(
        self,
        me: UserId,
        summaries: list[RoomSummary],
        *,
        reuse: dict[RoomId, BuiltRoom] | None = None,
        built: dict[RoomId, BuiltRoom] | None = None,
    ) -> list[RoomView]:
        """Built per room of a list that may hold 1,000: users and presence are looked up once for all. A line
        in `reuse` built from the same summary, users and presence is used again; `built` collects the lines."""
        others = {s.other_user_id for s in summaries}
        senders = {s.last_message.sender_id for s in summaries if s.last_message is not None}
        users = await self._users.get_many(others | senders)
        online = await self._live.online(others)
        views = []
        for summary in summaries:
            other_id = summary.other_user_id
            other = users.get(other_id) or unknown_user(other_id)
            is_online = other_id in online
            last = summary.last_message
            sender = None if last is None else users.get(last.sender_id) or unknown_user(last.sender_id)
            prior = reuse.get(summary.room.id) if reuse is not None else None
            if (
                prior is not None
                and prior.summary is summary
                and prior.view.other_user.is_online == is_online
                and (prior.other is other or prior.other == other)  # the directory cache hands out the same
                and (prior.sender is sender or prior.sender == sender)
            ):
                if built is not None:
                    built[summary.room.id] = prior
                views.append(prior.view)
                continue
            last_view = None
            if last is not None and sender is not None:
                last_view = LastMessage(
                    id=last.id,
                    content=last.content,
                    message_type=last.message_type,
                    created_at=last.created_at,
                    sender_name=sender.name,
                )
            view = RoomView.of(
                summary.room,
                other_user=UserCard.of(other, is_online=is_online),
                last_message=last_view,
                unread_count=summary.unread_count,
            )
            if built is not None:
                built[summary.room.id] = BuiltRoom(summary=summary, other=other, sender=sender, view=view)
            views.append(view)
        return views

    async def _view(self, message: Message) -> MessageView:
        users = await self._users.get_many({message.sender_id, message.receiver_id})
        return (await self._message_views([message], users))[0]

    async def _message_views(self, messages: Iterable[Message], users: dict[UserId, User]) -> list[MessageView]:
        views = []
        for message in messages:
            key = message.storage_key
            url = await self._storage.url(key, expires_in=self.limits.file_url_ttl) if key else None
            views.append(MessageView.of(message, users, file_url=url))
        return views

    @staticmethod
    def _to_participants(membership: Membership) -> list[str]:
        return [user_channel(membership.user_id), user_channel(membership.other_user_id)]

    async def _publish(self, event: Event, channels: list[str]) -> None:
        """After commit, so nobody hears of a change that did not happen; a broker outage loses no data."""
        if not channels:
            return
        try:
            await self._broker.publish(channels, self._encode(event))
        except UnavailableError:  # the broker's adapter warns once per outage, not once per event
            log.debug("could not publish %s: the broker is unavailable; clients catch up from history", event.type)
        except Exception:
            log.warning("could not publish %s; clients catch up from history", event.type, exc_info=True)
