"""ChatService: the one object hosts and the HTTP layer call, a facade over the use case modules.

Where each use case lives: people.py (search, who is still there), rooms.py (direct rooms, the room list,
history, read state), group_rooms.py (groups and their members), sending.py (send), editing.py (edit,
delete), files.py (uploads, file access, housekeeping), liveness.py (presence, typing); context.py holds what
they share.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Collection
from datetime import datetime, timedelta

from chatcore.batching import UnitOfWorkWriter
from chatcore.caching import RoomListCache
from chatcore.codec import encode_event
from chatcore.commands import SendMessage
from chatcore.context import Context, Limits
from chatcore.editing import Editing
from chatcore.events import Event, MessagesRead, Typing
from chatcore.files import Files
from chatcore.group_rooms import GroupRooms
from chatcore.liveness import Liveness
from chatcore.model import Membership, MessageId, MessageType, Role, RoomId, Upload, User, UserId
from chatcore.people import People
from chatcore.ports import (
    Broker,
    Clock,
    FileStorage,
    IdSource,
    LiveState,
    MessageWriter,
    RateLimiter,
    UnitOfWorkFactory,
    UserDirectory,
)
from chatcore.ratelimit import MemoryRateLimiter
from chatcore.reacting import Reacted, Reacting
from chatcore.reactions import EmojiCheck
from chatcore.rooms import DIRECT_ROOM_NAME, Conversations
from chatcore.search import DEFAULT_LIMIT
from chatcore.searching import Searching
from chatcore.sending import Sending
from chatcore.uploads import UploadPolicy
from chatcore.views import (
    HistoryPage,
    MessageReads,
    MessageView,
    OnlineUser,
    PinList,
    RoomDetail,
    RoomPage,
    RoomView,
    SearchPage,
    UserCard,
)

__all__ = ["DIRECT_ROOM_NAME", "ChatService", "Limits"]


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
        is_emoji: EmojiCheck | None = None,
    ) -> None:
        """`encode` turns events into broker payloads; an adapter may give a faster one writing the same bytes.
        `rate_limiter` counts per-user limits; the default counts in this process only. `is_emoji` spells a string
        that is one emoji, or says it is not (the core has no emoji table; `chat_adapters.emojis` builds one on a
        library): without it every reaction is refused."""
        limits = limits or Limits()
        keep_lists = limits.cache and limits.room_list_cache_rooms > 0
        ctx = Context(
            uow=uow,
            writer=writer or UnitOfWorkWriter(uow),
            directory=users,
            users=Context.cached_users(users, clock, limits),
            storage=storage,
            broker=broker,
            live=live,
            clock=clock,
            ids=ids,
            policy=policy or UploadPolicy(),
            limits=limits,
            encode=encode,
            limiter=rate_limiter or MemoryRateLimiter(clock),
            room_lists=(
                RoomListCache(capacity=limits.room_list_cache_rooms, min_rooms=limits.room_list_cache_min)
                if keep_lists
                else None
            ),
        )
        self.policy = ctx.policy
        self.limits = limits
        self._people = People(ctx)
        self._rooms = Conversations(ctx)
        self._groups = GroupRooms(ctx, self._rooms)
        self._files = Files(ctx)
        self._sending = Sending(ctx, self._files)
        self._editing = Editing(ctx)
        self._live = Liveness(ctx)
        self._reacting = Reacting(ctx, is_emoji or _no_emoji)
        self._searching = Searching(ctx)
        self._encode = encode

    # -- people -----------------------------------------------------------------------------------

    async def search_users(self, me: UserId, email: str) -> list[UserCard]:
        return await self._people.search_users(me, email)

    async def user(self, user_id: UserId) -> User:
        return await self._people.user(user_id)

    async def gone(self, users: Collection[UserId], *, batch: int = 500) -> set[UserId]:
        return await self._people.gone(users, batch=batch)

    # -- rooms ------------------------------------------------------------------------------------

    async def open_direct_room(self, me: UserId, receiver_id: UserId) -> tuple[RoomView, bool]:
        return await self._rooms.open_direct_room(me, receiver_id)

    async def list_rooms(self, me: UserId) -> list[RoomView]:
        return await self._rooms.list_rooms(me)

    async def room_page(self, me: UserId, *, limit: int | None = None, cursor: str | None = None) -> RoomPage:
        return await self._rooms.room_page(me, limit=limit, cursor=cursor)

    async def room_detail(self, me: UserId, room_id: RoomId) -> RoomDetail:
        return await self._rooms.room_detail(me, room_id)

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
        return await self._rooms.history(
            me, room_id, page=page, per_page=per_page, before_id=before_id, after_id=after_id
        )

    async def message_reads(self, me: UserId, room_id: RoomId, message_id: MessageId) -> MessageReads:
        return await self._rooms.message_reads(me, room_id, message_id)

    async def pins(self, me: UserId, room_id: RoomId) -> PinList:
        return PinList(messages=await self._reacting.pins(me, room_id))

    async def join_room(self, me: UserId, room_id: RoomId) -> Membership:
        return await self._rooms.join_room(me, room_id)

    async def unread_counts(self, me: UserId) -> dict[RoomId, int]:
        return await self._rooms.unread_counts(me)

    async def mark_read(self, me: UserId, room_id: RoomId) -> MessagesRead:
        return await self._rooms.mark_read(me, room_id)

    # -- groups -----------------------------------------------------------------------------------

    async def create_group(self, me: UserId, name: str | None, member_ids: list[UserId]) -> RoomView:
        return await self._groups.create_group(me, name, member_ids)

    async def rename_group(self, me: UserId, room_id: RoomId, name: str | None) -> RoomView:
        return await self._groups.rename(me, room_id, name)

    async def add_members(self, me: UserId, room_id: RoomId, user_ids: list[UserId]) -> RoomView:
        return await self._groups.add_members(me, room_id, user_ids)

    async def remove_member(self, me: UserId, room_id: RoomId, user_id: UserId) -> None:
        await self._groups.remove_member(me, room_id, user_id)

    async def set_role(self, me: UserId, room_id: RoomId, user_id: UserId, role: Role) -> RoomView:
        return await self._groups.set_role(me, room_id, user_id, role)

    async def group_ids(self, me: UserId) -> list[RoomId]:
        return await self._groups.group_ids(me)

    # -- messages ---------------------------------------------------------------------------------

    async def send_message(
        self, me: UserId, command: SendMessage, *, joined: RoomId | None = None
    ) -> tuple[MessageView, bool]:
        return await self._sending.send_message(me, command, joined=joined)

    def new_message_frame(self, view: MessageView) -> bytes:
        return self._sending.new_message_frame(view)

    async def edit_message(self, me: UserId, message_id: MessageId, content: str) -> MessageView:
        return await self._editing.edit_message(me, message_id, content)

    async def delete_message(self, me: UserId, message_id: MessageId) -> None:
        await self._editing.delete_message(me, message_id)

    # -- search -----------------------------------------------------------------------------------

    async def search_messages(
        self,
        me: UserId,
        q: str,
        *,
        room_id: RoomId | None = None,
        sender_id: UserId | None = None,
        after: datetime | None = None,
        before: datetime | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> SearchPage:
        return await self._searching.search(
            me, q, room_id=room_id, sender_id=sender_id, after=after, before=before, limit=limit, cursor=cursor
        )

    # -- reactions and pins -----------------------------------------------------------------------

    async def add_reaction(self, me: UserId, message_id: MessageId, emoji: str) -> Reacted:
        return await self._reacting.add_reaction(me, message_id, emoji)

    async def remove_reaction(self, me: UserId, message_id: MessageId, emoji: str) -> Reacted:
        return await self._reacting.remove_reaction(me, message_id, emoji)

    def event_frame(self, event: Event) -> bytes:
        """An event as the broker carries it, for answering one socket alone (a reaction that was there)."""
        return self._encode(event)

    async def pin(self, me: UserId, message_id: MessageId) -> MessageView:
        return await self._reacting.pin(me, message_id)

    async def unpin(self, me: UserId, message_id: MessageId) -> MessageView:
        return await self._reacting.unpin(me, message_id)

    # -- files ------------------------------------------------------------------------------------

    async def upload_file(
        self, me: UserId, file_name: str, chunks: AsyncIterable[bytes], *, kind: MessageType | None = None
    ) -> Upload:
        return await self._files.upload_file(me, file_name, chunks, kind=kind)

    async def can_read_file(self, me: UserId, key: str) -> bool:
        return await self._files.can_read_file(me, key)

    async def file_name_of(self, key: str) -> str | None:
        return await self._files.file_name_of(key)

    async def expire_uploads(self, older_than: timedelta, *, batch: int = 500) -> int:
        return await self._files.expire_uploads(older_than, batch=batch)

    async def unreferenced(self, keys: Collection[str]) -> set[str]:
        return await self._files.unreferenced(keys)

    async def orphan_files(self, *, batch: int = 500, progress: Callable[[int, int], None] | None = None) -> list[str]:
        return await self._files.orphan_files(batch=batch, progress=progress)

    async def remove_orphans(self, keys: Collection[str]) -> list[str]:
        return await self._files.remove_orphans(keys)

    # -- presence and typing ----------------------------------------------------------------------

    async def connect(self, me: UserId, connection: str) -> None:
        await self._live.connect(me, connection)

    async def heartbeat(self, me: UserId, connection: str) -> None:
        await self._live.heartbeat(me, connection)

    async def disconnect(self, me: UserId, connection: str) -> None:
        await self._live.disconnect(me, connection)

    async def online_users(self, me: UserId) -> list[OnlineUser]:
        return await self._live.online_users(me)

    async def set_typing(self, me: UserId, room_id: RoomId, is_typing: bool) -> Typing:
        return await self._live.set_typing(me, room_id, is_typing)


def _no_emoji(_: str) -> str | None:
    return None
