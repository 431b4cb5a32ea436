"""Group conversations as pure decisions: who may rename, add, remove and change roles, who owns a group after
its owner leaves, when a group closes, and what the history says about each change.

Nothing here touches a port: the use cases load a `Group`, ask it, and save what it answers (contract section
11). Direct rooms never pass through here.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import datetime

import attrs

from chatcore.errors import ForbiddenError, InvalidError, NotFoundError
from chatcore.model import GroupAction, Member, MessageId, Role, SystemNote, UserId

__all__ = [
    "MAX_GROUP_MEMBERS",
    "Change",
    "Group",
    "GroupAction",
    "Member",
    "Role",
    "SystemNote",
    "check_group_name",
    "read_by_every_other_member",
    "readers",
]

MAX_GROUP_MEMBERS = 256  # CHAT_GROUP_MAX_MEMBERS's default
MIN_GROUP_MEMBERS = 3  # two people are a direct room
MAX_GROUP_NAME = 100


def check_group_name(raw: str | None) -> str:
    """A name people read in their room list: trimmed, 1 to 100 characters, no control characters."""
    name = (raw or "").strip()
    if not name:
        raise InvalidError("a group needs a name", field="name")
    if len(name) > MAX_GROUP_NAME:
        raise InvalidError(f"name may be at most {MAX_GROUP_NAME} characters", field="name")
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise InvalidError("name must not contain control characters", field="name")
    return name


@attrs.frozen(kw_only=True)
class Change:
    """A decision's outcome: the group as it is now, the notes for the history (in order), and who left the
    group's audience (their sockets stop receiving its events)."""

    group: Group
    notes: tuple[SystemNote, ...] = ()
    gone: frozenset[UserId] = frozenset()


@attrs.frozen(kw_only=True)
class Group:
    name: str
    members: tuple[Member, ...]
    is_active: bool = True

    @classmethod
    def create(
        cls,
        *,
        name: str | None,
        creator: UserId,
        member_ids: Iterable[UserId],
        at: datetime,
        max_members: int = MAX_GROUP_MEMBERS,
    ) -> Change:
        """The creator owns it; listed ids repeated or naming the creator count once."""
        checked = check_group_name(name)
        others = [user for user in dict.fromkeys(member_ids) if user != creator]
        size = len(others) + 1
        if size < MIN_GROUP_MEMBERS:
            raise InvalidError(
                f"a group has at least {MIN_GROUP_MEMBERS} members with its creator; for two people open a "
                "direct room (receiver_id)",
                field="member_ids",
            )
        if size > max_members:
            raise InvalidError(f"a group has at most {max_members} members", field="member_ids")
        members = (
            Member(user_id=creator, role=Role.OWNER, joined_at=at),
            *(Member(user_id=user, role=Role.MEMBER, joined_at=at) for user in others),
        )
        group = cls(name=checked, members=members)
        note = SystemNote(action=GroupAction.CREATED, actor_id=creator, user_ids=tuple(others), name=checked)
        return Change(group=group, notes=(note,))

    # -- who is who -----------------------------------------------------------------------------------

    def member(self, user: UserId) -> Member | None:
        return next((m for m in self.members if m.user_id == user), None)

    def role_of(self, user: UserId) -> Role | None:
        found = self.member(user)
        return found.role if found else None

    @property
    def owner(self) -> Member | None:
        return next((m for m in self.members if m.role is Role.OWNER), None)

    def _acting(self, actor: UserId) -> Member:
        """A non-member learns nothing of the group, not even that it exists."""
        found = self.member(actor) if self.is_active else None
        if found is None:
            raise NotFoundError("room not found", field="room_id")
        return found

    def _managing(self, actor: UserId, what: str) -> Member:
        acting = self._acting(actor)
        if acting.role is Role.MEMBER:
            raise ForbiddenError(f"only the group's owner and admins may {what}")
        return acting

    # -- changes --------------------------------------------------------------------------------------

    def rename(self, actor: UserId, name: str | None) -> Change:
        self._managing(actor, "rename it")
        checked = check_group_name(name)
        if checked == self.name:
            return Change(group=self)
        note = SystemNote(action=GroupAction.RENAMED, actor_id=actor, name=checked)
        return Change(group=attrs.evolve(self, name=checked), notes=(note,))

    def add(
        self, actor: UserId, user_ids: Iterable[UserId], *, at: datetime, max_members: int = MAX_GROUP_MEMBERS
    ) -> Change:
        """Those already in are skipped; adding nobody new changes nothing."""
        self._managing(actor, "add members")
        new = [user for user in dict.fromkeys(user_ids) if self.member(user) is None]
        if not new:
            return Change(group=self)
        if len(self.members) + len(new) > max_members:
            raise InvalidError(f"a group has at most {max_members} members", field="user_ids")
        joined = tuple(Member(user_id=user, role=Role.MEMBER, joined_at=at) for user in new)
        note = SystemNote(action=GroupAction.ADDED, actor_id=actor, user_ids=tuple(new))
        return Change(group=attrs.evolve(self, members=self.members + joined), notes=(note,))

    def remove(self, actor: UserId, target: UserId) -> Change:
        """Anyone may leave (`target` is the actor); the owner removes anyone, an admin removes members and
        other admins but never the owner. A removed owner's group passes to the longest-standing admin, else
        member; the last member out closes it."""
        acting = self._acting(actor)
        if target == actor:
            return self._without(acting, SystemNote(action=GroupAction.LEFT, actor_id=actor))
        removed = self.member(target)
        if removed is None:
            raise NotFoundError("not a member of this group", field="user_id")
        if acting.role is Role.MEMBER:
            raise ForbiddenError("only the group's owner and admins may remove members; anyone may leave")
        if removed.role is Role.OWNER:
            raise ForbiddenError("nobody may remove the group's owner; the owner may leave")
        return self._without(removed, SystemNote(action=GroupAction.REMOVED, actor_id=actor, user_ids=(target,)))

    def _without(self, leaving: Member, note: SystemNote) -> Change:
        rest = tuple(m for m in self.members if m.user_id != leaving.user_id)
        notes = [note]
        if not rest:
            notes.append(SystemNote(action=GroupAction.CLOSED, actor_id=leaving.user_id))
            return Change(
                group=attrs.evolve(self, members=rest, is_active=False),
                notes=tuple(notes),
                gone=frozenset({leaving.user_id}),
            )
        if leaving.role is Role.OWNER:
            heir = min(rest, key=lambda m: (m.role is not Role.ADMIN, m.seniority()))
            rest = tuple(attrs.evolve(m, role=Role.OWNER) if m is heir else m for m in rest)
            notes.append(
                SystemNote(action=GroupAction.OWNER_CHANGED, actor_id=leaving.user_id, user_ids=(heir.user_id,))
            )
        return Change(group=attrs.evolve(self, members=rest), notes=tuple(notes), gone=frozenset({leaving.user_id}))

    def set_role(self, actor: UserId, target: UserId, role: Role) -> Change:
        """Only the owner names admins or makes them members again; ownership passes only by leaving."""
        acting = self._acting(actor)
        if acting.role is not Role.OWNER:
            raise ForbiddenError("only the group's owner may change roles")
        if role is Role.OWNER:
            raise InvalidError("role must be admin or member; ownership passes when the owner leaves", field="role")
        changed = self.member(target)
        if changed is None:
            raise NotFoundError("not a member of this group", field="user_id")
        if changed.role is Role.OWNER:
            raise InvalidError("the owner's role cannot be changed; the owner may leave", field="user_id")
        if changed.role is role:
            return Change(group=self)
        members = tuple(attrs.evolve(m, role=role) if m is changed else m for m in self.members)
        note = SystemNote(action=GroupAction.ROLE_CHANGED, actor_id=actor, user_ids=(target,), role=role)
        return Change(group=attrs.evolve(self, members=members), notes=(note,))


def read_by_every_other_member(message_id: MessageId, sender: UserId, members: Iterable[Member]) -> bool:
    """A message's `is_read`, in a direct room and a group alike: every member but its sender who received it
    (joined before it) has read up to it. A sender left alone has nobody to wait for."""
    return all(m.has_read(message_id) for m in members if m.user_id != sender and m.received(message_id))


def readers(message_id: MessageId, sender: UserId, members: Iterable[Member]) -> tuple[list[UserId], list[UserId]]:
    """Who has read the message and who has not yet (`GET .../reads`), by id: the members but its sender who
    received it. Someone who joined after it is in neither list."""
    read: list[UserId] = []
    unread: list[UserId] = []
    for m in sorted(members, key=lambda m: m.user_id):
        if m.user_id != sender and m.received(message_id):
            (read if m.has_read(message_id) else unread).append(m.user_id)
    return read, unread
