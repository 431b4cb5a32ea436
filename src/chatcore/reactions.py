"""Reactions, replies, mentions and pins as pure decisions (contract section 12): the first step of issue 18,
not wired to storage, REST or the socket yet.

Whether a string is one emoji is not decided here: the core imports no emoji library, so the use cases will be
given a checker (`EmojiCheck`) that an adapter builds on a well-kept one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable

import attrs

from chatcore.errors import ForbiddenError, InvalidError
from chatcore.model import Membership, Message, MessageId, MessageType, Role, UserId

MAX_REACTIONS = 20  # distinct emoji on one message
PREVIEW_LENGTH = 120  # characters of a reply's preview
MAX_EMOJI_LENGTH = 32  # code points: the longest emoji sequences (families, flags with tags) are well under it

EmojiCheck = Callable[[str], bool]
_MENTION = re.compile(r"<@([1-9][0-9]{0,18})>")


@attrs.frozen(kw_only=True)
class Reaction:
    """One emoji on a message and who put it there, as message objects carry them (`reactions`)."""

    emoji: str
    user_ids: tuple[UserId, ...]


def check_emoji(raw: str, is_emoji: EmojiCheck) -> str:
    """One emoji, as the checker says; nothing else (`:)`, `<b>`, two emoji, text) is a reaction."""
    if not raw or len(raw) > MAX_EMOJI_LENGTH or not is_emoji(raw):
        raise InvalidError("emoji must be exactly one emoji", field="emoji")
    return raw


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


@attrs.frozen(kw_only=True)
class ReplyPreview:
    """What a reply shows of the message it answers (`reply_to`), built from the original as it is now: an
    edit shows, a deletion hides the text."""

    id: MessageId
    sender_id: UserId
    message_type: MessageType
    preview: str | None
    is_deleted: bool

    @classmethod
    def of(cls, original: Message) -> ReplyPreview:
        text = None if original.is_deleted else original.content or original.file_name
        if text is not None and len(text) > PREVIEW_LENGTH:
            text = text[: PREVIEW_LENGTH - 1] + "…"
        return cls(
            id=original.id,
            sender_id=original.sender_id,
            message_type=original.message_type,
            preview=text,
            is_deleted=original.is_deleted,
        )


def check_reply(original: Message | None, room_id: object) -> Message:
    """A reply answers a message of its own room; one of another room, or none, is refused alike (a stranger
    learns nothing of other rooms' ids)."""
    if original is None or original.room_id != room_id:
        raise InvalidError("reply_to_id is not a message of this room", field="reply_to_id")
    return original


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
