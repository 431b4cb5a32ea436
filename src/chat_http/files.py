"""Serving stored files: only with a valid signature, and with headers that stop browsers from running them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath
from litestar.response import Stream

from chat_http.runtime import Rt, Runtime
from chat_http.tokens import AuthError
from chatcore import ChatError, NotFoundError
from chatcore.model import MessageType
from chatcore.uploads import FILE_TYPES, content_disposition, name_in_key

_MIME_BY_EXT = {ft.extension: (kind, ft.mime_type) for kind, types in FILE_TYPES.items() for ft in types}


def safe_headers(key: str, file_name: str | None = None) -> tuple[str, dict[str, str]]:
    """Content type from our own table (never sniffed), attachment for anything but images, and the name the
    file was sent with (else the one in its key) for saving it."""
    ext = key.rpartition(".")[2].lower()
    kind, mime = _MIME_BY_EXT.get(ext, (MessageType.FILE, "application/octet-stream"))
    return mime, {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, max-age=300",
        "Content-Disposition": content_disposition(file_name or name_in_key(key), inline=kind is MessageType.IMAGE),
    }


@get("/static/chat_files/{key:path}", opt={"exclude_from_auth": True}, include_in_schema=False)
async def serve_file(request: Request[Any, Any, Any], rt: Rt, key: FromPath[str]) -> Response[Any]:
    """A signed link, or a participant's own token (`Authorization: Bearer` or `?token=`), opens the file."""
    key = key.lstrip("/")
    query = request.query_params
    if "sig" in query:
        if not rt.signer.verify(key, query.get("expires"), query.get("sig")):
            return _refused(403, "the link is invalid or has expired")
    elif not await _participant(request, rt, key):
        return _refused(401, "a signed link or a participant's token is required")
    chunks = rt.storage.stream(key)
    try:
        first = await anext(chunks)
    except StopAsyncIteration:
        first = b""
    except ChatError:
        raise NotFoundError("file not found") from None

    async def body() -> AsyncIterator[bytes]:
        yield first
        async for chunk in chunks:
            yield chunk

    mime, headers = safe_headers(key, await _sent_as(rt, key))
    return Stream(body(), media_type=mime, headers=headers)


async def _sent_as(rt: Runtime, key: str) -> str | None:
    """The key keeps only a sanitized name; the message has the one it was sent with. A failed lookup costs
    the download its nicer name, never the download."""
    try:
        return await rt.chat.file_name_of(key)
    except ChatError:
        return None


def _refused(status: int, detail: str) -> Response[Any]:
    return Response({"status_code": status, "detail": detail}, status_code=status)


async def _participant(request: Request[Any, Any, Any], rt: Runtime, key: str) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else request.query_params.get("token", "")
    if not token:
        return False
    try:
        identity = await rt.verifier.authenticate(token)
    except AuthError:
        return False
    try:
        return await rt.chat.can_read_file(identity.user_id, key)
    except ChatError:
        return False
