"""Tokens signed by an identity provider (RS256) and a lifetime limit, on a real `chat serve`: REST and sockets."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import jwt
import pytest

from tests.e2e.conftest import (
    SECRET,
    Api,
    Server,
    close_code,
    opened_api,
    serving,
    token_for,
)
from tests.jwt_keys import ec_pems, hs256_signed_with, rsa_pems

API = "/api/v1/chat"
MAX_TTL = 600


@pytest.fixture(scope="module")
def rs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """RS256 only, tokens living at most MAX_TTL s; CHAT_JWT_SECRET stays set (it signs file links)."""
    env = {"CHAT_JWT_ALGORITHMS": "RS256", "CHAT_JWT_PUBLIC_KEY": rsa_pems()[1], "CHAT_JWT_MAX_TTL": str(MAX_TTL)}
    with serving(tmp_path_factory.mktemp("rs256"), env) as server:
        yield server


@pytest.fixture
async def rs_api(rs_server: Server) -> AsyncIterator[Api]:
    async with opened_api(rs_server) as api:
        yield api


def rs_token(user_id: int, *, ttl: int = 300, **claims: Any) -> str:
    now = int(time.time())
    return jwt.encode({"sub": str(user_id), "iat": now, "exp": now + ttl, **claims}, rsa_pems()[0], algorithm="RS256")


async def refused(api: Api, token: str) -> tuple[int, int]:
    """(REST status, socket close code) for `token`."""
    response = await api.http.get(f"{API}/rooms", headers={"Authorization": f"Bearer {token}"})
    return response.status_code, await close_code(f"{api.server.ws_url}?token={token}")


async def test_an_rs256_token_opens_rest_and_the_socket(rs_api: Api) -> None:
    alice = await rs_api.person("Alice")
    token = rs_token(alice.id)
    assert (await rs_api.client(token).get(f"{API}/rooms")).status_code == 200
    async with rs_api.socket(token) as sock:
        await sock.send("ping")
        await sock.next("pong")


async def test_tokens_of_other_algorithms_or_keys_get_401_and_4001(rs_api: Api) -> None:
    alice = await rs_api.person("Alice")
    now = int(time.time())
    claims = {"sub": str(alice.id), "iat": now, "exp": now + 300}
    for token in (
        token_for(alice.id, secret=SECRET),  # HS256 with the server's own secret
        hs256_signed_with(rsa_pems()[1].encode(), claims),  # the public key used as an HMAC secret
        jwt.encode(claims, ec_pems()[0], algorithm="ES256"),
        jwt.encode(claims, rsa_pems(3072)[0], algorithm="RS256"),  # another key pair
    ):
        assert await refused(rs_api, token) == (401, 4001), jwt.get_unverified_header(token)


async def test_a_token_living_longer_than_the_limit_gets_401_and_4001(rs_api: Api) -> None:
    alice = await rs_api.person("Alice")
    assert (await rs_api.client(rs_token(alice.id, ttl=MAX_TTL)).get(f"{API}/rooms")).status_code == 200
    assert await refused(rs_api, rs_token(alice.id, ttl=MAX_TTL + 1)) == (401, 4001)
    # Without iat the lifetime is unknown; an iat in the future would stretch it.
    no_iat = jwt.encode({"sub": str(alice.id), "exp": int(time.time()) + 60}, rsa_pems()[0], algorithm="RS256")
    assert await refused(rs_api, no_iat) == (401, 4001)
    later = rs_token(alice.id, ttl=MAX_TTL, iat=int(time.time()) + 3600)
    assert await refused(rs_api, later) == (401, 4001)
