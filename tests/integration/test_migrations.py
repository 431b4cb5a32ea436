"""Migrations on real databases: up, down, up again, from the `alembic` CLI and from Python, with no drift."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Boolean, Connection, column, insert, inspect

import chat_adapters.sql.messages as sql_messages
import chatcore.search
from chat_adapters.sql.engine import alembic_config, create_engine, downgrade, session_factory, upgrade
from chat_adapters.sql.store import SqlDatabase
from chat_adapters.sql.tables import DEFAULT_LAYOUT, MAX_PREFIX, ChatLayout, fts_table_names
from chat_adapters.sql.writer import index_search_backlog
from chatcore.model import Member, MessageDraft, MessageType, ReplyPreview, RoomId, UserId
from chatcore.search import SearchQuery, parse_terms

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")
CHAT_TABLES = {
    "users",
    "chat_rooms",
    "chat_participants",
    "chat_messages",
    "user_presence",
    "chat_uploads",
    "chat_reactions",
    "chat_mentions",
}


def _alembic(url: str, *args: str, env: dict[str, str] | None = None) -> None:
    """The plain `alembic` command from the repository root, as a developer would run it."""
    env = {**os.environ, "CHAT_DATABASE_URL": url, **(env or {})}
    done = subprocess.run(
        [sys.executable, "-m", "alembic", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def _schema(connection: Connection, layout: ChatLayout = DEFAULT_LAYOUT) -> tuple[set[str], list[Any], str | None]:
    """Our tables (SQLite's FTS5 tables of message search aside, which `_shape` sees), the drift as autogenerate
    in env.py sees it, and the revision."""
    dialect = connection.dialect.name

    def include_name(name: str | None, type_: str, _parents: object) -> bool:
        return layout.compared(dialect, name, type_)

    def include_object(_obj: object, name: str | None, type_: str, *_: object) -> bool:
        return layout.compared(dialect, name, type_)

    opts = {
        "compare_type": True,
        "version_table": layout.version_table,
        "include_name": include_name,
        "include_object": include_object,
    }
    context = MigrationContext.configure(connection, opts=opts)
    tables = set(inspect(connection).get_table_names()) - fts_table_names(layout.prefix)
    return tables, compare_metadata(context, layout.tables.metadata), context.get_current_revision()


async def _inspect(url: str, layout: ChatLayout = DEFAULT_LAYOUT) -> tuple[set[str], list[Any], str | None]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_schema, layout)
    finally:
        await engine.dispose()


async def test_alembic_cli_upgrades_downgrades_and_upgrades_again(empty_url: str) -> None:
    _alembic(empty_url, "upgrade", "head")
    tables, diff, revision = await _inspect(empty_url)
    assert tables == CHAT_TABLES | {"alembic_version"}
    assert diff == []
    assert revision is not None

    _alembic(empty_url, "downgrade", "base")
    tables, _, revision = await _inspect(empty_url)
    assert tables == {"alembic_version"}
    assert revision is None

    _alembic(empty_url, "upgrade", "head")
    tables, diff, _ = await _inspect(empty_url)
    assert tables == CHAT_TABLES | {"alembic_version"}
    assert diff == []
    _alembic(empty_url, "check")  # autogenerate, run the way a developer would, finds nothing to add


async def test_programmatic_helpers_migrate_the_named_database(
    empty_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The URL given to upgrade() wins over CHAT_DATABASE_URL, which here points somewhere else."""
    decoy = tmp_path / "decoy.db"
    monkeypatch.setenv("CHAT_DATABASE_URL", f"sqlite+aiosqlite:///{decoy}")

    await upgrade(empty_url)
    tables, diff, head = await _inspect(empty_url)
    assert tables == CHAT_TABLES | {"alembic_version"}
    assert diff == []

    await downgrade(empty_url, "base")
    assert (await _inspect(empty_url))[0] == {"alembic_version"}

    await upgrade(empty_url, "head")
    assert (await _inspect(empty_url))[1:] == ([], head)
    assert not decoy.exists()


def _shape(connection: Connection) -> dict[str, Any]:
    """What a migration changes, table by table: columns (by name), keys and their names, indexes (partial ones' WHERE),
    and on SQLite which tables never reuse an id (AUTOINCREMENT, which reflection does not report)."""
    found = inspect(connection)
    shape: dict[str, Any] = {}
    for table in sorted(set(found.get_table_names()) - {"alembic_version", "sqlite_sequence"}):
        shape[table] = {
            # By name: PostgreSQL adds a column back at the end (0005's downgrade of `is_read`), and nothing
            # in the code depends on the order.
            "columns": sorted(
                (c["name"], str(c["type"]), c["nullable"], c.get("default")) for c in found.get_columns(table)
            ),
            "primary_key": found.get_pk_constraint(table),
            "foreign_keys": sorted(found.get_foreign_keys(table), key=str),
            "unique": sorted(found.get_unique_constraints(table), key=str),
            "indexes": sorted(
                (
                    i["name"],
                    i["column_names"],
                    i["unique"],
                    {k: str(v) for k, v in i.get("dialect_options", {}).items()},
                )
                for i in found.get_indexes(table)
            ),
        }
    if connection.dialect.name == "sqlite":
        shape["autoincrement"] = sorted(
            name
            for name, sql in connection.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
            if "AUTOINCREMENT" in sql
        )
        # Triggers too (message search's FTS5 table is kept by them): a rebuilt table silently loses its own.
        shape["triggers"] = sorted(
            connection.exec_driver_sql("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'").all()
        )
    return shape


async def _shape_of(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_shape)
    finally:
        await engine.dispose()


async def test_every_revision_goes_up_down_and_up_again(empty_url: str) -> None:
    """Step by step, so a later revision's downgrade is exercised on the schema it really starts from; each
    downgrade gives back exactly the schema of the revision before, each upgrade again the same schema."""
    scripts = ScriptDirectory.from_config(alembic_config())
    revisions = [script.revision for script in reversed(list(scripts.walk_revisions()))]
    assert revisions, "no migrations found in the package"

    before = await _shape_of(empty_url)
    for revision in revisions:
        await upgrade(empty_url, revision)
        after = await _shape_of(empty_url)
        await downgrade(empty_url, "-1")
        assert await _shape_of(empty_url) == before, f"downgrading {revision} left another schema"
        await upgrade(empty_url, revision)
        assert await _shape_of(empty_url) == after, f"upgrading {revision} again made another schema"
        assert (await _inspect(empty_url))[2] == revision
        before = after

    assert (await _inspect(empty_url))[1] == []
    if "sqlite" in empty_url:  # the head's SQLite tables with an integer id never reuse one (0004)
        kept = ["chat_messages", "chat_participants", "chat_reactions", "chat_rooms", "users"]
        assert before["autoincrement"] == kept


async def test_a_table_prefix_names_every_table_and_the_version_table(empty_url: str) -> None:
    """CHAT_TABLE_PREFIX through the plain `alembic` command, then the same layout from Python: no drift."""
    layout = ChatLayout(prefix="hrchat_")
    prefixed = {f"hrchat_{name}" for name in CHAT_TABLES} | {"hrchat_alembic_version"}

    _alembic(empty_url, "upgrade", "head", env={"CHAT_TABLE_PREFIX": "hrchat_"})
    tables, diff, head = await _inspect(empty_url, layout)
    assert (tables, diff) == (prefixed, [])
    assert head is not None

    await downgrade(empty_url, "base", layout=layout)
    assert (await _inspect(empty_url, layout))[0] == {"hrchat_alembic_version"}
    await upgrade(empty_url, layout=layout)
    assert await _inspect(empty_url, layout) == (prefixed, [], head)


def test_every_name_fits_postgresql_with_the_longest_prefix() -> None:
    """PostgreSQL cuts identifiers past 63 characters silently (two could then clash, and Alembic would see drift);
    the names the convention would make for chat_reactions' and chat_mentions' foreign keys were too long."""
    layout = ChatLayout(prefix="p" * MAX_PREFIX)
    names = [layout.version_table]
    for table in layout.tables.metadata.sorted_tables:
        names.append(table.name)
        names.extend(str(c.name) for c in table.constraints)
        names.extend(str(i.name) for i in table.indexes)
    assert len(names) > 30
    assert [name for name in names if len(name) > 63] == []


async def test_with_a_host_users_table_no_users_table_of_our_own_is_made(empty_url: str) -> None:
    layout = ChatLayout(own_users=False)

    await upgrade(empty_url, layout=layout)
    tables, _, _ = await _inspect(empty_url, layout)

    assert tables == (CHAT_TABLES - {"users"}) | {"alembic_version"}
    _alembic(empty_url, "check", env={"CHAT_USERS_TABLE": "employees"})  # and no drift is seen either


async def test_the_migrated_schema_is_the_declared_one(empty_url: str, tmp_path: Path) -> None:
    """Beyond `compare_metadata` (which skips partial indexes' WHERE, server defaults and SQLite's
    AUTOINCREMENT): the migrated tables look exactly like those `tables.py` creates."""
    await upgrade(empty_url)
    migrated = await _shape_of(empty_url)
    declared_url = f"sqlite+aiosqlite:///{tmp_path / 'declared.db'}"
    if "postgresql" in empty_url:  # a second database in the same cluster
        declared_url = empty_url.rsplit("/", 1)[0] + "/" + await _created_database(empty_url)
    engine = create_engine(declared_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(DEFAULT_LAYOUT.tables.metadata.create_all)
    finally:
        await engine.dispose()

    assert migrated == await _shape_of(declared_url)


async def _created_database(url: str) -> str:
    name = "declared_" + url.rsplit("/", 1)[1]
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        await engine.dispose()
    return name


# -- 0005: read flags become read markers ------------------------------------------------------------------------

A, B, C, D = 1, 2, 3, 4
# (room, sender, receiver, is_read, is_deleted), in the order written, so a room's ids are not contiguous. As the
# old `mark_read` left them: the messages to someone still unread in a room are always the newest ones to them.
OLD_MESSAGES = [
    (1, B, A, True, False),
    (2, C, A, True, False),
    (1, A, B, True, False),
    (3, C, B, False, True),  # deleted before it was read: the oldest unread message to B in room 3
    (1, B, A, True, True),  # read, then deleted
    (2, A, C, True, False),
    (1, B, A, False, False),
    (3, C, B, False, False),
    (1, A, B, False, False),
    (5, D, B, False, True),  # the only unread message to B in room 5 is deleted: nothing to count
    (1, B, A, False, True),
    (1, B, A, False, False),
]
OLD_ROOMS = {1: (A, B), 2: (A, C), 3: (B, C), 4: (A, D), 5: (B, D)}  # room 4 has no messages
OLD_UNREAD = (
    "SELECT p.user_id, p.room_id, (SELECT count(*) FROM chat_messages m WHERE m.room_id = p.room_id"
    " AND m.receiver_id = p.user_id AND m.is_read = {false} AND m.is_deleted = {false}) FROM chat_participants p"
)


def _write_old_rows(connection: Connection) -> None:
    """Rooms, participants and messages as revision 0004's code wrote them, in plain SQL."""
    utc = DateTimeUTC(timezone=True)
    rooms = sa.table(
        "chat_rooms",
        column("id"),
        column("name"),
        column("room_type"),
        column("created_by"),
        column("created_at", utc),
        column("updated_at", utc),
        column("is_active", Boolean),
        column("direct_key"),
    )
    participants = sa.table("chat_participants", column("room_id"), column("user_id"), column("joined_at", utc))
    messages = sa.table(
        "chat_messages",
        column("room_id"),
        column("sender_id"),
        column("receiver_id"),
        column("message_type"),
        column("content"),
        column("created_at", utc),
        column("is_read", Boolean),
        column("is_deleted", Boolean),
        column("is_edited", Boolean),
    )
    when = datetime(2026, 1, 2, 9, 0, tzinfo=UTC)
    for room_id, (one, two) in OLD_ROOMS.items():
        connection.execute(
            insert(rooms).values(
                id=room_id,
                name="Direct Chat",
                room_type="direct",
                created_by=one,
                created_at=when,
                updated_at=when,
                is_active=True,
                direct_key=f"{one}:{two}",
            )
        )
        connection.execute(
            insert(participants), [{"room_id": room_id, "user_id": u, "joined_at": when} for u in (one, two)]
        )
    connection.execute(
        insert(messages),
        [
            {
                "room_id": room_id,
                "sender_id": sender,
                "receiver_id": receiver,
                "message_type": "text",
                "content": "hello",
                "created_at": when,
                "is_read": read,
                "is_deleted": deleted,
                "is_edited": False,
            }
            for room_id, sender, receiver, read, deleted in OLD_MESSAGES
        ],
    )


def _old_state(connection: Connection) -> tuple[dict[tuple[int, int], int], dict[int, bool]]:
    """Unread counts by (user, room) as 0004's code computed them, and every message's flag."""
    false = "false" if connection.dialect.name == "postgresql" else "0"
    counts = {(user, room): n for user, room, n in connection.exec_driver_sql(OLD_UNREAD.format(false=false))}
    flags = {
        message: bool(read) for message, read in connection.exec_driver_sql("SELECT id, is_read FROM chat_messages")
    }
    return counts, flags


def _new_flags(connection: Connection) -> dict[int, bool]:
    """Each message's old flag, as the markers now say it: read when its receiver's marker reached it."""
    rows = connection.exec_driver_sql(
        "SELECT m.id, p.last_read_message_id FROM chat_messages m JOIN chat_participants p"
        " ON p.room_id = m.room_id AND p.user_id = m.receiver_id"
    )
    return {message: marker is not None and marker >= message for message, marker in rows}


async def _run(url: str, work: Callable[[Connection], T]) -> T:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            return await connection.run_sync(work)
    finally:
        await engine.dispose()


async def test_read_flags_become_markers_and_come_back_without_losing_an_unread_message(empty_url: str) -> None:
    await upgrade(empty_url, "0004")
    await _run(empty_url, _write_old_rows)
    old_counts, old_flags = await _run(empty_url, _old_state)
    assert sorted(old_flags.values()) == [False] * 7 + [True] * 5
    assert old_counts[(A, 1)] == 2 and old_counts[(B, 1)] == 1 and old_counts[(B, 3)] == 1  # noqa: PT018

    await upgrade(empty_url)

    engine = create_engine(empty_url)
    try:
        database = SqlDatabase(session_factory(engine))
        new_counts: dict[tuple[int, int], int] = {}
        for user in (A, B, C, D):
            async with database() as uow:
                new_counts.update(
                    ((user, room), n) for room, n in (await uow.rooms.unread_counts(UserId(user))).items()
                )
            async with database() as uow:
                summaries = await uow.rooms.summaries(UserId(user))
            assert {s.room.id: s.unread_count for s in summaries} == {
                r: n for (u, r), n in new_counts.items() if u == user
            }
        async with database() as uow:
            markers = {m.user_id: m.last_read for m in await uow.rooms.members(RoomId(4))}
    finally:
        await engine.dispose()
    assert new_counts == old_counts
    assert await _run(empty_url, _new_flags) == old_flags
    assert markers == {A: None, D: None}  # no messages, no marker

    await downgrade(empty_url, "0004")

    assert await _run(empty_url, _old_state) == (old_counts, old_flags)


async def test_the_downgrade_refuses_while_a_group_exists(empty_url: str) -> None:
    await upgrade(empty_url)
    engine = create_engine(empty_url)
    try:
        async with SqlDatabase(session_factory(engine))() as uow:
            members = [Member(user_id=UserId(u), joined_at=datetime(2026, 1, 2, tzinfo=UTC)) for u in (A, B, C)]
            group = await uow.rooms.create_group(
                created_by=UserId(A), name="Case", members=members, at=members[0].joined_at
            )
            await uow.messages.add(
                MessageDraft(
                    room_id=group.id,
                    sender_id=UserId(A),
                    receiver_id=None,
                    message_type=MessageType.TEXT,
                    content="hello",
                    file=None,
                    created_at=members[0].joined_at,
                )
            )
            await uow.commit()
    finally:
        await engine.dispose()
    # 0006 goes down with the group in place; on SQLite its DDL commits before 0005's check would refuse.
    await downgrade(empty_url, "0005")
    before = await _shape_of(empty_url)

    with pytest.raises(RuntimeError, match="remove the group rooms first"):
        await downgrade(empty_url, "0004")

    assert await _shape_of(empty_url) == before
    assert (await _inspect(empty_url))[2] == "0005"
    rows = await _run(
        empty_url,
        lambda c: c.exec_driver_sql(
            "SELECT room_type, receiver_id FROM chat_rooms r JOIN chat_messages m ON m.room_id = r.id"
        ).all(),
    )
    assert [tuple(row) for row in rows] == [("group", None)]


async def test_rebuilding_the_tables_never_hands_out_an_id_again(empty_url: str) -> None:
    """0005 rebuilds tables on SQLite: their AUTOINCREMENT counters must survive it, past ids already gone."""
    await upgrade(empty_url, "0004")
    await _run(empty_url, _write_old_rows)
    newest = await _run(empty_url, lambda c: c.exec_driver_sql("SELECT max(id) FROM chat_messages").scalar_one())
    await _run(empty_url, lambda c: c.exec_driver_sql(f"DELETE FROM chat_messages WHERE id = {newest}"))

    await upgrade(empty_url)
    await downgrade(empty_url, "0004")
    await upgrade(empty_url)

    engine = create_engine(empty_url)
    try:
        async with SqlDatabase(session_factory(engine))() as uow:
            added = await uow.messages.add(
                MessageDraft(
                    room_id=RoomId(1),
                    sender_id=UserId(A),
                    receiver_id=UserId(B),
                    message_type=MessageType.TEXT,
                    content="hello again",
                    file=None,
                    created_at=datetime(2026, 1, 3, tzinfo=UTC),
                )
            )
    finally:
        await engine.dispose()
    assert added.id > newest


# -- 0006: reactions, replies, mentions, pins ---------------------------------------------------------------------


def _message_rows(connection: Connection) -> list[tuple[Any, ...]]:
    return [
        tuple(row)
        for row in connection.exec_driver_sql(
            "SELECT id, room_id, sender_id, content, is_deleted FROM chat_messages ORDER BY id"
        )
    ]


def _message_columns(connection: Connection) -> set[str]:
    return {c["name"] for c in inspect(connection).get_columns("chat_messages")}


async def test_0006_serves_the_messages_already_there_and_its_downgrade_keeps_every_message(empty_url: str) -> None:
    await upgrade(empty_url, "0004")
    await _run(empty_url, _write_old_rows)
    await upgrade(empty_url, "0005")
    before = await _run(empty_url, _message_rows)

    await upgrade(empty_url, "0007")  # 0006, and 0007 which today's code writes too (search_words)

    when = datetime(2026, 12, 3, tzinfo=UTC)
    engine = create_engine(empty_url)
    try:
        database = SqlDatabase(session_factory(engine))
        async with database() as uow:
            old = await uow.messages.latest(RoomId(1), 20)
            assert [m.id for m in old] == [row[0] for row in before if row[1] == 1]
            assert {(m.reply_to, m.mentions, m.reactions, m.pinned_at) for m in old} == {(None, (), (), None)}
            original = next(m for m in reversed(old) if not m.is_deleted)
            assert await uow.messages.add_reaction(original.id, UserId(A), "👍", at=when, limit=20)
            assert await uow.messages.pin(original.id, by=UserId(A), at=when)
            reply = await uow.messages.add(
                MessageDraft(
                    room_id=RoomId(1),
                    sender_id=UserId(B),
                    receiver_id=UserId(A),
                    message_type=MessageType.TEXT,
                    content="<@1> yes",
                    file=None,
                    created_at=when,
                    reply_to=ReplyPreview.of(original),
                    mentions=(UserId(A),),
                )
            )
            await uow.commit()
        async with database() as uow:
            found = await uow.messages.get(original.id)
            assert found is not None
            assert (found.pinned_by, [r.emoji for r in found.reactions]) == (A, ["👍"])
            assert await uow.messages.get(reply.id) == reply
            assert {s.room.id: s.mention_count for s in await uow.rooms.summaries(UserId(A))}[RoomId(1)] == 1
    finally:
        await engine.dispose()

    await downgrade(empty_url, "0005")

    assert await _run(empty_url, _message_rows) == [*before, (reply.id, 1, B, "<@1> yes", False)]
    assert not {"reply_to_id", "mentions", "pinned_by", "pinned_at"} & await _run(empty_url, _message_columns)
    assert (await _inspect(empty_url))[0] == CHAT_TABLES - {"chat_reactions", "chat_mentions"} | {"alembic_version"}

    await upgrade(empty_url)  # and up again: the messages stay, the reply no longer says what it answered
    engine = create_engine(empty_url)
    try:
        async with SqlDatabase(session_factory(engine))() as uow:
            again = await uow.messages.get(reply.id)
    finally:
        await engine.dispose()
    assert again is not None
    assert (again.content, again.reply_to, again.mentions) == ("<@1> yes", None, ())


# -- 0007: message search ----------------------------------------------------------------------------------------

FILLER = 12_000  # messages beyond the special ones: three batches of the migration's 5,000
SPECIAL = [  # (content, file_name, message_type, is_deleted): what 0006's code left in the table
    ("Herr Müller, Ticket PO-1234", None, "text", False),
    ("gelöschte Gehaltsliste", None, "text", True),
    ("Payroll renamed", None, "system", False),
    (None, "Vertrag-2024.pdf", "file", False),
]


def _write_messages_of_0006(connection: Connection) -> None:
    utc = DateTimeUTC(timezone=True)
    when = datetime(2026, 12, 3, tzinfo=UTC)
    rooms = sa.table(
        "chat_rooms",
        *(column(n) for n in ("id", "name", "room_type", "created_by", "direct_key")),
        column("created_at", utc),
        column("updated_at", utc),
        column("is_active", Boolean),
    )
    participants = sa.table("chat_participants", column("room_id"), column("user_id"), column("joined_at", utc))
    messages = sa.table(
        "chat_messages",
        *(column(n) for n in ("room_id", "sender_id", "receiver_id", "message_type", "content", "file_name")),
        column("created_at", utc),
        column("is_deleted", Boolean),
        column("is_edited", Boolean),
    )
    connection.execute(
        insert(rooms).values(
            id=1,
            name="Direct Chat",
            room_type="direct",
            created_by=A,
            direct_key="1:2",
            created_at=when,
            updated_at=when,
            is_active=True,
        )
    )
    connection.execute(insert(participants), [{"room_id": 1, "user_id": u, "joined_at": when} for u in (A, B)])
    rows = [
        {"content": content, "file_name": name, "message_type": kind, "is_deleted": deleted}
        for content, name, kind, deleted in SPECIAL
    ] + [
        {"content": f"note {i}", "file_name": None, "message_type": "text", "is_deleted": False} for i in range(FILLER)
    ]
    common = {"room_id": 1, "sender_id": A, "receiver_id": B, "created_at": when, "is_edited": False}
    connection.execute(insert(messages), [{**common, **row} for row in rows])


def _indexed(connection: Connection) -> int:
    return int(
        connection.exec_driver_sql("SELECT count(*) FROM chat_messages WHERE search_words IS NOT NULL").scalar_one()
    )


async def _found(url: str, q: str) -> list[str | None]:
    engine = create_engine(url)
    try:
        async with SqlDatabase(session_factory(engine))() as uow:
            found = await uow.messages.search(UserId(B), SearchQuery(terms=parse_terms(q), limit=50))
    finally:
        await engine.dispose()
    return [m.content or m.file_name for m in found]


async def test_0007_indexes_the_messages_there_in_batches_and_an_interrupted_run_carries_on(
    empty_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The upgrade fails in its third batch (index_text raises there): the first two batches stay committed, the
    version stays 0006, and the next run indexes the rest. Then down and up again."""
    await upgrade(empty_url, "0006")
    await _run(empty_url, _write_messages_of_0006)
    live = len(SPECIAL) - 2 + FILLER  # neither the deleted nor the system message has words

    real, calls = chatcore.search.index_text, []

    def failing(*args: Any) -> str | None:
        calls.append(args)
        if len(calls) > 10_500:
            raise RuntimeError("the upgrade was interrupted")
        return real(*args)

    monkeypatch.setattr(chatcore.search, "index_text", failing)
    with caplog.at_level("INFO", logger="alembic"), pytest.raises(RuntimeError, match="interrupted"):
        await upgrade(empty_url)
    monkeypatch.undo()
    assert (await _inspect(empty_url))[2] == "0006"
    assert await _run(empty_url, _indexed) == 10_000  # two batches of 5,000 committed
    assert f"indexed 10000/{live} messages" in caplog.text

    await upgrade(empty_url)

    assert (await _inspect(empty_url))[1:] == ([], "0008")
    assert await _run(empty_url, _indexed) == live
    assert await _found(empty_url, "muller PO-1234") == ["Herr Müller, Ticket PO-1234"]
    assert await _found(empty_url, "vertrag 2024") == ["Vertrag-2024.pdf"]
    assert await _found(empty_url, "gehaltsliste") == []
    assert await _found(empty_url, "renamed") == []
    assert len(await _found(empty_url, "note 11999")) == 1

    await downgrade(empty_url, "0006")
    assert "search_words" not in await _run(empty_url, _message_columns)
    assert not fts_table_names("") & await _run(empty_url, _all_tables)
    await upgrade(empty_url)
    assert await _run(empty_url, _indexed) == live
    assert await _found(empty_url, '"note 42"') == ["note 42"]


def _all_tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


# -- 0008: SQLite's search index filled after commit ----------------------------------------------------------------


def _indexed_upto(connection: Connection) -> int:
    return int(connection.exec_driver_sql("SELECT indexed_upto FROM chat_messages_fts_state").scalar_one())


def _fts_holds_every_message(connection: Connection) -> bool:
    """FTS5's own check of its table against the messages' words: a missing or stale entry is an error."""
    connection.exec_driver_sql("INSERT INTO chat_messages_fts (chat_messages_fts, rank) VALUES ('integrity-check', 1)")
    return True


async def _send(url: str, *texts: str) -> list[int]:
    """Stored as a send stores them, without the writer's filling of the index that follows."""
    engine = create_engine(url)
    try:
        async with SqlDatabase(session_factory(engine))() as uow:
            sent = [
                await uow.messages.add(
                    MessageDraft(
                        room_id=RoomId(1),
                        sender_id=UserId(A),
                        receiver_id=UserId(B),
                        message_type=MessageType.TEXT,
                        content=text,
                        file=None,
                        created_at=datetime(2026, 12, 4, tzinfo=UTC),
                    )
                )
                for text in texts
            ]
            await uow.commit()
    finally:
        await engine.dispose()
    return [int(m.id) for m in sent]


@pytest.mark.parametrize("empty_url", ["sqlite"], indirect=True)
async def test_0008_lets_sqlite_fill_its_search_index_after_commit_and_its_downgrade_fills_the_rest(
    empty_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await upgrade(empty_url, "0006")
    await _run(empty_url, _write_messages_of_0006)
    await upgrade(empty_url, "0007")
    newest = await _run(empty_url, lambda c: int(c.exec_driver_sql("SELECT max(id) FROM chat_messages").scalar_one()))

    await upgrade(empty_url, "0008")
    assert await _run(empty_url, _indexed_upto) == newest  # 0007 indexed everything there
    assert await _run(empty_url, _fts_holds_every_message)
    (late,) = await _send(empty_url, "Kündigung Frau Öztürk")
    assert await _run(empty_url, _indexed_upto) == newest  # not in the FTS5 table yet ...
    assert await _found(empty_url, "kundigung") == ["Kündigung Frau Öztürk"]  # ... and found all the same
    assert await _found(empty_url, "muller") == ["Herr Müller, Ticket PO-1234"]  # through the FTS5 table

    await downgrade(empty_url, "0007")  # adds the late message to the FTS5 table, puts 0007's triggers back
    assert (await _inspect(empty_url))[2] == "0007"
    assert await _run(empty_url, _fts_holds_every_message)
    await _send(empty_url, "Abmahnung")  # 0007's insert trigger indexes it in its own transaction
    assert await _run(empty_url, _fts_holds_every_message)

    await upgrade(empty_url, "0008")
    assert await _run(empty_url, _indexed_upto) == late + 1
    monkeypatch.setattr(sql_messages, "SCAN_WINDOW", 0)  # all through the FTS5 table
    assert await _found(empty_url, "kundigung") == ["Kündigung Frau Öztürk"]
    assert await _found(empty_url, "abmahnung") == ["Abmahnung"]
    (later,) = await _send(empty_url, "Versetzung")
    engine = create_engine(empty_url)
    try:
        await index_search_backlog(engine)
    finally:
        await engine.dispose()
    assert await _run(empty_url, _indexed_upto) == later
    assert await _run(empty_url, _fts_holds_every_message)
    assert await _found(empty_url, "versetzung") == ["Versetzung"]
