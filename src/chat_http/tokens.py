"""Who holds a token: our JWT verifier or a host's own check, shared by the REST middleware, the socket and files.

Pure verification, no web framework: the Litestar middleware is in auth.py."""

from __future__ import annotations

import inspect
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeAlias

import attrs
import jwt
from jwt.types import Options

from chat_http.settings import ASYMMETRIC, Settings
from chatcore import UserId
from chatcore.model import MAX_ID

log = logging.getLogger("chat_http.auth")

# One spelling per user: " 1", "01", "+1" and "\u0661" (Arabic-Indic one) all pass int() but must not name user 1.
_CANONICAL_ID = re.compile(r"[1-9][0-9]{0,18}")


class AuthError(Exception):
    """`close_code` is what a socket is closed with: 4001 for a bad token or unknown user, 4000 otherwise."""

    def __init__(self, detail: str, *, close_code: int = 4001) -> None:
        super().__init__(detail)
        self.detail = detail
        self.close_code = close_code


@attrs.frozen(kw_only=True)
class Identity:
    """`expires_at` (Unix time) closes a socket with 4001 when reached; inf: the token does not expire."""

    user_id: UserId
    expires_at: float = math.inf


class Authenticator(Protocol):
    async def authenticate(self, token: str | None) -> Identity:
        """AuthError unless the token is good (whether the user exists is checked by the caller)."""
        ...


# A host's own check: token -> user id (int or digit string) or an Identity; None (or AuthError) rejects it.
Verified: TypeAlias = int | str | Identity | None
VerifyToken: TypeAlias = Callable[[str], Verified | Awaitable[Verified]]


class HostVerifier:
    """Tokens checked by the host application (its JWTs, its session ids): both REST and the socket use it."""

    def __init__(self, verify: VerifyToken) -> None:
        self._verify = verify

    async def authenticate(self, token: str | None) -> Identity:
        if not token:
            raise AuthError("missing token")
        try:
            found = self._verify(token)
            if inspect.isawaitable(found):
                found = await found
        except AuthError:
            raise
        except Exception:
            log.exception("the host's token check failed")
            raise AuthError("authentication error", close_code=4000) from None
        if found is None:
            raise AuthError("invalid token")
        if isinstance(found, Identity):
            return found
        return Identity(user_id=_user_id(found))


class TokenVerifier:
    def __init__(self, settings: Settings) -> None:
        self._algorithms = list(settings.jwt_algorithms)
        asymmetric = any(a.startswith(ASYMMETRIC) for a in self._algorithms)  # settings never mix them with HS*
        self._key = (settings.jwt_public_key if asymmetric else settings.jwt_secret) or ""
        self._claim = settings.jwt_user_claim
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer
        self._max_ttl = settings.jwt_max_ttl

    def verify(self, token: str | None) -> Identity:
        if not token:
            raise AuthError("missing token")
        required = ["exp"] if self._max_ttl is None else ["exp", "iat"]
        options: Options = {"require": required, "verify_sub": False, "verify_aud": self._audience is not None}
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                options=options,
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.PyJWTError:  # InvalidKeyError too: whatever the token holds, it is the token that is refused
            raise AuthError("invalid token") from None
        expires_at = float(claims["exp"])
        # PyJWT refuses an iat in the future, so the token lives at most this long from now.
        if self._max_ttl is not None and expires_at - float(claims["iat"]) > self._max_ttl:
            raise AuthError("invalid token: it lives longer than CHAT_JWT_MAX_TTL allows")
        return Identity(user_id=_user_id(claims.get(self._claim)), expires_at=expires_at)

    async def authenticate(self, token: str | None) -> Identity:
        return self.verify(token)


def authenticator(settings: Settings, verify_token: VerifyToken | None = None) -> Authenticator:
    """The host's check when given, else JWTs signed as CHAT_JWT_* says."""
    return HostVerifier(verify_token) if verify_token is not None else TokenVerifier(settings)


def _user_id(raw: object) -> UserId:
    if isinstance(raw, bool):
        raise AuthError("invalid token: the user claim is not a user id")
    if isinstance(raw, str) and _CANONICAL_ID.fullmatch(raw):
        raw = int(raw)
    if not isinstance(raw, int) or not 1 <= raw <= MAX_ID:
        raise AuthError("invalid token: the user claim is not a user id")
    return UserId(raw)


def mint_token(settings: Settings, user_id: int, *, ttl: int = 3600) -> str:
    """A token for `chat token` and tests: HS256 with the configured secret."""
    algorithm = next((a for a in settings.jwt_algorithms if a.startswith("HS")), None)
    if algorithm is None:
        raise AuthError(
            f"CHAT_JWT_ALGORITHMS={','.join(settings.jwt_algorithms)} accepts only tokens signed with the private key "
            "of CHAT_JWT_PUBLIC_KEY (by your identity provider); `chat token` signs HS* tokens with CHAT_JWT_SECRET",
            close_code=4000,
        )
    if not settings.jwt_secret:
        raise AuthError("CHAT_JWT_SECRET is not set, so no token can be signed", close_code=4000)
    if settings.jwt_max_ttl is not None and ttl > settings.jwt_max_ttl:
        raise AuthError(
            f"a token may live at most CHAT_JWT_MAX_TTL={settings.jwt_max_ttl} seconds, not {ttl}", close_code=4000
        )
    now = int(time.time())
    claims: dict[str, Any] = {settings.jwt_user_claim: str(user_id), "iat": now, "exp": now + ttl}
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    return jwt.encode(claims, settings.jwt_secret, algorithm=algorithm)
