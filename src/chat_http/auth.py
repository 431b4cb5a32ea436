"""The REST side of authentication: `Authorization: Bearer <token>` checked by the runtime's verifier."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from chat_http.runtime import RuntimeSlot
from chat_http.tokens import AuthError
from chatcore import NotFoundError


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    """`Authorization: Bearer <token>` on HTTP routes; the user must exist in the directory."""

    def __init__(self, app: Any, *, slot: RuntimeSlot, **kw: Any) -> None:
        super().__init__(app, **kw)
        self._slot = slot

    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException("missing bearer token")
        rt = self._slot.get()
        try:
            identity = await rt.verifier.authenticate(token.strip())
            await rt.chat.user(identity.user_id)
        except AuthError as exc:
            raise NotAuthorizedException(exc.detail) from None
        except NotFoundError:
            raise NotAuthorizedException("unknown user") from None
        return AuthenticationResult(user=identity.user_id, auth=identity)
