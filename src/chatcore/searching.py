"""Searching the messages one may read (contract section 13); the query language is search.py's."""

from __future__ import annotations

from datetime import datetime

from chatcore.context import Context, people_of
from chatcore.errors import InvalidError
from chatcore.model import MAX_ID, MessageId, RoomId, UserId
from chatcore.search import MAX_LIMIT, SearchQuery, parse_terms, searchable, snippet
from chatcore.views import SearchHit, SearchPage


class Searching:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def search(
        self,
        me: UserId,
        q: str,
        *,
        room_id: RoomId | None = None,
        sender_id: UserId | None = None,
        after: datetime | None = None,
        before: datetime | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> SearchPage:
        """Only what `me` may read: a room they are not in (or a stranger's filter) finds nothing rather than
        saying whether it exists."""
        ctx = self._ctx
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidError(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
        if after is not None and before is not None and after >= before:
            raise InvalidError("after must be earlier than before", field="after")
        query = SearchQuery(
            terms=parse_terms(q),
            room_id=room_id,
            sender_id=sender_id,
            after=after,
            before=before,
            before_id=_cursor(cursor),
            limit=limit,
        )
        per_minute = ctx.limits.search_per_minute
        await ctx.limiter.take(f"search-messages:{me}", rate=per_minute / 60, burst=per_minute, what="searches")
        async with ctx.uow() as uow:
            found = await uow.messages.search(me, query)
            page, more = found[:limit], len(found) > limit
            members = await uow.rooms.members_of({m.room_id for m in page}) if page else {}
        users = await ctx.users.get_many(people_of(page))
        hits = []
        for message in page:
            marks = members[message.room_id]
            mine = next((member for member in marks if member.user_id == me), None)
            if mine is None:  # left the room between the two reads (each its own snapshot on PostgreSQL)
                continue
            (view,) = await ctx.message_views([message], users, marks, viewer=mine)
            found_in = searchable(message.message_type, message.content, message.file_name) or ""
            cut = snippet(query.terms, found_in)
            hits.append(SearchHit(message=view, snippet=cut.text, highlights=[list(h) for h in cut.highlights]))
        next_cursor = str(page[-1].id) if more and page else None
        return SearchPage(results=hits, has_more=more, next_cursor=next_cursor)


def _cursor(text: str | None) -> MessageId | None:
    if text is None:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 19 and 1 <= int(text) <= MAX_ID):
        raise InvalidError("cursor is not one this server gave out", field="cursor")
    return MessageId(int(text))
