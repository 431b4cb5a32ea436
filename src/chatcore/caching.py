"""Short-lived caches of facts that rarely or never change, to keep queries off the hot path."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Hashable
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from chatcore.model import User, UserId
from chatcore.ports import Clock, UserDirectory

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Lru(Generic[K, V]):
    """A bounded mapping that forgets the least recently used entry first."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)

    def discard(self, key: K) -> None:
        self._items.pop(key, None)


class CachedUserDirectory:
    """Names and avatars change rarely: a found user is reused for `ttl`; unknown ids are always asked again."""

    def __init__(
        self, directory: UserDirectory, clock: Clock, *, ttl: timedelta = timedelta(seconds=30), capacity: int = 50_000
    ) -> None:
        self._directory = directory
        self._clock = clock
        self._ttl = ttl
        self._found: Lru[UserId, tuple[User, datetime]] = Lru(capacity)

    async def get_many(self, ids: Collection[UserId]) -> dict[UserId, User]:
        now = self._clock.now()
        found: dict[UserId, User] = {}
        missing: list[UserId] = []
        for user_id in ids:
            entry = self._found.get(user_id)
            if entry is not None and entry[1] > now:
                found[user_id] = entry[0]
            else:
                missing.append(user_id)
        if missing:
            fetched = await self._directory.get_many(missing)
            for user_id, user in fetched.items():
                self._found.put(user_id, (user, now + self._ttl))
            found.update(fetched)
        return found

    async def search_email(self, fragment: str, *, exclude: UserId, limit: int) -> list[User]:
        return await self._directory.search_email(fragment, exclude=exclude, limit=limit)
