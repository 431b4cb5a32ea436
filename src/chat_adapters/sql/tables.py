"""The chat schema: our own MetaData, so a host application's models (advanced-alchemy or not) never clash with it.

Chat tables point at users by id only, without a foreign key: the user directory may be a host's table elsewhere.
The tables are built per name prefix (`chat_tables("hrchat_")`), so a host can keep them apart from its own in one
database; `ChatLayout` adds where they live (a PostgreSQL schema) and whether the chat keeps its own `users` table.
The module-level names (`metadata`, `users`, `rooms` ...) are the unprefixed tables of the standalone service.
"""

from __future__ import annotations

import functools
import re

import attrs
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    Update,
    event,
    update,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.sql.ddl import ExecutableDDLElement

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT with a sequence on PostgreSQL; on SQLite only INTEGER PRIMARY KEY aliases the rowid and autoincrements.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# Every table with a BigId has `sqlite_autoincrement`, so no id is ever handed out twice: without it SQLite gives
# a new row the largest id left plus one (a deleted user's id, and with it their tokens, went to the next user).
# PostgreSQL's sequences never go back. Migration 0004 rebuilds older SQLite tables this way.

# The `search_words` column: a tsvector on PostgreSQL, the words as text on SQLite (see chat_messages).
SEARCH_WORDS = Text().with_variant(TSVECTOR(), "postgresql")


def search_index_name(prefix: str) -> str:
    """PostgreSQL's GIN index of `search_words`."""
    return f"ix_{prefix}chat_messages_search_words"


def fts_table_name(prefix: str) -> str:
    """SQLite's FTS5 table of the messages' words; FTS5 keeps its index in shadow tables named after it."""
    return f"{prefix}chat_messages_fts"


def search_state_name(prefix: str) -> str:
    """SQLite: the one-row table saying how far the FTS5 table has been filled (`indexed_upto`, a message id)."""
    return f"{prefix}chat_messages_fts_state"


def fts_table_names(prefix: str) -> set[str]:
    """The FTS5 table, its shadow tables (no `_content`: the content is `search_words`; no `_docsize`:
    columnsize=0, no ranking needs it) and the state of its filling."""
    fts = fts_table_name(prefix)
    return {fts, f"{fts}_data", f"{fts}_idx", f"{fts}_config", search_state_name(prefix)}


def _fts_table(prefix: str) -> str:
    """`tokenize='ascii'` cuts only at ASCII non-alphanumerics and keeps every other character in its token, so the
    space-separated folded words are its tokens; prefix indexes serve short prefixes of the last word."""
    fts, messages = fts_table_name(prefix), f"{prefix}chat_messages"
    return (
        f"CREATE VIRTUAL TABLE \"{fts}\" USING fts5(search_words, content='{messages}', content_rowid='id',"
        " tokenize='ascii', prefix='2 3', columnsize=0)"
    )


def sqlite_search_ddl_0007(prefix: str) -> dict[str, str]:
    """Migration 0007's search index (kept as it was, for 0007 and for 0008's downgrade): the FTS5 table and
    triggers that index every value written to `search_words` in the writing statement itself."""
    messages, fts = f"{prefix}chat_messages", fts_table_name(prefix)
    delete_old = (
        f'INSERT INTO "{fts}" ("{fts}", rowid, search_words) SELECT \'delete\', old.id, old.search_words'
        " WHERE old.search_words IS NOT NULL;"
    )
    insert_new = (
        f'INSERT INTO "{fts}" (rowid, search_words) SELECT new.id, new.search_words WHERE new.search_words IS NOT NULL;'
    )
    return {
        fts: _fts_table(prefix),
        f"{fts}_insert": f'CREATE TRIGGER "{fts}_insert" AFTER INSERT ON "{messages}" BEGIN {insert_new} END',
        f"{fts}_update": f'CREATE TRIGGER "{fts}_update" AFTER UPDATE OF search_words ON "{messages}"'
        f" BEGIN {delete_old} {insert_new} END",
        f"{fts}_delete": f'CREATE TRIGGER "{fts}_delete" AFTER DELETE ON "{messages}" BEGIN {delete_old} END',
    }


def sqlite_search_triggers(prefix: str) -> dict[str, str]:
    """The triggers of SQLite's search index since migration 0008: only messages up to `indexed_upto` are in the
    FTS5 table (newer ones are added in batches after their commit, off the send path: `SqlMessageWriter`), so
    an edit or a delete takes out or puts back words there only for those, in the writing statement itself (so
    in its transaction; an external-content table's 'delete' needs the old words, which only the row still has).
    A migration that rebuilds chat_messages (batch mode's copy) drops these triggers: it must create them again."""
    messages, fts, state = f"{prefix}chat_messages", fts_table_name(prefix), search_state_name(prefix)
    upto = f'(SELECT indexed_upto FROM "{state}")'
    delete_old = (
        f'INSERT INTO "{fts}" ("{fts}", rowid, search_words) SELECT \'delete\', old.id, old.search_words'
        f" WHERE old.search_words IS NOT NULL AND old.id <= {upto};"
    )
    insert_new = (
        f'INSERT INTO "{fts}" (rowid, search_words) SELECT new.id, new.search_words'
        f" WHERE new.search_words IS NOT NULL AND new.id <= {upto};"
    )
    return {
        f"{fts}_update": f'CREATE TRIGGER "{fts}_update" AFTER UPDATE OF search_words ON "{messages}"'
        f" BEGIN {delete_old} {insert_new} END",
        f"{fts}_delete": f'CREATE TRIGGER "{fts}_delete" AFTER DELETE ON "{messages}" BEGIN {delete_old} END',
    }


def sqlite_search_ddl(prefix: str) -> dict[str, str]:
    """SQLite's search index as a new database gets it: the FTS5 table, the state of its filling (nothing yet) and
    the triggers (`sqlite_search_triggers`)."""
    state = search_state_name(prefix)
    return {
        fts_table_name(prefix): _fts_table(prefix),
        state: f'CREATE TABLE "{state}" (id INTEGER PRIMARY KEY CHECK (id = 1), indexed_upto INTEGER NOT NULL)',
        f"{state}_row": f'INSERT INTO "{state}" (id, indexed_upto) VALUES (1, 0)',
        **sqlite_search_triggers(prefix),
    }


def _sqlite_ddl(statement: str) -> ExecutableDDLElement:
    return DDL(statement).execute_if(dialect="sqlite")  # type: ignore[no-untyped-call]


# Long enough for 'hrchat_', short enough that every constraint name stays within PostgreSQL's 63 characters.
MAX_PREFIX = 12
_PREFIX = re.compile(r"^([a-z_][a-z0-9_]*)?$")
_SCHEMA = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@attrs.frozen(kw_only=True)
class ChatTables:
    """Core handles on the chat tables: the adapters select columns, never entities, so no identity map can
    hand back a row that an UPDATE statement has changed meanwhile."""

    prefix: str
    metadata: MetaData
    users: Table
    rooms: Table
    participants: Table
    messages: Table
    presence_log: Table
    uploads: Table
    reactions: Table
    mentions: Table

    def room_changed(self, room_id: int) -> Update:
        """Bumps the room's version; every change to its messages or read state runs it in its own transaction."""
        rooms = self.rooms
        return update(rooms).where(rooms.c.id == room_id).values(version=rooms.c.version + 1)


@functools.cache
def chat_tables(prefix: str = "") -> ChatTables:
    """The chat tables with every table, index and constraint name starting with `prefix` (built once per prefix)."""
    if len(prefix) > MAX_PREFIX or not _PREFIX.match(prefix):
        raise ValueError(f"a table prefix is up to {MAX_PREFIX} lowercase letters, digits and _, got {prefix!r}")
    md = MetaData(naming_convention=NAMING_CONVENTION)
    utc = DateTimeUTC(timezone=True)
    rooms_id = f"{prefix}chat_rooms.id"

    # The service's own user directory; `email_normalized` (casefolded) makes emails unique case-insensitively.
    users = Table(
        f"{prefix}users",
        md,
        Column("id", BigId, primary_key=True, autoincrement=True),
        Column("name", String(255), nullable=False),
        Column("email", String(320), nullable=False),
        Column("email_normalized", String(320), nullable=False, unique=True),
        Column("avatar_url", String(2048)),
        sqlite_autoincrement=True,
    )
    # `direct_key` ('3:7', smaller id first) is unique: the database, not a check, keeps one room per pair.
    rooms = Table(
        f"{prefix}chat_rooms",
        md,
        Column("id", BigId, primary_key=True, autoincrement=True),
        Column("name", String(255), nullable=False),
        Column("room_type", String(20), nullable=False),
        Column("created_by", BigInteger, nullable=False),
        Column("created_at", utc, nullable=False),
        Column("updated_at", utc, nullable=False),
        Column("is_active", Boolean, nullable=False, default=True),
        Column("direct_key", String(64), unique=True),
        # Bumped with every change to what a room list shows of the room (a message sent, edited, deleted or
        # read): the room lists a process keeps compare it to know which rooms to read again (migration 0003).
        Column("version", BigInteger, nullable=False, server_default="0"),
        sqlite_autoincrement=True,
    )
    participants = Table(
        f"{prefix}chat_participants",
        md,
        Column("id", BigId, primary_key=True, autoincrement=True),
        Column("room_id", BigInteger, ForeignKey(rooms_id, ondelete="CASCADE"), nullable=False),
        Column("user_id", BigInteger, nullable=False),
        Column("joined_at", utc, nullable=False),
        # Read state per member (migration 0005): the newest message id they have read; their unread count is
        # the others' live, non-system messages past it. `history_from_id`: a group member added later sees
        # messages after this id only (NULL: the whole history).
        Column("last_read_message_id", BigInteger),
        Column("role", String(20), nullable=False, server_default="member"),
        Column("history_from_id", BigInteger),
        UniqueConstraint("room_id", "user_id"),
        Index(None, "user_id", "room_id"),
        sqlite_autoincrement=True,
    )
    # Indexes serve the hot paths: history and unread counts by (room, id), client_msg_id dedupe, file cleanup.
    messages = Table(
        f"{prefix}chat_messages",
        md,
        Column("id", BigId, primary_key=True, autoincrement=True),
        Column("room_id", BigInteger, ForeignKey(rooms_id, ondelete="CASCADE"), nullable=False),
        Column("sender_id", BigInteger, nullable=False),
        Column("receiver_id", BigInteger),  # NULL in a group
        Column("message_type", String(20), nullable=False),
        Column("content", Text),
        Column("file_name", String(255)),
        Column("file_path", String(1024)),
        Column("file_size", BigInteger),
        Column("mime_type", String(255)),
        Column("created_at", utc, nullable=False),
        Column("updated_at", utc),
        Column("is_deleted", Boolean, nullable=False, default=False),
        Column("is_edited", Boolean, nullable=False, default=False),
        Column("client_msg_id", String(64)),
        Column("system", JSON(none_as_null=True)),  # a group change's SystemNote, for `message_type` system
        # Issue 18 (migration 0006). `reply_to_id` has no foreign key: a reply outlives its original's purge and
        # still says it answered something. `mentions`: the user ids its text names (NULL: none); the unread
        # ones are counted from `chat_mentions`. The pin: who and when (NULL: not pinned).
        Column("reply_to_id", BigInteger),
        Column("mentions", JSON(none_as_null=True)),
        Column("pinned_by", BigInteger),
        Column("pinned_at", utc),
        # Issue 19 (migration 0007): the words a live message is found by (`chatcore.search.index_text`), NULL for
        # none (system and deleted messages). PostgreSQL: a tsvector with positions under a GIN index. SQLite:
        # the words as text, the external content of the FTS5 table `<prefix>chat_messages_fts`, which
        # the writer fills after each commit and triggers keep in step with edits and deletes (`sqlite_search_ddl`).
        Column("search_words", SEARCH_WORDS),
        Index(None, "room_id", "id"),
        UniqueConstraint("sender_id", "client_msg_id"),
        sqlite_autoincrement=True,
    )
    with_file = messages.c.file_path.isnot(None)
    Index(
        f"ix_{prefix}chat_messages_file_path",
        messages.c.file_path,
        postgresql_where=with_file,
        sqlite_where=with_file,
    )
    pinned = messages.c.pinned_at.isnot(None)
    Index(
        f"ix_{prefix}chat_messages_pins",
        messages.c.room_id,
        messages.c.pinned_at,
        postgresql_where=pinned,
        sqlite_where=pinned,
    )
    search = Index(search_index_name(prefix), messages.c.search_words, postgresql_using="gin")
    search.ddl_if(dialect="postgresql")  # SQLite's index is the FTS5 table, made with the table by these events:
    for statement in sqlite_search_ddl(prefix).values():
        event.listen(messages, "after_create", _sqlite_ddl(statement))
    event.listen(messages, "before_drop", _sqlite_ddl(f'DROP TABLE IF EXISTS "{fts_table_name(prefix)}"'))
    event.listen(messages, "before_drop", _sqlite_ddl(f'DROP TABLE IF EXISTS "{search_state_name(prefix)}"'))
    messages_id = f"{prefix}chat_messages.id"
    # One row per (message, user, emoji), kept unique by the database; `id` is the arrival order the message
    # objects list reactions in. Gone with their message.
    reactions = Table(
        f"{prefix}chat_reactions",
        md,
        Column("id", BigId, primary_key=True, autoincrement=True),
        Column(
            "message_id",
            BigInteger,
            # Named here: the convention's name would pass 63 characters with the longest prefix.
            ForeignKey(messages_id, ondelete="CASCADE", name=f"fk_{prefix}chat_reactions_message_id"),
            nullable=False,
        ),
        Column("user_id", BigInteger, nullable=False),
        Column("emoji", String(64), nullable=False),
        Column("created_at", utc, nullable=False),
        UniqueConstraint("message_id", "user_id", "emoji"),
        sqlite_autoincrement=True,
    )
    # Who a live message mentions (its sender left out), for the room list's `mention_count`: the key's order
    # makes one user's unread mentions in one room a range past their read marker. A deleted message's rows go
    # in the same transaction (`save`); the index on message_id serves that and the cascade.
    mentions = Table(
        f"{prefix}chat_mentions",
        md,
        Column("user_id", BigInteger, primary_key=True, autoincrement=False),
        Column("room_id", BigInteger, primary_key=True, autoincrement=False),
        Column(
            "message_id",
            BigInteger,
            ForeignKey(messages_id, ondelete="CASCADE", name=f"fk_{prefix}chat_mentions_message_id"),
            primary_key=True,
            autoincrement=False,
        ),
        Index(None, "message_id"),
    )
    presence_log = Table(
        f"{prefix}user_presence",
        md,
        Column("user_id", BigInteger, primary_key=True, autoincrement=False),
        Column("is_online", Boolean, nullable=False, default=False),
        Column("last_seen", utc),
    )
    # A streamed upload waiting for the message that claims it; stale ones are expired with their files.
    uploads = Table(
        f"{prefix}chat_uploads",
        md,
        Column("id", String(32), primary_key=True),
        Column("user_id", BigInteger, nullable=False),
        Column("kind", String(20), nullable=False),
        Column("storage_key", String(1024), nullable=False),
        Column("file_name", String(255), nullable=False),
        Column("file_size", BigInteger, nullable=False),
        Column("mime_type", String(255), nullable=False),
        Column("created_at", utc, nullable=False),
        Index(None, "created_at"),
        Index(None, "storage_key"),
    )
    return ChatTables(
        prefix=prefix,
        metadata=md,
        users=users,
        rooms=rooms,
        participants=participants,
        messages=messages,
        presence_log=presence_log,
        uploads=uploads,
        reactions=reactions,
        mentions=mentions,
    )


def _check_schema(_: object, __: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None and not _SCHEMA.match(value):
        raise ValueError(f"a schema name is letters, digits and _, got {value!r}")


def _check_prefix(_: object, __: attrs.Attribute[str], value: str) -> None:
    chat_tables(value)  # validates, and builds the tables once


@attrs.frozen(kw_only=True)
class ChatLayout:
    """Where the chat tables live: a name prefix, a PostgreSQL schema (None: the connection's default), and
    whether the chat keeps its own `users` table (False when a host's table is the user directory)."""

    prefix: str = attrs.field(default="", validator=_check_prefix)
    schema: str | None = attrs.field(default=None, validator=_check_schema)
    own_users: bool = True

    @property
    def tables(self) -> ChatTables:
        return chat_tables(self.prefix)

    @property
    def version_table(self) -> str:
        """Alembic's bookkeeping table, prefixed too: a host using Alembic keeps its own `alembic_version`."""
        return f"{self.prefix}alembic_version"

    @property
    def schema_translate_map(self) -> dict[str | None, str] | None:
        """For `execution_options`: the tables carry no schema, the engine puts them in ours."""
        return None if self.schema is None else {None: self.schema}

    def chat_table_names(self) -> set[str]:
        tables = self.tables
        return {table.name for table in tables.metadata.sorted_tables if self.own_users or table is not tables.users}

    def compared(self, dialect: str, name: str | None, type_: str) -> bool:
        """Whether a schema comparison (Alembic's autogenerate) looks at this table or index: only our own
        tables (not a host's, nor SQLite's FTS5 tables, which it cannot model), and the GIN index of
        `search_words` on PostgreSQL only, where it exists."""
        if type_ == "table":
            return name in self.chat_table_names()
        if type_ == "index" and name == search_index_name(self.prefix):
            return dialect == "postgresql"
        return True


DEFAULT_LAYOUT = ChatLayout()
_default = chat_tables("")
metadata = _default.metadata
users = _default.users
rooms = _default.rooms
participants = _default.participants
messages = _default.messages
presence_log = _default.presence_log
uploads = _default.uploads
reactions = _default.reactions
mentions = _default.mentions

LAYOUT_KEY = "chat_layout"  # where alembic_config() leaves the layout for env.py and the revisions


def migrating_layout() -> ChatLayout:
    """The layout the running Alembic migration works on (revisions call this for their table names)."""
    from alembic import context

    found = context.config.attributes.get(LAYOUT_KEY)
    return found if isinstance(found, ChatLayout) else DEFAULT_LAYOUT
