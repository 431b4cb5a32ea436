"""The Rooms port on every backend: direct rooms, membership, room lists, read markers and unread counts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs
import pytest

from chatcore.errors import ConflictError, NotFoundError
from chatcore.model import MessageId, RoomCursor, RoomId, RoomType, UserId
from chatcore.ports import UnitOfWork
from tests.contract.backends import Backend
from tests.contract.builders import ALICE, BOB, CAROL, DAVE, T0, at, draft, room, send


async def test_create_direct_makes_a_room_both_can_find(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)

    assert created.room_type is RoomType.DIRECT
    assert (created.name, created.created_by, created.created_at, created.updated_at) == ("Direct Chat", ALICE, T0, T0)
    assert created.is_active
    async with backend.uow() as uow:
        assert await uow.rooms.direct_between(ALICE, BOB) == created
        assert await uow.rooms.direct_between(BOB, ALICE) == created
        assert await uow.rooms.direct_between(ALICE, CAROL) is None


async def test_room_times_come_back_aware_utc(backend: Backend) -> None:
    await room(backend, ALICE, BOB, when=at(0.123456))

    async with backend.uow() as uow:
        found = await uow.rooms.direct_between(ALICE, BOB)
    assert found is not None
    assert found.created_at == at(0.123456)
    assert found.created_at.utcoffset() is not None


@pytest.mark.parametrize(("first", "second"), [((ALICE, BOB), (ALICE, BOB)), ((ALICE, BOB), (BOB, ALICE))])
async def test_second_direct_room_for_a_pair_conflicts(
    backend: Backend, first: tuple[UserId, UserId], second: tuple[UserId, UserId]
) -> None:
    await room(backend, *first)

    async with backend.uow() as uow:
        with pytest.raises(ConflictError):
            await uow.rooms.create_direct(created_by=second[0], other=second[1], name="Direct Chat", at=T0)


async def test_direct_room_created_in_two_units_conflicts_at_the_latest_on_commit(backend: Backend) -> None:
    async with backend.uow() as first, backend.uow() as second:
        await first.rooms.create_direct(created_by=ALICE, other=BOB, name="Direct Chat", at=T0)
        await first.commit()
        with pytest.raises(ConflictError):  # at the insert (SQL) or at the latest on commit (the fake)
            await _create_and_commit(second)


async def _create_and_commit(uow: UnitOfWork) -> None:
    await uow.rooms.create_direct(created_by=BOB, other=ALICE, name="Direct Chat", at=T0)
    await uow.commit()


async def test_uncommitted_room_is_gone_after_the_unit_closes(backend: Backend) -> None:
    async with backend.uow() as uow:
        await uow.rooms.create_direct(created_by=ALICE, other=BOB, name="Direct Chat", at=T0)

    async with backend.uow() as uow:
        assert await uow.rooms.direct_between(ALICE, BOB) is None
        assert await uow.rooms.summaries(ALICE) == []


async def test_membership_names_the_other_participant(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)

    async with backend.uow() as uow:
        mine = await uow.rooms.membership(ALICE, created.id)
        theirs = await uow.rooms.membership(BOB, created.id)

    assert (mine.room, mine.user_id, mine.other_user_id) == (created, ALICE, BOB)
    assert (theirs.user_id, theirs.other_user_id) == (BOB, ALICE)
    assert mine.receiver_for(ALICE) == BOB


async def test_membership_of_a_stranger_or_a_missing_room_is_not_found(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)

    async with backend.uow() as uow:
        with pytest.raises(NotFoundError):
            await uow.rooms.membership(CAROL, created.id)
        with pytest.raises(NotFoundError):
            await uow.rooms.membership(ALICE, RoomId(created.id + 1000))


async def test_summaries_list_newest_activity_first_with_last_message_and_unread(backend: Backend) -> None:
    with_bob = await room(backend, ALICE, BOB, when=at(0))
    with_carol = await room(backend, CAROL, ALICE, when=at(1))
    with_dave = await room(backend, ALICE, DAVE, when=at(2))
    await room(backend, BOB, CAROL, when=at(3))  # not Alice's
    to_alice = await send(backend, with_bob.id, BOB, ALICE, count=3)  # touches with_bob at 1..3 s
    async with backend.uow() as uow:
        await uow.messages.add(draft(with_carol.id, ALICE, CAROL, "from alice", when=at(2)))
        await uow.commit()

    async with backend.uow() as uow:
        summaries = await uow.rooms.summaries(ALICE)

    assert [s.room.id for s in summaries] == [with_bob.id, with_dave.id, with_carol.id]
    by_room = {s.room.id: s for s in summaries}
    assert by_room[with_bob.id].last_message == to_alice[-1].preview()
    assert by_room[with_bob.id].unread_count == 3
    assert by_room[with_bob.id].other_user_id == BOB
    assert by_room[with_bob.id].room.updated_at == at(3)
    assert by_room[with_carol.id].last_message is not None
    assert by_room[with_carol.id].last_message.content == "from alice"
    assert by_room[with_carol.id].unread_count == 0
    assert by_room[with_carol.id].other_user_id == CAROL
    assert by_room[with_dave.id].last_message is None
    assert by_room[with_dave.id].unread_count == 0


async def test_summaries_of_listed_rooms_only(backend: Backend) -> None:
    with_bob = await room(backend, ALICE, BOB)
    with_carol = await room(backend, ALICE, CAROL)
    strangers = await room(backend, BOB, CAROL)

    async with backend.uow() as uow:
        listed = await uow.rooms.summaries(ALICE, [with_carol.id, strangers.id])
        nothing = await uow.rooms.summaries(ALICE, [])

    assert [s.room.id for s in listed] == [with_carol.id]
    assert nothing == []
    assert with_bob.id not in {s.room.id for s in listed}


async def test_summaries_tie_on_activity_goes_to_the_newer_room(backend: Backend) -> None:
    older = await room(backend, ALICE, BOB)
    newer = await room(backend, ALICE, CAROL)

    async with backend.uow() as uow:
        summaries = await uow.rooms.summaries(ALICE)

    assert [s.room.id for s in summaries] == [newer.id, older.id]


async def _five_rooms(backend: Backend) -> list[RoomId]:
    """Alice's rooms newest activity first; two share a time (the id breaks the tie), one is not hers."""
    times = [at(1), at(3), at(3), at(2), at(5)]
    ids = [(await room(backend, ALICE, UserId(10 + n), when=when)).id for n, when in enumerate(times)]
    await room(backend, BOB, CAROL, when=at(4))
    return [ids[4], ids[2], ids[1], ids[3], ids[0]]


async def test_summaries_page_by_page_follow_the_whole_list(backend: Backend) -> None:
    newest_first = await _five_rooms(backend)

    pages: list[list[RoomId]] = []
    after = None
    async with backend.uow() as uow:
        whole = [s.room.id for s in await uow.rooms.summaries(ALICE)]
        while len(pages) < 10:
            page = await uow.rooms.summaries(ALICE, after=after, limit=2)
            if not page:
                break
            pages.append([s.room.id for s in page])
            after = RoomCursor.after(page[-1].room)

    assert whole == newest_first
    assert pages == [newest_first[0:2], newest_first[2:4], newest_first[4:]]


async def test_a_page_keeps_last_message_unread_count_and_other_user(backend: Backend) -> None:
    first = await room(backend, ALICE, BOB, when=at(0))
    second = await room(backend, ALICE, CAROL, when=at(1))
    sent = await send(backend, first.id, BOB, ALICE, count=2)  # touches `first`: now the newest

    async with backend.uow() as uow:
        (top,) = await uow.rooms.summaries(ALICE, limit=1)
        (rest,) = await uow.rooms.summaries(ALICE, after=RoomCursor.after(top.room), limit=5)
        listed = await uow.rooms.summaries(ALICE, [second.id], limit=1)

    assert (top.room.id, top.other_user_id, top.unread_count) == (first.id, BOB, 2)
    assert top.last_message == sent[-1].preview()
    assert (rest.room.id, rest.other_user_id, rest.unread_count, rest.last_message) == (second.id, CAROL, 0, None)
    assert [s.room.id for s in listed] == [second.id]


async def test_after_the_last_room_nothing_is_left(backend: Backend) -> None:
    newest_first = await _five_rooms(backend)

    async with backend.uow() as uow:
        last = (await uow.rooms.summaries(ALICE))[-1]
        assert last.room.id == newest_first[-1]
        assert await uow.rooms.summaries(ALICE, after=RoomCursor.after(last.room)) == []
        assert await uow.rooms.summaries(DAVE, limit=3) == []


async def test_count_is_the_rooms_a_user_is_in(backend: Backend) -> None:
    await _five_rooms(backend)

    async with backend.uow() as uow:
        assert (await uow.rooms.count(ALICE), await uow.rooms.count(BOB), await uow.rooms.count(DAVE)) == (5, 1, 0)


async def test_touch_moves_the_room_to_the_top(backend: Backend) -> None:
    older = await room(backend, ALICE, BOB, when=at(0))
    await room(backend, ALICE, CAROL, when=at(1))

    async with backend.uow() as uow:
        await uow.rooms.touch(older.id, at(5))
        await uow.commit()
    async with backend.uow() as uow:
        summaries = await uow.rooms.summaries(ALICE)

    assert summaries[0].room.id == older.id
    assert summaries[0].room.updated_at == at(5)


async def test_co_participants_are_everyone_sharing_a_room(backend: Backend) -> None:
    await room(backend, ALICE, BOB)
    await room(backend, CAROL, ALICE)
    await room(backend, BOB, DAVE)

    async with backend.uow() as uow:
        assert await uow.rooms.co_participants(ALICE) == {BOB, CAROL}
        assert await uow.rooms.co_participants(DAVE) == {BOB}
        assert await uow.rooms.co_participants(UserId(77)) == set()


async def test_mark_read_moves_the_readers_marker_to_the_newest_message(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)
    await send(backend, created.id, BOB, ALICE, count=2)
    to_bob = await send(backend, created.id, ALICE, BOB, count=1)

    async with backend.uow() as uow:
        newest = await uow.rooms.mark_read(created.id, ALICE)
        await uow.commit()

    assert newest == to_bob[-1].id
    async with backend.uow() as uow:
        markers = {m.user_id: m.last_read for m in await uow.rooms.members(created.id)}
        assert markers == {ALICE: newest, BOB: None}
        assert (await uow.rooms.unread_counts(ALICE))[created.id] == 0
        assert (await uow.rooms.unread_counts(BOB))[created.id] == 1


async def test_mark_read_of_an_empty_room_returns_none(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)

    async with backend.uow() as uow:
        assert await uow.rooms.mark_read(created.id, ALICE) is None


async def test_mark_read_by_a_stranger_is_not_found(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)

    async with backend.uow() as uow:
        with pytest.raises(NotFoundError):
            await uow.rooms.mark_read(created.id, CAROL)


async def test_mark_read_is_rolled_back_unless_committed(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)
    await send(backend, created.id, BOB, ALICE, count=2)

    async with backend.uow() as uow:
        await uow.rooms.mark_read(created.id, ALICE)

    async with backend.uow() as uow:
        assert await uow.rooms.unread_counts(ALICE) == {created.id: 2}


async def test_unread_counts_cover_every_room_and_skip_deleted_messages(backend: Backend) -> None:
    with_bob = await room(backend, ALICE, BOB)
    with_carol = await room(backend, ALICE, CAROL)
    strangers = await room(backend, BOB, CAROL)
    to_alice = await send(backend, with_bob.id, BOB, ALICE, count=3)
    await send(backend, with_bob.id, ALICE, BOB, count=2)
    await send(backend, strangers.id, BOB, CAROL, count=2)
    async with backend.uow() as uow:
        await uow.messages.save(to_alice[0].deleted(by=BOB, at=at(10)))
        await uow.commit()

    async with backend.uow() as uow:
        assert await uow.rooms.unread_counts(ALICE) == {with_bob.id: 2, with_carol.id: 0}
        assert await uow.rooms.unread_counts(BOB) == {with_bob.id: 2, strangers.id: 0}
        assert await uow.rooms.unread_counts(DAVE) == {}
        summaries = await uow.rooms.summaries(ALICE, [with_bob.id])
    assert summaries[0].unread_count == 2


async def test_read_marker_survives_in_a_second_mark_read(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)
    first = await send(backend, created.id, BOB, ALICE, count=1)
    async with backend.uow() as uow:
        assert await uow.rooms.mark_read(created.id, ALICE) == first[0].id
        await uow.commit()
    second = await send(backend, created.id, BOB, ALICE, count=2)

    async with backend.uow() as uow:
        assert await uow.rooms.unread_counts(ALICE) == {created.id: 2}
        assert await uow.rooms.mark_read(created.id, ALICE) == MessageId(second[-1].id)


async def _versions(backend: Backend, user: UserId = ALICE) -> dict[RoomId, int]:
    async with backend.uow() as uow:
        return await uow.rooms.versions(user)


async def test_versions_list_every_room_of_the_user(backend: Backend) -> None:
    with_bob, with_carol = await room(backend, ALICE, BOB), await room(backend, CAROL, ALICE)
    await room(backend, BOB, CAROL)

    assert (await _versions(backend)).keys() == {with_bob.id, with_carol.id}
    assert await _versions(backend, DAVE) == {}
    later = await room(backend, DAVE, ALICE)
    assert (await _versions(backend)).keys() == {with_bob.id, with_carol.id, later.id}


async def _add(backend: Backend, room_id: RoomId) -> None:
    async with backend.uow() as uow:
        await uow.messages.add(draft(room_id, BOB, ALICE, "added", when=at(9)))
        await uow.commit()


async def _touch(backend: Backend, room_id: RoomId) -> None:
    async with backend.uow() as uow:
        await uow.rooms.touch(room_id, at(9))
        await uow.commit()


async def _save(backend: Backend, room_id: RoomId, **changes: object) -> None:
    async with backend.uow() as uow:
        newest = (await uow.messages.latest(room_id, 1))[0]
        await uow.messages.save(attrs.evolve(newest, **changes))
        await uow.commit()


async def _read(backend: Backend, room_id: RoomId) -> None:
    async with backend.uow() as uow:
        await uow.rooms.mark_read(room_id, ALICE)
        await uow.commit()


CHANGES: dict[str, Callable[[Backend, RoomId], Awaitable[None]]] = {
    "writer batch": lambda backend, room_id: backend.writer.add_batch([draft(room_id, BOB, ALICE, when=at(9))]),  # type: ignore[dict-item]
    "add": _add,
    "touch": _touch,
    "edit": lambda backend, room_id: _save(backend, room_id, content="edited", is_edited=True),
    "delete": lambda backend, room_id: _save(backend, room_id, content=None, is_deleted=True),
    "read the room": _read,
}


@pytest.mark.parametrize("change", CHANGES)
async def test_every_change_to_what_a_list_shows_moves_that_rooms_version_only(backend: Backend, change: str) -> None:
    """The cached room lists rely on this: a room whose version stands still has the summary it had."""
    changed, other = await room(backend, ALICE, BOB), await room(backend, ALICE, CAROL)
    await send(backend, changed.id, BOB, ALICE, count=2)
    await send(backend, other.id, CAROL, ALICE)
    before = await _versions(backend)
    async with backend.uow() as uow:
        summaries_before = await uow.rooms.summaries(ALICE, [changed.id])

    await CHANGES[change](backend, changed.id)

    after = await _versions(backend)
    async with backend.uow() as uow:
        assert await uow.rooms.summaries(ALICE, [changed.id]) != summaries_before  # a change the list shows
    assert after[changed.id] > before[changed.id]
    assert after[other.id] == before[other.id]
    assert await _versions(backend, BOB) == {changed.id: after[changed.id]}  # one version per room, both see it


async def test_a_batch_over_two_rooms_moves_both(backend: Backend) -> None:
    first, second = await room(backend, ALICE, BOB), await room(backend, ALICE, CAROL)
    before = await _versions(backend)

    await backend.writer.add_batch([draft(first.id, BOB, ALICE), draft(second.id, ALICE, CAROL)])

    after = await _versions(backend)
    assert after[first.id] > before[first.id]
    assert after[second.id] > before[second.id]


async def test_an_uncommitted_change_leaves_the_version(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)
    before = await _versions(backend)

    async with backend.uow() as uow:
        await uow.messages.add(draft(created.id, BOB, ALICE))
        await uow.rooms.touch(created.id, at(3))

    assert await _versions(backend) == before


async def test_reading_a_room_already_read_leaves_the_version(backend: Backend) -> None:
    """Opening a room marks it read every time: a room already read should not make lists read it again."""
    created = await room(backend, ALICE, BOB)
    await send(backend, created.id, BOB, ALICE)
    await _read(backend, created.id)
    before = await _versions(backend)

    await _read(backend, created.id)  # the marker is at the newest message already

    assert await _versions(backend) == before


async def test_reading_moves_the_version_whenever_the_marker_moves(backend: Backend) -> None:
    """Past one's own messages too: in a group the marker is what others' `is_read` and read receipts show."""
    created = await room(backend, ALICE, BOB)
    await send(backend, created.id, ALICE, BOB)
    before = await _versions(backend)

    await _read(backend, created.id)

    assert (await _versions(backend))[created.id] > before[created.id]
