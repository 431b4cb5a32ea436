"""The PresenceLog port and the unit of work itself on every backend: upserts, commit, rollback, isolation."""

from __future__ import annotations

from chatcore.model import Presence
from tests.contract.backends import Backend
from tests.contract.builders import ALICE, BOB, CAROL, at, draft, room, send


async def test_presence_is_saved_and_overwritten(backend: Backend) -> None:
    async with backend.uow() as uow:
        await uow.presence.save(Presence(user_id=ALICE, is_online=True, last_seen=at(0)))
        await uow.presence.save(Presence(user_id=BOB, is_online=True, last_seen=None))
        await uow.commit()
    async with backend.uow() as uow:
        await uow.presence.save(Presence(user_id=ALICE, is_online=False, last_seen=at(30)))
        await uow.commit()

    async with backend.uow() as uow:
        found = await uow.presence.get_many([ALICE, BOB, CAROL])
        assert await uow.presence.get_many([]) == {}

    assert found == {
        ALICE: Presence(user_id=ALICE, is_online=False, last_seen=at(30)),
        BOB: Presence(user_id=BOB, is_online=True, last_seen=None),
    }


async def test_presence_is_rolled_back_unless_committed(backend: Backend) -> None:
    async with backend.uow() as uow:
        await uow.presence.save(Presence(user_id=ALICE, is_online=True, last_seen=at(0)))

    async with backend.uow() as uow:
        assert await uow.presence.get_many([ALICE]) == {}


async def test_explicit_rollback_discards_and_the_unit_goes_on(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)

    async with backend.uow() as uow:
        await uow.rooms.touch(created.id, at(50))
        await uow.rollback()
        assert (await uow.rooms.membership(ALICE, created.id)).room.updated_at == at(0)
        await uow.rooms.touch(created.id, at(60))
        await uow.commit()

    async with backend.uow() as uow:
        assert (await uow.rooms.membership(ALICE, created.id)).room.updated_at == at(60)


async def test_a_unit_keeps_working_after_commit(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)

    async with backend.uow() as uow:
        await uow.rooms.touch(created.id, at(10))
        await uow.commit()
        await uow.rooms.touch(created.id, at(20))  # not committed: lost

    async with backend.uow() as uow:
        assert (await uow.rooms.membership(ALICE, created.id)).room.updated_at == at(10)


async def test_an_error_inside_the_unit_leaves_nothing_behind(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)

    class Boom(Exception):
        pass

    try:
        async with backend.uow() as uow:
            await uow.messages.add(draft(created.id, ALICE, BOB))
            raise Boom
    except Boom:
        pass

    async with backend.uow() as uow:
        assert await uow.messages.count(created.id) == 0


async def test_committed_changes_are_seen_by_later_units(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)
    await send(backend, created.id, BOB, ALICE, count=2)

    async with backend.uow() as reader:
        assert await reader.messages.count(created.id) == 2
        assert await reader.rooms.unread_counts(ALICE) == {created.id: 2}
        assert await reader.rooms.co_participants(BOB) == {ALICE}
