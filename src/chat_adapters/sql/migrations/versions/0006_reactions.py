"""Reactions, replies, mentions and pins (issue 18).

`chat_messages` gains `reply_to_id` (no foreign key: a reply outlives the purge of its original and still says
it answered something), `mentions` (the user ids its text names, NULL for none), `pinned_by` and `pinned_at`
with a partial index for a room's pins. `chat_reactions` keeps one row per (message, user, emoji), its id the
arrival order; `chat_mentions` one row per (user, room, message) for the room list's unread mentions. Existing
messages keep NULL in the new columns: nothing was replied to, mentioned or pinned before.

The downgrade drops the new tables and columns, reactions, pins, mentions and reply links with them: they add
to messages but hold no message text, and the older code has no place for them. Messages themselves are kept.
On SQLite the columns go by ALTER TABLE ... DROP COLUMN (SQLite 3.35+, which RETURNING needs already), so no
table is rebuilt and the AUTOINCREMENT counters stay as they are.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

from chat_adapters.sql.tables import migrating_layout

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NEW_COLUMNS = ("reply_to_id", "mentions", "pinned_by", "pinned_at")


def upgrade() -> None:
    layout = migrating_layout()
    p, s = layout.prefix, layout.schema
    messages = p + "chat_messages"
    with op.batch_alter_table(messages, schema=s) as batch:  # ADD COLUMN of nullable columns: no rebuild on SQLite
        batch.add_column(sa.Column("reply_to_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("mentions", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("pinned_by", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("pinned_at", DateTimeUTC(timezone=True), nullable=True))
    pinned_at = sa.column("pinned_at", DateTimeUTC(timezone=True))
    op.create_index(
        f"ix_{p}chat_messages_pins",
        messages,
        ["room_id", "pinned_at"],
        unique=False,
        schema=s,
        postgresql_where=pinned_at.isnot(None),
        sqlite_where=pinned_at.isnot(None),
    )
    op.create_table(
        p + "chat_reactions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("emoji", sa.String(64), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], [messages + ".id"], name=f"fk_{p}chat_reactions_message_id", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{p}chat_reactions")),
        sa.UniqueConstraint(
            "message_id", "user_id", "emoji", name=op.f(f"uq_{p}chat_reactions_message_id_user_id_emoji")
        ),
        sqlite_autoincrement=True,
    )
    op.create_table(
        p + "chat_mentions",
        sa.Column("user_id", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("room_id", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.ForeignKeyConstraint(
            ["message_id"], [messages + ".id"], name=f"fk_{p}chat_mentions_message_id", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "room_id", "message_id", name=op.f(f"pk_{p}chat_mentions")),
    )
    op.create_index(op.f(f"ix_{p}chat_mentions_message_id"), p + "chat_mentions", ["message_id"], unique=False)


def downgrade() -> None:
    layout = migrating_layout()
    p, s = layout.prefix, layout.schema
    messages = p + "chat_messages"
    op.drop_index(op.f(f"ix_{p}chat_mentions_message_id"), table_name=p + "chat_mentions")
    op.drop_table(p + "chat_mentions")
    op.drop_table(p + "chat_reactions")
    op.drop_index(f"ix_{p}chat_messages_pins", table_name=messages, schema=s)
    for name in reversed(NEW_COLUMNS):
        op.drop_column(messages, name, schema=s)
