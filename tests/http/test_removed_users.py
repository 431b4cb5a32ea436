"""The check of connected users against the directory: a few at a time, in turn, so every one is reached."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any, cast

from chat_http.hub import Connection, Hub
from chat_http.wiring import _close_sockets_of_removed_users
from chatcore import UserId
from chatcore.testing import MemoryBroker


class Directory:
    """What the check asks of the chat: which of these users are gone; it records each question."""

    def __init__(self, gone: set[UserId]) -> None:
        self.removed = gone
        self.asked: list[list[UserId]] = []

    async def gone(self, users: Collection[UserId]) -> set[UserId]:
        self.asked.append(list(users))
        return self.removed & set(users)


async def test_users_are_checked_a_batch_at_a_time_in_turn_and_the_removed_one_is_closed() -> None:
    hub = Hub(MemoryBroker(), max_per_user=5)
    conns = {user: Connection(UserId(user), queue_size=5) for user in (1, 2, 3)}
    for conn in conns.values():
        await hub.register(conn)
    chat = Directory(gone={UserId(3)})
    check = asyncio.create_task(_close_sockets_of_removed_users(cast(Any, chat), hub, 0.001, 2))
    for _ in range(1000):  # bounded
        if conns[3].ending is not None:
            break
        await asyncio.sleep(0.001)
    check.cancel()

    assert chat.asked[:2] == [[1, 2], [3]]
    assert conns[3].ending == (4001, "user not found")
    assert (conns[1].ending, conns[2].ending) == (None, None)
