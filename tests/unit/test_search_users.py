"""search_users: who can be found, how often, and with what."""

from __future__ import annotations

import pytest

from chatcore import InvalidError, NotFoundError, RateLimitedError, User, UserId
from tests.unit.helpers import ALICE, BOB, CAROL, DAVE, PEOPLE, Chat, make_chat


async def test_search_matches_a_case_insensitive_substring_of_the_email(chat: Chat) -> None:
    found = await chat.service.search_users(ALICE, "JOHN.doe@EXAMPLE")

    assert [card.id for card in found] == [BOB]
    card = found[0]
    assert (card.name, card.email, card.avatar_url) == (
        "John Doe",
        "John.Doe@Example.com",
        "https://example.com/john.jpg",
    )


async def test_search_matches_the_middle_of_an_email(chat: Chat) -> None:
    found = await chat.service.search_users(ALICE, "corp")

    assert [card.id for card in found] == [CAROL, DAVE]


async def test_search_never_returns_the_caller(chat: Chat) -> None:
    found = await chat.service.search_users(ALICE, "example.com")

    assert [card.id for card in found] == [BOB]


async def test_search_with_fewer_than_two_characters_is_invalid(chat: Chat) -> None:
    with pytest.raises(InvalidError) as raised:
        await chat.service.search_users(ALICE, "a")

    assert raised.value.field == "email"


async def test_search_counts_characters_after_trimming_spaces(chat: Chat) -> None:
    with pytest.raises(InvalidError):
        await chat.service.search_users(ALICE, "  c  ")


@pytest.mark.parametrize(
    "fragment",
    ["\x00\x00", "ali\x00ce", "\x00@example", "a\x1bb", "ab\x7f", "john doe", "corp\u00a0test", "x\u200bcorp"],
)
async def test_search_refuses_what_no_email_contains_naming_email(chat: Chat, fragment: str) -> None:
    """NUL cut SQLite's LIKE pattern short, so it matched everyone; PostgreSQL refused the parameter (a 500)."""
    with pytest.raises(InvalidError) as raised:
        await chat.service.search_users(ALICE, fragment)

    assert raised.value.field == "email"
    assert "control characters" in raised.value.detail


async def test_search_longer_than_any_email_is_invalid(chat: Chat) -> None:
    with pytest.raises(InvalidError) as raised:
        await chat.service.search_users(ALICE, "a" * 255)

    assert raised.value.field == "email"
    assert len(await chat.service.search_users(ALICE, "a" * 254)) == 0


async def test_search_treats_sql_wildcards_as_plain_characters(chat: Chat) -> None:
    assert await chat.service.search_users(ALICE, "%%") == []
    assert await chat.service.search_users(ALICE, "__") == []


async def test_search_with_no_match_is_an_empty_list(chat: Chat) -> None:
    assert await chat.service.search_users(ALICE, "nobody@nowhere") == []


async def test_search_returns_at_most_twenty_users() -> None:
    many = tuple(User(id=UserId(100 + n), name=f"Worker {n}", email=f"w{n:02}@big.test") for n in range(30))
    chat = make_chat(people=PEOPLE + many)

    found = await chat.service.search_users(ALICE, "@big.test")

    assert len(found) == 20


async def test_search_tells_who_is_online(chat: Chat) -> None:
    await chat.service.connect(CAROL, "tab-1")

    found = await chat.service.search_users(ALICE, "corp.test")

    assert {card.id: card.is_online for card in found} == {CAROL: True, DAVE: False}


async def test_search_is_rate_limited_per_user_then_recovers(chat: Chat) -> None:
    for _ in range(30):
        await chat.service.search_users(ALICE, "corp")

    with pytest.raises(RateLimitedError) as raised:
        await chat.service.search_users(ALICE, "corp")
    assert raised.value.code == "rate_limited"
    assert raised.value.retry_after > 0

    assert await chat.service.search_users(BOB, "corp")  # another user has their own budget

    chat.clock.advance(2)  # 30 per minute: one search back every two seconds
    assert await chat.service.search_users(ALICE, "corp")
    with pytest.raises(RateLimitedError):
        await chat.service.search_users(ALICE, "corp")


async def test_an_invalid_search_does_not_use_up_the_rate_limit(chat: Chat) -> None:
    for _ in range(40):
        with pytest.raises(InvalidError):
            await chat.service.search_users(ALICE, "x")

    assert await chat.service.search_users(ALICE, "corp")


async def test_user_returns_a_known_user(chat: Chat) -> None:
    assert (await chat.service.user(BOB)).name == "John Doe"


async def test_user_unknown_to_the_directory_is_not_found(chat: Chat) -> None:
    with pytest.raises(NotFoundError):
        await chat.service.user(UserId(404))
