"""Finding colleagues and knowing who is still there."""

from __future__ import annotations

import unicodedata
from collections.abc import Collection

from chatcore.context import Context
from chatcore.errors import InvalidError, NotFoundError
from chatcore.model import User, UserId
from chatcore.views import UserCard

MAX_EMAIL_LENGTH = 254  # RFC 5321's longest address


def _check_fragment(fragment: str) -> None:
    """No email holds a space or a control character, so a fragment with one cannot match: refused, not
    searched (a NUL ended SQLite's LIKE pattern early, so `%00%00` matched the whole directory)."""
    if len(fragment) > MAX_EMAIL_LENGTH:
        raise InvalidError(f"email may be at most {MAX_EMAIL_LENGTH} characters", field="email")
    if any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in fragment):
        raise InvalidError("email must not contain spaces or control characters", field="email")


class People:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def search_users(self, me: UserId, email: str) -> list[UserCard]:
        ctx = self._ctx
        fragment = email.strip()
        if len(fragment) < ctx.limits.search_min_length:
            raise InvalidError(f"email must have at least {ctx.limits.search_min_length} characters", field="email")
        _check_fragment(fragment)
        per_minute = ctx.limits.search_per_minute
        await ctx.limiter.take(f"search:{me}", rate=per_minute / 60, burst=per_minute, what="searches")
        found = await ctx.users.search_email(fragment, exclude=me, limit=ctx.limits.search_max_results)
        online = await ctx.live.online([user.id for user in found])
        return [UserCard.of(user, is_online=user.id in online) for user in found]

    async def user(self, user_id: UserId) -> User:
        """NotFoundError for ids the directory does not know (a valid token for a removed employee). Asked of the
        directory itself, never a cache: a removal takes effect on the next request."""
        found = await self._ctx.directory.get_many([user_id])
        if user_id not in found:
            raise NotFoundError("user not found", field="user_id")
        return found[user_id]

    async def gone(self, users: Collection[UserId], *, batch: int = 500) -> set[UserId]:
        """Those of `users` the directory no longer knows (removed employees, whose sockets must close)."""
        ids = sorted(set(users))
        missing: set[UserId] = set()
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            found = await self._ctx.directory.get_many(chunk)
            missing.update(user for user in chunk if user not in found)
        return missing
