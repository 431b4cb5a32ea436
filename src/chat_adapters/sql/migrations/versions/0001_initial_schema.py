"""Initial schema: users, chat_rooms, chat_participants, chat_messages, user_presence.

Every name takes the layout's prefix; `users` is made only when the chat keeps its own (no host table).

Revision ID: 0001
Revises:
Create Date: 2026-11-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

from chat_adapters.sql.tables import migrating_layout

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    layout = migrating_layout()
    p = layout.prefix
    if layout.own_users:
        op.create_table(
            p + "users",
            sa.Column("id", BigId, primary_key=True, autoincrement=True),
            sa.Column("name", sa.String(255), nullable=False),
            sa.Column("email", sa.String(320), nullable=False),
            sa.Column("email_normalized", sa.String(320), nullable=False),
            sa.Column("avatar_url", sa.String(2048), nullable=True),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{p}users")),
            sa.UniqueConstraint("email_normalized", name=op.f(f"uq_{p}users_email_normalized")),
        )
    op.create_table(
        p + "chat_rooms",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("room_type", sa.String(20), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("direct_key", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{p}chat_rooms")),
        sa.UniqueConstraint("direct_key", name=op.f(f"uq_{p}chat_rooms_direct_key")),
    )
    op.create_table(
        p + "chat_participants",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("room_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("joined_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("last_read_message_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["room_id"],
            [p + "chat_rooms.id"],
            name=op.f(f"fk_{p}chat_participants_room_id_{p}chat_rooms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{p}chat_participants")),
        sa.UniqueConstraint("room_id", "user_id", name=op.f(f"uq_{p}chat_participants_room_id_user_id")),
    )
    op.create_index(
        op.f(f"ix_{p}chat_participants_user_id_room_id"), p + "chat_participants", ["user_id", "room_id"], unique=False
    )
    op.create_table(
        p + "chat_messages",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("room_id", sa.BigInteger(), nullable=False),
        sa.Column("sender_id", sa.BigInteger(), nullable=False),
        sa.Column("receiver_id", sa.BigInteger(), nullable=False),
        sa.Column("message_type", sa.String(20), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("file_name", sa.String(255), nullable=True),
        sa.Column("file_path", sa.String(1024), nullable=True),
        sa.Column("file_size", sa.BigInteger(), nullable=True),
        sa.Column("mime_type", sa.String(255), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("is_read", sa.Boolean(), nullable=False),
        sa.Column("is_deleted", sa.Boolean(), nullable=False),
        sa.Column("is_edited", sa.Boolean(), nullable=False),
        sa.Column("client_msg_id", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(
            ["room_id"],
            [p + "chat_rooms.id"],
            name=op.f(f"fk_{p}chat_messages_room_id_{p}chat_rooms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{p}chat_messages")),
        sa.UniqueConstraint("sender_id", "client_msg_id", name=op.f(f"uq_{p}chat_messages_sender_id_client_msg_id")),
    )
    op.create_index(op.f(f"ix_{p}chat_messages_room_id_id"), p + "chat_messages", ["room_id", "id"], unique=False)
    is_read, file_path = sa.column("is_read", sa.Boolean()), sa.column("file_path", sa.String())
    op.create_index(
        f"ix_{p}chat_messages_unread",
        p + "chat_messages",
        ["receiver_id", "room_id"],
        unique=False,
        postgresql_where=is_read == sa.false(),
        sqlite_where=is_read == sa.false(),
    )
    op.create_index(
        f"ix_{p}chat_messages_file_path",
        p + "chat_messages",
        ["file_path"],
        unique=False,
        postgresql_where=file_path.isnot(None),
        sqlite_where=file_path.isnot(None),
    )
    op.create_table(
        p + "user_presence",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("is_online", sa.Boolean(), nullable=False),
        sa.Column("last_seen", DateTimeUTC(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("user_id", name=op.f(f"pk_{p}user_presence")),
    )


def downgrade() -> None:
    layout = migrating_layout()
    p = layout.prefix
    op.drop_table(p + "user_presence")
    op.drop_index(f"ix_{p}chat_messages_file_path", table_name=p + "chat_messages")
    op.drop_index(f"ix_{p}chat_messages_unread", table_name=p + "chat_messages")
    op.drop_index(op.f(f"ix_{p}chat_messages_room_id_id"), table_name=p + "chat_messages")
    op.drop_table(p + "chat_messages")
    op.drop_index(op.f(f"ix_{p}chat_participants_user_id_room_id"), table_name=p + "chat_participants")
    op.drop_table(p + "chat_participants")
    op.drop_table(p + "chat_rooms")
    if layout.own_users:
        op.drop_table(p + "users")
