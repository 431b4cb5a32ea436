"""Group conversations (contract section 11): create, rename, add and remove members, change roles, leave.

Each change reads as: lock the room, load the group, ask `chatcore.groups` what the change makes of it, save
that with a system message per note in one transaction, then tell the members. Events go out in an order the
sockets' processes rely on: `members_changed` first, on the group's channel (a removed member still hears it
there, then hears nothing more of the group) and on the user channels of those added (their processes start
passing them the group's events); then the notes, as `new_message`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime

from chatcore.context import Context
from chatcore.errors import InvalidError, NotFoundError
from chatcore.events import MembersChanged, NewMessage, RoomUpdated, group_channel, user_channel
from chatcore.groups import Change, Group, GroupAction
from chatcore.model import Member, Message, MessageDraft, MessageType, Role, Room, RoomId, RoomType, UserId
from chatcore.ports import UnitOfWork
from chatcore.rooms import Conversations
from chatcore.views import MemberCard, RoomView, member_cards

MEMBERSHIP_ACTIONS = frozenset(
    {
        GroupAction.CREATED,
        GroupAction.ADDED,
        GroupAction.REMOVED,
        GroupAction.LEFT,
        GroupAction.ROLE_CHANGED,
        GroupAction.OWNER_CHANGED,
    }
)


class GroupRooms:
    def __init__(self, ctx: Context, rooms: Conversations) -> None:
        self._ctx = ctx
        self._rooms = rooms

    async def create_group(self, me: UserId, name: str | None, member_ids: Sequence[UserId]) -> RoomView:
        """The creator owns it; unknown ids are a 404, repeated ones count once."""
        ctx = self._ctx
        await self._known(member_ids, field="member_ids")
        now = ctx.clock.now()
        change = Group.create(
            name=name, creator=me, member_ids=member_ids, at=now, max_members=ctx.limits.max_group_members
        )
        async with ctx.uow() as uow:
            room = await uow.rooms.create_group(
                created_by=me, name=change.group.name, members=change.group.members, at=now
            )
            notes = await self._write_notes(uow, room.id, change, now)
            await uow.commit()
        await self._announce(room, Group(name=room.name, members=()), change, notes)
        return await self._rooms.room_view(me, room.id)

    async def rename(self, me: UserId, room_id: RoomId, name: str | None) -> RoomView:
        await self._change(me, room_id, lambda group: group.rename(me, name))
        return await self._rooms.room_view(me, room_id)

    async def add_members(self, me: UserId, room_id: RoomId, user_ids: Sequence[UserId]) -> RoomView:
        """Those already in are skipped; unknown ids are a 404."""
        limit = self._ctx.limits.max_group_members
        await self._known(user_ids, field="user_ids")
        now = self._ctx.clock.now()
        await self._change(me, room_id, lambda group: group.add(me, user_ids, at=now, max_members=limit))
        return await self._rooms.room_view(me, room_id)

    async def remove_member(self, me: UserId, room_id: RoomId, user_id: UserId) -> None:
        """Removing oneself is leaving."""
        await self._change(me, room_id, lambda group: group.remove(me, user_id))

    async def set_role(self, me: UserId, room_id: RoomId, user_id: UserId, role: Role) -> RoomView:
        await self._change(me, room_id, lambda group: group.set_role(me, user_id, role))
        return await self._rooms.room_view(me, room_id)

    async def group_ids(self, me: UserId) -> list[RoomId]:
        """The groups whose channel a new socket of `me` listens to."""
        async with self._ctx.uow() as uow:
            return await uow.rooms.group_ids(me)

    async def _known(self, user_ids: Collection[UserId], *, field: str) -> None:
        wanted = set(user_ids)
        found = await self._ctx.directory.get_many(wanted)
        missing = sorted(wanted - found.keys())
        if missing:
            raise NotFoundError(f"no such user: {', '.join(map(str, missing))}", field=field)

    async def _change(self, me: UserId, room_id: RoomId, decide: Callable[[Group], Change]) -> None:
        ctx = self._ctx
        now = ctx.clock.now()
        async with ctx.uow() as uow:
            room = await uow.rooms.lock(room_id)  # changes to one group run one after the other
            members = await uow.rooms.members(room_id) if room is not None else []
            if room is None or all(m.user_id != me for m in members):
                raise NotFoundError("room not found", field="room_id")
            if room.room_type is not RoomType.GROUP:
                raise InvalidError("a direct room has no name, members or roles to change", field="room_id")
            before = Group(name=room.name, members=tuple(members), is_active=room.is_active)
            change = decide(before)
            if not change.notes:  # nothing changed: nothing written, nobody told
                return
            await uow.rooms.save_group(room_id, change.group, at=now)
            notes = await self._write_notes(uow, room_id, change, now)
            await uow.commit()
        await self._announce(room, before, change, notes)

    async def _write_notes(self, uow: UnitOfWork, room_id: RoomId, change: Change, now: datetime) -> list[Message]:
        """One system message per note, its sentence in the names of today."""
        people = {user for note in change.notes for user in (note.actor_id, *note.user_ids)}
        users = await self._ctx.users.get_many(people)
        names = {user: found.name for user, found in users.items()}
        written = []
        for note in change.notes:
            draft = MessageDraft(
                room_id=room_id,
                sender_id=note.actor_id,
                receiver_id=None,
                message_type=MessageType.SYSTEM,
                content=note.sentence(names),
                file=None,
                created_at=now,
                system=note,
            )
            written.append(await uow.messages.add(draft))
        await uow.rooms.touch(room_id, now)
        return written

    async def _announce(self, room: Room, before: Group, change: Change, notes: list[Message]) -> None:
        ctx = self._ctx
        after = change.group
        channel = group_channel(room.id)
        first = change.notes[0]
        if first.action in MEMBERSHIP_ACTIONS:
            old = {m.user_id for m in before.members}
            added = [m.user_id for m in after.members if m.user_id not in old]
            removed = sorted(old - {m.user_id for m in after.members})
            event = MembersChanged(
                room_id=room.id,
                action=first.action,
                actor_id=first.actor_id,
                added=added,
                removed=removed,
                members=await self._cards(after.members),
            )
            await ctx.publish(event, [channel, *(user_channel(user) for user in added)])
        if first.action is GroupAction.RENAMED or not after.is_active:
            updated = RoomUpdated(
                room_id=room.id,
                kind=RoomType.GROUP,
                name=after.name,
                is_active=after.is_active,
                updated_at=ctx.clock.now(),
            )
            await ctx.publish(updated, [channel])
        for note in notes:
            await ctx.publish(NewMessage(message=await ctx.view(note)), [channel])

    async def _cards(self, members: Sequence[Member]) -> list[MemberCard]:
        ids = [m.user_id for m in members]
        users = await self._ctx.users.get_many(ids)
        online = await self._ctx.live.online(ids)
        return member_cards(list(members), users, online)
