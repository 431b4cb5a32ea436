"""Group rules as pure decisions (contract section 11): who may do what, hand-over, closing, the history's notes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chatcore.errors import ForbiddenError, InvalidError, NotFoundError
from chatcore.groups import (
    Group,
    GroupAction,
    Member,
    Role,
    SystemNote,
    check_group_name,
    read_by_every_other_member,
    readers,
)
from chatcore.model import MessageId, UserId

NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
OWNER, ANNA, BEN, CARA, DAN = (UserId(n) for n in (1, 2, 3, 4, 5))
NAMES = {OWNER: "Olga", ANNA: "Anna", BEN: "Ben", CARA: "Cara"}


def group(*extra: UserId) -> Group:
    return Group.create(name="Onboarding", creator=OWNER, member_ids=[ANNA, BEN, *extra], at=NOON).group


def test_the_creator_owns_a_new_group_and_the_others_are_members() -> None:
    change = Group.create(name="  Onboarding ", creator=OWNER, member_ids=[ANNA, BEN, ANNA, OWNER], at=NOON)

    assert change.group.name == "Onboarding"
    assert [(m.user_id, m.role) for m in change.group.members] == [
        (OWNER, Role.OWNER),
        (ANNA, Role.MEMBER),
        (BEN, Role.MEMBER),
    ]
    assert change.notes == (
        SystemNote(action=GroupAction.CREATED, actor_id=OWNER, user_ids=(ANNA, BEN), name="Onboarding"),
    )


@pytest.mark.parametrize(
    ("members", "limit"),
    [
        pytest.param([ANNA], 256, id="two-people-are-a-direct-room"),
        pytest.param([ANNA, ANNA, OWNER], 256, id="repeats-count-once"),
        pytest.param([ANNA, BEN, CARA], 3, id="beyond-the-limit"),
    ],
)
def test_a_group_holds_three_to_the_limit_of_members(members: list[UserId], limit: int) -> None:
    with pytest.raises(InvalidError) as raised:
        Group.create(name="x", creator=OWNER, member_ids=members, at=NOON, max_members=limit)

    assert raised.value.field == "member_ids"


@pytest.mark.parametrize("name", [None, "", "   ", "x" * 101, "tab\there", "line\nbreak"])
def test_a_group_name_is_one_to_a_hundred_printable_characters(name: str | None) -> None:
    with pytest.raises(InvalidError) as raised:
        check_group_name(name)

    assert raised.value.field == "name"


def test_owner_and_admins_rename_members_may_not() -> None:
    g = group().set_role(OWNER, ANNA, Role.ADMIN).group

    renamed = g.rename(ANNA, "Case 42").group
    with pytest.raises(ForbiddenError):
        g.rename(BEN, "Mine")

    assert renamed.name == "Case 42"
    assert g.rename(OWNER, "Onboarding").notes == ()  # the same name changes nothing


def test_a_stranger_learns_nothing_of_the_group() -> None:
    g = group()

    for attempt in (
        lambda: g.rename(DAN, "x"),
        lambda: g.add(DAN, [CARA], at=NOON),
        lambda: g.remove(DAN, ANNA),
        lambda: g.set_role(DAN, ANNA, Role.ADMIN),
    ):
        with pytest.raises(NotFoundError):
            attempt()


def test_admins_add_people_once_and_members_may_not() -> None:
    later = NOON + timedelta(days=1)
    g = group().set_role(OWNER, ANNA, Role.ADMIN).group

    change = g.add(ANNA, [CARA, BEN, CARA], at=later)
    with pytest.raises(ForbiddenError):
        g.add(BEN, [CARA], at=later)

    assert [(m.user_id, m.joined_at) for m in change.group.members][-1] == (CARA, later)
    assert len(change.group.members) == 4
    assert change.notes == (SystemNote(action=GroupAction.ADDED, actor_id=ANNA, user_ids=(CARA,)),)
    assert g.add(ANNA, [BEN], at=later).notes == ()  # nobody new: nothing happens


def test_adding_beyond_the_limit_is_refused() -> None:
    with pytest.raises(InvalidError) as raised:
        group().add(OWNER, [CARA, DAN], at=NOON, max_members=4)

    assert raised.value.field == "user_ids"


def test_anyone_may_leave_and_stops_hearing_of_the_group() -> None:
    change = group().remove(BEN, BEN)

    assert [m.user_id for m in change.group.members] == [OWNER, ANNA]
    assert change.gone == {BEN}
    assert change.notes == (SystemNote(action=GroupAction.LEFT, actor_id=BEN),)


def test_the_owner_removes_anyone_an_admin_all_but_the_owner_a_member_nobody() -> None:
    g = group(CARA).set_role(OWNER, ANNA, Role.ADMIN).group
    g = g.set_role(OWNER, CARA, Role.ADMIN).group

    assert g.remove(OWNER, ANNA).gone == {ANNA}
    assert g.remove(ANNA, CARA).gone == {CARA}  # an admin removes another admin
    with pytest.raises(ForbiddenError):
        g.remove(ANNA, OWNER)
    with pytest.raises(ForbiddenError):
        g.remove(BEN, CARA)
    with pytest.raises(NotFoundError):
        g.remove(OWNER, DAN)


def test_an_owner_who_leaves_hands_the_group_to_the_longest_standing_admin() -> None:
    g = group().add(OWNER, [CARA], at=NOON + timedelta(hours=1)).group
    g = g.set_role(OWNER, CARA, Role.ADMIN).group  # the only admin, though the newest member

    change = g.remove(OWNER, OWNER)

    assert change.group.role_of(CARA) is Role.OWNER
    assert change.group.owner is not None
    assert change.group.owner.user_id == CARA
    assert [n.action for n in change.notes] == [GroupAction.LEFT, GroupAction.OWNER_CHANGED]
    assert change.notes[1].user_ids == (CARA,)


def test_without_admins_the_longest_standing_member_inherits_and_ties_go_to_the_smaller_id() -> None:
    g = group().add(OWNER, [CARA], at=NOON - timedelta(hours=1)).group  # Cara's joining is the earliest

    assert g.remove(OWNER, OWNER).group.role_of(CARA) is Role.OWNER
    assert group().remove(OWNER, OWNER).group.role_of(ANNA) is Role.OWNER  # Anna and Ben joined together


def test_the_last_member_out_closes_the_group() -> None:
    g = group().remove(ANNA, ANNA).group.remove(BEN, BEN).group

    change = g.remove(OWNER, OWNER)

    assert not change.group.is_active
    assert change.group.members == ()
    assert [n.action for n in change.notes] == [GroupAction.LEFT, GroupAction.CLOSED]
    with pytest.raises(NotFoundError):
        change.group.rename(OWNER, "again")


def test_only_the_owner_changes_roles_and_ownership_passes_only_by_leaving() -> None:
    g = group().set_role(OWNER, ANNA, Role.ADMIN).group

    with pytest.raises(ForbiddenError):
        g.set_role(ANNA, BEN, Role.ADMIN)
    with pytest.raises(InvalidError):
        g.set_role(OWNER, ANNA, Role.OWNER)
    with pytest.raises(InvalidError):
        g.set_role(OWNER, OWNER, Role.MEMBER)
    with pytest.raises(NotFoundError):
        g.set_role(OWNER, DAN, Role.ADMIN)
    assert g.set_role(OWNER, ANNA, Role.ADMIN).notes == ()  # already an admin
    assert g.set_role(OWNER, ANNA, Role.MEMBER).group.role_of(ANNA) is Role.MEMBER


def test_each_change_reads_as_a_sentence() -> None:
    notes = [
        SystemNote(action=GroupAction.CREATED, actor_id=OWNER, user_ids=(ANNA, BEN), name="Onboarding"),
        SystemNote(action=GroupAction.ADDED, actor_id=OWNER, user_ids=(ANNA, BEN, CARA)),
        SystemNote(action=GroupAction.REMOVED, actor_id=ANNA, user_ids=(DAN,)),
        SystemNote(action=GroupAction.ROLE_CHANGED, actor_id=OWNER, user_ids=(ANNA,), role=Role.ADMIN),
        SystemNote(action=GroupAction.OWNER_CHANGED, actor_id=OWNER, user_ids=(CARA,)),
        SystemNote(action=GroupAction.LEFT, actor_id=BEN),
        SystemNote(action=GroupAction.RENAMED, actor_id=ANNA, name="Case 42"),
        SystemNote(action=GroupAction.ROLE_CHANGED, actor_id=OWNER, user_ids=(ANNA, BEN), role=Role.MEMBER),
        SystemNote(action=GroupAction.CLOSED, actor_id=OWNER),
    ]

    assert [n.sentence(NAMES) for n in notes] == [
        "Olga created the group Onboarding",
        "Olga added Anna, Ben and Cara",
        "Anna removed user 5",
        "Olga made Anna an admin",
        "Cara now owns the group",
        "Ben left",
        "Anna renamed the group to Case 42",
        "Olga made Anna and Ben a member",
        "The group was closed: its last member left",
    ]


def marker(user: UserId, last_read: int | None, history_from: int | None = None) -> Member:
    return Member(
        user_id=user,
        joined_at=NOON,
        last_read=None if last_read is None else MessageId(last_read),
        history_from=None if history_from is None else MessageId(history_from),
    )


def test_a_group_message_is_read_when_every_other_member_read_it() -> None:
    marks = [marker(OWNER, 9), marker(ANNA, 7), marker(BEN, None)]
    ben_at_8 = [*marks[:2], marker(BEN, 8)]

    assert not read_by_every_other_member(MessageId(7), OWNER, marks)  # Ben has read nothing
    assert read_by_every_other_member(MessageId(7), OWNER, ben_at_8)
    assert not read_by_every_other_member(MessageId(8), OWNER, ben_at_8)  # Anna is at 7
    assert readers(MessageId(7), OWNER, marks) == ([ANNA], [BEN])
    assert readers(MessageId(5), ANNA, marks) == ([OWNER], [BEN])  # the sender is never among its readers


def test_someone_who_joined_after_a_message_neither_read_it_nor_holds_it_unread() -> None:
    marks = [marker(OWNER, 9), marker(ANNA, 4), marker(DAN, 6, history_from=6)]  # Dan joined after message 6

    assert readers(MessageId(5), OWNER, marks) == ([], [ANNA])
    assert readers(MessageId(7), OWNER, marks) == ([], [ANNA, DAN])
    assert not read_by_every_other_member(MessageId(5), OWNER, marks)
    assert read_by_every_other_member(MessageId(5), OWNER, [marks[0], marker(ANNA, 5), marks[2]])
