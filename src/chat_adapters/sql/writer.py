"""The send path's write straight through the driver: SQL text built once, one held connection, a batch per call.

Several times cheaper per message than statements through the session (bench/README.md, "Measurements
behind the code"); everything else keeps going through SQLAlchemy.

Only this process's sends use the connection, one batch at a time; other writers (SQLAlchemy sessions, other
processes) meet it in the database's own locking: SQLite's single writer lock (BEGIN IMMEDIATE, which waits
`busy_timeout`), PostgreSQL's row locks on the rooms, taken in id order.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import attrs
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.schema import Table

from chat_adapters.sql.driver import in_sqlite_thread, qualified, sqlite_timestamp
from chat_adapters.sql.errors import UNAVAILABLE, driver_errors, driver_unavailable, translated
from chat_adapters.sql.messages import mention_rows, mentions_to_json, note_to_json
from chat_adapters.sql.search_index import tsvector_of, words_of
from chat_adapters.sql.tables import DEFAULT_LAYOUT, ChatLayout, fts_table_name, search_state_name
from chatcore.errors import ConflictError, NotFoundError, OutcomeUnknownError, UnavailableError
from chatcore.model import Message, MessageDraft, MessageId, RoomId, UserId

log = logging.getLogger("chat_adapters.sql")

# Every column a new message gets from its draft, in the order both dialects bind them.
DRAFT_COLUMNS = (
    "room_id",
    "sender_id",
    "receiver_id",
    "message_type",
    "content",
    "file_name",
    "file_path",
    "file_size",
    "mime_type",
    "created_at",
    "client_msg_id",
    "system",
    "search_words",  # what search finds the message by (issue 19): SQLite's triggers index it in the same statement
)
# Only a batch with a reply or a mention binds these, and writes its `chat_mentions` rows in the same transaction:
# a plain batch runs the same SQL as before issue 18.
EXTRA_COLUMNS = ("reply_to_id", "mentions")
CONFLICT = "client_msg_id was already used"
SQLITE_SYNCHRONOUS = {0: "off", 1: "normal", 2: "full", 3: "extra"}  # PRAGMA synchronous's numbers
# SQLite's search index is filled after the sends' commits (migration 0008): at most this many message ids a
# transaction, at most every `index_every` seconds while sends go on.
INDEX_BATCH = 5_000
BACKLOG_PAUSE = 0.05  # seconds between two full batches


@attrs.frozen
class SearchBacklog:
    """SQLite: the statements that add the messages past `indexed_upto` to the FTS5 table (see migration 0008)."""

    upto: str
    newest: str
    index: str
    moved: str

    @classmethod
    def of(cls, layout: ChatLayout, dialect: Dialect) -> SearchBacklog:
        fts = qualified(layout, dialect, fts_table_name(layout.prefix))
        state = qualified(layout, dialect, search_state_name(layout.prefix))
        messages = qualified(layout, dialect, layout.tables.messages.name)
        return cls(
            upto=f"SELECT indexed_upto FROM {state}",
            newest=f"SELECT coalesce(max(id), 0) FROM {messages}",
            index=f"INSERT INTO {fts} (rowid, search_words) SELECT id, search_words FROM {messages}"
            " WHERE id > ? AND id <= ? AND search_words IS NOT NULL",
            moved=f"UPDATE {state} SET indexed_upto = ?",
        )

    def _waiting(self, conn: sqlite3.Connection) -> int:
        ((upto,),) = conn.execute(self.upto).fetchall()
        ((newest,),) = conn.execute(self.newest).fetchall()
        return int(newest) - int(upto)

    def index_some(self, conn: sqlite3.Connection) -> int:
        """On aiosqlite's thread, in a transaction of its own: the next INDEX_BATCH message ids past `indexed_upto`
        (their words as they are now: an edit since its commit is indexed, a deleted message is not there);
        how many ids it moved on (fewer than INDEX_BATCH: none are left)."""
        if conn.in_transaction:  # an earlier batch failed between statements without its rollback
            conn.rollback()
        if self._waiting(conn) <= 0:  # looked at without the write lock: an idle round takes none
            return 0
        conn.execute("BEGIN IMMEDIATE")
        try:
            ((upto,),) = conn.execute(self.upto).fetchall()
            ((newest,),) = conn.execute(self.newest).fetchall()
            to = min(newest, upto + INDEX_BATCH)
            if to > upto:
                conn.execute(self.index, (upto, to))
                conn.execute(self.moved, (to,))
            conn.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                conn.rollback()
            raise
        return max(int(to) - int(upto), 0)


async def index_search_backlog(engine: AsyncEngine, layout: ChatLayout = DEFAULT_LAYOUT) -> None:
    """SQLite: every message past `indexed_upto` into the FTS5 table now, on a connection of the engine's pool (a
    running service's writer does it by itself after its sends; this is for tools and tests)."""
    if engine.dialect.name != "sqlite":
        return
    backlog = SearchBacklog.of(layout, engine.dialect)
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        while await in_sqlite_thread(raw.driver_connection, backlog.index_some) >= INDEX_BATCH:
            pass


def _row(
    draft: MessageDraft, stamp: Callable[[datetime], Any], search: Callable[[str | None], str | None]
) -> tuple[Any, ...]:
    """The DRAFT_COLUMNS of a draft; `search` turns its words into the dialect's `search_words` value."""
    file = draft.file
    return (
        draft.room_id,
        draft.sender_id,
        draft.receiver_id,
        draft.message_type.value,
        draft.content,
        file.file_name if file else None,
        file.file_path if file else None,
        file.file_size if file else None,
        file.mime_type if file else None,
        stamp(draft.created_at),
        draft.client_msg_id,
        None if draft.system is None else json.dumps(note_to_json(draft.system)),
        search(words_of(draft.message_type, draft.content, file.file_name if file else None)),
    )


def _same(words: str | None) -> str | None:
    """SQLite's `search_words`: the words themselves."""
    return words


def _has_extras(drafts: Sequence[MessageDraft]) -> bool:
    return any(draft.reply_to is not None or draft.mentions for draft in drafts)


def _extras(draft: MessageDraft) -> tuple[Any, ...]:
    """The EXTRA_COLUMNS of a draft: what it answers, whom it names (JSON text, as `system`)."""
    named = mentions_to_json(draft.mentions)
    return (None if draft.reply_to is None else draft.reply_to.id, None if named is None else json.dumps(named))


def _mentions(drafts: Sequence[MessageDraft], ids: Sequence[int]) -> list[tuple[int, int, int]]:
    """(user_id, room_id, message_id) rows for `chat_mentions`, the drafts matched to their ids in order."""
    return [
        (row["user_id"], row["room_id"], row["message_id"])
        for draft, message_id in zip(drafts, ids, strict=True)
        for row in mention_rows(message_id, draft.room_id, draft.sender_id, draft.mentions)
    ]


class NotMemberError(Exception):
    """A group message's sender is no longer in the group (found inside the batch's transaction)."""


def _group_senders(drafts: Sequence[MessageDraft]) -> list[tuple[RoomId, UserId]]:
    """The (group, sender) pairs of the batch: a group message is stored only while its sender is a member."""
    return sorted({(d.room_id, d.sender_id) for d in drafts if d.receiver_id is None})


def _touches(drafts: Sequence[MessageDraft]) -> list[tuple[RoomId, datetime]]:
    """Each room once, with its newest message's time, in id order (the lock order)."""
    newest: dict[RoomId, datetime] = {}
    for draft in drafts:
        if draft.room_id not in newest or draft.created_at > newest[draft.room_id]:
            newest[draft.room_id] = draft.created_at
    return sorted(newest.items())


class _Sqlite:
    """aiosqlite: BEGIN, the touches in one executemany, one multi-row INSERT ... RETURNING (then the mentions'
    rows in one executemany, for a batch that has any), COMMIT, all in one call into its thread (one hop instead
    of three: less latency per batch and less CPU per message)."""

    def __init__(
        self, rooms: str, messages: str, participants: str, mentions: str, stamp: Callable[[datetime], Any]
    ) -> None:
        self.stamp = stamp
        self._touch = f"UPDATE {rooms} SET updated_at = ?, version = version + 1 WHERE id = ?"
        self._member = f"SELECT 1 FROM {participants} WHERE room_id = ? AND user_id = ?"
        self._insert = f"INSERT INTO {messages} ({', '.join(DRAFT_COLUMNS)}, is_deleted, is_edited) VALUES "
        self._values = f"({', '.join('?' * len(DRAFT_COLUMNS))}, 0, 0)"
        extra = (*DRAFT_COLUMNS, *EXTRA_COLUMNS)
        self._insert_extras = f"INSERT INTO {messages} ({', '.join(extra)}, is_deleted, is_edited) VALUES "
        self._values_extras = f"({', '.join('?' * len(extra))}, 0, 0)"
        self._mention = f"INSERT OR IGNORE INTO {mentions} (user_id, room_id, message_id) VALUES (?, ?, ?)"

    async def write(self, driver: Any, drafts: Sequence[MessageDraft]) -> list[int]:
        texts: dict[datetime, str] = {}  # a room's touch is its newest draft's time: format each time once

        def stamp(at: datetime) -> str:
            text = texts.get(at)
            if text is None:
                text = texts[at] = self.stamp(at)
            return text

        touches = [(stamp(at), room) for room, at in _touches(drafts)]
        senders = _group_senders(drafts)
        if _has_extras(drafts):
            params = [value for draft in drafts for value in (*_row(draft, stamp, _same), *_extras(draft))]
            sql = self._insert_extras + ", ".join([self._values_extras] * len(drafts)) + " RETURNING id"
            mentioning = drafts if any(draft.mentions for draft in drafts) else None
        else:
            params = [value for draft in drafts for value in _row(draft, stamp, _same)]
            sql = self._insert + ", ".join([self._values] * len(drafts)) + " RETURNING id"
            mentioning = None
        write = functools.partial(
            self._write, touches=touches, senders=senders, sql=sql, params=params, mentioning=mentioning
        )
        return await in_sqlite_thread(driver, write)

    def _write(
        self,
        conn: sqlite3.Connection,
        *,
        touches: list[tuple[str, RoomId]],
        senders: list[tuple[RoomId, UserId]],
        sql: str,
        params: list[Any],
        mentioning: Sequence[MessageDraft] | None,
    ) -> list[int]:
        """On aiosqlite's thread. Cancelling the awaiting task does not stop it: the batch is all in or all out."""
        if conn.in_transaction:  # an earlier batch failed between statements without its rollback
            conn.rollback()
        if conn.isolation_level is None:  # autocommit: begin ourselves
            conn.execute("BEGIN IMMEDIATE")
        # Otherwise the sqlite3 module begins before the UPDATE: a write statement takes the write lock
        # (waiting busy_timeout) before it reads, so this is as good as BEGIN IMMEDIATE.
        try:
            conn.executemany(self._touch, touches)
            for room, sender in senders:  # under the write lock: no removal can commit in between
                if conn.execute(self._member, (room, sender)).fetchone() is None:
                    raise NotMemberError
            # One statement's new rowids grow in row order (AUTOINCREMENT: past the largest ever given, + 1 each).
            ids = sorted(row[0] for row in conn.execute(sql, params).fetchall())
            if mentioning is not None:
                conn.executemany(self._mention, _mentions(mentioning, ids))
            conn.commit()
        except BaseException:
            with contextlib.suppress(Exception):  # the first error matters; a broken connection is dropped
                conn.rollback()
            raise
        return ids

    @staticmethod
    def failure(exc: BaseException) -> Exception | None:
        if isinstance(exc, NotMemberError):
            return NotFoundError("room not found", field="room_id")
        if isinstance(exc, sqlite3.IntegrityError):
            if "foreign key" in str(exc).lower():
                return NotFoundError("room not found", field="room_id")
            return ConflictError(CONFLICT, field="client_msg_id")
        return UnavailableError(UNAVAILABLE) if driver_unavailable(exc) else None


class _Postgres:
    """asyncpg: the whole batch in one statement, so one round trip (it commits on its own).

    `locked` takes the rooms' row locks in id order (no deadlock between batches of several processes);
    the INSERT reads `touched`, whose UPDATE reads `locked`, so the locks are held before the sequence
    hands out ids: a room's ids grow in commit order, which `after_id` catch-up relies on.
    """

    TYPES = (
        "bigint",
        "bigint",
        "bigint",
        "text",
        "text",
        "text",
        "text",
        "bigint",
        "text",
        "timestamptz",
        "text",
        "json",
        "text",  # search_words: a tsvector literal, cast in the SELECT (asyncpg has no tsvector codec)
    )

    EXTRA_TYPES = ("bigint", "json")  # EXTRA_COLUMNS

    def __init__(
        self, rooms: str, messages: str, participants: str, mentions: str, stamp: Callable[[datetime], Any]
    ) -> None:
        self.stamp = stamp
        # A group message (no receiver) whose sender is not in the group divides by zero: the statement fails
        # whole, before any row is inserted (`failure` says NotFoundError), in the same snapshot as the insert.
        checked = (
            "checked AS (SELECT sum(1 / (CASE WHEN c.receiver_id IS NOT NULL OR EXISTS (SELECT 1 FROM "
            f"{participants} AS p WHERE p.room_id = c.room_id AND p.user_id = c.sender_id) THEN 1 ELSE 0 END)) AS ok "
            "FROM unnest($3::bigint[], $4::bigint[], $5::bigint[]) AS c(room_id, sender_id, receiver_id)), "
        )
        many = (
            "WITH " + checked + "locked AS MATERIALIZED ("
            f"SELECT id FROM {rooms} WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE), "
            f"touched AS (UPDATE {rooms} AS r SET updated_at = t.at, version = r.version + 1 "
            "FROM unnest($1::bigint[], $2::timestamptz[]) AS t(id, at) "
            "WHERE r.id = t.id AND r.id IN (SELECT id FROM locked) RETURNING r.id) "
        )
        # One room (every sequential send): its UPDATE is the only lock, so no order to keep: less work per send.
        one = (
            f"WITH {checked}touched AS (UPDATE {rooms} SET updated_at = ($2::timestamptz[])[1], version = version + 1 "
            "WHERE id = ($1::bigint[])[1] RETURNING id) "
        )
        plain, extras = (
            self._insert(messages, DRAFT_COLUMNS, self.TYPES),
            self._insert(messages, (*DRAFT_COLUMNS, *EXTRA_COLUMNS), (*self.TYPES, *self.EXTRA_TYPES)),
        )
        self._sql = many + plain + " RETURNING id"
        self._one_room_sql = one + plain + " RETURNING id"
        # With replies or mentions: the insert becomes a CTE whose rows the mentions' INSERT reads, all in the
        # same statement (so the same implicit transaction); the sender's own mention is never a row.
        mentioned = (
            f"inserted AS ({extras} RETURNING id, room_id, sender_id, mentions), "
            f"mentioned AS (INSERT INTO {mentions} (user_id, room_id, message_id) "
            "SELECT DISTINCT n.user_id::bigint, i.room_id, i.id FROM inserted AS i "
            "CROSS JOIN LATERAL json_array_elements_text(i.mentions) AS n(user_id) "
            "WHERE n.user_id::bigint <> i.sender_id) SELECT id FROM inserted"
        )
        self._sql_extras = many.removesuffix(" ") + ", " + mentioned
        self._one_room_sql_extras = one.removesuffix(" ") + ", " + mentioned

    @staticmethod
    def _insert(messages: str, columns: Sequence[str], types: Sequence[str]) -> str:
        arrays = ", ".join(f"${n}::{kind}[]" for n, kind in enumerate(types, start=3))
        names = ", ".join(columns)
        values = ", ".join(f"{name}::tsvector" if name == "search_words" else name for name in columns)
        # WITH ORDINALITY + ORDER BY: the sequence hands out ids in row order, so sorted ids match the drafts.
        return (
            f"INSERT INTO {messages} ({names}, is_deleted, is_edited) "
            f"SELECT {values}, false, false FROM unnest({arrays}) WITH ORDINALITY AS u({names}, n) "
            "WHERE (SELECT count(*) FROM touched) >= 0 AND (SELECT ok FROM checked) IS NOT NULL ORDER BY n"
        )

    async def write(self, driver: Any, drafts: Sequence[MessageDraft]) -> list[int]:
        touches = _touches(drafts)
        one_room = len(touches) == 1
        if _has_extras(drafts):
            sql = self._one_room_sql_extras if one_room else self._sql_extras
            rows_of = [(*_row(draft, self.stamp, tsvector_of), *_extras(draft)) for draft in drafts]
        else:
            sql = self._one_room_sql if one_room else self._sql
            rows_of = [_row(draft, self.stamp, tsvector_of) for draft in drafts]
        columns = zip(*rows_of, strict=True)
        rows = await driver.fetch(
            sql, [room for room, _ in touches], [self.stamp(at) for _, at in touches], *map(list, columns)
        )
        return sorted(row[0] for row in rows)

    @staticmethod
    def failure(exc: BaseException) -> Exception | None:
        import asyncpg  # only installed deployments on PostgreSQL get here

        if isinstance(exc, asyncpg.ForeignKeyViolationError | asyncpg.DivisionByZeroError):
            return NotFoundError("room not found", field="room_id")
        if isinstance(exc, asyncpg.UniqueViolationError):
            return ConflictError(CONFLICT, field="client_msg_id")
        # The statement commits by itself: lost with it on the wire, it may have committed or not.
        return OutcomeUnknownError(UNAVAILABLE) if driver_unavailable(exc) else None


class SqlMessageWriter:
    """The `MessageWriter` for SQLite (aiosqlite) and PostgreSQL (asyncpg), the two drivers chat runs on.

    Holds one connection of the engine's pool from the first send until `close()` (call it before disposing of
    the engine); a connection that failed is dropped and the next batch takes a fresh one.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        layout: ChatLayout = DEFAULT_LAYOUT,
        *,
        checkpoint_every: float = 1.0,
        index_every: float = 0.25,
        idle_every: float = 2.0,
    ) -> None:
        """SQLite only: `checkpoint_every`, seconds between WAL checkpoints (see `_checkpoint_soon`);
        `index_every`, at least between fillings of the search index, `idle_every` at most (`start_indexing`)."""
        dialect = engine.dialect
        tables = layout.tables

        def name(table: Table) -> str:
            return qualified(layout, dialect, table.name)

        self._backend: _Sqlite | _Postgres
        if dialect.driver == "aiosqlite":
            self._backend = _Sqlite(
                name(tables.rooms),
                name(tables.messages),
                name(tables.participants),
                name(tables.mentions),
                sqlite_timestamp,
            )
        elif dialect.driver == "asyncpg":  # takes aware datetimes as they are
            self._backend = _Postgres(
                name(tables.rooms),
                name(tables.messages),
                name(tables.participants),
                name(tables.mentions),
                lambda value: value,
            )
        else:
            raise ValueError(f"no SqlMessageWriter for the {dialect.name}+{dialect.driver} driver")
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._driver: Any = None
        self._lock = asyncio.Lock()
        self._checkpoint_every = checkpoint_every
        self._next_checkpoint = 0.0
        self._checkpoint: asyncio.Task[None] | None = None
        self._backlog = SearchBacklog.of(layout, dialect) if isinstance(self._backend, _Sqlite) else None
        self._index_every = index_every
        self._next_index = 0.0
        self._idle_every = idle_every
        self._indexing: asyncio.Task[None] | None = None
        self._index_wanted = asyncio.Event()
        self._closing = asyncio.Event()
        # How durable the commits of sends are, read on the connection that makes them when it is taken:
        # SQLite's `PRAGMA synchronous` (full, normal ...), PostgreSQL's `synchronous_commit` (on, off ...).
        self.synchronous: str | None = None

    async def add_batch(self, drafts: Sequence[MessageDraft]) -> list[Message]:
        if not drafts:
            return []
        async with self._lock:
            driver = await self._checkout()
            try:
                ids = await self._backend.write(driver, drafts)
            except Exception as exc:
                failure = self._backend.failure(exc)
                if not isinstance(failure, ConflictError | NotFoundError):  # the connection may be broken
                    await self._drop()
                if failure is None:
                    raise
                raise failure from exc
            except BaseException:  # cancelled mid-batch: the connection's state is unknown
                await asyncio.shield(self._drop())
                raise
        if len(ids) != len(drafts):
            raise RuntimeError(f"{len(drafts)} messages inserted, {len(ids)} ids returned")
        if isinstance(self._backend, _Sqlite):
            self._checkpoint_soon()
            self._index_soon()
        return [draft.stored(MessageId(message_id)) for draft, message_id in zip(drafts, ids, strict=True)]

    def _checkpoint_soon(self) -> None:
        """SQLite's automatic checkpoint would run inside a send's commit every 1,000 pages, fsync included,
        and show as the send path's slowest batches. The writer's connection has it
        off; instead a passive checkpoint runs on another connection (another thread) at most every
        `checkpoint_every` seconds while sends go on."""
        loop = asyncio.get_running_loop()
        if self._checkpoint is None and loop.time() >= self._next_checkpoint:
            self._next_checkpoint = loop.time() + self._checkpoint_every
            self._checkpoint = asyncio.create_task(self._run_checkpoint(), name="wal-checkpoint")

    async def _run_checkpoint(self) -> None:
        try:
            async with self._engine.connect() as connection:
                await connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception:
            log.warning("a WAL checkpoint failed; the next send tries again", exc_info=True)
        finally:
            self._checkpoint = None

    def start_indexing(self) -> None:
        """SQLite: keep the search index filled from now on (the first send starts it too): after sends, and
        every `idle_every` seconds for messages written past the service (a bulk load, an older process)."""
        if self._backlog is not None and self._indexing is None and not self._closing.is_set():
            self._indexing = asyncio.create_task(self._index_loop(), name="search-index")

    def _index_soon(self) -> None:
        """SQLite: the FTS5 table takes new messages in batches after their commit, not in each send's
        transaction (where it wrote a segment of its index per commit). Until then a search reads them row by row
        (`SqlMessages.search`), so nobody waits for this to find a message."""
        self._index_wanted.set()
        self.start_indexing()

    async def _index_loop(self) -> None:
        """A round at most every `index_every` seconds after a send, or after `idle_every` without one; each batch
        between two send batches on the writer's connection (under its lock, so sends queue behind it rather than
        sleep in SQLite's busy handler). `close()` wakes it for a last round."""
        assert self._backlog is not None
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._index_wanted.wait(), timeout=self._idle_every)
            wait = self._next_index - loop.time()
            if wait > 0 and not self._closing.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), timeout=wait)
            self._index_wanted.clear()
            self._next_index = loop.time() + self._index_every
            try:
                while True:
                    async with self._lock:
                        driver = await self._checkout()
                        with driver_errors():
                            moved = await in_sqlite_thread(driver, self._backlog.index_some)
                    if moved < INDEX_BATCH or self._closing.is_set():  # closing: the rest waits for the next start
                        break
                    # A long backlog: room for other writers between batches (SQLite's busy handler retries after
                    # a few ms; batches back to back starve it).
                    await asyncio.sleep(BACKLOG_PAUSE)
            except Exception:
                log.warning("filling the search index failed; it is tried again shortly", exc_info=True)
            if self._closing.is_set():
                return

    async def close(self) -> None:
        self._closing.set()
        self._index_wanted.set()
        for task in (self._checkpoint, self._indexing):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await task  # short; cancelling it would leave the aiosqlite thread busy
        self._indexing = None
        self._closing = asyncio.Event()  # a writer used again after close() fills its index again
        async with self._lock:
            connection, self._connection, self._driver = self._connection, None, None
            if connection is not None:
                await connection.close()

    async def _checkout(self) -> Any:
        if self._driver is None:
            with translated():
                connection = await self._engine.connect()
            try:
                with translated():
                    raw = await connection.get_raw_connection()
                driver: Any = raw.driver_connection
                with driver_errors():
                    if isinstance(self._backend, _Sqlite):
                        await driver.execute_fetchall("PRAGMA wal_autocheckpoint=0")
                        ((level,),) = await driver.execute_fetchall("PRAGMA synchronous")
                        self.synchronous = SQLITE_SYNCHRONOUS.get(level, str(level))
                    else:
                        self.synchronous = await driver.fetchval("SHOW synchronous_commit")
            except BaseException:  # cancelled or failed before it was ours: back to the pool
                await asyncio.shield(connection.close())
                raise
            self._connection, self._driver = connection, driver
        return self._driver

    async def _drop(self) -> None:
        connection, self._connection, self._driver = self._connection, None, None
        if connection is None:
            return
        try:
            await connection.invalidate()
            await connection.close()
        except Exception:
            log.debug("dropping the writer's connection failed", exc_info=True)
