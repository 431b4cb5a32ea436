"""Files in an S3-compatible bucket under a key prefix; URLs are presigned GETs straight to the bucket.

obstore does the work: streaming multipart puts that abort themselves when the source fails, SigV4
presigning, and the standard AWS credential chain (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_SESSION_TOKEN, AWS_REGION / AWS_DEFAULT_REGION, web identity, instance metadata).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import obstore
from obstore.exceptions import BaseError
from obstore.store import S3Store

from chat_adapters.storage.local import _KEY
from chatcore.errors import InvalidError, NotFoundError, UnavailableError
from chatcore.model import MessageType
from chatcore.uploads import FILE_TYPES, content_disposition, name_in_key

if TYPE_CHECKING:
    from obstore import Attributes, BytesStream
    from obstore.store import ClientConfig, RetryConfig, S3Config

PART_SIZE = 5 * 1024 * 1024  # S3's smallest part (all but the last)
PARTS_IN_FLIGHT = 2  # one streamed upload holds at most about three parts in memory
READ_CHUNK = 256 * 1024
MAX_URL_LIFETIME = timedelta(days=7)  # SigV4's limit
_INLINE = frozenset(ft.mime_type for ft in FILE_TYPES[MessageType.IMAGE])


def check_key(key: str) -> str:
    """The rule of LocalStorage.path: a relative key under a top folder, no '.' or '..' parts."""
    if not _KEY.match(key) or any(part in {".", ".."} for part in key.split("/")):
        raise InvalidError(f"bad storage key {key!r}")
    return key


def attributes_for(key: str, content_type: str, file_name: str | None = None) -> Attributes:
    """Headers S3 serves with the object: our content type, `attachment` for anything but images, and the name
    the file was sent with (else the one in its key). Stored with the object, as obstore's presigned URLs
    cannot carry a `response-content-disposition` override."""
    inline = content_type.split(";")[0].strip().lower() in _INLINE
    return {
        "Content-Type": content_type,
        "Content-Disposition": content_disposition(file_name or name_in_key(key), inline=inline),
    }


@contextmanager
def _translated(key: str) -> Iterator[None]:
    """obstore's errors as chatcore's: missing -> NotFound, refused path -> Invalid, the rest -> Unavailable."""
    try:
        yield
    except FileNotFoundError:
        raise NotFoundError("file not found") from None
    except ValueError as exc:  # obstore could not parse the path
        raise InvalidError(f"bad storage key {key!r}") from exc
    except BaseError as exc:
        raise UnavailableError(f"object storage failed: {exc}".splitlines()[0]) from exc


class S3Storage:
    def __init__(self, store: S3Store) -> None:
        self._store = store

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        timeout: timedelta = timedelta(minutes=5),
        retry_timeout: timedelta = timedelta(seconds=20),
    ) -> S3Storage:
        """`s3://bucket/prefix`; whatever is not given comes from the standard AWS variables."""
        parts = urlsplit(url)
        prefix = parts.path.strip("/")
        if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
            raise InvalidError(f"storage URL must look like s3://bucket/prefix, got {url!r}")
        if prefix and any(p in {"", ".", ".."} for p in prefix.split("/")):
            raise InvalidError(f"bad prefix in storage URL {url!r}")
        config: S3Config = {}
        client: ClientConfig = {"connect_timeout": timedelta(seconds=5), "timeout": timeout}
        if endpoint_url:
            config["endpoint"] = endpoint_url
            client["allow_http"] = endpoint_url.startswith("http://")
        if region:
            config["region"] = region
        if access_key_id and secret_access_key:
            config["access_key_id"] = access_key_id
            config["secret_access_key"] = secret_access_key
        retry: RetryConfig = {"max_retries": 3, "retry_timeout": retry_timeout}
        store = S3Store(parts.netloc, prefix=prefix or None, config=config, client_options=client, retry_config=retry)
        return cls(store)

    async def put(self, key: str, data: bytes, content_type: str, *, file_name: str | None = None) -> None:
        path = check_key(key)
        with _translated(key):
            attributes = attributes_for(key, content_type, file_name)
            await obstore.put_async(self._store, path, data, attributes=attributes)

    async def put_stream(
        self, key: str, chunks: AsyncIterable[bytes], content_type: str, *, file_name: str | None = None
    ) -> int:
        """A multipart upload fed part by part; obstore aborts it if `chunks` (or the network) fails."""
        path = check_key(key)
        size = 0
        source_error: BaseException | None = None

        async def counted() -> AsyncIterator[bytes]:
            nonlocal size, source_error
            try:
                async for chunk in chunks:
                    size += len(chunk)
                    yield chunk
            except GeneratorExit:
                raise
            except BaseException as exc:
                source_error = exc
                raise

        try:
            with _translated(key):
                await obstore.put_async(
                    self._store,
                    path,
                    counted(),
                    attributes=attributes_for(key, content_type, file_name),
                    use_multipart=True,
                    chunk_size=PART_SIZE,
                    max_concurrency=PARTS_IN_FLIGHT,
                )
        except BaseException as exc:
            if source_error is None or exc is source_error:
                raise
            raise source_error from None  # the caller's own error, not ours to translate
        return size

    async def get(self, key: str) -> bytes:
        path = check_key(key)
        with _translated(key):
            result = await obstore.get_async(self._store, path)
            return (await result.bytes_async()).to_bytes()

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        path = check_key(key)
        with _translated(key):
            result = await obstore.get_async(self._store, path)
        chunks = result.stream(min_chunk_size=READ_CHUNK)
        while (chunk := await _next(chunks, key)) is not None:
            yield chunk

    async def exists(self, key: str) -> bool:
        path = check_key(key)
        try:
            with _translated(key):
                await obstore.head_async(self._store, path)
        except NotFoundError:
            return False
        return True

    async def delete(self, key: str) -> None:
        path = check_key(key)
        with _translated(key):
            await obstore.delete_async(self._store, path)  # S3 deletes of missing keys succeed

    async def url(self, key: str, *, expires_in: timedelta) -> str:
        """Signed with the system clock (SigV4 has no other); S3 refuses it after `expires_in`."""
        path = check_key(key)
        if not timedelta(seconds=1) <= expires_in <= MAX_URL_LIFETIME:
            raise InvalidError(f"a presigned URL must live between 1 s and 7 days, not {expires_in}")
        with _translated(key):
            return await obstore.sign_async(self._store, "GET", path, expires_in)

    async def keys(self) -> AsyncIterator[str]:
        listing = obstore.list(self._store, chunk_size=1000)
        while True:
            with _translated(""):
                try:
                    batch = await anext(listing)
                except StopAsyncIteration:
                    return
            for meta in batch:
                yield meta["path"]


async def _next(chunks: BytesStream, key: str) -> bytes | None:
    with _translated(key):
        try:
            return await anext(chunks)
        except StopAsyncIteration:
            return None
