"""Editing and deleting one's own messages."""

from __future__ import annotations

from chatcore.context import Context, check_text, log, participants
from chatcore.errors import NotFoundError
from chatcore.events import MessageDeleted, MessageUpdated
from chatcore.model import Membership, Message, MessageId, UserId
from chatcore.ports import UnitOfWork
from chatcore.views import MessageView


class Editing:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def edit_message(self, me: UserId, message_id: MessageId, content: str) -> MessageView:
        ctx = self._ctx
        content = check_text(content, ctx.limits)
        async with ctx.uow() as uow:
            found, membership = await _visible(uow, me, message_id)
            message = found.edited(by=me, content=content, at=ctx.clock.now())
            await uow.messages.save(message)
            await uow.commit()
            members = await uow.rooms.members(message.room_id)
        view = await ctx.view(message, members)
        await ctx.publish(MessageUpdated(message=view), participants(membership))
        return view

    async def delete_message(self, me: UserId, message_id: MessageId) -> None:
        """Soft delete: the row stays, its content and file go; deleting twice is no error."""
        ctx = self._ctx
        async with ctx.uow() as uow:
            found, membership = await _visible(uow, me, message_id)
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


async def _visible(uow: UnitOfWork, me: UserId, message_id: MessageId) -> tuple[Message, Membership]:
    """The message and its room, or NotFoundError alike for a missing message and a stranger's."""
    message = await uow.messages.get(message_id)
    if message is None:
        raise NotFoundError("message not found", field="message_id")
    try:
        membership = await uow.rooms.membership(me, message.room_id)
    except NotFoundError:
        raise NotFoundError("message not found", field="message_id") from None
    if membership.history_from is not None and message.id <= membership.history_from:  # from before joining
        raise NotFoundError("message not found", field="message_id")
    return message, membership
