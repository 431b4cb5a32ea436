"""The UserDirectory and UserRegistry ports: the in-memory directory and the `users` table behave alike."""

from __future__ import annotations

import pytest

from chatcore.errors import ConflictError
from chatcore.model import User, UserId
from tests.contract.backends import Backend


async def _people(backend: Backend) -> list[User]:
    users = backend.users
    return [
        await users.add(name="Alice Smith", email="alice@example.com", avatar_url="https://example.com/a.jpg"),
        await users.add(name="John Doe", email="John.Doe@Example.com"),
        await users.add(name="Carol King", email="carol@corp.test"),
        await users.add(name="Percent", email="100%_sure@corp.test"),
        await users.add(name="Plain", email="100xxsure@corp.test"),
    ]


async def test_added_users_are_found_by_id(backend: Backend) -> None:
    alice, john, *_ = await _people(backend)

    found = await backend.users.get_many([alice.id, john.id, UserId(9999)])

    assert found == {alice.id: alice, john.id: john}
    assert alice.avatar_url == "https://example.com/a.jpg"
    assert john.avatar_url is None
    assert await backend.users.get_many([]) == {}


async def test_email_is_unique_whatever_its_case(backend: Backend) -> None:
    await _people(backend)

    with pytest.raises(ConflictError) as raised:
        await backend.users.add(name="Other Alice", email="ALICE@example.COM")
    assert raised.value.field == "email"


async def test_search_is_a_case_insensitive_substring_ordered_by_email(backend: Backend) -> None:
    alice, john, carol, percent, plain = await _people(backend)

    assert await backend.users.search_email("EXAMPLE", exclude=UserId(0), limit=20) == [alice, john]
    assert await backend.users.search_email("corp.test", exclude=UserId(0), limit=20) == [percent, plain, carol]
    assert await backend.users.search_email("doe@ex", exclude=UserId(0), limit=20) == [john]
    assert await backend.users.search_email("nobody", exclude=UserId(0), limit=20) == []


async def test_search_never_returns_the_caller_and_respects_the_limit(backend: Backend) -> None:
    alice, john, _carol, percent, plain = await _people(backend)

    assert await backend.users.search_email("@", exclude=alice.id, limit=2) == [percent, plain]
    assert await backend.users.search_email("example", exclude=john.id, limit=20) == [alice]
    assert await backend.users.search_email("example", exclude=john.id, limit=0) == []


@pytest.mark.parametrize(("fragment", "names"), [("%", ["Percent"]), ("%_", ["Percent"]), ("0_s", []), ("x%", [])])
async def test_search_wildcards_match_only_themselves(backend: Backend, fragment: str, names: list[str]) -> None:
    await _people(backend)

    found = await backend.users.search_email(fragment, exclude=UserId(0), limit=20)

    assert [user.name for user in found] == names


@pytest.mark.parametrize("fragment", ["\x00\x00", "\x00@", "\x00corp", "e\x00xample"])
async def test_search_with_a_nul_matches_nothing(backend: Backend, fragment: str) -> None:
    """No email holds a NUL: SQLite's LIKE stopped the pattern at it (so `%\\0%` was `%`, everyone) and
    PostgreSQL refuses NUL in text parameters."""
    await _people(backend)

    assert await backend.users.search_email(fragment, exclude=UserId(0), limit=20) == []


async def test_upsert_creates_then_updates_by_email(backend: Backend) -> None:
    created, was_created = await backend.users.upsert_by_email(name="Eve", email="eve@corp.test")
    updated, again = await backend.users.upsert_by_email(
        name="Eve Adams", email="EVE@corp.test", avatar_url="https://example.com/eve.jpg"
    )

    assert (was_created, again) == (True, False)
    assert updated == User(
        id=created.id, name="Eve Adams", email="eve@corp.test", avatar_url="https://example.com/eve.jpg"
    )
    assert await backend.users.get_many([created.id]) == {created.id: updated}
