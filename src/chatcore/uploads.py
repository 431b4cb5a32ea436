"""Upload policy: which files a message may carry, decided by extension and content, never by the client alone."""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from collections.abc import AsyncIterable, AsyncIterator, Callable
from urllib.parse import quote

import attrs

from chatcore.errors import InvalidError
from chatcore.model import MessageType, StoredFile

MB = 1024 * 1024

Sniffer = Callable[[bytes], bool]


def _starts(*prefixes: bytes) -> Sniffer:
    return lambda head: head.startswith(prefixes)


def _riff(form: bytes) -> Sniffer:
    return lambda head: head[:4] == b"RIFF" and head[8:12] == form


def _mp3(head: bytes) -> bool:
    return head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


def _adts(head: bytes) -> bool:
    return head.startswith(b"ADIF") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0)


def _mp4_audio(head: bytes) -> bool:
    return head[4:8] == b"ftyp"


def _text(head: bytes) -> bool:
    """Plain text: UTF-8 without NUL bytes (the head may end inside a multi-byte character)."""
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"
    return True


_ZIP = _starts(b"PK\x03\x04", b"PK\x05\x06")
_OLE2 = _starts(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")


@attrs.frozen
class FileType:
    extension: str
    mime_type: str
    matches: Sniffer


FILE_TYPES: dict[MessageType, tuple[FileType, ...]] = {
    MessageType.IMAGE: (
        FileType("jpg", "image/jpeg", _starts(b"\xff\xd8\xff")),
        FileType("jpeg", "image/jpeg", _starts(b"\xff\xd8\xff")),
        FileType("png", "image/png", _starts(b"\x89PNG\r\n\x1a\n")),
        FileType("gif", "image/gif", _starts(b"GIF87a", b"GIF89a")),
        FileType("webp", "image/webp", _riff(b"WEBP")),
    ),
    MessageType.FILE: (
        FileType("pdf", "application/pdf", _starts(b"%PDF-")),
        FileType("doc", "application/msword", _OLE2),
        FileType("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", _ZIP),
        FileType("xls", "application/vnd.ms-excel", _OLE2),
        FileType("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", _ZIP),
        FileType("txt", "text/plain; charset=utf-8", _text),
        FileType("zip", "application/zip", _ZIP),
        FileType("rar", "application/vnd.rar", _starts(b"Rar!\x1a\x07")),
    ),
    MessageType.VOICE: (
        FileType("mp3", "audio/mpeg", _mp3),
        FileType("wav", "audio/wav", _riff(b"WAVE")),
        FileType("m4a", "audio/mp4", _mp4_audio),
        FileType("aac", "audio/aac", _adts),
        FileType("ogg", "audio/ogg", _starts(b"OggS")),
    ),
}

DEFAULT_LIMITS: dict[MessageType, int] = {
    MessageType.IMAGE: 10 * MB,
    MessageType.FILE: 50 * MB,
    MessageType.VOICE: 20 * MB,
}

KIND_FOLDERS = {MessageType.IMAGE: "images", MessageType.FILE: "files", MessageType.VOICE: "voices"}

MAX_NAME_LENGTH = 120
HEAD_SIZE = 512  # enough for every signature we check
_UNSAFE = re.compile(r"[^\w.\- ()\[\]+@,]", re.UNICODE)


def sanitize_file_name(name: str) -> str:
    """A name safe as the last part of a storage key: no folders, controls, odd characters or leading dots."""
    name = unicodedata.normalize("NFC", name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" .")
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    if len(name) > MAX_NAME_LENGTH:
        if dot and len(ext) <= 16:
            name = f"{stem[: MAX_NAME_LENGTH - len(ext) - 1]}.{ext}"
        else:
            name = name[:MAX_NAME_LENGTH]
    return name or "file"


def display_file_name(name: str) -> str:
    """The client's name as shown to people: control characters dropped, length capped."""
    shown = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    return shown[:255] or "file"


_STORED_PREFIX = re.compile(r"^[0-9a-f]{32}-")
_ATTR_CHARS = "!#$&+-.^_`|~"  # RFC 8187 attr-char besides letters and digits: kept as is in filename*
_FALLBACK_UNSAFE = frozenset('"\\/;%')  # quoted-string breakers, a folder, a parameter separator, an escape


def name_in_key(key: str) -> str:
    """The file name a storage key was made from (`files/<32 hex>-a.pdf` -> `a.pdf`), sanitized as stored."""
    return _STORED_PREFIX.sub("", key.rpartition("/")[2]) or "file"


def content_disposition(file_name: str, *, inline: bool = False) -> str:
    """`attachment` (or `inline`) with the name a browser saves the file as, any script intact (RFC 6266).

    `filename*=UTF-8''...` carries the name percent-encoded; `filename="..."` is a plain-ASCII fallback
    ("Gehaltsabrechnung März.pdf" -> "Gehaltsabrechnung Marz.pdf"). Control characters (CR, LF) go first,
    and the fallback keeps no quote, backslash, semicolon or percent sign, so no name can end the header,
    add a parameter or smuggle an encoding.
    """
    shown = display_file_name(file_name)
    folded = unicodedata.normalize("NFKD", shown).encode("ascii", "ignore").decode()
    fallback = "".join("_" if ch in _FALLBACK_UNSAFE or not ch.isprintable() else ch for ch in folded).strip()
    stem, dot, ext = fallback.rpartition(".")
    if not (stem if dot else fallback).strip(" ._"):  # nothing left of the name itself (all CJK, say)
        fallback = f"file.{ext}" if dot and ext else "file"
    encoded = quote(shown, safe=_ATTR_CHARS)
    return f"{'inline' if inline else 'attachment'}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def decode_base64(data: str, *, field: str = "file_data") -> bytes:
    """Strict base64: characters outside the alphabet or bad padding are an error, not silently skipped."""
    if data.startswith("data:") and "," in data:
        data = data.split(",", 1)[1]
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidError(f"{field} is not valid base64", field=field) from exc


@attrs.frozen(kw_only=True)
class Accepted:
    """A file the policy let through, with the type it was checked to be."""

    kind: MessageType
    file_name: str
    stored_name: str
    mime_type: str

    @property
    def key(self) -> str:
        return f"{KIND_FOLDERS[self.kind]}/{self.stored_name}"

    def stored(self, size: int) -> StoredFile:
        return StoredFile(key=self.key, file_name=self.file_name, file_size=size, mime_type=self.mime_type)


@attrs.frozen(kw_only=True)
class UploadPolicy:
    limits: dict[MessageType, int] = attrs.field(factory=lambda: dict(DEFAULT_LIMITS))

    @property
    def largest(self) -> int:
        return max(self.limits.values())

    def limit(self, kind: MessageType) -> int:
        if kind not in self.limits:
            raise InvalidError(f"message_type {kind.value!r} carries no file", field="message_type")
        return self.limits[kind]

    def kind_of(self, file_name: str) -> MessageType:
        """The kind a file's extension belongs to (extensions of the kinds never overlap)."""
        ext = sanitize_file_name(file_name).rpartition(".")[2].lower()
        for kind, types in FILE_TYPES.items():
            if kind in self.limits and any(ft.extension == ext for ft in types):
                return kind
        names = ", ".join(ft.extension for types in FILE_TYPES.values() for ft in types)
        raise InvalidError(f"files must be one of: {names}", field="file_name")

    async def stream_checked(
        self, kind: MessageType, file_name: str, chunks: AsyncIterable[bytes], *, uuid: str
    ) -> tuple[Accepted, AsyncIterator[bytes]]:
        """Check name and magic bytes before anything is stored, then pass the bytes on, counting them.

        The returned iterator raises InvalidError once the kind's size limit is passed, so a storage
        writing from it keeps nothing.
        """
        source = aiter(chunks)
        head = b""
        async for chunk in source:
            head += chunk
            if len(head) >= HEAD_SIZE:
                break
        if not head:
            raise InvalidError("the file is empty", field="file")
        accepted = self.accept(kind, file_name, head[:HEAD_SIZE], uuid=uuid)
        limit = self.limit(kind)

        async def counted() -> AsyncIterator[bytes]:
            size = len(head)
            if size > limit:
                raise InvalidError(f"{kind.value} files may be at most {limit // MB} MB", field="file")
            yield head
            async for chunk in source:
                size += len(chunk)
                if size > limit:
                    raise InvalidError(f"{kind.value} files may be at most {limit // MB} MB", field="file")
                yield chunk

        return accepted, counted()

    def check_size(self, kind: MessageType, size: int, *, declared: int | None = None) -> None:
        limit = self.limit(kind)
        if size == 0:
            raise InvalidError("the file is empty", field="file_data")
        if size > limit:
            raise InvalidError(f"{kind.value} files may be at most {limit // MB} MB", field="file_data")
        if declared is not None and declared != size:
            raise InvalidError(f"file_size says {declared} bytes but the file has {size}", field="file_size")

    def accept(self, kind: MessageType, file_name: str, head: bytes, *, uuid: str) -> Accepted:
        """Check name and leading bytes (at least the first 64) against the kind's allowed types."""
        safe = sanitize_file_name(file_name)
        ext = safe.rpartition(".")[2].lower() if "." in safe else ""
        allowed = FILE_TYPES.get(kind)
        if allowed is None:
            raise InvalidError(f"message_type {kind.value!r} carries no file", field="message_type")
        by_ext = [ft for ft in allowed if ft.extension == ext]
        if not by_ext:
            names = ", ".join(ft.extension for ft in allowed)
            raise InvalidError(f"{kind.value} files must be one of: {names}", field="file_name")
        file_type = by_ext[0]
        if not file_type.matches(head):
            raise InvalidError(f"the content is not a {ext.upper()} file", field="file_data")
        return Accepted(
            kind=kind,
            file_name=display_file_name(file_name),
            stored_name=f"{uuid}-{safe}",
            mime_type=file_type.mime_type,
        )
