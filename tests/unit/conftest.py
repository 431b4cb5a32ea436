"""Fixtures of the unit tests: a fresh ChatService on in-memory fakes for each test."""

from __future__ import annotations

import pytest

from chatcore import RoomId
from tests.unit.helpers import ALICE, BOB, Chat, make_chat


@pytest.fixture
def chat() -> Chat:
    return make_chat()


@pytest.fixture
async def room(chat: Chat) -> RoomId:
    """The direct room of Alice and Bob."""
    return await chat.room(ALICE, BOB)
