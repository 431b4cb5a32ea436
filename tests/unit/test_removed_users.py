"""A user removed from the directory (an employee who left): no cache keeps them in."""

from __future__ import annotations

import pytest

from chatcore import NotFoundError, RoomId, UserId
from tests.unit.helpers import ALICE, BOB, CAROL, DAVE, Chat


async def test_a_user_removed_after_being_seen_is_not_found_at_once(chat: Chat, room: RoomId) -> None:
    await chat.service.user(BOB)
    await chat.service.list_rooms(ALICE)  # Bob's card is in the directory cache now

    chat.users.remove(BOB)

    with pytest.raises(NotFoundError):
        await chat.service.user(BOB)


async def test_gone_names_exactly_the_users_the_directory_no_longer_knows(chat: Chat) -> None:
    chat.users.remove(CAROL)

    assert await chat.service.gone([ALICE, BOB, CAROL, DAVE, UserId(999)], batch=2) == {CAROL, UserId(999)}
    assert await chat.service.gone([]) == set()
