"""Direct rooms, the room list, a room's history and its read state.

Every write that changes what a room list shows (a message sent, edited, deleted or read, a room created)
moves the room's version in the same transaction (the `Rooms.versions` port): that is what lets a kept room
list be trusted after reading only the versions.
"""

from __future__ import annotations

from collections.abc import Collection

import attrs

from chatcore.caching import BuiltRoom, RoomList
from chatcore.context import Context, participants, people_of
from chatcore.errors import ConflictError, InvalidError, NotFoundError
from chatcore.events import MessagesRead
from chatcore.groups import readers
from chatcore.model import (
    HistoryQuery,
    Member,
    Membership,
    MessageId,
    Role,
    RoomCursor,
    RoomId,
    RoomSummary,
    RoomType,
    User,
    UserId,
)
from chatcore.ports import UnitOfWork
from chatcore.views import (
    HistoryPage,
    LastMessage,
    MemberCard,
    MessageList,
    MessageReads,
    RoomDetail,
    RoomPage,
    RoomView,
    UserCard,
    member_cards,
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
        return await self.room_view(me, room.id), created

    async def list_rooms(self, me: UserId) -> list[RoomView]:
        """The whole list, newest activity first. A user with many rooms gets their last list again with only
        the rooms whose version moved read and built anew (see RoomListCache)."""
        cache = self._ctx.room_lists
        if cache is None:
            return await self.room_views(me, None)
        async with self._ctx.uow() as uow:
            versions = await uow.rooms.versions(me)  # first: a summary read after it is at least as new
            kept = cache.get(me)
            summaries = await self._current_summaries(uow, me, versions, kept)
            groups = await _group_members(uow, summaries)
        built: dict[RoomId, BuiltRoom] = {}
        views = await self._build_room_views(me, summaries, groups, kept=kept, built=built)
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
            groups = await _group_members(uow, summaries)
        return RoomPage(
            rooms=await self._build_room_views(me, summaries, groups),
            total=total,
            has_more=has_more,
            next_cursor=RoomCursor.after(summaries[-1].room).encode() if has_more else None,
        )

    async def room_detail(self, me: UserId, room_id: RoomId) -> RoomDetail:
        """The room and its latest messages from the caller's joining on."""
        ctx = self._ctx
        async with ctx.uow() as uow:
            membership = await uow.rooms.membership(me, room_id)
            summaries = await uow.rooms.summaries(me, [room_id])
            if not summaries:
                raise NotFoundError("room not found", field="room_id")
            members = await uow.rooms.members(room_id)
            visible = membership.history_from
            latest = await uow.messages.latest(room_id, ctx.limits.room_detail_limit, visible_after=visible)
            total = await uow.messages.count(room_id, visible_after=visible)
        groups = {room_id: members} if membership.is_group else {}
        base = (await self._build_room_views(me, summaries, groups))[0]
        users = await ctx.users.get_many(people_of(latest) | {m.user_id for m in members})
        messages = await ctx.message_views(latest, users, members, viewer=membership)
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
            visible = membership.history_from
            messages, has_more = await uow.messages.history(room_id, query, visible_after=visible)
            total = await uow.messages.count(room_id, visible_after=visible)
            members = await uow.rooms.members(room_id)
        users = await ctx.users.get_many(people_of(messages))
        views = await ctx.message_views(messages, users, members, viewer=membership)
        return HistoryPage(messages=views, total=total, has_more=has_more)

    async def message_reads(self, me: UserId, room_id: RoomId, message_id: MessageId) -> MessageReads:
        """Who has read a message of the caller's room and who has not yet; 404 alike for a stranger, a message
        of another room and one from before the caller joined."""
        async with self._ctx.uow() as uow:
            membership = await uow.rooms.membership(me, room_id)
            message = await uow.messages.get(message_id)
            if message is None or message.room_id != room_id or not membership.sees(message_id):
                raise NotFoundError("message not found", field="message_id")
            members = await uow.rooms.members(room_id)
        read, unread = readers(message_id, message.sender_id, members)
        users = await self._ctx.users.get_many([*read, *unread])
        online = await self._ctx.live.online([*read, *unread])

        def cards(ids: list[UserId]) -> list[UserCard]:
            return [UserCard.of(users.get(u) or unknown_user(u), is_online=u in online) for u in ids]

        return MessageReads(message_id=message_id, read_by=cards(read), not_read_by=cards(unread))

    async def join_room(self, me: UserId, room_id: RoomId) -> Membership:
        """NotFoundError unless `me` is a participant; the socket layer then subscribes to the room."""
        return await self._ctx.membership(me, room_id)

    async def unread_counts(self, me: UserId) -> dict[RoomId, int]:
        async with self._ctx.uow() as uow:
            return await uow.rooms.unread_counts(me)

    async def mark_read(self, me: UserId, room_id: RoomId) -> MessagesRead:
        """Moves the caller's read marker to the newest message; every member hears of it."""
        async with self._ctx.uow() as uow:
            membership = await uow.rooms.membership(me, room_id)
            last = await uow.rooms.mark_read(room_id, me)
            await uow.commit()
        event = MessagesRead(room_id=room_id, user_id=me, last_read_message_id=last)
        await self._ctx.publish(event, participants(membership))
        return event

    async def room_views(self, me: UserId, room_ids: Collection[RoomId] | None) -> list[RoomView]:
        async with self._ctx.uow() as uow:
            summaries = await uow.rooms.summaries(me, room_ids)
            groups = await _group_members(uow, summaries)
        return await self._build_room_views(me, summaries, groups)

    async def room_view(self, me: UserId, room_id: RoomId) -> RoomView:
        """One room of `me`'s, as their room list shows it."""
        return (await self.room_views(me, [room_id]))[0]

    async def _build_room_views(
        self,
        me: UserId,
        summaries: list[RoomSummary],
        groups: dict[RoomId, list[Member]],
        *,
        kept: RoomList | None = None,
        built: dict[RoomId, BuiltRoom] | None = None,
    ) -> list[RoomView]:
        """Built per room of a list that may hold 1,000: users and presence are looked up once for all. A line
        of a direct room that the `kept` list built from the same summary, users and presence is used again;
        `built` collects the lines. `groups` holds the members of the groups among the summaries."""
        others = {s.other_user_id for s in summaries if s.other_user_id is not None}
        in_groups = {m.user_id for members in groups.values() for m in members}
        senders = {s.last_message.sender_id for s in summaries if s.last_message is not None}
        users = await self._ctx.users.get_many(others | senders | in_groups | {me})
        online = await self._ctx.live.online(others | in_groups | {me})
        me_user = users.get(me) or unknown_user(me)
        me_online = me in online
        views = []
        for summary in summaries:
            last = summary.last_message
            sender = None if last is None else users.get(last.sender_id) or unknown_user(last.sender_id)
            other_id = summary.other_user_id
            if other_id is None:  # a group: built anew every time (its members and their presence vary)
                members = groups.get(summary.room.id, [])
                view = _room_view(summary, sender, None, member_cards(members, users, online))
                views.append(view)
                if built is not None:
                    built[summary.room.id] = BuiltRoom(summary=summary, other=me_user, sender=sender, view=view)
                continue
            other = users.get(other_id) or unknown_user(other_id)
            is_online = other_id in online
            line = kept.reusable(summary, other=other, sender=sender, is_online=is_online) if kept else None
            if line is not None and not _same_me(line.view.members[-1], me_user, me_online):
                line = None
            if line is None:
                other_card = UserCard.of(other, is_online=is_online)
                pair = [_as_member(summary, other_card), _me_card(summary, me_user, me_online)]
                view = _room_view(summary, sender, other_card, pair)
                line = BuiltRoom(summary=summary, other=other, sender=sender, view=view)
            if built is not None:
                built[summary.room.id] = line
            views.append(line.view)
        return views


async def _group_members(uow: UnitOfWork, summaries: list[RoomSummary]) -> dict[RoomId, list[Member]]:
    """The members of the groups among `summaries`; no statement when there are none (seed users' lists)."""
    ids = [s.room.id for s in summaries if s.room.room_type is RoomType.GROUP]
    return await uow.rooms.members_of(ids) if ids else {}


def _as_member(summary: RoomSummary, card: UserCard) -> MemberCard:
    """A direct room's person as a member card: no roles in a direct room, joined when it was opened."""
    return MemberCard(
        id=card.id,
        name=card.name,
        email=card.email,
        avatar_url=card.avatar_url,
        is_online=card.is_online,
        role=Role.MEMBER,
        joined_at=summary.room.created_at,
    )


def _me_card(summary: RoomSummary, me: User, is_online: bool) -> MemberCard:
    return _as_member(summary, UserCard.of(me, is_online=is_online))


def _same_me(card: MemberCard, me: User, is_online: bool) -> bool:
    """Whether a kept line's card of the caller still holds (the room's part of it never changes)."""
    return (
        card.is_online == is_online
        and card.name == me.name
        and card.email == me.email
        and card.avatar_url == me.avatar_url
    )


def _room_view(
    summary: RoomSummary, sender: User | None, other: UserCard | None, members: list[MemberCard]
) -> RoomView:
    last = summary.last_message
    last_view = None
    if last is not None and sender is not None:
        last_view = LastMessage(
            id=last.id,
            content=last.content,
            message_type=last.message_type,
            created_at=last.created_at,
            sender_name=sender.name,
            sender_id=last.sender_id,
        )
    return RoomView.of(
        summary.room,
        other_user=other,
        last_message=last_view,
        unread_count=summary.unread_count,
        members=members,
        mention_count=summary.mention_count,
    )
