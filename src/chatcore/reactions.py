"""Reactions, replies, mentions and pins as pure decisions (contract section 12); `reacting.py` runs them.

Whether a string is one emoji is not decided here: the core imports no emoji library, so the use cases are
given a checker (`EmojiCheck`) that an adapter builds on a well-kept one. It also gives the emoji's one
spelling (fully qualified: '❤' becomes '❤️'), so one emoji never shows as two chips.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable

from chatcore.errors import ForbiddenError, InvalidError
from chatcore.model import Membership, Message, Reaction, ReplyPreview, Role, UserId

MAX_REACTIONS = 20  # distinct emoji on one message
MAX_PINS = 100  # pinned messages in one room: the pins panel lists them all
MAX_EMOJI_LENGTH = 32  # code points: the longest emoji sequences (families, flags with tags) are well under it

EmojiCheck = Callable[[str], str | None]  # the one emoji in its one spelling, or None
_MENTION = re.compile(r"<@([1-9][0-9]{0,18})>")


def check_emoji(raw: str, spelled: EmojiCheck) -> str:
    """One emoji, as the checker spells it; nothing else (`:)`, `<b>`, two emoji, text) is a reaction."""
    emoji = spelled(raw) if raw and len(raw) <= MAX_EMOJI_LENGTH else None
    if not emoji or len(emoji) > MAX_EMOJI_LENGTH:
        raise InvalidError("emoji must be exactly one emoji", field="emoji")
    return emoji


def may_add(existing: Collection[str], emoji: str, *, limit: int = MAX_REACTIONS) -> bool:
    """Whether one more reaction with `emoji` fits: an emoji already there always does (someone else's own
    reaction with it); a new one only below the limit of distinct emoji."""
    return emoji in existing or len(existing) < limit


def grouped(reactions: Iterable[tuple[str, UserId]]) -> list[Reaction]:
    """(emoji, user) rows as message objects show them: each emoji once, in the order it first came, with its
    users in the order they reacted; a repeated row counts once."""
    by_emoji: dict[str, dict[UserId, None]] = {}
    for emoji, user in reactions:
        by_emoji.setdefault(emoji, {})[user] = None
    return [Reaction(emoji=emoji, user_ids=tuple(users)) for emoji, users in by_emoji.items()]


def check_reply(original: Message | None, membership: Membership) -> ReplyPreview:
    """A reply answers a message its sender can see in its own room: one of another room, from before their
    joining, or none at all is refused alike (nobody learns of messages they may not read); a deleted one has
    nothing left to answer."""
    visible = original is not None and original.room_id == membership.room.id
    if original is None or not visible or not membership.sees(original.id):
        raise InvalidError("reply_to_id is not a message of this room", field="reply_to_id")
    if original.is_deleted:
        raise InvalidError("reply_to_id is a deleted message", field="reply_to_id")
    return ReplyPreview.of(original)


def mentions(text: str | None, members: Collection[UserId]) -> list[UserId]:
    """The members `<@ID>` names in the text, once each, in order; anyone else's id stays plain text."""
    if not text:
        return []
    found: dict[UserId, None] = {}
    for match in _MENTION.finditer(text):
        user = UserId(int(match.group(1)))
        if user in members:
            found[user] = None
    return list(found)


def check_pin(membership: Membership) -> None:
    """Anyone in a direct room pins; in a group, its owner and admins."""
    if membership.is_group and membership.role is Role.MEMBER:
        raise ForbiddenError("only the group's owner and admins may pin messages")
