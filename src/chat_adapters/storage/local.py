"""Files on local disk under one root folder; URLs are HMAC-signed links served by the app."""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from datetime import timedelta
from pathlib import Path

from chat_adapters.storage.signing import UrlSigner
from chatcore.errors import InvalidError, NotFoundError
from chatcore.ports import Clock

CHUNK = 256 * 1024
_KEY = re.compile(r"^[A-Za-z0-9_-]+(/[^/\\\x00]+)+$")


class LocalStorage:
    def __init__(self, root: Path, *, signer: UrlSigner, clock: Clock) -> None:
        self.root = root.resolve()
        self._signer = signer
        self._clock = clock

    def path(self, key: str) -> Path:
        """The file's path, refusing any key that would leave the root."""
        if not _KEY.match(key) or any(part in {".", ".."} for part in key.split("/")):
            raise InvalidError(f"bad storage key {key!r}")
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise InvalidError(f"bad storage key {key!r}")
        return path

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)  # readers never see half a file
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # `file_name` is not kept: the app serves these files and looks the name up in the file's message.
    async def put(self, key: str, data: bytes, content_type: str, *, file_name: str | None = None) -> None:
        await asyncio.to_thread(self._write, self.path(key), data)

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], content_type: str, *, file_name: str | None = None
    ) -> int:
        path = self.path(key)
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        fd, tmp = await asyncio.to_thread(tempfile.mkstemp, dir=path.parent, prefix=".part-")
        size = 0
        try:
            with os.fdopen(fd, "wb") as handle:
                async for chunk in chunks:
                    await asyncio.to_thread(handle.write, chunk)
                    size += len(chunk)
            await asyncio.to_thread(os.replace, tmp, path)
        except BaseException:
            await asyncio.to_thread(Path(tmp).unlink, missing_ok=True)
            raise
        return size

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        path = self.path(key)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except (FileNotFoundError, IsADirectoryError):
            raise NotFoundError("file not found") from None
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk
        finally:
            handle.close()

    async def get(self, key: str) -> bytes:
        path = self.path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except (FileNotFoundError, IsADirectoryError):
            raise NotFoundError("file not found") from None

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.path(key).is_file)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.path(key).unlink, missing_ok=True)

    async def url(self, key: str, *, expires_in: timedelta) -> str:
        self.path(key)  # the same key rule as every other operation
        return self._signer.sign(key, expires_at=(self._clock.now() + expires_in).timestamp())

    async def keys(self) -> AsyncIterator[str]:
        found = await asyncio.to_thread(
            lambda: sorted(
                p.relative_to(self.root).as_posix()
                for p in self.root.rglob("*")
                if p.is_file() and not p.name.startswith(".part-")
            )
        )
        for key in found:
            yield key
