"""The hub's group channels: one subscription per group per process, and `members_changed` starting and
stopping a socket's group events in the order of the events themselves."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from chat_http.hub import Connection, Hub
from chatcore import RoomId, UserId
from chatcore.codec import encode_event
from chatcore.events import MembersChanged, group_channel, room_channel, user_channel
from chatcore.model import GroupAction
from chatcore.ports import Deliver
from chatcore.testing import MemoryBroker

ANN, BEN, CAT = UserId(1), UserId(2), UserId(3)
GROUP = RoomId(7)


def changed(action: GroupAction, *, added: tuple[UserId, ...] = (), removed: tuple[UserId, ...] = ()) -> bytes:
    event = MembersChanged(
        room_id=GROUP, action=action, actor_id=ANN, added=list(added), removed=list(removed), members=[]
    )
    return encode_event(event)


async def connected(hub: Hub, user: UserId, groups: list[RoomId]) -> Connection:
    conn = Connection(user, queue_size=100)
    await hub.register(conn)
    await hub.join_groups(conn, groups)
    return conn


async def settle() -> None:
    for _ in range(5):  # subscriptions started from a delivery run as tasks
        await asyncio.sleep(0)


async def test_one_subscription_per_group_however_many_members_are_here() -> None:
    broker = MemoryBroker()
    hub = Hub(broker, max_per_user=5)
    conns = [await connected(hub, user, [GROUP]) for user in (ANN, BEN, CAT)]

    await broker.publish([group_channel(GROUP)], b'{"type":"new_message"}')

    assert len(broker._subscribers[group_channel(GROUP)]) == 1
    assert [list(c.outbox) for c in conns] == [[b'{"type":"new_message"}']] * 3


async def test_a_removed_member_hears_the_removal_and_nothing_after_it() -> None:
    broker = MemoryBroker()
    hub = Hub(broker, max_per_user=5)
    ann, cat = await connected(hub, ANN, [GROUP]), await connected(hub, CAT, [GROUP])
    await hub.join(cat, GROUP)  # its current room: typing
    removal = changed(GroupAction.REMOVED, removed=(CAT,))

    await broker.publish([group_channel(GROUP)], removal)
    await broker.publish([group_channel(GROUP), room_channel(GROUP)], b'{"type":"after"}')

    assert list(cat.outbox) == [removal]
    assert list(ann.outbox) == [removal, b'{"type":"after"}']
    assert cat.groups == set()
    assert cat.room_id is None


async def test_an_added_member_starts_hearing_the_group() -> None:
    broker = MemoryBroker()
    hub = Hub(broker, max_per_user=5)
    await connected(hub, ANN, [GROUP])
    ben = await connected(hub, BEN, [])

    await broker.publish([user_channel(BEN)], changed(GroupAction.ADDED, added=(BEN,)))
    await settle()
    await broker.publish([group_channel(GROUP)], b'{"type":"after"}')

    assert list(ben.outbox)[-1] == b'{"type":"after"}'
    assert ben.groups == {GROUP}


async def test_the_last_socket_of_a_group_gone_ends_its_subscription() -> None:
    broker = MemoryBroker()
    hub = Hub(broker, max_per_user=5)
    conn = await connected(hub, ANN, [GROUP])

    await hub.unregister(conn)

    assert not broker._subscribers.get(group_channel(GROUP))


class GappyBroker(MemoryBroker):
    """Keeps each subscription's `on_gap`, to call as a Redis outage would."""

    def __init__(self) -> None:
        super().__init__()
        self.gaps: dict[str, Callable[[], None]] = {}

    async def subscribe(
        self, channel: str, deliver: Deliver, *, on_gap: Callable[[], None] | None = None
    ) -> Callable[[], Awaitable[None]]:
        if on_gap is not None:
            self.gaps[channel] = on_gap
        return await super().subscribe(channel, deliver, on_gap=on_gap)


async def test_a_gap_on_a_group_channel_closes_its_sockets_so_they_reconnect_with_fresh_groups() -> None:
    """The gap may have swallowed a removal: hearing the group on would leak it to someone removed."""
    broker = GappyBroker()
    hub = Hub(broker, max_per_user=5)
    ann, ben = await connected(hub, ANN, [GROUP]), await connected(hub, BEN, [])

    broker.gaps[group_channel(GROUP)]()

    assert ann.ending is not None
    assert ann.ending[0] == 1012
    assert ben.ending is None
