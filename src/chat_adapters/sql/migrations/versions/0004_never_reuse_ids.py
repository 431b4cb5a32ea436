"""No id is ever handed out twice: SQLite tables with an integer id are rebuilt with AUTOINCREMENT.

Without it SQLite gives a new row the largest id in the table plus one, so deleting the newest user let the
next `chat users add` take the same id: the deleted user's tokens opened the new account, with the old rooms.
AUTOINCREMENT keeps the largest id ever given in `sqlite_sequence`. Ids freed before this migration cannot be
known from the table itself; each table's counter starts past the largest id still referenced anywhere (a
deleted user's id in rooms, messages, presence or uploads; a deleted message's in a read mark).

Batch mode copies each table with its rows, indexes (partial ones too), unique and foreign keys; only the
primary key loses its name, since SQLite's AUTOINCREMENT is written on the column (the downgrade gives it back).
PostgreSQL needs nothing: its BIGSERIAL sequences never hand out a value twice (nothing in the service calls
`setval` or restarts them), so this revision does nothing there.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from chat_adapters.sql.tables import ChatLayout, migrating_layout

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id_tables(layout: ChatLayout) -> dict[str, list[tuple[str, str]]]:
    """Each table with an integer id -> the (table, column) pairs whose largest value its counter must pass."""
    p = layout.prefix
    rooms, participants, messages = p + "chat_rooms", p + "chat_participants", p + "chat_messages"
    found = {
        rooms: [(rooms, "id"), (participants, "room_id"), (messages, "room_id")],
        participants: [(participants, "id")],
        messages: [(messages, "id"), (participants, "last_read_message_id")],
    }
    if layout.own_users:  # a host's users table is the host's to keep
        found[p + "users"] = [
            (p + "users", "id"),
            (rooms, "created_by"),
            (participants, "user_id"),
            (messages, "sender_id"),
            (messages, "receiver_id"),
            (p + "user_presence", "user_id"),
            (p + "chat_uploads", "user_id"),
        ]
    return found


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    layout = migrating_layout()
    tables = _id_tables(layout)
    for table in tables:
        with op.batch_alter_table(
            table, schema=layout.schema, recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass
    bind = op.get_bind()
    for table, columns in tables.items():
        highest = max(
            bind.exec_driver_sql(f'SELECT coalesce(max("{column}"), 0) FROM "{name}"').scalar_one()
            for name, column in columns
        )
        # The copy already set it to the table's own largest id; a deleted row's id may be larger still.
        kept = bind.exec_driver_sql("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).scalar()
        if kept is None:
            bind.exec_driver_sql("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, highest))
        elif highest > kept:
            bind.exec_driver_sql("UPDATE sqlite_sequence SET seq = ? WHERE name = ?", (highest, table))


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    layout = migrating_layout()
    for table in _id_tables(layout):
        autoincrement_off = {"sqlite_autoincrement": False}
        with op.batch_alter_table(
            table, schema=layout.schema, recreate="always", table_kwargs=autoincrement_off
        ) as batch:
            batch.create_primary_key(f"pk_{table}", ["id"])
