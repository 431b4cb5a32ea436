"""Group conversations: member roles and history starts, read state per member, system messages.

`chat_participants` gains `role` (owner, admin, member; everyone in a direct room is a member) and
`history_from_id` (a member added to a group later sees the messages after it). `chat_messages.receiver_id`
becomes nullable (a group message has no single receiver) and `system` holds a group change's note.

Read state moves from each message's `is_read` flag to each member's `last_read_message_id`: a member's unread
count is the others' live, non-system messages past their marker. The upgrade sets every marker from the flags
without losing an unread message: just below the member's oldest unread message (deleted ones included, as
`mark_read` flagged them too), else at the room's newest message. The old code flagged a room's messages to a
reader all at once, so the unread ones were always the newest: markers and flags then say the same thing, and the
downgrade flags every message up to its receiver's marker as read.

The downgrade refuses while a group exists: the old schema has no place for one, and HR records are never dropped
silently; remove the group rooms first.

SQLite rebuilds the tables it must (batch mode keeps the rows, indexes, unique and foreign keys; the AUTOINCREMENT
of 0004 is asked for again and each table's counter kept). PostgreSQL alters them in place, so there a re-added
`is_read` ends up as the last column.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations

from chat_adapters.sql.tables import ChatLayout, migrating_layout

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The columns of chat_messages in the order 0004 made them, for SQLite's rebuild on the way down.
OLD_MESSAGE_COLUMNS = (
    "id",
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
    "updated_at",
    "is_read",
    "is_deleted",
    "is_edited",
    "client_msg_id",
)


def _names(layout: ChatLayout) -> tuple[str, str, str]:
    p = layout.prefix
    return p + "chat_rooms", p + "chat_participants", p + "chat_messages"


def _columns(*names: str) -> list[sa.ColumnClause[object]]:
    return [sa.column(name) for name in names]


@contextmanager
def _rebuilt(table: str, layout: ChatLayout, **kw: object) -> Iterator[BatchOperations]:
    """Batch-alter `table`; on SQLite a rebuild that keeps AUTOINCREMENT and the table's counter (the copy alone
    would start it at the largest id left, not at the largest ever given)."""
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    kept = None
    if sqlite:
        kept = bind.exec_driver_sql("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).scalar()
        kw = {"recreate": "always", "table_kwargs": {"sqlite_autoincrement": True}, **kw}
    with op.batch_alter_table(table, schema=layout.schema, **kw) as batch:  # type: ignore[arg-type]
        yield batch
    if sqlite and kept is not None:
        bind.exec_driver_sql("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", (kept, table))


def upgrade() -> None:
    layout = migrating_layout()  # ALTER TABLE names the table itself: the schema map does not apply to it
    _, participants, messages = _names(layout)
    with op.batch_alter_table(participants, schema=layout.schema) as batch:  # ADD COLUMN: no rebuild on SQLite
        batch.add_column(sa.Column("role", sa.String(20), server_default="member", nullable=False))
        batch.add_column(sa.Column("history_from_id", sa.BigInteger(), nullable=True))

    s = layout.schema  # named here too: Alembic's own statements do not go through the connection's schema map
    p = sa.table(participants, *_columns("room_id", "user_id", "last_read_message_id"), schema=s)
    m = sa.table(messages, *_columns("id", "room_id", "receiver_id"), sa.column("is_read", sa.Boolean), schema=s).alias(
        "m"
    )
    oldest_unread = (
        sa.select(sa.func.min(m.c.id))
        .where(m.c.room_id == p.c.room_id, m.c.receiver_id == p.c.user_id, m.c.is_read == sa.false())
        .scalar_subquery()
    )
    newest = sa.select(sa.func.max(m.c.id)).where(m.c.room_id == p.c.room_id).scalar_subquery()
    op.execute(sa.update(p).values(last_read_message_id=sa.func.coalesce(oldest_unread - 1, newest)))

    op.drop_index(f"ix_{layout.prefix}chat_messages_unread", table_name=messages, schema=layout.schema)
    with _rebuilt(messages, layout) as batch:
        batch.alter_column("receiver_id", existing_type=sa.BigInteger(), nullable=True)
        batch.add_column(sa.Column("system", sa.JSON(), nullable=True))
        batch.drop_column("is_read")


def downgrade() -> None:
    layout = migrating_layout()
    rooms, participants, messages = _names(layout)
    s = layout.schema
    r = sa.table(rooms, sa.column("room_type"), schema=s)
    groups = op.get_bind().execute(sa.select(sa.func.count()).select_from(r).where(r.c.room_type == "group"))
    if groups.scalar_one():
        raise RuntimeError(
            "cannot downgrade below 0005 while group rooms exist: the older schema cannot hold them, and chat "
            "records are never dropped silently; remove the group rooms first"
        )

    # ADD COLUMN, no rebuild on SQLite: only with a constant default (a text one; sa.false() would rebuild it).
    with op.batch_alter_table(messages, schema=layout.schema) as batch:
        batch.add_column(sa.Column("is_read", sa.Boolean(), server_default="0", nullable=False))
    m = sa.table(messages, *_columns("id", "room_id", "receiver_id", "is_read"), schema=s)
    p = sa.table(participants, *_columns("room_id", "user_id", "last_read_message_id"), schema=s).alias("p")
    read = (
        sa.select(sa.literal(1))
        .where(p.c.room_id == m.c.room_id, p.c.user_id == m.c.receiver_id, p.c.last_read_message_id >= m.c.id)
        .exists()
    )
    op.execute(sa.update(m).where(read).values(is_read=sa.true()))

    with _rebuilt(messages, layout, partial_reordering=[OLD_MESSAGE_COLUMNS]) as batch:
        batch.alter_column("is_read", existing_type=sa.Boolean(), existing_nullable=False, server_default=None)
        batch.alter_column("receiver_id", existing_type=sa.BigInteger(), nullable=False)
        batch.drop_column("system")
    is_read = sa.column("is_read", sa.Boolean())
    op.create_index(
        f"ix_{layout.prefix}chat_messages_unread",
        messages,
        ["receiver_id", "room_id"],
        unique=False,
        schema=layout.schema,
        postgresql_where=is_read == sa.false(),
        sqlite_where=is_read == sa.false(),
    )
    with _rebuilt(participants, layout) as batch:
        batch.drop_column("history_from_id")
        batch.drop_column("role")
