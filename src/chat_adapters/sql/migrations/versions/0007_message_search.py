"""Message search (issue 19): `chat_messages.search_words` and its full-text index, filled for the messages there.

`search_words` holds the words a live message is found by (`chatcore.search.index_text`; NULL for system and
deleted messages): on PostgreSQL a tsvector (built in Python, no text parser) under a GIN index, on SQLite the words
as text, the external content of the FTS5 table `chat_messages_fts`, which triggers keep in step with the column.

The messages already there are indexed in batches of BATCH ids, oldest first, each batch committed on its own
(inside Alembic's `autocommit_block`), with progress on the `alembic` logger. An interrupted upgrade leaves its
finished batches and the new column behind while the version stays at 0006: run it again and it carries on with the
rows still NULL. (A host that hands over a connection already in a transaction gets one transaction for all.)
Messages written by the old code while this runs get no words: run it with the service stopped, or run it again.

The downgrade drops the index, the FTS5 table, its triggers and the column; no message is touched.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

from chat_adapters.sql.search_index import tsvector_of
from chat_adapters.sql.tables import (
    SEARCH_WORDS,
    fts_table_name,
    migrating_layout,
    search_index_name,
    sqlite_search_ddl_0007,
)
from chatcore.model import MessageType
from chatcore.search import index_text

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000
log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    layout = migrating_layout()
    p, s = layout.prefix, layout.schema
    messages = p + "chat_messages"
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    # Each step looks whether an interrupted run did it already.
    if "search_words" not in {c["name"] for c in sa.inspect(bind).get_columns(messages, schema=s)}:
        with op.batch_alter_table(messages, schema=s) as batch:  # ADD COLUMN: no rebuild on SQLite
            batch.add_column(sa.Column("search_words", SEARCH_WORDS, nullable=True))
    if not postgres:
        there = {name for (name,) in bind.exec_driver_sql("SELECT name FROM sqlite_master")}
        for name, statement in sqlite_search_ddl_0007(p).items():  # the FTS5 table first, then its triggers
            if name not in there:
                op.execute(statement)
    context = op.get_context()
    if getattr(context, "_in_external_transaction", False):  # the caller's transaction: no commit of ours
        _index_existing(bind, messages, s, postgres=postgres, commit=False)
    else:
        with context.autocommit_block():
            _index_existing(op.get_bind(), messages, s, postgres=postgres, commit=True)
    if postgres:  # built once over the filled column: quicker than growing it row by row
        op.create_index(
            search_index_name(p), messages, ["search_words"], postgresql_using="gin", schema=s, if_not_exists=True
        )


def _index_existing(connection: Connection, name: str, schema: str | None, *, postgres: bool, commit: bool) -> None:
    """Live messages with words and no `search_words` yet, BATCH ids at a time; with `commit`, each batch is a
    transaction of its own (the connection is in autocommit mode: PostgreSQL's batch is one statement, SQLite's
    is wrapped in BEGIN ... COMMIT)."""
    messages = sa.table(
        name,
        sa.column("id", sa.BigInteger()),
        sa.column("message_type", sa.String()),
        sa.column("content", sa.Text()),
        sa.column("file_name", sa.String()),
        sa.column("is_deleted", sa.Boolean()),
        sa.column("search_words", SEARCH_WORDS),
        schema=schema,
    )
    waiting = sa.and_(
        messages.c.search_words.is_(None),
        messages.c.is_deleted == sa.false(),
        messages.c.message_type != MessageType.SYSTEM.value,
    )
    total = connection.execute(sa.select(sa.func.count()).select_from(messages).where(waiting)).scalar_one()
    if not total:
        return
    log.info("indexing %d messages for search, %d at a time", total, BATCH)
    if postgres:
        update = sa.text(
            f"UPDATE {_qualified(name, schema)} AS m SET search_words = CAST(v.words AS tsvector)"
            " FROM unnest(CAST(:ids AS bigint[]), CAST(:words AS text[])) AS v(id, words) WHERE m.id = v.id"
        )
    else:
        update = sa.text(f'UPDATE "{name}" SET search_words = :words WHERE id = :id')
    done, last = 0, 0
    while True:
        rows = connection.execute(
            sa.select(messages.c.id, messages.c.message_type, messages.c.content, messages.c.file_name)
            .where(waiting, messages.c.id > last)
            .order_by(messages.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        last = rows[-1].id
        found = [(row.id, index_text(MessageType(row.message_type), row.content, row.file_name)) for row in rows]
        if postgres:
            pairs = [(i, tsvector_of(words)) for i, words in found]
            kept = [(i, vector) for i, vector in pairs if vector is not None]
            if kept:
                connection.execute(update, {"ids": [i for i, _ in kept], "words": [v for _, v in kept]})
        else:
            kept_words = [{"id": i, "words": words} for i, words in found if words is not None]
            if commit:
                connection.exec_driver_sql("BEGIN")
            if kept_words:
                connection.execute(update, kept_words)
            if commit:
                connection.exec_driver_sql("COMMIT")
        done += len(rows)
        log.info("indexed %d/%d messages", done, total)


def _qualified(name: str, schema: str | None) -> str:
    return f'"{name}"' if schema is None else f'"{schema}"."{name}"'


def downgrade() -> None:
    layout = migrating_layout()
    p, s = layout.prefix, layout.schema
    messages = p + "chat_messages"
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index(search_index_name(p), table_name=messages, schema=s)
    else:  # the triggers name the column: they go first (and with the FTS5 table)
        for name in reversed(list(sqlite_search_ddl_0007(p))):
            kind = "TABLE" if name == fts_table_name(p) else "TRIGGER"
            op.execute(f'DROP {kind} IF EXISTS "{name}"')
    op.drop_column(messages, "search_words", schema=s)
