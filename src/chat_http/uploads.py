"""POST /api/v1/chat/uploads: a multipart file streamed to storage as it arrives, never whole in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import attrs
from litestar import Request, post
from litestar.exceptions import InternalServerException
from litestar.params import FromQuery
from multipart import MultipartError, MultipartSegment, PushMultipartParser, parse_options_header

from chat_http.openapi import errors
from chat_http.runtime import Rt
from chatcore import InvalidError, MessageType, UserId
from chatcore.uploads import MB, UploadPolicy

MAX_FIELD = 1024  # bytes of a small form field such as message_type


@attrs.frozen(kw_only=True)
class UploadReply:
    upload_id: str
    message_type: MessageType
    file_name: str
    file_size: int
    mime_type: str
    expires_at: datetime


async def _events(request: Request[Any, Any, Any], parser: PushMultipartParser) -> AsyncIterator[Any]:
    try:
        async for chunk in request.stream():
            for event in parser.parse(chunk):
                yield event
    except MultipartError as exc:
        raise InvalidError(f"the multipart body is malformed: {exc}", field="file") from None
    except InternalServerException:  # the client went away mid-upload
        raise InvalidError("the upload was interrupted", field="file") from None


async def _open_file(events: AsyncIterator[Any]) -> tuple[MultipartSegment, dict[str, str]]:
    """Read form fields until the `file` part starts; its bytes are left in `events`."""
    fields: dict[str, str] = {}
    current: MultipartSegment | None = None
    value = b""
    async for event in events:
        if isinstance(event, MultipartSegment):
            if event.name == "file":
                return event, fields
            current, value = event, b""
        elif event is None:
            if current is not None:
                fields[current.name] = value.decode("utf-8", "replace")
            current = None
        else:
            value += event
            if len(value) > MAX_FIELD:
                raise InvalidError(f"form field {current.name if current else '?'} is too long")
    raise InvalidError("the multipart body has no field named 'file'", field="file")


async def _file_bytes(events: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    async for event in events:
        if event is None or isinstance(event, MultipartSegment):
            return
        yield event


@post(
    "/api/v1/chat/uploads",
    status_code=201,
    request_max_body_size=UploadPolicy().largest + MB,
    summary="Stream a file (multipart field `file`); send_message then carries `upload_id` instead of file_data",
    tags=["chat"],
    responses=errors(400, 413),  # a type not allowed is a 400 naming the field, like every refused file
)
async def upload(request: Request[UserId, Any, Any], rt: Rt, message_type: FromQuery[str | None] = None) -> UploadReply:
    media, options = parse_options_header(request.headers.get("content-type", ""))
    if media != "multipart/form-data" or not options.get("boundary"):
        raise InvalidError("send the file as multipart/form-data with a field named 'file'", field="file")
    parser = PushMultipartParser(options["boundary"], max_segment_count=8)
    events = _events(request, parser)
    segment, fields = await _open_file(events)
    kind_name = message_type or fields.get("message_type")
    try:
        kind = MessageType(kind_name) if kind_name else None
    except ValueError:
        raise InvalidError("message_type must be image, file or voice", field="message_type") from None
    stored = await rt.chat.upload_file(request.user, segment.filename or "", _file_bytes(events), kind=kind)
    return UploadReply(
        upload_id=stored.id,
        message_type=stored.kind,
        file_name=stored.file.file_name,
        file_size=stored.file.file_size,
        mime_type=stored.file.mime_type,
        expires_at=stored.created_at + rt.settings.upload_ttl,
    )
