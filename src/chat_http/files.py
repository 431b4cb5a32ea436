"""Serving stored files: only with a valid signature, and with headers that stop browsers from running them."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from chat_adapters.storage.signing import UrlSigner
from chat_http.runtime import Runtime
from chatcore import ChatError, NotFoundError
from chatcore.model import MessageType
from chatcore.uploads import FILE_TYPES

_MIME_BY_EXT = {ft.extension: (kind, ft.mime_type) for kind, types in FILE_TYPES.items() for ft in types}


def safe_headers(key: str) -> tuple[str, dict[str, str]]:
    """Content type from our own table (never sniffed), attachment for anything but images."""
    ext = key.rpartition(".")[2].lower()
    kind, mime = _MIME_BY_EXT.get(ext, (MessageType.FILE, "application/octet-stream"))
    name = key.rpartition("/")[2]
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, max-age=300",
    }
    if kind is not MessageType.IMAGE:
        ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
        headers["Content-Disposition"] = f'attachment; filename="{ascii_name}"'
    return mime, headers


@get("/static/chat_files/{key:path}", opt={"exclude_from_auth": True}, include_in_schema=False)
async def serve_file(request: Request[Any, Any, Any], rt: Runtime, key: str) -> Response[bytes]:
    key = key.lstrip("/")
    signer: UrlSigner = rt.signer
    if not signer.verify(key, request.query_params.get("expires"), request.query_params.get("sig")):
        status = 401 if "sig" not in request.query_params else 403
        detail = "a signed link is required" if status == 401 else "the link is invalid or has expired"
        return Response({"status_code": status, "detail": detail}, status_code=status)  # type: ignore[arg-type]
    try:
        data = await rt.storage.get(key)
    except ChatError:
        raise NotFoundError("file not found") from None
    mime, headers = safe_headers(key)
    return Response(data, media_type=mime, headers=headers)
