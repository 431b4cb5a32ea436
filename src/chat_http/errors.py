"""Domain errors -> HTTP statuses and WebSocket error frames, in one place."""

from __future__ import annotations

import logging
import sys
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.types import Logger, Scope

from chat_http import metrics
from chatcore import (
    ChatError,
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    RateLimitedError,
    UnavailableError,
)

log = logging.getLogger("chat_http")

HTTP_STATUS: dict[type[ChatError], int] = {
    NotFoundError: 404,
    ForbiddenError: 403,
    InvalidError: 400,
    ConflictError: 409,
    RateLimitedError: 429,
    UnavailableError: 503,
}

# Close codes of the seed and the contract.
CLOSE_POLICY = 1008
CLOSE_RESTART = 1012
CLOSE_TRY_AGAIN = 1013  # RFC 6455 'Try Again Later': the database (or broker) did not answer in time
CLOSE_AUTH_OTHER = 4000
CLOSE_AUTH = 4001
CLOSE_NOT_IN_ROOM = 4003


def status_of(exc: ChatError) -> int:
    for cls in type(exc).__mro__:
        if cls in HTTP_STATUS:
            return HTTP_STATUS[cls]
    return 400


def log_server_error(_: Logger, scope: Scope, __: list[str]) -> None:
    """Litestar's `exception_logging_handler`: the traceback of every 500, with the method and path.

    Litestar logs unhandled exceptions only in debug mode by default (`log_exceptions="debug"`), so a 500 in
    production left no trace. Set with `log_exceptions="always"`, it is called for every exception a route
    raises, so 4xx answers (ChatError, HTTPException) are skipped here. The query string is never logged: it may
    hold a token or a file link's signature.
    """
    exc = sys.exc_info()[1]
    if isinstance(exc, ChatError) or (isinstance(exc, HTTPException) and exc.status_code != 500):
        return
    method = scope.get("method", "WEBSOCKET")
    log.error("500 on %s %r: %s", method, scope.get("path", ""), type(exc).__name__, exc_info=exc)


def chat_error_handler(_: Request[Any, Any, Any], exc: ChatError) -> Response[dict[str, Any]]:
    status = status_of(exc)
    metrics.ERRORS.labels(exc.code).inc()
    headers = {}
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    return Response({"status_code": status, "detail": exc.detail}, status_code=status, headers=headers)


def ws_error(code: str, message: str, client_msg_id: str | None = None) -> dict[str, Any]:
    return {"type": "error", "data": {"code": code, "message": message, "client_msg_id": client_msg_id}}
