"""Messages and the presence log on SQL: inserts whose unique constraints do the checking, index-friendly reads."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Select,
    Text,
    and_,
    case,
    cast,
    column,
    delete,
    distinct,
    false,
    func,
    insert,
    literal,
    literal_column,
    select,
    table,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from chat_adapters.sql.search_index import fts5_match_of, index_terms, tsquery_of, tsvector_of, words_of
from chat_adapters.sql.session import SqlSession
from chat_adapters.sql.tables import fts_table_name, search_state_name
from chatcore.errors import ConflictError, NotFoundError
from chatcore.model import (
    FILE_PATH_PREFIX,
    PREVIEW_LENGTH,
    GroupAction,
    HistoryQuery,
    Message,
    MessageDraft,
    MessageId,
    MessageType,
    Presence,
    Reaction,
    ReplyPreview,
    Role,
    RoomId,
    StoredFile,
    SystemNote,
    Upload,
    UserId,
    file_path_of,
)
from chatcore.reactions import grouped
from chatcore.search import SearchQuery, Term

IN_CHUNK = 500  # keys per IN (...) list: far below every driver's bind-parameter limit
# Message search: the newest messages checked row by row before the full-text index is asked (see `search`).
SCAN_WINDOW = 2_000
PLAN_SEARCH = (
    "SELECT set_config('plan_cache_mode', 'force_custom_plan', true),"
    " set_config('max_parallel_workers_per_gather', '0', true)"
)


def _tsquery(terms: tuple[Term, ...]) -> Any:
    """A tsquery literal, read without a text parser (see search_index.py)."""
    return cast(literal(tsquery_of(terms), Text()), postgresql.TSQUERY())


def message_from_row(
    row: Mapping[Any, Any], reactions: Mapping[MessageId, tuple[Reaction, ...]] | None = None
) -> Message:
    """`is_read` is left False: it is no column, the use cases work it out from the members' read markers.

    A row of `SqlMessages._select` also carries the replied-to original (`o_*`); `reactions` by message id."""
    receiver, reply_to_id, pinned_by = row["receiver_id"], row["reply_to_id"], row["pinned_by"]
    message_id = MessageId(row["id"])
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
        reply_to_id=None if reply_to_id is None else MessageId(reply_to_id),
        reply_to=None if reply_to_id is None else _reply_preview(row),
        mentions=mentions_from_json(row["mentions"]),
        reactions=() if reactions is None else reactions.get(message_id, ()),
        pinned_by=None if pinned_by is None else UserId(pinned_by),
        pinned_at=row["pinned_at"],
    )


def _reply_preview(row: Mapping[Any, Any]) -> ReplyPreview:
    """From the original as it is now (joined as `o_*`, its content cut to what a preview shows), or `gone`."""
    if row["o_id"] is None:
        return ReplyPreview.gone(MessageId(row["reply_to_id"]))
    original = Message(  # only what ReplyPreview.of reads is the original's; the rest is the reply's
        id=MessageId(row["o_id"]),
        room_id=RoomId(row["room_id"]),
        sender_id=UserId(row["o_sender_id"]),
        receiver_id=None,
        message_type=MessageType(row["o_message_type"]),
        content=row["o_content"],
        file_name=row["o_file_name"],
        created_at=row["created_at"],
        is_deleted=row["o_is_deleted"],
    )
    return ReplyPreview.of(original)


def mentions_to_json(mentions: Sequence[UserId]) -> list[int] | None:
    """The `mentions` column: the ids in the order the text names them; NULL for none."""
    return [int(user) for user in mentions] or None


def mentions_from_json(value: Sequence[int] | None) -> tuple[UserId, ...]:
    return () if not value else tuple(UserId(user) for user in value)


def mention_rows(message_id: int, room_id: int, sender: int, mentions: Iterable[int]) -> list[dict[str, int]]:
    """`chat_mentions` rows of a message: everyone it names but its sender (nobody is told of their own words)."""
    return [
        {"user_id": user, "room_id": room_id, "message_id": message_id}
        for user in dict.fromkeys(mentions)
        if user != sender
    ]


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
    """Every message read comes with the replied-to original (a LEFT JOIN on its primary key) and, for the rows
    that have any (an EXISTS probe per row), its reactions in one more statement per page."""

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
            "reply_to_id": None if draft.reply_to is None else draft.reply_to.id,
            "mentions": mentions_to_json(draft.mentions),
            "search_words": self._search_words(
                words_of(draft.message_type, draft.content, file.file_name if file else None)
            ),
        }
        result = await self._session.insert(
            insert(messages).values(values).returning(messages.c.id),
            conflict="client_msg_id was already used",
            field="client_msg_id",
        )
        message = draft.stored(MessageId(result.scalar_one()))
        rows = mention_rows(message.id, message.room_id, message.sender_id, message.mentions)
        if rows:
            await self._session.execute(insert(self._tables.mentions), rows)
        await self._session.execute(self._tables.room_changed(draft.room_id))
        return message

    def _search_words(self, words: str | None) -> Any:
        """The `search_words` value of a message with these words: a tsvector literal cast on PostgreSQL (bound as
        text, read without a text parser), the words themselves on SQLite (its triggers index them)."""
        if self._session.dialect != "postgresql":
            return words
        vector = tsvector_of(words)
        return None if vector is None else cast(literal(vector, Text()), postgresql.TSVECTOR())

    def _select(self) -> Select[Any]:
        """The message columns (not the search index's words), the original a reply answers (`o_*`; NULLs once it
        is gone) and whether any
        reaction is there (`has_reactions`: a probe of the reactions' unique index)."""
        messages, reactions = self._tables.messages, self._tables.reactions
        original = messages.alias("o")
        has_reactions = select(literal(1)).where(reactions.c.message_id == messages.c.id).exists()
        return select(
            *(c for c in messages.c if c.key != "search_words"),
            original.c.id.label("o_id"),
            original.c.sender_id.label("o_sender_id"),
            original.c.message_type.label("o_message_type"),
            func.substr(original.c.content, 1, PREVIEW_LENGTH + 1).label("o_content"),  # enough to cut the preview
            original.c.file_name.label("o_file_name"),
            original.c.is_deleted.label("o_is_deleted"),
            has_reactions.label("has_reactions"),
        ).select_from(messages.outerjoin(original, original.c.id == messages.c.reply_to_id))

    async def _messages(self, statement: Select[Any]) -> list[Message]:
        rows = (await self._session.execute(statement)).mappings().all()
        reactions = await self._reactions([MessageId(row["id"]) for row in rows if row["has_reactions"]])
        return [message_from_row(row, reactions) for row in rows]

    async def _reactions(self, message_ids: Sequence[MessageId]) -> dict[MessageId, tuple[Reaction, ...]]:
        """Reactions of these messages, grouped as message objects show them: rows in arrival (id) order."""
        if not message_ids:
            return {}
        reactions = self._tables.reactions
        found: dict[MessageId, list[tuple[str, UserId]]] = {}
        for start in range(0, len(message_ids), IN_CHUNK):
            statement = (
                select(reactions.c.message_id, reactions.c.emoji, reactions.c.user_id)
                .where(reactions.c.message_id.in_(message_ids[start : start + IN_CHUNK]))
                .order_by(reactions.c.id)
            )
            for message_id, emoji, user in (await self._session.execute(statement)).tuples():
                found.setdefault(MessageId(message_id), []).append((emoji, UserId(user)))
        return {message_id: tuple(grouped(rows)) for message_id, rows in found.items()}

    async def _one(self, *where: Any) -> Message | None:
        found = await self._messages(self._select().where(*where).limit(1))
        return found[0] if found else None

    async def get(self, message_id: MessageId) -> Message | None:
        messages = self._tables.messages
        return await self._one(messages.c.id == message_id)

    async def by_client_msg_id(self, sender: UserId, client_msg_id: str) -> Message | None:
        messages = self._tables.messages
        return await self._one(messages.c.sender_id == sender, messages.c.client_msg_id == client_msg_id)

    async def save(self, message: Message) -> None:
        """The row, its mentions replaced; a deleted message loses its reactions and pin in the same transaction."""
        messages, mentions = self._tables.messages, self._tables.mentions
        values: dict[str, Any] = {
            "content": message.content,
            "file_name": message.file_name,
            "file_path": message.file_path,
            "file_size": message.file_size,
            "mime_type": message.mime_type,
            "updated_at": message.updated_at,
            "is_deleted": message.is_deleted,
            "is_edited": message.is_edited,
            "mentions": mentions_to_json(() if message.is_deleted else message.mentions),
            "search_words": self._search_words(
                None if message.is_deleted else words_of(message.message_type, message.content, message.file_name)
            ),
        }
        if message.is_deleted:
            values.update(pinned_by=None, pinned_at=None)
        statement = (
            update(messages)
            .where(messages.c.id == message.id)
            .values(values)
            .returning(messages.c.room_id, messages.c.sender_id)
        )
        row = (await self._session.execute(statement)).first()
        if row is None:
            raise NotFoundError("message not found", field="message_id")
        room_id, sender = row
        await self._session.execute(delete(mentions).where(mentions.c.message_id == message.id))
        rows = [] if message.is_deleted else mention_rows(message.id, room_id, sender, message.mentions)
        if rows:
            await self._session.execute(insert(mentions), rows)
        if message.is_deleted:
            reactions = self._tables.reactions
            await self._session.execute(delete(reactions).where(reactions.c.message_id == message.id))
        await self._session.execute(self._tables.room_changed(room_id))

    async def _lock(self, message_id: MessageId) -> bool:
        """Lock the message's row until the transaction ends and say whether it is deleted (NotFoundError if
        there is none). PostgreSQL: SELECT ... FOR UPDATE. SQLite: an UPDATE that changes nothing, so the
        write lock is taken before anything is read (no stale snapshot; other writers wait busy_timeout)."""
        messages = self._tables.messages
        statement: Any
        if self._session.dialect == "postgresql":
            statement = select(messages.c.is_deleted).where(messages.c.id == message_id).with_for_update()
        else:
            statement = (
                update(messages)
                .where(messages.c.id == message_id)
                .values(is_deleted=messages.c.is_deleted)
                .returning(messages.c.is_deleted)
            )
        row = (await self._session.execute(statement)).first()
        if row is None:
            raise NotFoundError("message not found", field="message_id")
        return bool(row[0])

    async def add_reaction(self, message_id: MessageId, user: UserId, emoji: str, *, at: datetime, limit: int) -> bool:
        """Under the message row's lock: every add to one message is decided one at a time, on every process, so
        the count of distinct emoji read here is the one the insert adds to. The unique constraint stays the last
        word on duplicates (ON CONFLICT DO NOTHING)."""
        reactions = self._tables.reactions
        if await self._lock(message_id):
            raise ConflictError("a deleted message takes no reactions", field="message_id")
        this = reactions.c.emoji == emoji
        kinds, there, mine = (
            await self._session.execute(
                select(
                    func.count(distinct(reactions.c.emoji)),
                    func.coalesce(func.max(case((this, 1), else_=0)), 0),
                    func.coalesce(func.max(case((and_(this, reactions.c.user_id == user), 1), else_=0)), 0),
                ).where(reactions.c.message_id == message_id)
            )
        ).one()
        if mine:
            return False
        if not there and kinds >= limit:
            raise ConflictError(f"a message has at most {limit} different reactions", field="emoji")
        dialect_insert = postgresql.insert if self._session.dialect == "postgresql" else sqlite.insert
        statement = (
            dialect_insert(reactions)
            .values(message_id=message_id, user_id=user, emoji=emoji, created_at=at)
            .on_conflict_do_nothing(index_elements=["message_id", "user_id", "emoji"])
            .returning(reactions.c.id)
        )
        return (await self._session.execute(statement)).first() is not None

    async def remove_reaction(self, message_id: MessageId, user: UserId, emoji: str) -> bool:
        reactions = self._tables.reactions
        statement = (
            delete(reactions)
            .where(reactions.c.message_id == message_id, reactions.c.user_id == user, reactions.c.emoji == emoji)
            .returning(reactions.c.id)
        )
        return (await self._session.execute(statement)).first() is not None

    async def pin(self, message_id: MessageId, *, by: UserId, at: datetime) -> bool:
        """One UPDATE of a row not pinned yet (the first pin stays); only when it changes nothing, a look whether
        the message exists at all."""
        messages = self._tables.messages
        statement = (
            update(messages)
            .where(messages.c.id == message_id, messages.c.pinned_at.is_(None))
            .values(pinned_by=by, pinned_at=at)
            .returning(messages.c.id)
        )
        if (await self._session.execute(statement)).first() is not None:
            return True
        exists = await self._session.execute(select(messages.c.id).where(messages.c.id == message_id))
        if exists.first() is None:
            raise NotFoundError("message not found", field="message_id")
        return False

    async def unpin(self, message_id: MessageId) -> bool:
        messages = self._tables.messages
        statement = (
            update(messages)
            .where(messages.c.id == message_id, messages.c.pinned_at.isnot(None))
            .values(pinned_by=None, pinned_at=None)
            .returning(messages.c.id)
        )
        return (await self._session.execute(statement)).first() is not None

    async def pins(self, room_id: RoomId, *, visible_after: MessageId | None = None) -> list[Message]:
        """Over the partial index of pinned messages: most recently pinned first, then the newer message."""
        messages = self._tables.messages
        statement = (
            self._select()
            .where(self._in_room(room_id, visible_after), messages.c.pinned_at.isnot(None))
            .order_by(messages.c.pinned_at.desc(), messages.c.id.desc())
        )
        return await self._messages(statement)

    async def search(self, user: UserId, query: SearchQuery) -> list[Message]:
        """Newest first, one more than the page, in steps that each stop once the page is full, so that neither
        a common word nor a rare one costs more than a few milliseconds:

        1. the newest `SCAN_WINDOW` messages (of the room, with a room filter) are checked row by row, walking the
           primary key down: a common word fills the page within a few rows, where its index entries would be
           hundreds of thousands (an FTS5 prefix query merges every entry of every word it matches, a GIN bitmap
           visits every matching row before sorting them);
        2. when the query ends in a prefix beside other words (`index_terms`), the index asked for those other
           words, over their newest `SCAN_WINDOW` matches, each row checked for the whole query: a rare word
           then costs little whatever the prefix matches;
        3. the rest through the index asked for the whole query: PostgreSQL's GIN index of `search_words` (`@@` a
           tsquery literal), SQLite's FTS5 table (MATCH, its rowids the message ids). Reached only for words rare
           in what steps 1 and 2 saw, so its cost is that of a rare word (or of a common prefix beside a word
           that is common too, but seldom with it: the slow case left).
        """
        if self._session.dialect == "postgresql":
            if tsquery_of(query.terms) is None:
                return []  # a word too long for any tsvector
            # Planned for these words and this window every time: asyncpg prepares statements, and a generic plan
            # (chosen by PostgreSQL after five runs) knows neither, so it may walk the whole table for a rare word.
            # No parallel workers: starting them costs more (about 8 ms) than the few rows each step reads.
            await self._session.execute(text(PLAN_SEARCH))
        floor = await self._window_floor(query)
        if floor is None:
            return []
        wanted, messages = query.limit + 1, self._tables.messages
        found = await self._messages(
            self._searchable(user, query)
            .where(messages.c.id > floor, self._row_matches(query.terms))
            .order_by(messages.c.id.desc())
            .limit(wanted)
        )
        top, asked = floor, index_terms(query.terms)
        if len(found) < wanted and top > 0 and asked != query.terms:
            # The index asked without the prefix, over its newest `SCAN_WINDOW` matches (all of them if fewer).
            low = await self._nth_match(asked, top)
            found += await self._messages(self._indexed(user, query, asked, top, low).limit(wanted - len(found)))
            top = low - 1
        if len(found) < wanted and top > 0:
            found += await self._messages(self._indexed(user, query, query.terms, top).limit(wanted - len(found)))
        return found

    async def _nth_match(self, terms: tuple[Term, ...], top: int) -> int:
        """The id of the `SCAN_WINDOW`-th message (newest first, from `top` down) the index finds for `terms`, or
        0 when it finds fewer: a bound, whoever may read them."""
        messages = self._tables.messages
        if self._session.dialect == "postgresql":
            statement = select(messages.c.id).where(messages.c.search_words.op("@@")(_tsquery(terms)))
            statement = statement.where(messages.c.id <= top).order_by(messages.c.id.desc())
        else:
            fts_name = fts_table_name(self._tables.prefix)
            fts = table(fts_name, column("rowid"))
            statement = (
                select(fts.c.rowid)
                .where(literal_column(f'"{fts_name}"').op("MATCH")(fts5_match_of(terms)), fts.c.rowid <= top)
                .order_by(fts.c.rowid.desc())
            )
        found = (await self._session.execute(statement.offset(max(SCAN_WINDOW - 1, 0)).limit(1))).scalar()
        return 0 if found is None else int(found)

    async def _window_floor(self, query: SearchQuery) -> int | None:
        """The id below the window of step 1 (None: nothing to search): with a room filter, below the room's
        `SCAN_WINDOW` newest messages (an index-only walk of its (room_id, id) index); else `SCAN_WINDOW` ids
        below the newest (or the cursor). On SQLite never above `indexed_upto`: newer messages are not in the FTS5
        table yet (migration 0008), so step 1 reads them all."""
        messages = self._tables.messages
        if query.room_id is not None:
            statement = select(messages.c.id).where(messages.c.room_id == query.room_id)
            if query.before_id is not None:
                statement = statement.where(messages.c.id < query.before_id)
            statement = statement.order_by(messages.c.id.desc()).offset(SCAN_WINDOW).limit(1)
            below = (await self._session.execute(statement)).scalar()
            floor = 0 if below is None else int(below)
        else:
            if query.before_id is not None:
                top = int(query.before_id) - 1
            else:
                newest = (await self._session.execute(select(func.max(messages.c.id)))).scalar()
                if newest is None:
                    return None
                top = int(newest)
            if top <= 0:
                return None
            floor = max(top - SCAN_WINDOW, 0)
        if self._session.dialect == "sqlite" and floor > 0:
            state = table(search_state_name(self._tables.prefix), column("indexed_upto"))
            upto = (await self._session.execute(select(state.c.indexed_upto))).scalar()
            floor = min(floor, int(upto or 0))
        return floor

    def _searchable(self, user: UserId, query: SearchQuery) -> Select[Any]:
        """Live messages `user` may read within the filters, before any word is matched. Membership (a participant
        row, each from its history start) is a probe per message, not a join: a join lets SQLite start from the
        person's rooms and sort all their window's messages, where walking the messages down stops after a page."""
        messages, participants = self._tables.messages, self._tables.participants
        member = (
            select(literal(1))
            .where(
                participants.c.user_id == user,
                participants.c.room_id == messages.c.room_id,
                messages.c.id > func.coalesce(participants.c.history_from_id, 0),
            )
            .exists()
        )
        statement = self._select().where(member, messages.c.is_deleted == false())
        if query.room_id is not None:
            statement = statement.where(messages.c.room_id == query.room_id)
        if query.sender_id is not None:
            statement = statement.where(messages.c.sender_id == query.sender_id)
        if query.after is not None:
            statement = statement.where(messages.c.created_at >= query.after)
        if query.before is not None:
            statement = statement.where(messages.c.created_at < query.before)
        if query.before_id is not None:
            statement = statement.where(messages.c.id < query.before_id)
        return statement

    def _row_matches(self, terms: tuple[Term, ...]) -> Any:
        """`terms` as a test of one row's `search_words` that no index answers: PostgreSQL's `ts_match_vq` (what
        `@@` calls; as a function the planner does not take it to the GIN index); on SQLite, each term as a
        substring of the space-bounded words (a word is letters and digits, so ' chat te' is the phrase 'chat'
        then a word starting 'te', exactly what the FTS5 tokens of those words match)."""
        words = self._tables.messages.c.search_words
        if self._session.dialect == "postgresql":
            return func.ts_match_vq(words, _tsquery(terms))
        bounded = literal(" ") + words + literal(" ")
        return and_(
            *(
                func.instr(bounded, literal(" " + " ".join(term.words) + ("" if term.prefix else " "))) > 0
                for term in terms
            )
        )

    def _indexed(
        self, user: UserId, query: SearchQuery, asked: tuple[Term, ...], top: int, low: int = 0
    ) -> Select[Any]:
        """Messages from `top` down to `low` through the full-text index asked for `asked`, newest first; each row
        checked for the whole query when `asked` is less (`index_terms`)."""
        messages = self._tables.messages
        statement = self._searchable(user, query).where(messages.c.id <= top, messages.c.id >= low)
        if asked != query.terms:
            statement = statement.where(self._row_matches(query.terms))
        if self._session.dialect == "postgresql":
            # Ordered by an expression, not the key itself: the planner then cannot walk the primary key down
            # (step 1's plan, here as long as the whole table for a rare word) and takes the GIN index.
            return statement.where(messages.c.search_words.op("@@")(_tsquery(asked))).order_by(
                (messages.c.id + 0).desc()
            )
        fts_name = fts_table_name(self._tables.prefix)
        fts = table(fts_name, column("rowid"))
        # FTS5 drives: it walks its matches newest rowid first (ORDER BY rowid DESC is its own order, as is a
        # rowid range), each looked up by primary key.
        return (
            statement.join(fts, fts.c.rowid == messages.c.id)
            .where(
                literal_column(f'"{fts_name}"').op("MATCH")(fts5_match_of(asked)),
                fts.c.rowid <= top,
                fts.c.rowid >= low,
            )
            .order_by(fts.c.rowid.desc())
        )

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
        statement = self._select().where(self._in_room(room_id, visible_after))
        if query.after_id is not None:
            statement = statement.where(messages.c.id > query.after_id).order_by(messages.c.id.asc())
        else:
            if query.before_id is not None:
                statement = statement.where(messages.c.id < query.before_id)
            statement = statement.order_by(messages.c.id.desc()).offset(query.offset)
        found = await self._messages(statement.limit(query.per_page + 1))
        return found[: query.per_page], len(found) > query.per_page

    async def latest(self, room_id: RoomId, limit: int, *, visible_after: MessageId | None = None) -> list[Message]:
        messages = self._tables.messages
        if limit <= 0:
            return []
        statement = (
            self._select().where(self._in_room(room_id, visible_after)).order_by(messages.c.id.desc()).limit(limit)
        )
        return list(reversed(await self._messages(statement)))

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
