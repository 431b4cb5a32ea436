"""The chat schema: our own MetaData, so a host application's models (advanced-alchemy or not) never clash with it.

Chat tables point at users by id only, without a foreign key: the user directory may be a host's table elsewhere.
"""

from __future__ import annotations

from datetime import datetime

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT with a sequence on PostgreSQL; on SQLite only INTEGER PRIMARY KEY aliases the rowid and autoincrements.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UserRow(Base):
    """The service's own user directory; `email_normalized` (casefolded) makes emails unique case-insensitively."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(320))
    email_normalized: Mapped[str] = mapped_column(String(320), unique=True)
    avatar_url: Mapped[str | None] = mapped_column(String(2048))


class RoomRow(Base):
    """`direct_key` ('3:7', smaller id first) is unique: the database, not a check, keeps one room per pair."""

    __tablename__ = "chat_rooms"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255))
    room_type: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    direct_key: Mapped[str | None] = mapped_column(String(64), unique=True)


class ParticipantRow(Base):
    __tablename__ = "chat_participants"
    __table_args__ = (
        UniqueConstraint("room_id", "user_id"),
        Index(None, "user_id", "room_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    room_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("chat_rooms.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigInteger)
    joined_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    last_read_message_id: Mapped[int | None] = mapped_column(BigInteger)


class MessageRow(Base):
    """Indexes serve the hot paths: history by (room, id), unread counts, client_msg_id dedupe, file cleanup."""

    __tablename__ = "chat_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    room_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("chat_rooms.id", ondelete="CASCADE"))
    sender_id: Mapped[int] = mapped_column(BigInteger)
    receiver_id: Mapped[int] = mapped_column(BigInteger)
    message_type: Mapped[str] = mapped_column(String(20))
    content: Mapped[str | None] = mapped_column(Text)
    file_name: Mapped[str | None] = mapped_column(String(255))
    file_path: Mapped[str | None] = mapped_column(String(1024))
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    mime_type: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    is_read: Mapped[bool] = mapped_column(Boolean, default=False)
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    is_edited: Mapped[bool] = mapped_column(Boolean, default=False)
    client_msg_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index(None, "room_id", "id"),
        # Only unread rows: small however long the history, and exactly what unread counts and mark_read touch.
        Index(
            "ix_chat_messages_unread",
            "receiver_id",
            "room_id",
            postgresql_where=is_read == false(),
            sqlite_where=is_read == false(),
        ),
        Index(
            "ix_chat_messages_file_path",
            "file_path",
            postgresql_where=file_path.isnot(None),
            sqlite_where=file_path.isnot(None),
        ),
        UniqueConstraint("sender_id", "client_msg_id"),
    )


class PresenceRow(Base):
    __tablename__ = "user_presence"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    is_online: Mapped[bool] = mapped_column(Boolean, default=False)
    last_seen: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))


class UploadRow(Base):
    """A streamed upload waiting for the message that claims it; stale ones are expired with their files."""

    __tablename__ = "chat_uploads"
    __table_args__ = (Index(None, "created_at"), Index(None, "storage_key"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(20))
    storage_key: Mapped[str] = mapped_column(String(1024))
    file_name: Mapped[str] = mapped_column(String(255))
    file_size: Mapped[int] = mapped_column(BigInteger)
    mime_type: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


metadata = Base.metadata

# Core handles on the same tables: the adapters select columns, never entities, so no identity map can
# hand back a row that an UPDATE statement has changed meanwhile.
users: Table = UserRow.__table__  # type: ignore[assignment]
rooms: Table = RoomRow.__table__  # type: ignore[assignment]
participants: Table = ParticipantRow.__table__  # type: ignore[assignment]
messages: Table = MessageRow.__table__  # type: ignore[assignment]
presence_log: Table = PresenceRow.__table__  # type: ignore[assignment]
uploads: Table = UploadRow.__table__  # type: ignore[assignment]
