"""SQLite's search index filled after each commit, not inside it (issue 19): nothing changes on PostgreSQL.

Under 0007 a trigger added every new message to the FTS5 table in the statement that stored it, and FTS5 writes a
segment of its index for every transaction: a cost on every send. From 0008 the FTS5 table holds messages up to
`indexed_upto` (the one row of `chat_messages_fts_state`); the service adds newer ones in batches after their
commit, and a search reads the messages above `indexed_upto` row by row, so a message is found from its commit on,
as before. The triggers of edits and deletes now take words out of (or put them back into) the FTS5 table only for
messages up to `indexed_upto`: newer ones are not there yet and get their words when their batch comes.

The upgrade starts `indexed_upto` at the newest message (0007's triggers indexed all of them) and swaps the
triggers; the downgrade first adds the messages past `indexed_upto` to the FTS5 table, then puts 0007's triggers
back and drops the state. Neither touches a message.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from chat_adapters.sql.tables import (
    fts_table_name,
    migrating_layout,
    search_state_name,
    sqlite_search_ddl_0007,
    sqlite_search_triggers,
)

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    p = migrating_layout().prefix
    fts, state, messages = fts_table_name(p), search_state_name(p), f"{p}chat_messages"
    for name in (f"{fts}_insert", *sqlite_search_triggers(p)):
        op.execute(f'DROP TRIGGER IF EXISTS "{name}"')
    op.execute(f'CREATE TABLE "{state}" (id INTEGER PRIMARY KEY CHECK (id = 1), indexed_upto INTEGER NOT NULL)')
    op.execute(f'INSERT INTO "{state}" (id, indexed_upto) SELECT 1, coalesce(max(id), 0) FROM "{messages}"')
    for statement in sqlite_search_triggers(p).values():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    p = migrating_layout().prefix
    fts, state, messages = fts_table_name(p), search_state_name(p), f"{p}chat_messages"
    op.execute(
        f'INSERT INTO "{fts}" (rowid, search_words) SELECT id, search_words FROM "{messages}"'
        f' WHERE id > (SELECT indexed_upto FROM "{state}") AND search_words IS NOT NULL'
    )
    for name in sqlite_search_triggers(p):
        op.execute(f'DROP TRIGGER IF EXISTS "{name}"')
    op.execute(f'DROP TABLE "{state}"')
    old = sqlite_search_ddl_0007(p)
    for name in (f"{fts}_insert", f"{fts}_update", f"{fts}_delete"):
        op.execute(old[name])
