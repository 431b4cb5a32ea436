"""Live sockets of this process, by user and joined room, fed from broker channels."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Sequence

from chat_http.errors import CLOSE_RESTART
from chatcore import Broker, RoomId, UserId
from chatcore.events import GROUP_CHANNEL, group_channel, room_channel, user_channel
from chatcore.ports import Deliver

log = logging.getLogger("chat_http.hub")

_serial = itertools.count(1)
SLOW_READER = (1008, "too slow: outgoing queue full")
MISSED_EVENTS = (CLOSE_RESTART, "events may have been missed; reconnect and catch up")
_PROCESS = uuid.uuid4().hex[:12]  # unique across machines: connection ids meet in Redis
MEMBERS_CHANGED = b'{"type":"members_changed",'  # how both event encoders begin this event


class Connection:
    """One socket's outbox: a bounded queue; overflowing it marks the reader as too slow.

    A deque and one reusable wake-up future rather than an asyncio.Queue read through a task per frame:
    the writer loop runs once per outgoing frame, so its overhead is paid for every delivered message.
    """

    def __init__(self, user_id: UserId, *, queue_size: int) -> None:
        self.id = f"{_PROCESS}-{next(_serial)}"
        self.user_id = user_id
        self.room_id: RoomId | None = None
        self.groups: set[RoomId] = set()  # the groups whose channel this socket hears
        self.outbox: deque[bytes] = deque()
        self.ending: tuple[int, str] | None = None  # the close code and reason the writer ends the socket with
        self._queue_size = queue_size
        self._wakeup: asyncio.Future[None] | None = None

    @property
    def overflowed(self) -> bool:
        return self.ending == SLOW_READER

    def offer(self, payload: bytes) -> None:
        if self.ending is not None:
            return
        if len(self.outbox) >= self._queue_size:
            self.end(*SLOW_READER)
        else:
            self.outbox.append(payload)
            self._wake()

    def end(self, code: int, reason: str) -> None:
        """Have the writer close the socket with `code` instead of sending what is left: the first call wins."""
        if self.ending is None:
            self.ending = (code, reason)
            self.outbox.clear()  # it will not be sent
            self._wake()

    def _wake(self) -> None:
        waiter = self._wakeup
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next(self) -> bytes | None:
        """The next payload to send, waiting for one; None once the socket is to be closed (see `ending`)."""
        while not self.outbox and self.ending is None:
            self._wakeup = asyncio.get_running_loop().create_future()
            try:
                await self._wakeup
            finally:
                self._wakeup = None
        return None if self.ending is not None else self.outbox.popleft()


class DecodeBudget:
    """Bytes of large frames (files as base64) being decoded and stored at once in this process.

    Each costs about three times its size while it is handled (the text, the decoded JSON string, the file's
    bytes); six 50 MB files at once took a process from 200 MiB to 1 GiB. Beyond the budget a frame is
    refused with a `busy` error at once, its text dropped, and the client sends it again later. One frame is
    always let through, however large, so a budget below the largest frame still passes every file in turn.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, size: int) -> bool:
        if self.used and self.used + size > self.limit:
            return False
        self.used += size
        return True

    def give(self, size: int) -> None:
        self.used -= size


class TooManyConnections(Exception):
    pass


class Hub:
    def __init__(self, broker: Broker, *, max_per_user: int) -> None:
        self._broker = broker
        self._max_per_user = max_per_user
        self._by_channel: dict[str, set[Connection]] = {}
        self._unsubscribe: dict[str, Callable[[], Awaitable[None]]] = {}
        self._by_user: dict[UserId, set[Connection]] = {}
        self._pending: set[asyncio.Task[None]] = set()  # (un)subscriptions started from a delivery
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def connection_count(self) -> int:
        return sum(len(conns) for conns in self._by_user.values())

    def users(self) -> list[UserId]:
        """Who has a socket on this process."""
        return list(self._by_user)

    def end_user(self, user: UserId, code: int, reason: str) -> None:
        """Close every socket of `user` on this process with `code`."""
        self._end_channel(user_channel(user), code, reason)

    async def register(self, conn: Connection) -> None:
        mine = self._by_user.setdefault(conn.user_id, set())
        if len(mine) >= self._max_per_user:
            if not mine:
                del self._by_user[conn.user_id]
            raise TooManyConnections(f"at most {self._max_per_user} connections per user")
        mine.add(conn)
        self._idle.clear()
        # A gap on a user channel may have lost messages, reads or deletions: those sockets close with 1012 and
        # their clients reconnect and catch up with `after_id`. So does a gap on a group channel (join_groups),
        # which may also have lost a removal: a socket must not go on hearing a group it was removed from.
        # A room channel carries only typing: let it be.
        await self._attach(user_channel(conn.user_id), conn, closes_on_gap=True)

    async def join_groups(self, conn: Connection, room_ids: Collection[RoomId]) -> None:
        """Have the socket hear its groups' events: one subscription per group on this process, however many of
        its members' sockets are here, so a group message costs one delivery per process, not one per member."""
        for room_id in room_ids:
            conn.groups.add(room_id)
            await self._attach(group_channel(room_id), conn, closes_on_gap=True)

    async def unregister(self, conn: Connection) -> None:
        await self.leave(conn)
        for room_id in list(conn.groups):
            await self._detach(group_channel(room_id), conn)
        conn.groups.clear()
        mine = self._by_user.get(conn.user_id, set())
        mine.discard(conn)
        if not mine:
            self._by_user.pop(conn.user_id, None)
        await self._detach(user_channel(conn.user_id), conn)
        if not self._by_user:
            self._idle.set()

    async def wait_idle(self, grace: float) -> bool:
        """Until every socket has been cleaned up (their last writes done), at most `grace` seconds; True if idle."""
        try:
            await asyncio.wait_for(self._idle.wait(), grace)
        except TimeoutError:
            return False
        return True

    async def join(self, conn: Connection, room_id: RoomId) -> None:
        if conn.room_id == room_id:
            return
        await self.leave(conn)
        conn.room_id = room_id
        await self._attach(room_channel(room_id), conn)

    async def leave(self, conn: Connection) -> None:
        if conn.room_id is not None:
            room, conn.room_id = conn.room_id, None
            await self._detach(room_channel(room), conn)

    async def _attach(self, channel: str, conn: Connection, *, closes_on_gap: bool = False) -> None:
        conns = self._by_channel.get(channel)
        if conns is None:
            conns = self._by_channel[channel] = set()
            conns.add(conn)
            on_gap = (lambda: self._end_channel(channel, *MISSED_EVENTS)) if closes_on_gap else None
            unsubscribe = await self._broker.subscribe(
                channel, lambda payload: self._fan_out(channel, payload), on_gap=on_gap
            )
            if self._by_channel.get(channel) is conns:
                self._unsubscribe[channel] = unsubscribe
            else:  # everyone left while we subscribed
                await unsubscribe()
        else:
            conns.add(conn)

    async def _detach(self, channel: str, conn: Connection) -> None:
        conns = self._by_channel.get(channel)
        if conns is None:
            return
        conns.discard(conn)
        if not conns:
            del self._by_channel[channel]
            unsubscribe = self._unsubscribe.pop(channel, None)
            if unsubscribe is not None:
                await unsubscribe()

    def deliver_local(self, channels: Sequence[str], payload: bytes) -> None:
        for channel in dict.fromkeys(channels):
            self._fan_out(channel, payload)

    def _end_channel(self, channel: str, code: int, reason: str) -> None:
        for conn in list(self._by_channel.get(channel, ())):
            conn.end(code, reason)

    def _fan_out(self, channel: str, payload: bytes) -> None:
        for conn in list(self._by_channel.get(channel, ())):
            conn.offer(payload)
        if payload.startswith(MEMBERS_CHANGED):
            self._members_changed(channel, payload)

    def _members_changed(self, channel: str, payload: bytes) -> None:
        """Start or stop passing a group's events to sockets, in the order of the events themselves.

        Heard on the group's channel, it names who was removed: their sockets here heard it (above) and hear
        nothing of the group after it. Heard on a user's channel, it names that user as added: their sockets
        here start hearing the group (at once if this process hears it already; else once subscribed, and
        the client catches up from the room's history, as after any reconnect).
        """
        try:
            data = json.loads(payload)["data"]
            room_id = RoomId(data["room_id"])
            added, removed = set(data["added"]), set(data["removed"])
        except (ValueError, KeyError, TypeError):
            log.warning("a members_changed event could not be read; sockets keep their groups")
            return
        if channel.startswith(GROUP_CHANNEL):
            for user in removed:
                for conn in list(self._by_user.get(user, ())):
                    self._drop_group(conn, room_id)
        elif channel.startswith("user:"):
            user = UserId(int(channel.removeprefix("user:")))
            if user in added:
                for conn in list(self._by_user.get(user, ())):
                    if room_id not in conn.groups:
                        conn.groups.add(room_id)
                        self._later(self._attach_if_live(conn, room_id))

    async def _attach_if_live(self, conn: Connection, room_id: RoomId) -> None:
        """Unless the socket closed or was removed from the group before this ran."""
        if room_id in conn.groups and conn in self._by_user.get(conn.user_id, ()):
            await self._attach(group_channel(room_id), conn, closes_on_gap=True)

    def _drop_group(self, conn: Connection, room_id: RoomId) -> None:
        """At once: the next payload of the group must not reach the socket; unsubscribing may follow."""
        conn.groups.discard(room_id)
        for channel in (group_channel(room_id), room_channel(room_id)):
            conns = self._by_channel.get(channel)
            if conns is not None and conn in conns:
                conns.discard(conn)
                self._later(self._detach(channel, conn))  # unsubscribes if it was the last
        if conn.room_id == room_id:
            conn.room_id = None

    def _later(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await work
            except Exception:
                log.warning("changing a socket's group subscriptions failed", exc_info=True)

        task = asyncio.get_running_loop().create_task(run())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)


class LocalFallbackBroker:
    """While the shared broker is down, this process's own sockets still get their events.

    Sockets elsewhere catch up from history (`after_id`); the error still reaches the caller, which logs it.
    """

    def __init__(self, broker: Broker, hub: Hub) -> None:
        self._broker = broker
        self._hub = hub

    async def publish(self, channels: Sequence[str], payload: bytes) -> None:
        try:
            await self._broker.publish(channels, payload)
        except Exception:
            self._hub.deliver_local(channels, payload)
            raise

    async def subscribe(
        self, channel: str, deliver: Deliver, *, on_gap: Callable[[], None] | None = None
    ) -> Callable[[], Awaitable[None]]:
        return await self._broker.subscribe(channel, deliver, on_gap=on_gap)
