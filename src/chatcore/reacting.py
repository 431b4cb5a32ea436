"""Reacting to messages and pinning them (contract section 12); replies and mentions are part of a send
(sending.py) and an edit (editing.py)."""

from __future__ import annotations

import attrs

from chatcore.context import Context, participants, people_of, visible_message
from chatcore.errors import ConflictError, NotFoundError
from chatcore.events import MessagePinned, MessageUnpinned, ReactionAdded, ReactionRemoved
from chatcore.model import Membership, MessageId, RoomId, UserId
from chatcore.ports import UnitOfWork
from chatcore.reactions import MAX_PINS, MAX_REACTIONS, EmojiCheck, check_emoji, check_pin
from chatcore.views import MessageView


@attrs.frozen(kw_only=True)
class Reacted:
    """A reaction added or removed, or found so already (`changed` False: nobody else is told again; a socket
    still answers its sender with `event`)."""

    message: MessageView
    event: ReactionAdded | ReactionRemoved
    changed: bool


class Reacting:
    def __init__(self, ctx: Context, is_emoji: EmojiCheck) -> None:
        self._ctx = ctx
        self._is_emoji = is_emoji

    async def add_reaction(self, me: UserId, message_id: MessageId, emoji: str) -> Reacted:
        """Idempotent; the store keeps the limit of distinct emoji under concurrent adds on every process."""
        emoji = check_emoji(emoji, self._is_emoji)
        ctx = self._ctx
        async with ctx.uow() as uow:
            found, membership = await visible_message(uow, me, message_id)
            if found.is_deleted:
                raise ConflictError("a deleted message takes no reactions", field="message_id")
            added = await uow.messages.add_reaction(message_id, me, emoji, at=ctx.clock.now(), limit=MAX_REACTIONS)
            await uow.commit()
            view = await self._current(uow, message_id, membership)
        event = ReactionAdded(room_id=membership.room.id, message_id=message_id, emoji=emoji, user_id=me)
        if added:
            await ctx.publish(event, participants(membership))
        return Reacted(message=view, event=event, changed=added)

    async def remove_reaction(self, me: UserId, message_id: MessageId, emoji: str) -> Reacted:
        """Idempotent: removing a reaction that is not there changes nothing and is no error."""
        emoji = check_emoji(emoji, self._is_emoji)
        ctx = self._ctx
        async with ctx.uow() as uow:
            _, membership = await visible_message(uow, me, message_id)
            removed = await uow.messages.remove_reaction(message_id, me, emoji)
            await uow.commit()
            view = await self._current(uow, message_id, membership)
        event = ReactionRemoved(room_id=membership.room.id, message_id=message_id, emoji=emoji, user_id=me)
        if removed:
            await ctx.publish(event, participants(membership))
        return Reacted(message=view, event=event, changed=removed)

    async def pin(self, me: UserId, message_id: MessageId) -> MessageView:
        """Idempotent. The room's row is locked first, so concurrent pins count the room's pins one at a time."""
        ctx = self._ctx
        now = ctx.clock.now()
        async with ctx.uow() as uow:
            _, membership = await visible_message(uow, me, message_id)
            check_pin(membership)
            await uow.rooms.lock(membership.room.id)
            found = await uow.messages.get(message_id)
            if found is None:
                raise NotFoundError("message not found", field="message_id")
            if found.is_deleted:
                raise ConflictError("a deleted message cannot be pinned", field="message_id")
            pinned = False
            if found.pinned_at is None:
                if len(await uow.messages.pins(membership.room.id)) >= MAX_PINS:
                    raise ConflictError(f"a room has at most {MAX_PINS} pinned messages; unpin one first")
                pinned = await uow.messages.pin(message_id, by=me, at=now)
                await uow.commit()
            view = await self._current(uow, message_id, membership)
        if pinned:
            event = MessagePinned(room_id=membership.room.id, message_id=message_id, user_id=me, pinned_at=now)
            await ctx.publish(event, participants(membership))
        return view

    async def unpin(self, me: UserId, message_id: MessageId) -> MessageView:
        ctx = self._ctx
        async with ctx.uow() as uow:
            _, membership = await visible_message(uow, me, message_id)
            check_pin(membership)
            unpinned = await uow.messages.unpin(message_id)
            await uow.commit()
            view = await self._current(uow, message_id, membership)
        if unpinned:
            event = MessageUnpinned(room_id=membership.room.id, message_id=message_id, user_id=me)
            await ctx.publish(event, participants(membership))
        return view

    async def pins(self, me: UserId, room_id: RoomId) -> list[MessageView]:
        """A member who joined a group later sees only the pins of what came after their joining."""
        ctx = self._ctx
        async with ctx.uow() as uow:
            membership = await uow.rooms.membership(me, room_id)
            pinned = await uow.messages.pins(room_id, visible_after=membership.history_from)
            members = await uow.rooms.members(room_id)
        users = await ctx.users.get_many(people_of(pinned))
        return await ctx.message_views(pinned, users, members, viewer=membership)

    async def _current(self, uow: UnitOfWork, message_id: MessageId, membership: Membership) -> MessageView:
        """The message as stored now, with every reaction and the pin, read in the caller's transaction."""
        message = await uow.messages.get(message_id)
        if message is None:  # gone meanwhile (a purge)
            raise NotFoundError("message not found", field="message_id")
        members = await uow.rooms.members(membership.room.id)
        return await self._ctx.view(message, members, viewer=membership)
