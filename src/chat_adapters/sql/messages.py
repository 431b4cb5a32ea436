"""Messages and the presence log on SQL: inserts whose unique constraints do the checking, index-friendly reads."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, false, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from chat_adapters.sql.session import SqlSession
from chatcore.errors import NotFoundError
from chatcore.model import (
    FILE_PATH_PREFIX,
    GroupAction,
    HistoryQuery,
    Message,
    MessageDraft,
    MessageId,
    MessageType,
    Presence,
    Role,
    RoomId,
    StoredFile,
    SystemNote,
    Upload,
    UserId,
    file_path_of,
)

IN_CHUNK = 500  # keys per IN (...) list: far below every driver's bind-parameter limit


def message_from_row(row: Mapping[Any, Any]) -> Message:
    """`is_read` is left False: it is no column, the use cases work it out from the members' read markers."""
    receiver = row["receiver_id"]
    return Message(
        id=MessageId(row["id"]),
        room_id=RoomId(row["room_id"]),
        sender_id=UserId(row["sender_id"]),
        receiver_id=None if receiver is None else UserId(receiver),
        message_type=MessageType(row["message_type"]),
        content=row["content"],
        file_name=row["file_name"],
        file_path=row["file_path"],
        file_size=row["file_size"],
        mime_type=row["mime_type"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        is_deleted=row["is_deleted"],
        is_edited=row["is_edited"],
        client_msg_id=row["client_msg_id"],
        system=note_from_json(row["system"]),
    )


def note_to_json(note: SystemNote | None) -> dict[str, Any] | None:
    """The `system` column of a group's system message: what changed, who did it, to whom."""
    if note is None:
        return None
    return {
        "action": note.action.value,
        "actor_id": int(note.actor_id),
        "user_ids": [int(user) for user in note.user_ids],
        "role": None if note.role is None else note.role.value,
        "name": note.name,
    }


def note_from_json(value: Mapping[str, Any] | None) -> SystemNote | None:
    if value is None:
        return None
    role = value.get("role")
    return SystemNote(
        action=GroupAction(value["action"]),
        actor_id=UserId(value["actor_id"]),
        user_ids=tuple(UserId(user) for user in value.get("user_ids") or ()),
        role=None if role is None else Role(role),
        name=value.get("name"),
    )


class SqlMessages:
    def __init__(self, session: SqlSession) -> None:
        self._session = session
        self._tables = session.tables

    async def add(self, draft: MessageDraft) -> Message:
        messages = self._tables.messages
        file = draft.file
        values = {
            "room_id": draft.room_id,
            "sender_id": draft.sender_id,
            "receiver_id": draft.receiver_id,
            "message_type": draft.message_type.value,
            "content": draft.content,
            "file_name": file.file_name if file else None,
            "file_path": file.file_path if file else None,
            "file_size": file.file_size if file else None,
            "mime_type": file.mime_type if file else None,
            "created_at": draft.created_at,
            "updated_at": None,
            "is_deleted": False,
            "is_edited": False,
            "client_msg_id": draft.client_msg_id,
            "system": note_to_json(draft.system),
        }
        result = await self._session.insert(
            insert(messages).values(values).returning(messages.c.id),
            conflict="client_msg_id was already used",
            field="client_msg_id",
        )
        message = draft.stored(MessageId(result.scalar_one()))
        await self._session.execute(self._tables.room_changed(draft.room_id))
        return message

    async def _one(self, *where: Any) -> Message | None:
        messages = self._tables.messages
        row = (await self._session.execute(select(messages).where(*where))).mappings().first()
        return message_from_row(row) if row is not None else None

    async def get(self, message_id: MessageId) -> Message | None:
        messages = self._tables.messages
        return await self._one(messages.c.id == message_id)

    async def by_client_msg_id(self, sender: UserId, client_msg_id: str) -> Message | None:
        messages = self._tables.messages
        return await self._one(messages.c.sender_id == sender, messages.c.client_msg_id == client_msg_id)

    async def save(self, message: Message) -> None:
        messages = self._tables.messages
        statement = (
            update(messages)
            .where(messages.c.id == message.id)
            .values(
                content=message.content,
                file_name=message.file_name,
                file_path=message.file_path,
                file_size=message.file_size,
                mime_type=message.mime_type,
                updated_at=message.updated_at,
                is_deleted=message.is_deleted,
                is_edited=message.is_edited,
            )
            .returning(messages.c.id)
        )
        if (await self._session.execute(statement)).first() is None:
            raise NotFoundError("message not found", field="message_id")
        await self._session.execute(self._tables.room_changed(message.room_id))

    def _in_room(self, room_id: RoomId, visible_after: MessageId | None) -> Any:
        """The room's messages, only those past `visible_after` (a member's history start) when given."""
        messages = self._tables.messages
        where = messages.c.room_id == room_id
        return where if visible_after is None else and_(where, messages.c.id > visible_after)

    async def history(
        self, room_id: RoomId, query: HistoryQuery, *, visible_after: MessageId | None = None
    ) -> tuple[list[Message], bool]:
        """One page plus one row: the extra row says whether more lie beyond, without a second count."""
        messages = self._tables.messages
        statement = select(messages).where(self._in_room(room_id, visible_after))
        if query.after_id is not None:
            statement = statement.where(messages.c.id > query.after_id).order_by(messages.c.id.asc())
        else:
            if query.before_id is not None:
                statement = statement.where(messages.c.id < query.before_id)
            statement = statement.order_by(messages.c.id.desc()).offset(query.offset)
        rows = (await self._session.execute(statement.limit(query.per_page + 1))).mappings().all()
        return [message_from_row(row) for row in rows[: query.per_page]], len(rows) > query.per_page

    async def latest(self, room_id: RoomId, limit: int, *, visible_after: MessageId | None = None) -> list[Message]:
        messages = self._tables.messages
        if limit <= 0:
            return []
        statement = (
            select(messages).where(self._in_room(room_id, visible_after)).order_by(messages.c.id.desc()).limit(limit)
        )
        rows = (await self._session.execute(statement)).mappings().all()
        return [message_from_row(row) for row in reversed(rows)]

    async def count(self, room_id: RoomId, *, visible_after: MessageId | None = None) -> int:
        messages = self._tables.messages
        statement = select(func.count()).select_from(messages).where(self._in_room(room_id, visible_after))
        return int((await self._session.execute(statement)).scalar_one())

    async def with_file(self, key: str) -> Message | None:
        messages = self._tables.messages
        return await self._one(messages.c.file_path == file_path_of(key), messages.c.is_deleted == false())

    async def referenced_keys(self, keys: Collection[str]) -> set[str]:
        """Matches `file_path` ('chat_files/<key>') over the partial file_path index, in chunks."""
        messages = self._tables.messages
        paths = sorted({file_path_of(key) for key in keys})
        found: set[str] = set()
        for start in range(0, len(paths), IN_CHUNK):
            statement = select(messages.c.file_path).where(
                messages.c.file_path.in_(paths[start : start + IN_CHUNK]), messages.c.is_deleted == false()
            )
            found.update(
                path.removeprefix(FILE_PATH_PREFIX) for path in (await self._session.execute(statement)).scalars()
            )
        return found


class SqlUploads:
    def __init__(self, session: SqlSession) -> None:
        self._session = session
        self._tables = session.tables

    async def add(self, upload: Upload) -> None:
        uploads = self._tables.uploads
        values = {
            "id": upload.id,
            "user_id": upload.user_id,
            "kind": upload.kind.value,
            "storage_key": upload.file.key,
            "file_name": upload.file.file_name,
            "file_size": upload.file.file_size,
            "mime_type": upload.file.mime_type,
            "created_at": upload.created_at,
        }
        await self._session.execute(insert(uploads).values(values))

    async def take(self, upload_id: str, user: UserId) -> Upload | None:
        """DELETE ... RETURNING: two racing sends cannot both claim one upload."""
        uploads = self._tables.uploads
        statement = delete(uploads).where(uploads.c.id == upload_id, uploads.c.user_id == user).returning(*uploads.c)
        row = (await self._session.execute(statement)).mappings().first()
        return None if row is None else _upload(row)

    async def older_than(self, when: datetime, limit: int) -> list[Upload]:
        uploads = self._tables.uploads
        statement = select(uploads).where(uploads.c.created_at < when).order_by(uploads.c.created_at).limit(limit)
        return [_upload(row) for row in (await self._session.execute(statement)).mappings()]

    async def remove(self, upload_ids: Collection[str]) -> None:
        uploads = self._tables.uploads
        ids = sorted(upload_ids)
        for start in range(0, len(ids), IN_CHUNK):
            await self._session.execute(delete(uploads).where(uploads.c.id.in_(ids[start : start + IN_CHUNK])))

    async def referenced_keys(self, keys: Collection[str]) -> set[str]:
        uploads = self._tables.uploads
        wanted = sorted(set(keys))
        found: set[str] = set()
        for start in range(0, len(wanted), IN_CHUNK):
            statement = select(uploads.c.storage_key).where(uploads.c.storage_key.in_(wanted[start : start + IN_CHUNK]))
            found.update((await self._session.execute(statement)).scalars())
        return found


def _upload(row: Mapping[Any, Any]) -> Upload:
    return Upload(
        id=row["id"],
        user_id=UserId(row["user_id"]),
        kind=MessageType(row["kind"]),
        file=StoredFile(
            key=row["storage_key"], file_name=row["file_name"], file_size=row["file_size"], mime_type=row["mime_type"]
        ),
        created_at=row["created_at"],
    )


class SqlPresenceLog:
    def __init__(self, session: SqlSession) -> None:
        self._session = session
        self._tables = session.tables

    async def save(self, presence: Presence) -> None:
        """One upsert statement (both supported dialects, SQLite and PostgreSQL, have ON CONFLICT)."""
        presence_log = self._tables.presence_log
        values = {"user_id": presence.user_id, "is_online": presence.is_online, "last_seen": presence.last_seen}
        dialect_insert = postgresql.insert if self._session.dialect == "postgresql" else sqlite.insert
        upsert = dialect_insert(presence_log).values(values)
        changes = {"is_online": upsert.excluded.is_online, "last_seen": upsert.excluded.last_seen}
        await self._session.execute(upsert.on_conflict_do_update(index_elements=["user_id"], set_=changes))

    async def get_many(self, ids: Collection[UserId]) -> dict[UserId, Presence]:
        presence_log = self._tables.presence_log
        if not ids:
            return {}
        statement = select(presence_log).where(presence_log.c.user_id.in_(list(ids)))
        return {
            UserId(row["user_id"]): Presence(
                user_id=UserId(row["user_id"]), is_online=row["is_online"], last_seen=row["last_seen"]
            )
            for row in (await self._session.execute(statement)).mappings()
        }
