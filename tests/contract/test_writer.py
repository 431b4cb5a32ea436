"""The MessageWriter port on every backend: the fake's unit-of-work writer and SQL's driver-level one agree.

The SQL writer bypasses SQLAlchemy for speed, so these tests read its rows back through the repositories:
every field, the rooms' `updated_at` and ids in draft order must come out as the ordinary `add` stores them.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import cast

import attrs
import pytest
from sqlalchemy import text
from sqlalchemy.dialects.sqlite import aiosqlite as sqlite_aiosqlite

from chat_adapters.sql.driver import sqlite_timestamp
from chat_adapters.sql.engine import create_engine, session_factory
from chat_adapters.sql.store import SqlDatabase
from chat_adapters.sql.tables import chat_tables
from chat_adapters.sql.writer import SqlMessageWriter
from chatcore.errors import ConflictError, NotFoundError, OutcomeUnknownError
from chatcore.model import HistoryQuery, ReplyPreview, RoomId, UserId
from tests.contract.backends import Backend, database_url, open_backend
from tests.contract.builders import ALICE, BOB, CAROL, T0, at, draft, photo, room


async def test_a_batch_stores_every_field_with_ids_in_draft_order(backend: Backend) -> None:
    first, second = await room(backend, ALICE, BOB), await room(backend, ALICE, CAROL)
    drafts = [
        draft(first.id, ALICE, BOB, "héllo ✓ 'quoted'", when=at(1), client_msg_id="c-1"),
        draft(second.id, CAROL, ALICE, None, when=at(2), file=photo("b.png")),
        draft(first.id, BOB, ALICE, "back", when=at(3)),
        draft(first.id, ALICE, BOB, "older clock", when=at(0.5)),
    ]

    stored = await backend.writer.add_batch(drafts)

    assert [m.id for m in stored] == sorted(m.id for m in stored)
    assert len({m.id for m in stored}) == 4
    assert [(m.room_id, m.sender_id, m.receiver_id, m.content) for m in stored] == [
        (d.room_id, d.sender_id, d.receiver_id, d.content) for d in drafts
    ]
    async with backend.uow() as uow:
        for message in stored:
            assert await uow.messages.get(message.id) == message
        assert (await uow.messages.history(first.id, _newest(10)))[0] == [stored[3], stored[2], stored[0]]
        assert (await uow.rooms.membership(ALICE, first.id)).room.updated_at == at(3)  # its newest, not its last
        assert (await uow.rooms.membership(ALICE, second.id)).room.updated_at == at(2)
    image = stored[1]
    assert (image.file_name, image.file_path, image.file_size, image.mime_type) == (
        "b.png",
        "chat_files/images/b.png",
        3,
        "image/png",
    )
    assert (image.created_at, image.updated_at, image.is_read, image.is_deleted) == (at(2), None, False, False)


async def test_batches_keep_growing_ids_and_unread_counts(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)
    ids = []
    for n in range(5):
        batch = await backend.writer.add_batch([draft(created.id, ALICE, BOB, f"m{n}.{i}") for i in range(n + 1)])
        ids += [m.id for m in batch]

    assert ids == sorted(ids)
    assert len(set(ids)) == 15
    async with backend.uow() as uow:
        assert await uow.rooms.unread_counts(BOB) == {created.id: 15}
        assert await uow.messages.count(created.id) == 15


async def test_an_empty_batch_stores_nothing(backend: Backend) -> None:
    assert await backend.writer.add_batch([]) == []


async def test_a_used_client_msg_id_fails_the_whole_batch(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)
    (kept,) = await backend.writer.add_batch([draft(created.id, ALICE, BOB, "kept", when=at(1), client_msg_id="x")])

    with pytest.raises(ConflictError) as raised:
        await backend.writer.add_batch(
            [
                draft(created.id, BOB, ALICE, "fine alone", when=at(5)),
                draft(created.id, ALICE, BOB, "again", when=at(5), client_msg_id="x"),
            ]
        )

    assert raised.value.field == "client_msg_id"
    async with backend.uow() as uow:
        assert await uow.messages.count(created.id) == 1
        assert (await uow.rooms.membership(ALICE, created.id)).room.updated_at == at(1)  # the touch rolled back
        assert await uow.messages.by_client_msg_id(ALICE, "x") == kept


@pytest.mark.parametrize("rooms", [1, 2])  # PostgreSQL has one statement for a batch to one room, one for more
async def test_replies_and_mentions_are_stored_with_their_batch(backend: Backend, rooms: int) -> None:
    first, second = await room(backend, ALICE, BOB), await room(backend, CAROL, BOB)
    (original,) = await backend.writer.add_batch([draft(first.id, ALICE, BOB, "question", when=at(1))])
    where = first.id if rooms == 1 else second.id
    drafts = [
        attrs.evolve(draft(first.id, BOB, ALICE, "<@1> answer", when=at(2)), reply_to=ReplyPreview.of(original)),
        draft(first.id, BOB, ALICE, "plain", when=at(3)),
        attrs.evolve(draft(where, CAROL if rooms == 2 else ALICE, BOB, "<@2> <@3>", when=at(4)), mentions=(BOB, CAROL)),
        attrs.evolve(draft(first.id, ALICE, BOB, "<@2>", when=at(5)), mentions=(BOB,)),
    ]
    drafts[0] = attrs.evolve(drafts[0], mentions=(ALICE,))

    stored = await backend.writer.add_batch(drafts)

    assert stored[0].reply_to == ReplyPreview.of(original)
    assert [m.mentions for m in stored] == [(ALICE,), (), (BOB, CAROL), (BOB,)]
    async with backend.uow() as uow:
        for message in stored:
            assert await uow.messages.get(message.id) == message
        bob = {s.room.id: s.mention_count for s in await uow.rooms.summaries(BOB)}
        alice = {s.room.id: s.mention_count for s in await uow.rooms.summaries(ALICE)}
        carol = {s.room.id: s.mention_count for s in await uow.rooms.summaries(CAROL)}
    assert bob == ({first.id: 2, second.id: 0} if rooms == 1 else {first.id: 1, second.id: 1})
    assert alice == {first.id: 1}
    assert carol == {second.id: 0}  # her own mention of herself


async def test_a_failed_batch_leaves_no_mention_behind(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)
    await backend.writer.add_batch([draft(created.id, ALICE, BOB, when=at(1), client_msg_id="x")])

    with pytest.raises(ConflictError):
        await backend.writer.add_batch(
            [
                attrs.evolve(draft(created.id, ALICE, BOB, "<@2>", when=at(2)), mentions=(BOB,)),
                draft(created.id, ALICE, BOB, "again", when=at(3), client_msg_id="x"),
            ]
        )

    async with backend.uow() as uow:
        assert [s.mention_count for s in await uow.rooms.summaries(BOB)] == [0]
        assert await uow.messages.count(created.id) == 1


async def test_the_same_client_msg_id_twice_in_one_batch_conflicts(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)

    with pytest.raises(ConflictError):
        await backend.writer.add_batch([draft(created.id, ALICE, BOB, client_msg_id="twin")] * 2)

    async with backend.uow() as uow:
        assert await uow.messages.count(created.id) == 0


async def test_a_missing_room_fails_the_batch_and_the_next_one_works(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)

    with pytest.raises(NotFoundError) as raised:
        await backend.writer.add_batch([draft(created.id, ALICE, BOB), draft(RoomId(987_654), ALICE, BOB)])
    stored = await backend.writer.add_batch([draft(created.id, ALICE, BOB, "after")])

    assert raised.value.field == "room_id"
    async with backend.uow() as uow:
        assert (await uow.messages.history(created.id, _newest(10)))[0] == stored


async def test_a_cancelled_batch_leaves_the_writer_usable(backend: Backend) -> None:
    """Cancelled at any point (after 0..7 loop turns), a batch is all in or all out, and the next one works."""
    created = await room(backend, ALICE, BOB)
    cancelled = []
    for turns in range(8):
        batch = [draft(created.id, ALICE, BOB, f"{turns}") for _ in "abc"]
        task = asyncio.create_task(backend.writer.add_batch(batch))
        for _ in range(turns):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        cancelled.append(task.cancelled())
    stored = await backend.writer.add_batch([draft(created.id, BOB, ALICE, "next")])

    if backend.name != "memory":  # the fake never yields, so it cannot be caught midway
        assert any(cancelled)
    async with backend.uow() as uow:
        kept, _ = await uow.messages.history(created.id, _newest(100))
    assert kept[0] == stored[0]
    for turns, was_cancelled in enumerate(cancelled):  # a batch cancelled during its commit may still be in
        copies = sum(message.content == f"{turns}" for message in kept)
        assert copies in ({0, 3} if was_cancelled else {3})


async def test_a_large_batch_is_one_transaction(backend: Backend) -> None:
    """128 drafts (GroupCommit's largest batch) over 16 rooms: far below every bind-parameter limit."""
    rooms = [await room(backend, ALICE, UserId(100 + n)) for n in range(16)]
    drafts = [draft(rooms[n % 16].id, ALICE, BOB, f"n{n}", when=at(n)) for n in range(128)]

    stored = await backend.writer.add_batch(drafts)

    assert [m.content for m in stored] == [f"n{n}" for n in range(128)]
    async with backend.uow() as uow:
        for n, created in enumerate(rooms):
            assert (await uow.rooms.membership(ALICE, created.id)).room.updated_at == at(112 + n)
            assert await uow.messages.count(created.id) == 8


def _newest(per_page: int) -> HistoryQuery:
    return HistoryQuery(page=1, per_page=per_page)


@pytest.mark.parametrize(
    "when",
    [
        datetime(2026, 1, 2, 3, 4, 5, 6789, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))),
        datetime(1999, 3, 4, 0, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    ],
)
def test_the_sqlite_timestamp_is_what_sqlalchemy_stores(when: datetime) -> None:
    """The writer formats times itself; reading them back through SQLAlchemy needs the very same text."""
    dialect = sqlite_aiosqlite.dialect()
    processor = chat_tables().messages.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    assert processor is not None
    assert sqlite_timestamp(when) == processor(when)


async def test_on_an_autocommit_sqlite_engine_the_writer_begins_itself(tmp_path: Path) -> None:
    """A host may hand over an engine whose connections autocommit: a batch must still be all or nothing."""
    url = await database_url("sqlite", cast(pytest.FixtureRequest, None), tmp_path)
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    writer = SqlMessageWriter(engine)
    backend = Backend(name="sqlite", database=SqlDatabase(session_factory(engine)), users=None, writer=writer)  # type: ignore[arg-type]
    try:
        created = await room(backend, ALICE, BOB)
        await writer.add_batch([draft(created.id, ALICE, BOB, client_msg_id="x")])
        with pytest.raises(ConflictError):
            await writer.add_batch(
                [
                    draft(created.id, BOB, ALICE, "rolled back", when=at(9)),
                    draft(created.id, ALICE, BOB, client_msg_id="x"),
                ]
            )
        async with backend.uow() as uow:
            assert await uow.messages.count(created.id) == 1
            assert (await uow.rooms.membership(ALICE, created.id)).room.updated_at == T0  # the touch too
    finally:
        await writer.close()
        await engine.dispose()


async def test_on_sqlite_the_wal_is_checkpointed_beside_the_sends(tmp_path: Path) -> None:
    """The writer's connection never checkpoints inside a commit; the background checkpoint keeps the WAL
    from growing (without it, 4,000 messages of 1 KB leave a WAL of over 4 MB)."""
    url = await database_url("sqlite", cast(pytest.FixtureRequest, None), tmp_path)
    engine = create_engine(url)
    writer = SqlMessageWriter(engine, checkpoint_every=0.0)
    backend = Backend(name="sqlite", database=SqlDatabase(session_factory(engine)), users=None, writer=writer)  # type: ignore[arg-type]
    try:
        created = await room(backend, ALICE, BOB)
        for batch in range(40):
            await writer.add_batch([draft(created.id, ALICE, BOB, f"{batch}.{n} " + "x" * 1000) for n in range(100)])
            await asyncio.sleep(0.01)  # the checkpoint runs in another thread meanwhile
        wal = (tmp_path / "chat.db-wal").stat().st_size  # measured open: the last close removes the WAL
        async with backend.uow() as uow:
            assert await uow.messages.count(created.id) == 4000
    finally:
        await writer.close()
        await engine.dispose()
    assert wal < 2 * 2**20


@pytest.mark.postgres
async def test_a_postgres_connection_lost_under_a_batch_is_an_unknown_outcome(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The batch is one self-committing statement: lost on the wire, it may have committed, so the core must not
    throw away what the message would keep (its file)."""
    async with open_backend("postgres", request, tmp_path) as backend:
        assert backend.engine is not None
        created = await room(backend, ALICE, BOB)
        await backend.writer.add_batch([draft(created.id, ALICE, BOB, "first")])  # the writer holds a connection
        async with backend.engine.connect() as admin:
            await admin.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        for _ in range(500):  # bounded: until the driver has seen its socket close
            if backend.writer._driver.is_closed():  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0.01)

        with pytest.raises(OutcomeUnknownError):
            await backend.writer.add_batch([draft(created.id, ALICE, BOB, "second")])
        stored = await backend.writer.add_batch([draft(created.id, ALICE, BOB, "third")])  # a fresh connection

        assert stored[0].content == "third"
