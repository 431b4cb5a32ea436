"""Sending a message: checked, its file stored or its upload claimed, committed with whatever else was sent
meanwhile (group commit), then announced to both people of a direct room or to a group's channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import attrs

from chatcore.batching import GroupCommit
from chatcore.commands import SendMessage
from chatcore.context import Context, audience_of, check_text
from chatcore.errors import ChatError, ConflictError, InvalidError, NotFoundError, OutcomeUnknownError
from chatcore.events import NewMessage
from chatcore.files import Files
from chatcore.model import (
    Membership,
    Message,
    MessageDraft,
    MessageType,
    ReplyPreview,
    RoomId,
    StoredFile,
    UserId,
)
from chatcore.reactions import check_reply, mentions
from chatcore.views import MessageView


@attrs.frozen
class StoredUnseen:
    """A message that committed, but whose view could not be built after: the error is reported to the sender,
    and nothing is undone (a retry with its client_msg_id gets the message back)."""

    error: Exception


def not_committed(error: BaseException) -> bool:
    """A chat error says the write did not happen; after any other failure (a connection lost mid-commit, a
    cancellation, a bug) the outcome is unknown and a stored file is kept: an orphan is found by `chat files
    cleanup`, while a message whose file is gone would be broken for good."""
    return isinstance(error, ChatError) and not isinstance(error, OutcomeUnknownError)


class Sending:
    def __init__(self, ctx: Context, files: Files) -> None:
        self._ctx = ctx
        self._files = files
        self._inserts: GroupCommit[MessageDraft, MessageView | StoredUnseen] = GroupCommit(self._store_and_announce)

    async def send_message(
        self, me: UserId, command: SendMessage, *, joined: RoomId | None = None
    ) -> tuple[MessageView, bool]:
        """The stored message and True, or the original and False when `client_msg_id` was seen before.

        `joined` is the socket's joined room, for a command that names none.
        """
        room_id = command.room_id if command.room_id is not None else joined
        if room_id is None:
            raise InvalidError("room_id is required: give it in the event, the URL or join_room first", field="room_id")
        self._check(command)
        membership = await self._ctx.sender_membership(me, room_id)
        if command.receiver_id is not None and command.receiver_id != membership.receiver_for(me):
            if membership.is_group:
                raise InvalidError("a group message has no receiver_id: it goes to every member", field="receiver_id")
            raise InvalidError("receiver_id is not the other participant of this room", field="receiver_id")
        if command.file_data is not None and command.client_msg_id is not None:
            earlier = await self._earlier(me, command.client_msg_id, room_id)  # spare storing the file again
            if earlier is not None:
                return await self._ctx.view(earlier), False
        extras = await self._extras(me, command, membership)
        stored = await self._files.store_inline(command) if command.file_data is not None else None
        now = self._ctx.clock.now()
        try:
            if command.upload_id is None:
                # Stored with whatever else was sent meanwhile, and announced. From here the group commit owns the
                # file: it discards it when, and only when, the message did not commit, whatever befalls this
                # caller meanwhile (a socket closing mid-send cancels it while the batch may still commit).
                sent = await self._inserts.submit(_draft(me, command, membership, stored, now, extras))
            else:
                sent = await self._store_claiming(me, command, membership, now, extras)
        except NotFoundError:
            self._ctx.forget_sender(me, room_id)  # removed from the group meanwhile
            raise
        except ConflictError:
            earlier = await self._earlier(me, command.client_msg_id, room_id) if command.client_msg_id else None
            if earlier is None:
                raise
            return await self._ctx.view(earlier), False  # a retry of a message stored before
        if isinstance(sent, StoredUnseen):  # the message and its file stay
            raise sent.error
        return sent, True

    def new_message_frame(self, view: MessageView) -> bytes:
        """The `new_message` event as the broker carries it, for echoing a retry to its sender's socket alone."""
        return self._ctx.encode(NewMessage(message=view))

    async def _announce(self, message: Message) -> MessageView | StoredUnseen:
        """The one place a new message is made known: its view, published to both people's sockets."""
        try:
            view = await self._ctx.view(message)
        except Exception as exc:
            return StoredUnseen(exc)
        await self._ctx.publish(NewMessage(message=view), audience_of(message))
        return view

    async def _store_and_announce(
        self, drafts: Sequence[MessageDraft]
    ) -> list[MessageView | StoredUnseen | BaseException]:
        """The batch's transaction, then each message announced from here, in order, as soon as it committed:
        its recipients need not wait for the sender's coroutine to be resumed first."""
        outcomes: list[MessageView | StoredUnseen | BaseException] = []
        inserted: list[Message | BaseException]
        try:
            inserted = await self._insert_batch(drafts)
        except Exception as exc:  # a one-message batch failed
            inserted = [exc]
        for draft, stored in zip(drafts, inserted, strict=True):
            if isinstance(stored, BaseException):
                if not_committed(stored):  # surely not committed: its file would be an orphan
                    await self._ctx.discard(draft.file)
                outcomes.append(stored)
            else:
                outcomes.append(await self._announce(stored))
        return outcomes

    async def _insert_batch(self, drafts: Sequence[MessageDraft]) -> list[Message | BaseException]:
        """One transaction for every send that queued meanwhile; if it surely failed, each goes alone (one used
        client_msg_id must not fail the others). After a failure of unknown outcome the batch may have committed:
        going alone would store those without a client_msg_id twice, so each gets the failure instead."""
        writer = self._ctx.writer
        try:
            return list(await writer.add_batch(drafts))
        except Exception as exc:
            if len(drafts) == 1:
                raise
            if not not_committed(exc):
                return [exc] * len(drafts)
        outcomes: list[Message | BaseException] = []
        for draft in drafts:
            try:
                outcomes.extend(await writer.add_batch([draft]))
            except Exception as exc:
                outcomes.append(exc)
        return outcomes

    async def _store_claiming(
        self, me: UserId, command: SendMessage, membership: Membership, now: datetime, extras: Extras
    ) -> MessageView | StoredUnseen:
        """The upload becomes the message's file in the message's own transaction."""
        async with self._ctx.uow() as uow:
            await uow.rooms.touch(membership.room.id, now)
            if membership.is_group:  # still in it (the kept membership is only a hint)
                await uow.rooms.membership(me, membership.room.id)
            file = await self._files.claim_upload(uow, me, command)
            message = await uow.messages.add(_draft(me, command, membership, file, now, extras))
            await uow.commit()
        return await self._announce(message)

    async def _extras(self, me: UserId, command: SendMessage, membership: Membership) -> Extras:
        """What a reply answers and whom the text mentions: asked of the store only when the message has them,
        so a plain send costs no query more."""
        mentioning = command.content is not None and "<@" in command.content
        if command.reply_to_id is None and not mentioning:
            return Extras()
        async with self._ctx.uow() as uow:
            members = await uow.rooms.members(membership.room.id) if membership.is_group else None
            reply_to = None
            if command.reply_to_id is not None:
                reply_to = check_reply(await uow.messages.get(command.reply_to_id), membership)
                if members is not None and not all(member.received(reply_to.id) for member in members):
                    reply_to = reply_to.withheld()  # the new message goes to everyone, some joined after it
        named: tuple[UserId, ...] = ()
        if mentioning:
            people = {m.user_id for m in members} if members is not None else {me, membership.receiver_for(me) or me}
            named = tuple(mentions(command.content, people))
        return Extras(reply_to=reply_to, mentions=named)

    async def _earlier(self, me: UserId, client_msg_id: str, room_id: RoomId) -> Message | None:
        async with self._ctx.uow() as uow:
            earlier = await uow.messages.by_client_msg_id(me, client_msg_id)
        if earlier is not None and earlier.room_id != room_id:
            raise ConflictError("client_msg_id was already used in another room", field="client_msg_id")
        return earlier

    def _check(self, command: SendMessage) -> None:
        limits = self._ctx.limits
        if command.client_msg_id is not None and not 1 <= len(command.client_msg_id) <= limits.max_client_msg_id:
            raise InvalidError(
                f"client_msg_id must have 1 to {limits.max_client_msg_id} characters", field="client_msg_id"
            )
        if command.message_type is MessageType.TEXT:
            check_text(command.content, limits)
            for name in ("file_data", "upload_id", "file_name"):
                if getattr(command, name) is not None:
                    raise InvalidError(f"a text message carries no {name}", field=name)
            return
        if command.content is not None and command.content.strip():  # an optional caption
            check_text(command.content, limits)
        if (command.file_data is None) == (command.upload_id is None):
            raise InvalidError(
                f"a {command.message_type.value} message needs file_data or upload_id (one of them)", field="file_data"
            )
        if command.file_data is not None and not command.file_name:
            raise InvalidError(f"a {command.message_type.value} message needs file_name", field="file_name")


@attrs.frozen
class Extras:
    reply_to: ReplyPreview | None = None
    mentions: tuple[UserId, ...] = ()


def _draft(
    me: UserId, command: SendMessage, membership: Membership, file: StoredFile | None, now: datetime, extras: Extras
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
        reply_to=extras.reply_to,
        mentions=extras.mentions,
    )
