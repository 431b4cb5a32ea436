"""What every use case shares: the ports, the limits, and the few steps they all take the same way.

Each use case module (people, rooms, sending, editing, files, liveness) takes one `Context` and reads as
check, load, ask the model, save, commit, publish; `ChatService` is only their facade.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta

import attrs

from chatcore.caching import CachedUserDirectory, Lru, RoomListCache
from chatcore.errors import InvalidError, NotFoundError, UnavailableError
from chatcore.events import Event, group_channel, user_channel
from chatcore.groups import MAX_GROUP_MEMBERS, read_by_every_other_member
from chatcore.model import Member, Membership, Message, MessageId, RoomId, StoredFile, User, UserId
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
from chatcore.uploads import UploadPolicy
from chatcore.views import MessageView

log = logging.getLogger("chatcore")


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
    max_group_members: int = MAX_GROUP_MEMBERS


def check_text(content: str | None, limits: Limits, *, field: str = "content") -> str:
    if content is None or not content.strip():
        raise InvalidError(f"{field} must not be empty", field=field)
    if len(content) > limits.max_text_length:
        raise InvalidError(f"{field} may be at most {limits.max_text_length} characters", field=field)
    if "\x00" in content:
        raise InvalidError(f"{field} must not contain NUL characters", field=field)
    return content


def participants(membership: Membership) -> list[str]:
    """Where every event about the room goes: each socket of both people of a direct room; a group's channel,
    which every process passes to the sockets of the group's members there."""
    if membership.is_group:
        return [group_channel(membership.room.id)]
    return list(dict.fromkeys(user_channel(user) for user in (membership.user_id, membership.other_user_id) if user))


def audience_of(message: Message) -> list[str]:
    """`participants` of a message's room, without looking the room up: a group message has no receiver."""
    if message.receiver_id is None:
        return [group_channel(message.room_id)]
    return list(dict.fromkeys((user_channel(message.sender_id), user_channel(message.receiver_id))))


async def visible_message(uow: UnitOfWork, me: UserId, message_id: MessageId) -> tuple[Message, Membership]:
    """The message and its room, or NotFoundError alike for a missing message, a stranger's, and one from before
    the caller joined its group."""
    message = await uow.messages.get(message_id)
    if message is None:
        raise NotFoundError("message not found", field="message_id")
    try:
        membership = await uow.rooms.membership(me, message.room_id)
    except NotFoundError:
        raise NotFoundError("message not found", field="message_id") from None
    if not membership.sees(message.id):
        raise NotFoundError("message not found", field="message_id")
    return message, membership


def people_of(messages: Iterable[Message]) -> set[UserId]:
    """Senders and receivers of these messages, for their names."""
    found: set[UserId] = set()
    for message in messages:
        found.add(message.sender_id)
        if message.receiver_id is not None:
            found.add(message.receiver_id)
    return found


def _may_quote(original: MessageId, members: list[Member] | None, viewer: Membership | Member | None) -> bool:
    """Whether a reply's audience may read the original: a member who joined a group after it never sees its
    text, not even quoted."""
    if viewer is not None:
        return viewer.sees(original)
    return members is None or all(member.received(original) for member in members)


@attrs.define(kw_only=True, eq=False)
class Context:
    """The collaborators of the use cases, built once by `ChatService`.

    `directory` is asked directly whether someone is still there; `users` (cached for a few seconds) gives
    names and avatars. `members` keeps found memberships of direct rooms: who is in one never changes (who is in
    a group does, so a group membership is asked of the store every time).
    """

    uow: UnitOfWorkFactory
    writer: MessageWriter
    directory: UserDirectory
    users: UserDirectory
    storage: FileStorage
    broker: Broker
    live: LiveState
    clock: Clock
    ids: IdSource
    policy: UploadPolicy
    limits: Limits
    encode: Callable[[Event], bytes]
    limiter: RateLimiter
    members: Lru[tuple[UserId, RoomId], Membership] = attrs.field(factory=lambda: Lru(100_000))
    senders: Lru[tuple[UserId, RoomId], Membership] = attrs.field(factory=lambda: Lru(100_000))
    room_lists: RoomListCache | None = None

    @classmethod
    def cached_users(cls, directory: UserDirectory, clock: Clock, limits: Limits) -> UserDirectory:
        return CachedUserDirectory(directory, clock) if limits.cache else directory

    async def membership(self, me: UserId, room_id: RoomId) -> Membership:
        """NotFoundError unless `me` is in the room; a found membership is kept (a NotFoundError is not)."""
        key = (me, room_id)
        found = self.members.get(key) if self.limits.cache else None
        if found is None:
            async with self.uow() as uow:
                found = await uow.rooms.membership(me, room_id)
            if not found.is_group:
                self.members.put(key, found)
        return found

    async def sender_membership(self, me: UserId, room_id: RoomId) -> Membership:
        """`membership` for a send. A group membership found once is used again without asking: the message
        writer checks, in the transaction that stores a group message, that its sender is still in the group
        (a query fewer per group message, the costliest step of a send after the write itself); a refused send
        calls `forget_sender`."""
        key = (me, room_id)
        kept = self.senders.get(key) if self.limits.cache else None
        if kept is not None:
            return kept
        found = await self.membership(me, room_id)
        if found.is_group:
            self.senders.put(key, found)
        return found

    def forget_sender(self, me: UserId, room_id: RoomId) -> None:
        self.senders.pop((me, room_id))

    async def view(
        self, message: Message, members: Iterable[Member] | None = None, *, viewer: Membership | None = None
    ) -> MessageView:
        """`members` (with their read markers) say whether it is read; without them it is new, so unread."""
        people = {message.sender_id} if message.receiver_id is None else {message.sender_id, message.receiver_id}
        users = await self.users.get_many(people)
        return (await self.message_views([message], users, members, viewer=viewer))[0]

    async def message_views(
        self,
        messages: Iterable[Message],
        users: dict[UserId, User],
        members: Iterable[Member] | None = None,
        *,
        viewer: Membership | Member | None = None,
    ) -> list[MessageView]:
        """For `viewer` alone (a reply's quote of what they may not read is withheld), or, without one, for
        every one of `members` at once (an event: withheld unless all of them may read it)."""
        marks = None if members is None else list(members)
        views = []
        for message in messages:
            if marks is not None:
                is_read = read_by_every_other_member(message.id, message.sender_id, marks)
                if is_read != message.is_read:
                    message = attrs.evolve(message, is_read=is_read)
            quoted = message.reply_to
            if quoted is not None and not quoted.is_withheld and not _may_quote(quoted.id, marks, viewer):
                message = attrs.evolve(message, reply_to=quoted.withheld())
            key = message.storage_key
            url = await self.storage.url(key, expires_in=self.limits.file_url_ttl) if key else None
            views.append(MessageView.of(message, users, file_url=url))
        return views

    async def publish(self, event: Event, channels: list[str]) -> None:
        """After commit, so nobody hears of a change that did not happen; a broker outage loses no data."""
        if not channels:
            return
        try:
            await self.broker.publish(channels, self.encode(event))
        except UnavailableError:  # the broker's adapter warns once per outage, not once per event
            log.debug("could not publish %s: the broker is unavailable; clients catch up from history", event.type)
        except Exception:
            log.warning("could not publish %s; clients catch up from history", event.type, exc_info=True)

    async def discard(self, stored: StoredFile | None, why: str = "after a failed send") -> None:
        """Delete a stored file whose write did not happen; a failure here is logged (cleanup finds the orphan)."""
        if stored is None:
            return
        try:
            await self.storage.delete(stored.key)
        except Exception:  # the original error matters more
            log.exception("could not remove %s %s", stored.key, why)
