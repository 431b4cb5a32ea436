"""Short-lived caches of facts that rarely or never change, to keep queries off the hot path."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Hashable
from datetime import datetime, timedelta
from typing import Generic, TypeVar

import attrs

from chatcore.model import RoomId, RoomSummary, User, UserId
from chatcore.ports import Clock, UserDirectory
from chatcore.views import RoomView

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

    def pop(self, key: K) -> None:
        self._items.pop(key, None)

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)


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


@attrs.frozen
class BuiltRoom:
    """A line of a room list and what it was built from; reused while all of it is unchanged."""

    summary: RoomSummary
    other: User
    sender: User | None
    view: RoomView


@attrs.frozen
class RoomList:
    """A user's room list as last built: the rooms' versions it was read at, its summaries (newest activity
    first) and each room's line."""

    versions: dict[RoomId, int]
    summaries: list[RoomSummary]
    built: dict[RoomId, BuiltRoom]

    def moved(self, versions: dict[RoomId, int]) -> list[RoomId]:
        """Rooms whose version is not the kept one (new rooms included)."""
        return [room for room, version in versions.items() if self.versions.get(room) != version]

    def merged(self, versions: dict[RoomId, int], moved: list[RoomId], fresh: list[RoomSummary]) -> list[RoomSummary]:
        """The kept summaries of rooms still listed in `versions` and not `moved`, with `fresh` (the moved rooms
        read again; one that is gone meanwhile is simply missing), in the store's order (newest activity
        first)."""
        stale = set(moved)
        current = [s for s in self.summaries if s.room.id in versions and s.room.id not in stale]
        current.extend(fresh)
        current.sort(key=RoomSummary.activity, reverse=True)
        return current

    def reusable(self, summary: RoomSummary, *, other: User, sender: User | None, is_online: bool) -> BuiltRoom | None:
        """The line built before from this very summary, with the same people and presence, if any.

        The summary is compared by identity (`merged` hands out the kept objects of unmoved rooms) and users by
        identity first: the directory cache hands out the same objects while they are unchanged.
        """
        prior = self.built.get(summary.room.id)
        if (
            prior is not None
            and prior.summary is summary
            and prior.view.other_user is not None
            and prior.view.other_user.is_online == is_online
            and (prior.other is other or prior.other == other)
            and (prior.sender is sender or prior.sender == sender)
        ):
            return prior
        return None


class RoomListCache:
    """The room lists of users with many rooms, kept between their requests.

    Reading and building a list of 1,000 rooms takes tens of ms, and between two requests a few rooms change
    if any. A kept list is never trusted: each use reads the rooms' versions first (one small statement) and
    reads again only the rooms whose version moved, so a change made by any process shows at once. Lists
    shorter than `min_rooms` are not kept (they are cheap to read); at most `capacity` rooms are kept in all,
    the least recently used list is dropped first.
    """

    def __init__(self, *, capacity: int, min_rooms: int) -> None:
        self._capacity = capacity
        self._min_rooms = min_rooms
        self._lists: OrderedDict[UserId, RoomList] = OrderedDict()
        self._rooms = 0

    def get(self, user: UserId) -> RoomList | None:
        found = self._lists.get(user)
        if found is not None:
            self._lists.move_to_end(user)
        return found

    def put(self, user: UserId, rooms: RoomList) -> None:
        self.discard(user)
        if not self._min_rooms <= len(rooms.summaries) <= self._capacity:
            return
        self._lists[user] = rooms
        self._rooms += len(rooms.summaries)
        while self._rooms > self._capacity:
            _, dropped = self._lists.popitem(last=False)
            self._rooms -= len(dropped.summaries)

    def discard(self, user: UserId) -> None:
        dropped = self._lists.pop(user, None)
        if dropped is not None:
            self._rooms -= len(dropped.summaries)

    @property
    def rooms(self) -> int:
        """Rooms held in all the kept lists."""
        return self._rooms
