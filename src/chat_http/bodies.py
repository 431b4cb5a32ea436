"""REST response envelopes around the core's views, in the seed's shapes (attrs, so OpenAPI sees them)."""

from __future__ import annotations

from typing import Literal

import attrs

from chatcore import OnlineUser, UserCard


@attrs.frozen(kw_only=True)
class UserSearch:
    users: list[UserCard]
    total: int


@attrs.frozen(kw_only=True)
class StatusReply:
    status: Literal["success"]
    message: str


@attrs.frozen(kw_only=True)
class UnreadCounts:
    unread_counts: dict[str, int]


@attrs.frozen(kw_only=True)
class OnlineUsers:
    online_users: list[OnlineUser]


@attrs.frozen(kw_only=True)
class OpenRoom:
    receiver_id: int


@attrs.frozen(kw_only=True)
class CreateGroup:
    name: str
    member_ids: list[int]


@attrs.frozen(kw_only=True)
class RenameGroup:
    name: str


@attrs.frozen(kw_only=True)
class AddMembers:
    user_ids: list[int]


@attrs.frozen(kw_only=True)
class SetRole:
    role: Literal["admin", "member"]


@attrs.frozen(kw_only=True)
class EditMessage:
    content: str


@attrs.frozen(kw_only=True)
class Health:
    status: str
    checks: dict[str, str] = attrs.field(factory=dict)
