"""Our JWT verifier: whatever a token holds, a refusal is an AuthError (401 / 4001), never an exception."""

from __future__ import annotations

import time

import pytest

from chat_http.settings import Settings
from chat_http.tokens import AuthError, TokenVerifier
from tests.jwt_keys import hs256_signed_with, rsa_pems


def test_a_key_pyjwt_cannot_use_for_the_tokens_algorithm_refuses_the_token() -> None:
    """Settings made in code are checked when the app is built; a verifier made from unchecked ones (RS256 and
    HS256 with one PEM) still refuses an HS256 token instead of raising PyJWT's InvalidKeyError (a 500)."""
    public = rsa_pems()[1]
    verifier = TokenVerifier(Settings(jwt_algorithms=("RS256", "HS256"), jwt_public_key=public))
    token = hs256_signed_with(public.encode(), {"sub": "1", "exp": int(time.time()) + 60})

    with pytest.raises(AuthError) as refused:
        verifier.verify(token)

    assert refused.value.close_code == 4001
