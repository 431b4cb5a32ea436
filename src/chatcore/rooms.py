"""Direct rooms, the room list, a room's history and its read state.

Every write that changes what a room list shows (a message sent, edited, deleted or read, a room created)
moves the room's version in the same transaction (the `Rooms.versions` port): that is what lets a kept room
list be trusted after reading only the versions.
"""

from __future__ import annotations

from collections.abc import Collection

import attrs

from chatcore.caching import BuiltRoom, RoomList
from chatcore.context import Context, participants
from chatcore.errors import ConflictError, InvalidError, NotFoundError
from chatcore.events import MessagesRead
from chatcore.model import HistoryQuery, Membership, MessageId, RoomCursor, RoomId, RoomSummary, UserId
from chatcore.ports import UnitOfWork
from chatcore.views import (
    HistoryPage,
    LastMessage,
    MessageList,
    RoomDetail,
    RoomPage,
    RoomView,
    UserCard,
    unknown_user,
)

DIRECT_ROOM_NAME = "Direct Chat"


class Conversations:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def open_direct_room(self, me: UserId, receiver_id: UserId) -> tuple[RoomView, bool]:
        """The pair's direct room, created if it does not exist yet; True when created."""
        ctx = self._ctx
        if receiver_id == me:
            raise InvalidError("you cannot open a chat with yourself", field="receiver_id")
        if receiver_id not in await ctx.users.get_many([receiver_id]):
            raise NotFoundError("receiver not found", field="receiver_id")
        created = False
        async with ctx.uow() as uow:
            room = await uow.rooms.direct_between(me, receiver_id)
            if room is None:
                try:
                    room = await uow.rooms.create_direct(
                        created_by=me, other=receiver_id, name=DIRECT_ROOM_NAME, at=ctx.clock.now()
                    )
                    await uow.commit()
                    created = True
                except ConflictError:
                    await uow.rollback()  # someone else created it a moment ago: use theirs
                    room = None
        if room is None:
            async with ctx.uow() as uow:
                room = await uow.rooms.direct_between(me, receiver_id)
            if room is None:
                raise ConflictError("the room could not be created; try again")
        views = await self._room_views(me, [room.id])
        return views[0], created

    async def list_rooms(self, me: UserId) -> list[RoomView]:
        """The whole list, newest activity first. A user with many rooms gets their last list again with only
        the rooms whose version moved read and built anew (see RoomListCache)."""
        cache = self._ctx.room_lists
        if cache is None:
            return await self._room_views(me, None)
        async with self._ctx.uow() as uow:
            versions = await uow.rooms.versions(me)  # first: a summary read after it is at least as new
            kept = cache.get(me)
            summaries = await self._current_summaries(uow, me, versions, kept)
        built: dict[RoomId, BuiltRoom] = {}
        views = await self._build_room_views(me, summaries, kept=kept, built=built)
        cache.put(me, RoomList(versions=versions, summaries=summaries, built=built))
        return views

    async def _current_summaries(
        self, uow: UnitOfWork, me: UserId, versions: dict[RoomId, int], kept: RoomList | None
    ) -> list[RoomSummary]:
        """The kept summaries with the rooms whose version moved read again (all of them if many moved)."""
        if kept is None:
            return await uow.rooms.summaries(me)
        moved = kept.moved(versions)
        if not moved and len(versions) == len(kept.versions):
            return kept.summaries
        if len(moved) > self._ctx.limits.max_per_page:
            return await uow.rooms.summaries(me)
        return kept.merged(versions, moved, await uow.rooms.summaries(me, moved) if moved else [])

    async def room_page(self, me: UserId, *, limit: int | None = None, cursor: str | None = None) -> RoomPage:
        """The room list a page at a time, for callers with many rooms: at most `limit` rooms after `cursor`
        (the `next_cursor` of the page before)."""
        max_per_page = self._ctx.limits.max_per_page
        if limit is not None and not 1 <= limit <= max_per_page:
            raise InvalidError(f"limit must be between 1 and {max_per_page}", field="limit")
        after = None if cursor is None else RoomCursor.decode(cursor)
        async with self._ctx.uow() as uow:
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
        ctx = self._ctx
        async with ctx.uow() as uow:
            summaries = await uow.rooms.summaries(me, [room_id])
            if not summaries:
                raise NotFoundError("room not found", field="room_id")
            latest = await uow.messages.latest(room_id, ctx.limits.room_detail_limit)
            total = await uow.messages.count(room_id)
        (summary,) = summaries
        base = (await self._build_room_views(me, summaries))[0]
        users = await ctx.users.get_many({me, summary.other_user_id})
        messages = await ctx.message_views(latest, users)
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
        ctx = self._ctx
        if page < 1:
            raise InvalidError("page must be 1 or more", field="page")
        if not 1 <= per_page <= ctx.limits.max_per_page:
            raise InvalidError(f"per_page must be between 1 and {ctx.limits.max_per_page}", field="per_page")
        if before_id is not None and after_id is not None:
            raise InvalidError("give before_id or after_id, not both", field="after_id")
        query = HistoryQuery(page=page, per_page=per_page, before_id=before_id, after_id=after_id)
        async with ctx.uow() as uow:
            membership = await uow.rooms.membership(me, room_id)
            messages, has_more = await uow.messages.history(room_id, query)
            total = await uow.messages.count(room_id)
        users = await ctx.users.get_many({me, membership.other_user_id})
        return HistoryPage(messages=await ctx.message_views(messages, users), total=total, has_more=has_more)

    async def join_room(self, me: UserId, room_id: RoomId) -> Membership:
        """NotFoundError unless `me` is a participant; the socket layer then subscribes to the room."""
        return await self._ctx.membership(me, room_id)

    async def unread_counts(self, me: UserId) -> dict[RoomId, int]:
        async with self._ctx.uow() as uow:
            return await uow.rooms.unread_counts(me)

    async def mark_read(self, me: UserId, room_id: RoomId) -> MessagesRead:
        async with self._ctx.uow() as uow:
            membership = await uow.rooms.membership(me, room_id)
            last = await uow.rooms.mark_read(room_id, me)
            await uow.commit()
        event = MessagesRead(room_id=room_id, user_id=me, last_read_message_id=last)
        await self._ctx.publish(event, participants(membership))
        return event

    async def _room_views(self, me: UserId, room_ids: Collection[RoomId] | None) -> list[RoomView]:
        async with self._ctx.uow() as uow:
            summaries = await uow.rooms.summaries(me, room_ids)
        return await self._build_room_views(me, summaries)

    async def _build_room_views(
        self,
        me: UserId,
        summaries: list[RoomSummary],
        *,
        kept: RoomList | None = None,
        built: dict[RoomId, BuiltRoom] | None = None,
    ) -> list[RoomView]:
        """Built per room of a list that may hold 1,000: users and presence are looked up once for all. A line
        the `kept` list built from the same summary, users and presence is used again; `built` collects the
        lines."""
        others = {s.other_user_id for s in summaries}
        senders = {s.last_message.sender_id for s in summaries if s.last_message is not None}
        users = await self._ctx.users.get_many(others | senders)
        online = await self._ctx.live.online(others)
        views = []
        for summary in summaries:
            other_id = summary.other_user_id
            other = users.get(other_id) or unknown_user(other_id)
            is_online = other_id in online
            last = summary.last_message
            sender = None if last is None else users.get(last.sender_id) or unknown_user(last.sender_id)
            line = kept.reusable(summary, other=other, sender=sender, is_online=is_online) if kept else None
            if line is None:
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
                line = BuiltRoom(summary=summary, other=other, sender=sender, view=view)
            if built is not None:
                built[summary.room.id] = line
            views.append(line.view)
        return views
