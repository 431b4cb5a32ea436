"""Groups in the store on every backend: members with roles, joining later, leaving, read markers per member,
room lists with one row per group, and system messages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

import attrs
import pytest

from chatcore.errors import NotFoundError
from chatcore.groups import Group
from chatcore.model import (
    GroupAction,
    HistoryQuery,
    Member,
    Message,
    MessageDraft,
    MessageId,
    MessageType,
    Role,
    Room,
    RoomId,
    RoomType,
    SystemNote,
    UserId,
)
from tests.contract.backends import Backend
from tests.contract.builders import ALICE, BOB, CAROL, DAVE, T0, at, room

EVE = UserId(5)


def _members(*users: UserId, when: datetime = T0) -> tuple[Member, ...]:
    """The first user owns the group, the others are members, all joined at `when`."""
    return tuple(
        Member(user_id=user, role=Role.OWNER if i == 0 else Role.MEMBER, joined_at=when) for i, user in enumerate(users)
    )


JOINED, SAVED = at(20), at(50)


def _joining(user: UserId, when: datetime = JOINED) -> Member:
    return Member(user_id=user, role=Role.MEMBER, joined_at=when)


async def _group(backend: Backend, *users: UserId, name: str = "Onboarding") -> Room:
    async with backend.uow() as uow:
        created = await uow.rooms.create_group(created_by=users[0], name=name, members=_members(*users), at=T0)
        await uow.commit()
    return created


def _draft(room_id: RoomId, sender: UserId, content: str = "hi", *, note: SystemNote | None = None) -> MessageDraft:
    return MessageDraft(
        room_id=room_id,
        sender_id=sender,
        receiver_id=None,
        message_type=MessageType.SYSTEM if note else MessageType.TEXT,
        content=content,
        file=None,
        created_at=at(1),
        system=note,
    )


async def _post(backend: Backend, room_id: RoomId, *senders: UserId) -> list[Message]:
    async with backend.uow() as uow:
        sent = [await uow.messages.add(_draft(room_id, sender, f"from {sender}")) for sender in senders]
        await uow.commit()
    return sent


async def _stored(backend: Backend, room_id: RoomId) -> Group:
    async with backend.uow() as uow:
        members = await uow.rooms.members(room_id)
        membership = await uow.rooms.membership(members[0].user_id, room_id) if members else None
    name = membership.room.name if membership else ""
    return Group(name=name, members=tuple(members))


async def _save(backend: Backend, room_id: RoomId, group: Group, when: datetime = SAVED) -> None:
    async with backend.uow() as uow:
        await uow.rooms.save_group(room_id, group, at=when)
        await uow.commit()


async def _versions(backend: Backend, user: UserId = ALICE) -> dict[RoomId, int]:
    async with backend.uow() as uow:
        return await uow.rooms.versions(user)


async def _unread(backend: Backend, user: UserId) -> dict[RoomId, int]:
    async with backend.uow() as uow:
        return await uow.rooms.unread_counts(user)


async def test_a_group_keeps_its_members_and_roles(backend: Backend) -> None:
    group = await _group(backend, ALICE, CAROL, BOB)
    direct = await room(backend, ALICE, BOB)

    async with backend.uow() as uow:
        members = await uow.rooms.members(group.id)
        both = await uow.rooms.members_of([group.id, direct.id, RoomId(999)])
        assert await uow.rooms.members_of([]) == {}
        assert await uow.rooms.group_ids(ALICE) == [group.id]
        assert await uow.rooms.group_ids(DAVE) == []
        mine, bobs = await uow.rooms.membership(ALICE, group.id), await uow.rooms.membership(BOB, group.id)

    assert (group.room_type, group.name, group.created_by, group.is_active) == (
        RoomType.GROUP,
        "Onboarding",
        ALICE,
        True,
    )
    assert [(m.user_id, m.role, m.joined_at, m.last_read, m.history_from) for m in members] == [
        (ALICE, Role.OWNER, T0, None, None),
        (BOB, Role.MEMBER, T0, None, None),  # equal joining times: by id
        (CAROL, Role.MEMBER, T0, None, None),
    ]
    assert both == {group.id: members, direct.id: both[direct.id], RoomId(999): []}
    assert [(m.user_id, m.role) for m in both[direct.id]] == [(ALICE, Role.MEMBER), (BOB, Role.MEMBER)]
    assert (mine.other_user_id, mine.role, mine.is_group, mine.room) == (None, Role.OWNER, True, group)
    assert (bobs.other_user_id, bobs.role, bobs.history_from) == (None, Role.MEMBER, None)


async def test_members_are_listed_longest_standing_first(backend: Backend) -> None:
    group = await _group(backend, CAROL, ALICE, BOB)
    stored = await _stored(backend, group.id)
    await _save(backend, group.id, attrs.evolve(stored, members=(*stored.members, _joining(DAVE, at(9)))))
    await _save(backend, group.id, attrs.evolve(stored, members=(_joining(EVE, at(5)), *stored.members)))

    async with backend.uow() as uow:
        members = await uow.rooms.members(group.id)

    assert [m.user_id for m in members] == [ALICE, BOB, CAROL, EVE]  # DAVE left again in the second save
    assert [m.joined_at for m in members] == [T0, T0, T0, at(5)]


async def test_a_member_added_later_sees_and_counts_only_what_came_after(backend: Backend) -> None:
    group = await _group(backend, ALICE, BOB, CAROL)
    before = await _post(backend, group.id, ALICE, BOB)
    stored = await _stored(backend, group.id)
    await _save(backend, group.id, attrs.evolve(stored, members=(*stored.members, _joining(DAVE))))
    after = await _post(backend, group.id, BOB)

    newest = before[-1].id
    async with backend.uow() as uow:
        daves = next(m for m in await uow.rooms.members(group.id) if m.user_id == DAVE)
        membership = await uow.rooms.membership(DAVE, group.id)
        page, more = await uow.messages.history(group.id, HistoryQuery(), visible_after=newest)
        everything, _ = await uow.messages.history(group.id, HistoryQuery())
        older, _ = await uow.messages.history(group.id, HistoryQuery(before_id=after[0].id), visible_after=newest)
        since, _ = await uow.messages.history(group.id, HistoryQuery(after_id=MessageId(0)), visible_after=newest)
        latest = await uow.messages.latest(group.id, 10, visible_after=newest)
        counts = (await uow.messages.count(group.id, visible_after=newest), await uow.messages.count(group.id))
        assert await uow.rooms.group_ids(DAVE) == [group.id]

    assert (daves.role, daves.joined_at, daves.last_read, daves.history_from) == (Role.MEMBER, JOINED, newest, newest)
    assert (membership.history_from, membership.role) == (newest, Role.MEMBER)
    assert ([m.id for m in page], more) == ([after[0].id], False)
    assert [m.id for m in everything] == [after[0].id, before[1].id, before[0].id]
    assert older == []
    assert [m.id for m in since] == [m.id for m in latest] == [after[0].id]
    assert counts == (1, 3)
    assert (await _unread(backend, DAVE))[group.id] == 1  # only what came after the joining
    assert (await _unread(backend, CAROL))[group.id] == 3


async def test_a_member_added_to_a_group_without_messages_sees_everything(backend: Backend) -> None:
    group = await _group(backend, ALICE, BOB, CAROL)
    stored = await _stored(backend, group.id)

    await _save(backend, group.id, attrs.evolve(stored, members=(*stored.members, _joining(DAVE))))
    await _post(backend, group.id, ALICE)

    async with backend.uow() as uow:
        daves = next(m for m in await uow.rooms.members(group.id) if m.user_id == DAVE)
    assert (daves.last_read, daves.history_from) == (None, None)
    assert (await _unread(backend, DAVE))[group.id] == 1


async def test_a_removed_member_loses_the_group_at_once(backend: Backend) -> None:
    group = await _group(backend, ALICE, BOB, CAROL)
    await _post(backend, group.id, ALICE)
    stored = await _stored(backend, group.id)

    await _save(backend, group.id, attrs.evolve(stored, members=stored.members[:2]))

    async with backend.uow() as uow:
        assert [m.user_id for m in await uow.rooms.members(group.id)] == [ALICE, BOB]
        with pytest.raises(NotFoundError):
            await uow.rooms.membership(CAROL, group.id)
        with pytest.raises(NotFoundError):
            await uow.rooms.mark_read(group.id, CAROL)
        assert await uow.rooms.group_ids(CAROL) == []
        assert await uow.rooms.summaries(CAROL) == []
        assert await uow.rooms.unread_counts(CAROL) == {}
        assert await uow.rooms.versions(CAROL) == {}
        assert await uow.rooms.co_participants(CAROL) == set()


async def test_roles_and_the_name_change_in_place(backend: Backend) -> None:
    group = await _group(backend, ALICE, BOB, CAROL)
    await _post(backend, group.id, BOB)
    stored = await _stored(backend, group.id)
    members = tuple(attrs.evolve(m, role=Role.ADMIN) if m.user_id != ALICE else m for m in stored.members)

    await _save(backend, group.id, Group(name="Case 7", members=members), when=at(60))

    async with backend.uow() as uow:
        after = await uow.rooms.members(group.id)
        membership = await uow.rooms.membership(BOB, group.id)
    assert [(m.user_id, m.role) for m in after] == [(ALICE, Role.OWNER), (BOB, Role.ADMIN), (CAROL, Role.ADMIN)]
    assert [m.last_read for m in after] == [None, None, None]  # markers are not touched by a role change
    assert (membership.role, membership.room.name, membership.room.updated_at) == (Role.ADMIN, "Case 7", at(60))


async def test_a_closed_group_is_no_channel_of_anyone(backend: Backend) -> None:
    group, other = await _group(backend, ALICE, BOB, CAROL), await _group(backend, ALICE, BOB, DAVE)
    stored = await _stored(backend, group.id)

    await _save(backend, group.id, attrs.evolve(stored, is_active=False))

    async with backend.uow() as uow:
        assert await uow.rooms.group_ids(ALICE) == [other.id]
        assert await uow.rooms.group_ids(CAROL) == []
        assert not (await uow.rooms.membership(ALICE, group.id)).room.is_active

    await _save(backend, group.id, Group(name=stored.name, members=(), is_active=False))  # the last one left
    async with backend.uow() as uow:
        assert await uow.rooms.members(group.id) == []
        with pytest.raises(NotFoundError):
            await uow.rooms.membership(ALICE, group.id)


async def test_lock_moves_the_version_and_gives_the_room(backend: Backend) -> None:
    group = await _group(backend, ALICE, BOB, CAROL)
    before = await _versions(backend)

    async with backend.uow() as uow:
        assert await uow.rooms.lock(group.id) == group
        assert await uow.rooms.lock(RoomId(999)) is None
        await uow.commit()

    assert (await _versions(backend))[group.id] > before[group.id]


def _changed(change: Callable[[Group], Group]) -> Callable[[Backend, RoomId], Awaitable[None]]:
    async def run(backend: Backend, room_id: RoomId) -> None:
        await _save(backend, room_id, change(await _stored(backend, room_id)))

    return run


MEMBERSHIP_CHANGES: dict[str, Callable[[Backend, RoomId], Awaitable[None]]] = {
    "add": _changed(lambda g: attrs.evolve(g, members=(*g.members, _joining(DAVE)))),
    "remove": _changed(lambda g: attrs.evolve(g, members=tuple(m for m in g.members if m.user_id != CAROL))),
    "role": _changed(
        lambda g: attrs.evolve(
            g, members=tuple(attrs.evolve(m, role=Role.ADMIN) if m.user_id == BOB else m for m in g.members)
        )
    ),
    "rename": _changed(lambda g: attrs.evolve(g, name="Renamed")),
    "close": _changed(lambda g: attrs.evolve(g, is_active=False)),
}


@pytest.mark.parametrize("change", MEMBERSHIP_CHANGES)
async def test_every_change_to_a_group_moves_its_version_only(backend: Backend, change: str) -> None:
    group, other = await _group(backend, ALICE, BOB, CAROL), await _group(backend, ALICE, BOB, DAVE)
    before = await _versions(backend)

    await MEMBERSHIP_CHANGES[change](backend, group.id)

    after = await _versions(backend)
    assert after[group.id] > before[group.id]
    assert after[other.id] == before[other.id]


async def test_a_group_is_one_line_of_the_room_list_with_each_members_unread_count(backend: Backend) -> None:
    group = await _group(backend, ALICE, BOB, CAROL)
    direct = await room(backend, ALICE, BOB)
    note = SystemNote(action=GroupAction.RENAMED, actor_id=ALICE, name="Onboarding")
    async with backend.uow() as uow:
        await uow.messages.add(_draft(group.id, ALICE, "Alice renamed the group", note=note))
        await uow.commit()
    sent = await _post(backend, group.id, ALICE, BOB, ALICE, BOB)
    async with backend.uow() as uow:
        await uow.messages.save(sent[-1].deleted(by=BOB, at=at(30)))
        await uow.rooms.touch(group.id, at(40))
        await uow.commit()

    expected = {ALICE: 1, BOB: 2, CAROL: 3}  # others' live messages; never the system one
    for user, unread in expected.items():
        async with backend.uow() as uow:
            lines = {s.room.id: s for s in await uow.rooms.summaries(user)}
            paged = await uow.rooms.summaries(user, limit=1)  # the paged statement
            listed = await uow.rooms.summaries(user, [group.id])
            counts = await uow.rooms.unread_counts(user)
        line = lines[group.id]
        assert (line.other_user_id, line.unread_count, line.room.room_type) == (None, unread, RoomType.GROUP)
        assert line.last_message is not None
        assert line.last_message.id == sent[-1].id
        assert paged == listed == [line]
        assert counts[group.id] == unread
    async with backend.uow() as uow:
        alices = await uow.rooms.summaries(ALICE)
    assert [(s.room.id, s.other_user_id) for s in alices] == [(group.id, None), (direct.id, BOB)]


async def test_each_member_reads_for_themselves_and_never_backwards(backend: Backend) -> None:
    group = await _group(backend, ALICE, BOB, CAROL)
    sent = await _post(backend, group.id, ALICE, ALICE)
    before = await _versions(backend)

    async with backend.uow() as uow:
        assert await uow.rooms.mark_read(group.id, BOB) == sent[-1].id
        await uow.commit()
    moved = await _versions(backend)
    async with backend.uow() as uow:
        assert await uow.rooms.mark_read(group.id, BOB) == sent[-1].id  # nothing new: the marker stays
        await uow.commit()

    assert moved[group.id] > before[group.id]
    assert await _versions(backend) == moved
    assert (await _unread(backend, BOB))[group.id] == 0
    assert (await _unread(backend, CAROL))[group.id] == 2
    async with backend.uow() as uow:
        markers = {m.user_id: m.last_read for m in await uow.rooms.members(group.id)}
    assert markers == {ALICE: None, BOB: sent[-1].id, CAROL: None}


async def test_a_late_member_reading_nothing_new_keeps_the_marker_and_the_version(backend: Backend) -> None:
    group = await _group(backend, ALICE, BOB, CAROL)
    sent = await _post(backend, group.id, ALICE)
    stored = await _stored(backend, group.id)
    await _save(backend, group.id, attrs.evolve(stored, members=(*stored.members, _joining(DAVE))))
    before = await _versions(backend, DAVE)

    async with backend.uow() as uow:
        assert await uow.rooms.mark_read(group.id, DAVE) == sent[0].id
        await uow.commit()

    assert await _versions(backend, DAVE) == before


NOTES = [
    SystemNote(action=GroupAction.CREATED, actor_id=ALICE, user_ids=(BOB, CAROL), name="Onboarding"),
    SystemNote(action=GroupAction.ROLE_CHANGED, actor_id=ALICE, user_ids=(BOB,), role=Role.ADMIN),
    SystemNote(action=GroupAction.LEFT, actor_id=CAROL),
]


async def test_system_notes_come_back_as_they_were_written(backend: Backend) -> None:
    group = await _group(backend, ALICE, BOB, CAROL)

    async with backend.uow() as uow:
        written = [await uow.messages.add(_draft(group.id, note.actor_id, "a sentence", note=note)) for note in NOTES]
        await uow.commit()

    async with backend.uow() as uow:
        got = [await uow.messages.get(m.id) for m in written]
        page, _ = await uow.messages.history(group.id, HistoryQuery())
        latest = await uow.messages.latest(group.id, 10)
    assert got == written
    assert [m.system for m in reversed(page)] == [m.system for m in latest] == NOTES
    assert all(m.receiver_id is None and m.message_type is MessageType.SYSTEM for m in latest)


async def test_the_writer_takes_group_messages_without_a_receiver(backend: Backend) -> None:
    group = await _group(backend, ALICE, BOB, CAROL)
    note = NOTES[1]

    written = await backend.writer.add_batch([_draft(group.id, BOB), _draft(group.id, ALICE, note=note)])

    async with backend.uow() as uow:
        got = [await uow.messages.get(m.id) for m in written]
    assert got == written
    assert [(m.receiver_id, m.system) for m in written] == [(None, None), (None, note)]
    assert (await _unread(backend, CAROL))[group.id] == 1  # the system message does not count


async def test_the_writer_refuses_a_group_message_from_a_non_member_and_stores_nothing(backend: Backend) -> None:
    group = await _group(backend, ALICE, BOB, CAROL)
    direct = await room(backend, ALICE, DAVE)
    direct_draft = attrs.evolve(_draft(direct.id, ALICE), receiver_id=DAVE)

    for batch in ([_draft(group.id, DAVE)], [direct_draft, _draft(group.id, BOB), _draft(group.id, EVE)]):
        with pytest.raises(NotFoundError):
            await backend.writer.add_batch(batch)

    async with backend.uow() as uow:
        assert await uow.messages.count(group.id) == 0
        assert await uow.messages.count(direct.id) == 0
    assert len(await backend.writer.add_batch([direct_draft, _draft(group.id, BOB)])) == 2


async def test_a_direct_room_has_members_too(backend: Backend) -> None:
    direct = await room(backend, ALICE, BOB)
    async with backend.uow() as uow:
        membership = await uow.rooms.membership(ALICE, direct.id)
        newest = await uow.rooms.mark_read(direct.id, ALICE)
    assert (membership.other_user_id, membership.role, membership.history_from) == (BOB, Role.MEMBER, None)
    assert newest is None
