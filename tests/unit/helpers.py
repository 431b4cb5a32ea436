"""Builders shared by the unit tests: a wired ChatService on the in-memory fakes, an inbox, tiny real files."""

from __future__ import annotations

import base64
import io
import json
import struct
import wave
import zipfile
import zlib
from collections.abc import Awaitable, Callable, Collection
from typing import Any

import attrs

from chatcore import ChatService, Limits, MessageView, RoomId, SendMessage, UploadPolicy, User, UserId
from chatcore.model import MessageType
from chatcore.ports import Broker, FileStorage
from chatcore.testing import (
    FakeClock,
    MemoryBroker,
    MemoryDatabase,
    MemoryLiveState,
    MemoryStorage,
    MemoryUnitOfWork,
    MemoryUserDirectory,
    SequentialIds,
)

ALICE = UserId(1)
BOB = UserId(2)
CAROL = UserId(3)
DAVE = UserId(4)
STRANGER = UserId(99)  # not in the directory

PEOPLE = (
    User(id=ALICE, name="Alice Smith", email="alice@example.com", avatar_url="https://example.com/alice.jpg"),
    User(id=BOB, name="John Doe", email="John.Doe@Example.com", avatar_url="https://example.com/john.jpg"),
    User(id=CAROL, name="Carol King", email="carol@corp.test", avatar_url=None),
    User(id=DAVE, name="Dave Null", email="dave@corp.test", avatar_url=None),
)


EMOJI = (*(chr(0x1F600 + n) for n in range(30)), "👍", "❤️")  # what the fake emoji checker knows


def known_emoji(text: str) -> str | None:
    """Stands in for the emoji library (chat_adapters.emojis): a fixed set, and one respelling."""
    return "❤️" if text == "❤" else text if text in EMOJI else None


class FlakyDatabase(MemoryDatabase):
    """A MemoryDatabase whose next commit can run something first (a racing request) or fail; it records
    which rooms each `summaries` call read (None: all of them)."""

    def __init__(self) -> None:
        super().__init__()
        self.before_commit: Callable[[], Awaitable[object]] | None = None
        self.fail_commits_with: BaseException | None = None
        self.summary_reads: list[list[RoomId] | None] = []

    def __call__(self) -> MemoryUnitOfWork:
        return _FlakyUnitOfWork(self)


class _FlakyUnitOfWork(MemoryUnitOfWork):
    def __init__(self, db: FlakyDatabase) -> None:
        super().__init__(db)
        self._flaky = db
        read = self.rooms.summaries

        async def summaries(user: UserId, room_ids: Collection[RoomId] | None = None, **page: Any) -> Any:
            db.summary_reads.append(None if room_ids is None else sorted(room_ids))
            return await read(user, room_ids, **page)

        self.rooms.summaries = summaries  # type: ignore[method-assign]

    async def commit(self) -> None:
        hook, self._flaky.before_commit = self._flaky.before_commit, None
        if hook is not None:
            await hook()
        if self._flaky.fail_commits_with is not None:
            raise self._flaky.fail_commits_with
        await super().commit()


class BrokenBroker(MemoryBroker):
    """A broker that is down: every publish fails."""

    async def publish(self, channels: Any, payload: bytes) -> None:
        raise ConnectionError("broker unreachable")


class Inbox:
    """What a subscriber of some channels received, decoded like a client would."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []

    def __call__(self, payload: bytes) -> None:
        self.frames.append(json.loads(payload))

    @property
    def types(self) -> list[str]:
        return [frame["type"] for frame in self.frames]

    def data(self, kind: str) -> list[dict[str, Any]]:
        return [frame["data"] for frame in self.frames if frame["type"] == kind]


@attrs.define
class Chat:
    """A ChatService and the fakes behind it, so tests can look at the state they left."""

    service: ChatService
    db: FlakyDatabase
    users: MemoryUserDirectory
    storage: MemoryStorage
    broker: MemoryBroker
    live: MemoryLiveState
    clock: FakeClock

    async def listen(self, channel: str) -> Inbox:
        inbox = Inbox()
        await self.broker.subscribe(channel, inbox)
        return inbox

    async def room(self, me: UserId = ALICE, other: UserId = BOB) -> RoomId:
        view, _ = await self.service.open_direct_room(me, other)
        return view.id

    async def say(self, me: UserId, room_id: RoomId, content: str = "hello", **fields: Any) -> MessageView:
        view, _ = await self.service.send_message(me, SendMessage(room_id=room_id, content=content, **fields))
        return view

    async def send_file(
        self, me: UserId, room_id: RoomId, kind: MessageType, name: str, data: bytes, **fields: Any
    ) -> MessageView:
        command = SendMessage(room_id=room_id, message_type=kind, file_data=b64(data), file_name=name, **fields)
        view, _ = await self.service.send_message(me, command)
        return view

    @property
    def message_count(self) -> int:
        return len(self.db.tables.messages)


def make_chat(
    *,
    policy: UploadPolicy | None = None,
    limits: Limits | None = None,
    storage: MemoryStorage | None = None,
    broker: MemoryBroker | None = None,
    people: tuple[User, ...] = PEOPLE,
) -> Chat:
    clock = FakeClock()
    db = FlakyDatabase()
    users = MemoryUserDirectory(people)
    storage = storage if storage is not None else MemoryStorage(clock)
    broker = broker if broker is not None else MemoryBroker()
    live = MemoryLiveState(clock)
    file_storage: FileStorage = storage
    fan_out: Broker = broker
    service = ChatService(
        uow=db,
        users=users,
        storage=file_storage,
        broker=fan_out,
        live=live,
        clock=clock,
        ids=SequentialIds(),
        policy=policy,
        limits=limits,
        is_emoji=known_emoji,
    )
    return Chat(service=service, db=db, users=users, storage=storage, broker=broker, live=live, clock=clock)


def uuid(n: int) -> str:
    """The n-th id SequentialIds hands out."""
    return f"{n:032x}"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# -- tiny real files ------------------------------------------------------------------------------


def png() -> bytes:
    """A valid 1x1 grey PNG."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x80")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def jpeg() -> bytes:
    """SOI, a JFIF APP0 segment, EOI: what every JPEG starts and ends with."""
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return b"\xff\xd8\xff\xe0" + struct.pack(">H", len(app0) + 2) + app0 + b"\xff\xd9"


def gif() -> bytes:
    """The classic transparent 1x1 GIF89a."""
    return base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def webp() -> bytes:
    body = b"WEBP" + b"VP8L" + struct.pack("<I", 5) + b"\x2f\x00\x00\x00\x00" + b"\x00"
    return b"RIFF" + struct.pack("<I", len(body)) + body


def pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        archive.writestr("word/document.xml", '<?xml version="1.0"?><w:document/>')
    return buffer.getvalue()


def ole2() -> bytes:
    """The header of a legacy Office (DOC/XLS) compound file."""
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)


def rar() -> bytes:
    return b"Rar!\x1a\x07\x01\x00" + bytes(16)


def mp3() -> bytes:
    """An ID3v2 tag followed by one MPEG-1 layer III frame header."""
    return b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + bytes(413)


def wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(bytes(160))
    return buffer.getvalue()


def ogg() -> bytes:
    return b"OggS\x00\x02" + bytes(8) + b"\x01\x00\x00\x00" + bytes(8) + b"\x01\x1e\x01vorbis" + bytes(24)


def m4a() -> bytes:
    return struct.pack(">I", 24) + b"ftypM4A " + b"\x00\x00\x00\x00" + b"M4A isom" + bytes(16)


def aac() -> bytes:
    """One ADTS frame header (MPEG-4 AAC LC, 44.1 kHz, stereo)."""
    return b"\xff\xf1\x50\x80\x02\x1f\xfc" + bytes(9)


def small_policy(limit: int = 1024) -> UploadPolicy:
    """The seed's rules with tiny limits, so size tests need no megabytes."""
    return UploadPolicy(limits=dict.fromkeys((MessageType.IMAGE, MessageType.FILE, MessageType.VOICE), limit))
