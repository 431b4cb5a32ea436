"""Who is online and who is typing: sockets counted per user on every process, changes told to the people
who share a room."""

from __future__ import annotations

from chatcore.context import Context
from chatcore.events import PresenceChanged, Typing, room_channel, user_channel
from chatcore.model import Presence, RoomId, UserId
from chatcore.views import OnlineUser, unknown_user


class Liveness:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def connect(self, me: UserId, connection: str) -> None:
        """TooManyConnectionsError when `me` has `max_connections_per_user` live sockets already."""
        if await self._ctx.live.connect(me, connection, limit=self._ctx.limits.max_connections_per_user):
            await self._presence_changed(me, is_online=True)

    async def heartbeat(self, me: UserId, connection: str) -> None:
        await self._ctx.live.heartbeat(me, connection)

    async def disconnect(self, me: UserId, connection: str) -> None:
        if await self._ctx.live.disconnect(me, connection):
            await self._presence_changed(me, is_online=False)

    async def _presence_changed(self, me: UserId, *, is_online: bool) -> None:
        ctx = self._ctx
        now = ctx.clock.now()
        async with ctx.uow() as uow:
            await uow.presence.save(Presence(user_id=me, is_online=is_online, last_seen=now))
            await uow.commit()
            others = await uow.rooms.co_participants(me)
        user = (await ctx.users.get_many([me])).get(me) or unknown_user(me)
        event = PresenceChanged(user_id=me, user_name=user.name, is_online=is_online, last_seen=now)
        await ctx.publish(event, [user_channel(other) for other in sorted(others)])

    async def online_users(self, me: UserId) -> list[OnlineUser]:
        online = sorted(await self._ctx.live.online_users())
        async with self._ctx.uow() as uow:
            logged = await uow.presence.get_many(online)
        now = self._ctx.clock.now()
        return [
            OnlineUser(user_id=user, last_seen=logged[user].last_seen if user in logged else now, is_online=True)
            for user in online
        ]

    async def set_typing(self, me: UserId, room_id: RoomId, is_typing: bool) -> Typing:
        ctx = self._ctx
        await ctx.membership(me, room_id)
        typing = await ctx.live.set_typing(room_id, me, is_typing)
        user = (await ctx.users.get_many([me])).get(me) or unknown_user(me)
        event = Typing(
            room_id=room_id, user_id=me, user_name=user.name, is_typing=is_typing, typing_users=sorted(typing)
        )
        await ctx.publish(event, [room_channel(room_id)])
        return event
