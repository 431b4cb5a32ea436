"""A host's own token check, as REST, the socket and file links all use it."""

from __future__ import annotations

import math

import pytest

from chat_http.tokens import AuthError, HostVerifier, Identity
from chatcore import UserId


def sync_check(token: str) -> int | str | None:
    return {"alice": 7, "john": "12"}.get(token)


async def async_check(token: str) -> Identity | None:
    return Identity(user_id=UserId(7), expires_at=1e10) if token == "alice" else None


def broken_check(token: str) -> int:
    raise RuntimeError("the HRMS's session store is down")


async def test_a_sync_check_gives_ids_that_never_expire() -> None:
    verifier = HostVerifier(sync_check)

    assert await verifier.authenticate("alice") == Identity(user_id=UserId(7), expires_at=math.inf)
    assert (await verifier.authenticate("john")).user_id == 12


async def test_an_async_check_may_return_an_identity_with_its_expiry() -> None:
    assert await HostVerifier(async_check).authenticate("alice") == Identity(user_id=UserId(7), expires_at=1e10)


@pytest.mark.parametrize("token", [None, "", "mallory"])
async def test_a_refused_or_missing_token_closes_with_4001(token: str | None) -> None:
    with pytest.raises(AuthError) as refused:
        await HostVerifier(sync_check).authenticate(token)

    assert refused.value.close_code == 4001


async def test_a_failing_check_is_an_other_authentication_failure(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(AuthError) as refused:
        await HostVerifier(broken_check).authenticate("alice")

    assert refused.value.close_code == 4000
    assert "token check failed" in caplog.text
    assert "alice" not in caplog.text  # the token never reaches the logs


@pytest.mark.parametrize("bad", [0, -1, True, 7.0, "7a", 2**63, str(2**63), " 7", "07", "+7", "7 ", "\u0667", ""])
async def test_what_is_not_a_user_id_is_refused(bad: object) -> None:
    """One spelling per user, as for JWT subjects: "07" or the Arabic-Indic seven are not user 7."""
    with pytest.raises(AuthError) as refused:
        await HostVerifier(lambda _: bad).authenticate("x")  # type: ignore[arg-type, return-value]

    assert refused.value.close_code == 4001


@pytest.mark.parametrize(("given", "user"), [(7, 7), ("7", 7), (str(2**63 - 1), 2**63 - 1)])
async def test_a_user_id_as_a_number_or_its_digits_is_accepted(given: int | str, user: int) -> None:
    assert (await HostVerifier(lambda _: given).authenticate("x")).user_id == user
