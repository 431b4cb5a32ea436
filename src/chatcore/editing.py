"""Editing and deleting one's own messages."""

from __future__ import annotations

from chatcore.context import Context, check_text, log, participants, visible_message
from chatcore.events import MessageDeleted, MessageUpdated
from chatcore.model import MessageId, UserId
from chatcore.reactions import mentions
from chatcore.views import MessageView


class Editing:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def edit_message(self, me: UserId, message_id: MessageId, content: str) -> MessageView:
        ctx = self._ctx
        content = check_text(content, ctx.limits)
        async with ctx.uow() as uow:
            found, membership = await visible_message(uow, me, message_id)
            members = await uow.rooms.members(found.room_id)
            named = tuple(mentions(content, {member.user_id for member in members}))
            message = found.edited(by=me, content=content, at=ctx.clock.now(), mentions=named)
            await uow.messages.save(message)
            await uow.commit()
        view = await ctx.view(message, members)
        await ctx.publish(MessageUpdated(message=view), participants(membership))
        return view

    async def delete_message(self, me: UserId, message_id: MessageId) -> None:
        """Soft delete: the row stays, its content and file go; deleting twice is no error."""
        ctx = self._ctx
        async with ctx.uow() as uow:
            found, membership = await visible_message(uow, me, message_id)
            message = found.deleted(by=me, at=ctx.clock.now())
            if found.is_deleted:
                return
            await uow.messages.save(message)
            await uow.commit()
        key = found.storage_key
        if key is not None:
            try:
                await ctx.storage.delete(key)
            except Exception:
                log.exception("could not remove the file of deleted message %s", message_id)
        await ctx.publish(MessageDeleted(id=message_id, room_id=found.room_id), participants(membership))
