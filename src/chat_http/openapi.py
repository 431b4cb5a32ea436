"""The error answers each route can give, for the OpenAPI document: every one has the same JSON shape."""

from __future__ import annotations

from dataclasses import dataclass

from litestar.openapi.datastructures import ResponseSpec


@dataclass
class ErrorReply:
    status_code: int
    detail: str


MEANING = {
    400: "Invalid input; the detail names the field",
    401: "No token, a bad or expired one, or a user no longer in the directory",
    403: "Not allowed: only the sender edits or deletes a message; a group's owner and admins manage it and pin",
    404: "No such room or message, or not one of the caller's",
    409: "The state does not allow it: a deleted message, 20 different reactions or 100 pins already",
    413: "The body is larger than the largest allowed file",
    429: "Too many calls; Retry-After says in how many seconds to try again",
    503: "The database or the broker does not answer; try again",
}


def errors(*statuses: int) -> dict[int, ResponseSpec]:
    """`responses=` for a route: 401 and 503 (every chat route checks the token and reads the database)
    and the given `statuses`."""
    return {
        status: ResponseSpec(data_container=ErrorReply, description=MEANING[status], generate_examples=False)
        for status in sorted({401, 503, *statuses})
    }
