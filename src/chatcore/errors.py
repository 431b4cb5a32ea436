"""Domain errors: each has a stable `code` that clients can branch on and a human `detail`."""

from __future__ import annotations


class ChatError(Exception):
    code = "chat_error"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class NotFoundError(ChatError):
    """Also used for things that exist but are not visible to the caller: existence is not leaked."""

    code = "not_found"


class ForbiddenError(ChatError):
    code = "forbidden"


class InvalidError(ChatError):
    code = "invalid"


class ConflictError(ChatError):
    code = "conflict"


class RateLimitedError(ChatError):
    code = "rate_limited"

    def __init__(self, detail: str, *, retry_after: float = 1.0) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class TooManyConnectionsError(ChatError):
    """A user already has as many live sockets as allowed, counted on every server process."""

    code = "too_many_connections"


class UnavailableError(ChatError):
    """A backing service (database, broker, storage) cannot be reached right now; retrying may work."""

    code = "unavailable"


class OutcomeUnknownError(UnavailableError):
    """The connection was lost while a write was under way: it may have committed or not (a retry with the same
    `client_msg_id` finds out). Nothing that the write would have kept may be thrown away."""
