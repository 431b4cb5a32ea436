"""Rows written straight into the chat tables (src/chat_adapters/sql/tables.py), not through the API.

Users, rooms and participants are multi-row inserts with ids we choose (contiguous, so message rows can be
computed from them); messages are one INSERT ... SELECT over a generated series per batch, so a million rows
take seconds on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    DateTime,
    String,
    TableClause,
    TextClause,
    column,
    func,
    insert,
    inspect,
    select,
    table,
    text,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from chat_adapters.sql.engine import create_engine

# The columns of src/chat_adapters/sql/tables.py that the seed fills, spelled out here rather than imported,
# so the bench can seed the schema of another revision (run.py --rev) than the one in this checkout.
users = table(
    "users",
    column("id", BigInteger),
    column("name", String),
    column("email", String),
    column("email_normalized", String),
    column("avatar_url", String),
)
rooms = table(
    "chat_rooms",
    column("id", BigInteger),
    column("name", String),
    column("room_type", String),
    column("created_by", BigInteger),
    column("created_at", DateTime(timezone=True)),
    column("updated_at", DateTime(timezone=True)),
    column("is_active", Boolean),
    column("direct_key", String),
)
participants = table(
    "chat_participants",
    column("room_id", BigInteger),
    column("user_id", BigInteger),
    column("joined_at", DateTime(timezone=True)),
)
messages = table("chat_messages", column("id", BigInteger))
DIRECT_ROOM_NAME = "Direct Chat"  # chatcore.rooms.DIRECT_ROOM_NAME

CHUNK = 1000  # rows per multi-row insert: well under SQLite's and asyncpg's bind-parameter limits
TEXT = "': an ordinary line of chat text, about as long as most messages are.'"

_COLUMNS = "room_id, sender_id, receiver_id, message_type, content, created_at{flag}, is_deleted, is_edited{words}"
# Message i goes to room (i mod R); each room's senders alternate between `me` and the other participant
# every R messages; the newest `unread` messages stay unread, all older ones are read: by the `is_read` flag up
# to revision 0004, by the participants' read markers from 0005 on (MARKERS, after the insert).
_SELECT = (
    ":first_room + i % :rooms,"
    " CASE WHEN (i / :rooms) % 2 = 0 THEN :me ELSE :first_other + i % :rooms END,"
    " CASE WHEN (i / :rooms) % 2 = 0 THEN :first_other + i % :rooms ELSE :me END,"
    " 'text', 'Message ' || i || " + TEXT + ", {created}{flag}, {false}, {false}{words}"
)
# From 0007 on: the message's search words, as chatcore.search.index_text folds them (the text is ASCII, so
# lower case and spaces are all it takes); PostgreSQL's parser makes the same positions of such plain words.
WORDS = "'message ' || i || ' an ordinary line of chat text about as long as most messages are'"
SQLITE_CREATED = "strftime('%Y-%m-%d %H:%M:%S', :epoch + i, 'unixepoch') || '.000000'"


def _messages_sql(*, postgres: bool, flags: bool, words: bool = False) -> TextClause:
    """The INSERT ... SELECT of a batch, with the `is_read` flag (revisions before 0005) or without, with the
    search words (0007 on) or without."""
    columns = _COLUMNS.format(flag=", is_read" if flags else "", words=", search_words" if words else "")
    flag = ", i <= :read_upto" if flags else ""
    if postgres:
        vector = f", to_tsvector('simple', {WORDS})" if words else ""
        select_list = _SELECT.format(created="to_timestamp(:epoch + i)", flag=flag, false="false", words=vector)
        return text(
            f"INSERT INTO chat_messages ({columns}) SELECT {select_list}"
            " FROM generate_series(CAST(:start AS bigint), CAST(:end AS bigint)) AS g(i)"
        )
    select_list = _SELECT.format(created=SQLITE_CREATED, flag=flag, false="0", words=f", {WORDS}" if words else "")
    return text(
        "WITH RECURSIVE seq(i) AS (SELECT :start UNION ALL SELECT i + 1 FROM seq WHERE i < :end) "
        f"INSERT INTO chat_messages ({columns}) SELECT {select_list} FROM seq"
    )


MARK_READ = "UPDATE chat_messages SET is_read = {true} WHERE is_read = {false} AND room_id BETWEEN :low AND :high"
# From 0005 on: each participant has read up to the room's newest message but the `unread` newest ones overall
# (the seed's ids are contiguous, in the order of i).
MARKERS = (
    "UPDATE chat_participants SET last_read_message_id = (SELECT max(m.id) FROM chat_messages m"
    " WHERE m.room_id = chat_participants.room_id"
    " AND m.id <= (SELECT max(n.id) FROM chat_messages n) - :unread) WHERE room_id BETWEEN :low AND :high"
)
ROOM_UPDATED_AT = (
    "UPDATE chat_rooms SET updated_at = (SELECT m.created_at FROM chat_messages m"
    " WHERE m.room_id = chat_rooms.id ORDER BY m.id DESC LIMIT 1){version} WHERE id BETWEEN :low AND :high"
)
# From 0006 on: every 7th message to `me` mentions them (`<@me>`), so the room list counts unread mentions over
# a mention table as long as a busy person's would be (the message rows keep their plain text: the list reads
# only chat_mentions).
MENTIONS = (
    "INSERT INTO chat_mentions (user_id, room_id, message_id) SELECT receiver_id, room_id, id FROM chat_messages"
    " WHERE id > :after AND receiver_id = :me AND id % 7 = 0"
)
# Rows written past the service must move the rooms' versions (migration 0003), as docs/deploy.md asks of any
# such writer: a running service keeps room lists and reads again only the rooms whose version moved.
VERSION = ", version = version + 1"


FILL_SEARCH_INDEX = (
    "INSERT INTO chat_messages_fts (rowid, search_words) SELECT id, search_words FROM chat_messages"
    " WHERE id > (SELECT indexed_upto FROM chat_messages_fts_state) AND search_words IS NOT NULL"
)

EPOCH = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())


def _columns(connection: Connection, table_name: str) -> set[str]:
    return {c["name"] for c in inspect(connection).get_columns(table_name)}


def _epoch() -> datetime:
    return datetime.fromtimestamp(EPOCH, UTC)


class Seeder:
    """Bulk rows for one database; `close()` disposes the engine (an undisposed aiosqlite engine hangs exit)."""

    def __init__(self, url: str) -> None:
        self.engine: AsyncEngine = create_engine(url)
        self.postgres = self.engine.dialect.name == "postgresql"
        self._true, self._false = ("true", "false") if self.postgres else ("1", "0")

    async def close(self) -> None:
        await self.engine.dispose()

    async def _next_id(self, into: TableClause) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.coalesce(func.max(into.c.id), 0)))).scalar_one()) + 1

    async def users(self, count: int, label: str) -> list[int]:
        first = await self._next_id(users)
        ids = list(range(first, first + count))
        rows = [
            {
                "id": i,
                "name": f"{label.title()} {i}",
                "email": f"{label}.{i}@bench.example",
                "email_normalized": f"{label}.{i}@bench.example",
                "avatar_url": None,
            }
            for i in ids
        ]
        await self._insert_many(users, rows)
        return ids

    async def rooms(self, pairs: Sequence[tuple[int, int]]) -> list[int]:
        """Direct rooms with both participants, as `POST /rooms` would make them; contiguous ids."""
        first = await self._next_id(rooms)
        now = _epoch()
        ids = list(range(first, first + len(pairs)))
        room_rows = [
            {
                "id": room_id,
                "name": DIRECT_ROOM_NAME,
                "room_type": "direct",
                "created_by": a,
                "created_at": now,
                "updated_at": now,
                "is_active": True,
                "direct_key": f"{min(a, b)}:{max(a, b)}",  # chat_adapters.sql.rooms.direct_key
            }
            for room_id, (a, b) in zip(ids, pairs, strict=True)
        ]
        member_rows = [
            {"room_id": room_id, "user_id": user, "joined_at": now}
            for room_id, pair in zip(ids, pairs, strict=True)
            for user in pair
        ]
        await self._insert_many(rooms, room_rows)
        await self._insert_many(participants, member_rows)
        return ids

    async def _insert_many(self, into: TableClause, rows: Sequence[Mapping[str, object]]) -> None:
        async with self.engine.begin() as conn:
            for start in range(0, len(rows), CHUNK):
                await conn.execute(insert(into).values(rows[start : start + CHUNK]))
        await self._sync_sequences()

    async def messages(
        self, *, me: int, first_room: int, first_other: int, rooms: int, start: int, end: int, unread: int
    ) -> None:
        """Messages number `start`..`end` (inclusive) of the history `me` has with `rooms` others."""
        params = {
            "me": me,
            "first_room": first_room,
            "first_other": first_other,
            "rooms": rooms,
            "read_upto": end - unread,
            "epoch": EPOCH,  # message i was sent i seconds after it
        }
        span = {"low": first_room, "high": first_room + rooms - 1}
        async with self.engine.begin() as conn:
            message_columns = await conn.run_sync(lambda sync: _columns(sync, "chat_messages"))
            flags, words = "is_read" in message_columns, "search_words" in message_columns
            mentions = await conn.run_sync(lambda sync: inspect(sync).has_table("chat_mentions"))
            newest_before = (await conn.execute(text("SELECT coalesce(max(id), 0) FROM chat_messages"))).scalar_one()
        statement = _messages_sql(postgres=self.postgres, flags=flags, words=words)
        batch = 250_000  # bounded transactions: WAL and memory stay small
        if flags:
            async with self.engine.begin() as conn:  # what was unread so far has been read meanwhile
                await conn.execute(text(MARK_READ.format(true=self._true, false=self._false)), span)
        for low in range(start, end + 1, batch):
            async with self.engine.begin() as conn:
                if not self.postgres:  # the (room_id, id) index is written all over: keep it in memory
                    await conn.execute(text("PRAGMA cache_size = -262144"))
                await conn.execute(statement, {**params, "start": low, "end": min(end, low + batch - 1)})
        async with self.engine.begin() as conn:
            if mentions:
                await conn.execute(text(MENTIONS), {"after": newest_before, "me": me})
            if not flags:
                await conn.execute(text(MARKERS), {**span, "unread": unread})
            columns = await conn.run_sync(lambda sync: _columns(sync, "chat_rooms"))
            touch = ROOM_UPDATED_AT.format(version=VERSION if "version" in columns else "")  # older revisions: none
            await conn.execute(text(touch), span)
        await self._sync_sequences()
        await self._fill_search_index()
        await self.analyze()

    async def _sync_sequences(self) -> None:
        """Explicit ids leave PostgreSQL's sequences behind: move them on, so the app's own inserts still work."""
        if not self.postgres:
            return
        async with self.engine.begin() as conn:
            for table in ("users", "chat_rooms", "chat_participants", "chat_messages"):
                await conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                        f" GREATEST((SELECT max(id) FROM {table}), 1))"
                    )
                )

    async def _fill_search_index(self) -> None:
        """SQLite from migration 0008 on: the FTS5 table takes the new messages in one statement, as a database
        that has held them for a while would have them (the service fills it after its own sends, and after a
        bulk load within seconds, but in batches: the searches timed here would otherwise meet a backlog)."""
        async with self.engine.begin() as conn:
            if self.postgres or not await conn.run_sync(lambda s: inspect(s).has_table("chat_messages_fts_state")):
                return
            await conn.execute(text(FILL_SEARCH_INDEX))
            await conn.execute(
                text("UPDATE chat_messages_fts_state SET indexed_upto = (SELECT max(id) FROM chat_messages)")
            )

    async def analyze(self) -> None:
        """PostgreSQL: VACUUM ANALYZE, as autovacuum soon would after a bulk load. SQLite: nothing (the app
        never runs ANALYZE, so the planner works without statistics there, as it would in production)."""
        if not self.postgres:
            return
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            extra = await conn.run_sync(lambda sync: inspect(sync).has_table("chat_mentions"))
            for table in ("users", "chat_rooms", "chat_participants", "chat_messages") + (("chat_mentions",) * extra):
                await conn.execute(text(f"VACUUM ANALYZE {table}"))

    async def message_count(self) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(messages))).scalar_one())

    async def database_mb(self) -> float:
        async with self.engine.connect() as conn:
            if self.postgres:
                size = (await conn.execute(text("SELECT pg_database_size(current_database())"))).scalar_one()
            else:
                pages = (await conn.execute(text("PRAGMA page_count"))).scalar_one()
                page_size = (await conn.execute(text("PRAGMA page_size"))).scalar_one()
                size = pages * page_size
        return round(int(size) / 2**20, 1)
