"""One JWT verifier, shared by the REST middleware and the WebSocket handler."""

from __future__ import annotations

import time
from typing import Any

import attrs
import jwt
from jwt.types import Options
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from chat_http.settings import Settings
from chatcore import NotFoundError, UserId

MAX_USER_ID = 2**63 - 1


class AuthError(Exception):
    """`close_code` is what a socket is closed with: 4001 for a bad token or unknown user, 4000 otherwise."""

    def __init__(self, detail: str, *, close_code: int = 4001) -> None:
        super().__init__(detail)
        self.detail = detail
        self.close_code = close_code


@attrs.frozen(kw_only=True)
class Identity:
    user_id: UserId
    expires_at: float


class TokenVerifier:
    def __init__(self, settings: Settings) -> None:
        self._key = settings.jwt_public_key or settings.jwt_secret or ""
        self._algorithms = list(settings.jwt_algorithms)
        self._claim = settings.jwt_user_claim
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer

    def verify(self, token: str | None) -> Identity:
        if not token:
            raise AuthError("missing token")
        options: Options = {"require": ["exp"], "verify_sub": False, "verify_aud": self._audience is not None}
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
        except jwt.InvalidTokenError:
            raise AuthError("invalid token") from None
        return Identity(user_id=_user_id(claims.get(self._claim)), expires_at=float(claims["exp"]))


def _user_id(raw: object) -> UserId:
    if isinstance(raw, bool):
        raise AuthError("invalid token: the user claim is not a user id")
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw.strip())
    if not isinstance(raw, int) or not 1 <= raw <= MAX_USER_ID:
        raise AuthError("invalid token: the user claim is not a user id")
    return UserId(raw)


def mint_token(settings: Settings, user_id: int, *, ttl: int = 3600) -> str:
    """A token for `chat token` and tests: HS256 with the configured secret."""
    if not settings.jwt_secret:
        raise AuthError("CHAT_JWT_SECRET is not set, so no token can be signed", close_code=4000)
    algorithm = next((a for a in settings.jwt_algorithms if a.startswith("HS")), None)
    if algorithm is None:
        raise AuthError("CHAT_JWT_ALGORITHMS has no HS algorithm to sign with", close_code=4000)
    now = int(time.time())
    claims: dict[str, Any] = {settings.jwt_user_claim: str(user_id), "iat": now, "exp": now + ttl}
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    return jwt.encode(claims, settings.jwt_secret, algorithm=algorithm)


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    """`Authorization: Bearer <jwt>` on HTTP routes; the user must exist in the directory."""

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException("missing bearer token")
        rt = connection.app.state.rt
        try:
            identity = rt.verifier.verify(token.strip())
            await rt.chat.user(identity.user_id)
        except AuthError as exc:
            raise NotAuthorizedException(exc.detail) from None
        except NotFoundError:
            raise NotAuthorizedException("unknown user") from None
        return AuthenticationResult(user=identity.user_id, auth=identity)
