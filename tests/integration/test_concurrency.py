"""Racing writers on real databases: the unique constraints, not a read-then-write check, keep the data right."""

from __future__ import annotations

import asyncio
import random

import pytest
from sqlalchemy import func, select

from chat_adapters.sql.engine import create_engine, session_factory
from chat_adapters.sql.store import SqlDatabase
from chat_adapters.sql.tables import participants, reactions, rooms
from chatcore import MessageId, SendMessage
from chatcore.errors import ConflictError
from chatcore.model import Room, UserId
from chatcore.reactions import MAX_REACTIONS
from chatcore.testing import MemoryDatabase
from tests.contract.backends import Backend
from tests.contract.builders import ALICE, BOB, T0, draft, room, service_on

RACERS = 8
DEADLINE = 30.0


async def _row_counts(backend: Backend) -> tuple[int, int]:
    assert backend.engine is not None
    async with backend.engine.connect() as connection:
        room_count = (await connection.execute(select(func.count()).select_from(rooms))).scalar_one()
        member_count = (await connection.execute(select(func.count()).select_from(participants))).scalar_one()
    return room_count, member_count


@pytest.mark.parametrize("attempt", range(4))
async def test_racing_open_direct_room_ends_with_one_room(sql_backend: Backend, attempt: int) -> None:
    alice = await sql_backend.users.add(name="Alice", email="alice@example.com")
    bob = await sql_backend.users.add(name="Bob", email="bob@example.com")
    chat = service_on(sql_backend)
    pairs = [(alice.id, bob.id) if i % 2 else (bob.id, alice.id) for i in range(RACERS)]

    results = await asyncio.wait_for(
        asyncio.gather(*(chat.open_direct_room(me, other) for me, other in pairs)), DEADLINE
    )

    assert len({view.id for view, _ in results}) == 1
    assert [created for _, created in results].count(True) == 1
    assert await _row_counts(sql_backend) == (1, 2)


async def test_two_units_inserting_the_same_pair_one_wins_one_conflicts(sql_backend: Backend) -> None:
    """Both pass the existence check; the second insert waits for the first commit, then hits the constraint."""
    start = asyncio.Event()

    async def create(me: UserId, other: UserId) -> Room:
        async with sql_backend.uow() as uow:
            assert await uow.rooms.direct_between(me, other) is None
            await start.wait()
            room = await uow.rooms.create_direct(created_by=me, other=other, name="Direct Chat", at=T0)
            await asyncio.sleep(0.05)  # hold the transaction open while the other one tries
            await uow.commit()
            return room

    racers = asyncio.gather(create(ALICE, BOB), create(BOB, ALICE), return_exceptions=True)
    await asyncio.sleep(0.01)
    start.set()
    outcomes = await asyncio.wait_for(racers, DEADLINE)

    assert sorted(type(o).__name__ for o in outcomes) == ["ConflictError", "Room"]
    assert any(isinstance(o, ConflictError) for o in outcomes)
    assert await _row_counts(sql_backend) == (1, 2)


async def test_a_send_waits_for_an_earlier_uncommitted_send_in_the_same_room(sql_backend: Backend) -> None:
    """Ids in a room grow in commit order, so `after_id` catch-up cannot skip a message committed late."""
    alice = await sql_backend.users.add(name="Alice", email="alice@example.com")
    bob = await sql_backend.users.add(name="Bob", email="bob@example.com")
    chat = service_on(sql_backend)
    room, _ = await chat.open_direct_room(alice.id, bob.id)
    async with sql_backend.uow() as slow:  # what send_message does, held open before its commit
        await slow.rooms.touch(room.id, T0)
        first = await slow.messages.add(draft(room.id, alice.id, bob.id, content="first"))
        later = asyncio.create_task(chat.send_message(bob.id, SendMessage(room_id=room.id, content="second")))
        await asyncio.sleep(0.5)
        assert not later.done()  # held back by the room's row lock
        await slow.commit()
    second, _ = await asyncio.wait_for(later, DEADLINE)
    assert second.id > first.id
    page = await chat.history(bob.id, room.id, after_id=MessageId(0))
    assert [m.content for m in page.messages] == ["first", "second"]


async def test_a_send_takes_its_id_only_once_it_holds_the_room(sql_backend: Backend) -> None:
    """The other order: the waiting send must not draw its id before the lock, or the holder's later insert
    would commit with a larger id first and a reader at `after_id` would never see the waiting one."""
    alice = await sql_backend.users.add(name="Alice", email="alice@example.com")
    bob = await sql_backend.users.add(name="Bob", email="bob@example.com")
    chat = service_on(sql_backend)
    room, _ = await chat.open_direct_room(alice.id, bob.id)
    async with sql_backend.uow() as slow:
        await slow.rooms.touch(room.id, T0)  # holds the room, nothing inserted yet
        waiting = asyncio.create_task(chat.send_message(bob.id, SendMessage(room_id=room.id, content="waiting")))
        await asyncio.sleep(0.5)
        assert not waiting.done()
        holder = await slow.messages.add(draft(room.id, alice.id, bob.id, content="holder"))
        await slow.commit()
    sent, _ = await asyncio.wait_for(waiting, DEADLINE)
    assert sent.id > holder.id
    page = await chat.history(bob.id, room.id, after_id=MessageId(0))
    assert [m.content for m in page.messages] == ["holder", "waiting"]


EMOJI = [chr(0x1F600 + i) for i in range(25)]  # 25 distinct emoji, five more than a message takes


@pytest.mark.parametrize("attempt", range(2))
async def test_racing_reactions_from_two_processes_never_pass_the_limit(sql_backend: Backend, attempt: int) -> None:
    """Two engines (two processes' pools) add 25 emoji by two users, each twice, all at once: the lock of the
    message's row decides them one at a time, so exactly 20 distinct emoji end up there, no row twice, and every
    add that said True left its row."""
    assert sql_backend.engine is not None
    other_engine = create_engine(sql_backend.engine.url.render_as_string(hide_password=False))
    try:
        databases = [sql_backend.database, SqlDatabase(session_factory(other_engine))]
        created = await room(sql_backend, ALICE, BOB)
        async with sql_backend.uow() as uow:
            message = await uow.messages.add(draft(created.id, ALICE, BOB))
            await uow.commit()

        async def react(database: SqlDatabase | MemoryDatabase, user: UserId, emoji: str) -> bool | str:
            try:
                async with database() as uow:
                    added = await uow.messages.add_reaction(message.id, user, emoji, at=T0, limit=MAX_REACTIONS)
                    await uow.commit()
                    return added
            except ConflictError as exc:
                return f"conflict:{exc.field}"

        tries = [(database, user, emoji) for database in databases for user in (ALICE, BOB) for emoji in EMOJI]
        random.Random(attempt).shuffle(tries)
        outcomes = await asyncio.wait_for(asyncio.gather(*(react(*t) for t in tries)), DEADLINE)
    finally:
        await other_engine.dispose()

    assert set(outcomes) <= {True, False, "conflict:emoji"}
    assert sql_backend.engine is not None
    async with sql_backend.engine.connect() as connection:
        rows = (await connection.execute(select(reactions.c.user_id, reactions.c.emoji))).tuples().all()
    assert len({emoji for _, emoji in rows}) == MAX_REACTIONS
    assert len(set(rows)) == len(rows) == outcomes.count(True)
    added = {(user, emoji) for (_, user, emoji), outcome in zip(tries, outcomes, strict=True) if outcome is True}
    assert added == set(rows)
    for (_, user, emoji), outcome in zip(tries, outcomes, strict=True):
        assert (outcome is False) <= ((user, emoji) in added)  # False only for a reaction that is there
