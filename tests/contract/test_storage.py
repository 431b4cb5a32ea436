"""One FileStorage suite over the fake, local disk and S3 (moto), so the fake keeps the adapters' rules."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import attrs
import httpx
import pytest

from chat_adapters.storage.local import LocalStorage
from chat_adapters.storage.s3 import S3Storage
from chat_adapters.storage.signing import UrlSigner
from chatcore.errors import InvalidError, NotFoundError, UnavailableError
from chatcore.ports import FileStorage
from chatcore.testing import FakeClock, MemoryStorage
from tests.ports import free_port
from tests.s3 import S3Server, s3_server

__all__ = ["s3_server"]

MiB = 1024 * 1024
CHUNK = 64 * 1024


@attrs.frozen
class Subject:
    """A storage plus what the suite needs to check its URLs."""

    storage: FileStorage
    open_url: Callable[[str], Awaitable[bytes | None]]  # what the URL serves; None if it is refused
    expire: Callable[[timedelta], None] | None = None  # move the clock URLs are checked against, if we can


def memory_subject() -> Subject:
    clock = FakeClock()
    storage = MemoryStorage(clock)

    async def open_url(url: str) -> bytes | None:  # memory://<key>?expires=<unix time>
        parts = urlsplit(url)
        key = unquote(parts.netloc + parts.path)
        if int(parse_qs(parts.query)["expires"][0]) < clock.now().timestamp():
            return None
        return await storage.get(key)

    return Subject(storage, open_url, lambda by: clock.advance(by.total_seconds()))


def local_subject(root: Path) -> Subject:
    clock = FakeClock()
    signer = UrlSigner(b"k" * 32)
    storage = LocalStorage(root, signer=signer, clock=clock)

    async def open_url(url: str) -> bytes | None:  # what the app's file route does
        parts = urlsplit(url)
        key = unquote(parts.path.removeprefix(signer.base_path + "/"))
        query = parse_qs(parts.query)
        if not signer.verify(key, query["expires"][0], query["sig"][0], now=clock.now().timestamp()):
            return None
        return await storage.get(key)

    return Subject(storage, open_url, lambda by: clock.advance(by.total_seconds()))


def s3_storage(server: S3Server, url: str | None = None, endpoint_url: str | None = None) -> S3Storage:
    return S3Storage.from_url(
        url or server.fresh_url(),
        endpoint_url=endpoint_url or server.endpoint_url,
        region=server.region,
        access_key_id=server.access_key_id,
        secret_access_key=server.secret_access_key,
    )


async def http_get(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.get(url)


def s3_subject(server: S3Server) -> Subject:
    async def open_url(url: str) -> bytes | None:
        response = await http_get(url)
        if response.status_code == 403:
            return None
        assert response.status_code == 200, response.text
        return response.content

    return Subject(s3_storage(server), open_url)  # moto does not enforce presigned expiry


@pytest.fixture(params=["memory", "local", "s3"])
def subject(request: pytest.FixtureRequest, tmp_path: Path) -> Subject:
    if request.param == "memory":
        return memory_subject()
    if request.param == "local":
        return local_subject(tmp_path / "files")
    return s3_subject(request.getfixturevalue("s3_server"))


@pytest.fixture
def storage(subject: Subject) -> FileStorage:
    return subject.storage


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


async def chunked(data: bytes, size: int = CHUNK, *, fail_after: int | None = None) -> AsyncIterator[bytes]:
    for number, start in enumerate(range(0, len(data), size)):
        if number == fail_after:
            raise RuntimeError("client went away")
        yield data[start : start + size]


async def collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


async def all_keys(storage: FileStorage) -> list[str]:
    return sorted([key async for key in storage.keys()])  # noqa: SIM118  (an async iterator, not a dict)


async def test_put_then_get_returns_the_same_bytes(storage: FileStorage) -> None:
    data = payload(100_000) + b"\x00\xff" + bytes(range(256))
    await storage.put("files/abc-report.pdf", data, "application/pdf")
    assert await storage.get("files/abc-report.pdf") == data


async def test_put_overwrites(storage: FileStorage) -> None:
    await storage.put("files/a.txt", b"first", "text/plain")
    await storage.put("files/a.txt", b"second", "text/plain")
    assert await storage.get("files/a.txt") == b"second"


async def test_exists_only_after_put(storage: FileStorage) -> None:
    assert not await storage.exists("images/a.png")
    await storage.put("images/a.png", b"png", "image/png")
    assert await storage.exists("images/a.png")
    assert not await storage.exists("images/b.png")


async def test_delete_is_idempotent(storage: FileStorage) -> None:
    await storage.put("files/a.txt", b"hi", "text/plain")
    await storage.delete("files/a.txt")
    await storage.delete("files/a.txt")
    await storage.delete("files/never-stored.txt")
    assert not await storage.exists("files/a.txt")
    assert await all_keys(storage) == []


async def test_missing_key_is_not_found(storage: FileStorage) -> None:
    with pytest.raises(NotFoundError):
        await storage.get("files/missing.txt")
    with pytest.raises(NotFoundError):
        await collect(storage.stream("files/missing.txt"))


async def test_keys_with_spaces_and_unicode_round_trip(storage: FileStorage) -> None:
    key = "files/0f-Résumé final (v2) #1 [draft] 100%.pdf"
    await storage.put(key, b"cv", "application/pdf")
    assert await storage.get(key) == b"cv"
    assert await all_keys(storage) == [key]


BAD_KEYS = ["../escape.txt", "/etc/passwd", "files/../../escape.txt", "files/./a.txt", "files//a.txt", "files", ""]


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_keys_that_could_escape_are_refused(storage: FileStorage, key: str) -> None:
    with pytest.raises(InvalidError):
        await storage.put(key, b"x", "text/plain")
    with pytest.raises(InvalidError):
        await storage.put_stream(key, chunked(b"x"), "text/plain")
    with pytest.raises(InvalidError):
        await storage.get(key)
    with pytest.raises(InvalidError):
        await collect(storage.stream(key))
    with pytest.raises(InvalidError):
        await storage.exists(key)
    with pytest.raises(InvalidError):
        await storage.delete(key)
    assert await all_keys(storage) == []


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_no_url_is_made_for_a_key_that_could_escape(storage: FileStorage, key: str) -> None:
    with pytest.raises(InvalidError):
        await storage.url(key, expires_in=timedelta(minutes=1))


async def test_put_stream_of_many_chunks_round_trips(storage: FileStorage) -> None:
    data = payload(6 * MiB + 123)
    size = await storage.put_stream("files/big.bin", chunked(data), "application/octet-stream")
    assert size == len(data)
    assert await storage.get("files/big.bin") == data


async def test_put_stream_of_nothing_stores_an_empty_file(storage: FileStorage) -> None:
    assert await storage.put_stream("files/empty.txt", chunked(b""), "text/plain") == 0
    assert await storage.get("files/empty.txt") == b""


async def test_put_stream_whose_source_fails_leaves_nothing(storage: FileStorage) -> None:
    data = payload(7 * MiB)  # past the first S3 part, so a part was uploaded before the failure
    with pytest.raises(RuntimeError, match="client went away"):
        await storage.put_stream("files/broken.bin", chunked(data, fail_after=100), "application/octet-stream")
    assert not await storage.exists("files/broken.bin")
    assert await all_keys(storage) == []


async def test_put_stream_whose_source_fails_keeps_the_old_file(storage: FileStorage) -> None:
    await storage.put("files/a.bin", b"old", "application/octet-stream")
    with pytest.raises(RuntimeError, match="client went away"):
        await storage.put_stream("files/a.bin", chunked(payload(MiB), fail_after=3), "application/octet-stream")
    assert await storage.get("files/a.bin") == b"old"


async def test_stream_yields_the_stored_bytes(storage: FileStorage) -> None:
    data = payload(MiB + 7)
    await storage.put("files/a.bin", data, "application/octet-stream")
    chunks = [chunk async for chunk in storage.stream("files/a.bin")]
    assert b"".join(chunks) == data
    assert all(chunks)


async def test_keys_lists_what_was_stored(storage: FileStorage) -> None:
    await storage.put("images/1-a.png", b"a", "image/png")
    await storage.put("files/2-b.pdf", b"b", "application/pdf")
    await storage.put_stream("voice/3-c.mp3", chunked(b"c" * 1000, 100), "audio/mpeg")
    await storage.delete("files/2-b.pdf")
    assert await all_keys(storage) == ["images/1-a.png", "voice/3-c.mp3"]


async def test_url_serves_the_file(subject: Subject) -> None:
    data = payload(50_000)
    await subject.storage.put("files/1-a b.pdf", data, "application/pdf")
    url = await subject.storage.url("files/1-a b.pdf", expires_in=timedelta(minutes=5))
    assert await subject.open_url(url) == data


@pytest.mark.parametrize("subject", ["memory", "local"], indirect=True)  # moto does not enforce S3 expiry
async def test_expired_url_is_refused(subject: Subject) -> None:
    assert subject.expire is not None
    await subject.storage.put("files/a.txt", b"hi", "text/plain")
    url = await subject.storage.url("files/a.txt", expires_in=timedelta(minutes=5))
    subject.expire(timedelta(minutes=4))
    assert await subject.open_url(url) == b"hi"
    subject.expire(timedelta(minutes=2))
    assert await subject.open_url(url) is None


@pytest.mark.parametrize(
    ("expires", "sig"),
    [
        pytest.param("9999999999", "é", id="non-ascii-signature"),  # hmac.compare_digest raised TypeError: a 500
        pytest.param("9999999999", "\ud800", id="lone-surrogate-signature"),
        pytest.param("²", "ab", id="superscript-digit-expiry"),  # isdigit() but int() raised ValueError
        pytest.param("١٢٣٤٥٦٧٨٩٠", "ab", id="arabic-indic-digit-expiry"),
        pytest.param("9999999999", "", id="empty-signature"),
        pytest.param("", "ab", id="empty-expiry"),
        pytest.param("-1", "ab", id="negative-expiry"),
    ],
)
def test_a_signed_link_with_any_odd_text_is_refused_not_raised(expires: str, sig: str) -> None:
    signer = UrlSigner(b"k" * 32)
    good = signer.sign("files/a.txt", expires_at=9_999_999_999)

    assert signer.verify("files/a.txt", "9999999999", good.rpartition("sig=")[2], now=0)
    assert signer.verify("files/a.txt", expires, sig, now=0) is False
    assert signer.verify("files/\ud800.txt", "9999999999", sig or "ab", now=0) is False


# What only S3 has: headers stored with the object, prefixes, its own URL format, a network.


async def test_s3_serves_the_content_type_and_the_name_the_file_was_sent_with(s3_server: S3Server) -> None:
    storage = s3_storage(s3_server)
    await storage.put("images/1-a.png", b"\x89PNG", "image/png")
    march = "Gehaltsabrechnung März.pdf"
    await storage.put_stream("files/2-b.pdf", chunked(b"%PDF-1.7"), "application/pdf", file_name=march)
    await storage.put(f"files/{'0' * 32}-c.pdf", b"%PDF-1.7", "application/pdf")
    image = await http_get(await storage.url("images/1-a.png", expires_in=timedelta(minutes=1)))
    pdf = await http_get(await storage.url("files/2-b.pdf", expires_in=timedelta(minutes=1)))
    unnamed = await http_get(await storage.url(f"files/{'0' * 32}-c.pdf", expires_in=timedelta(minutes=1)))
    assert image.headers["content-type"] == "image/png"
    assert image.headers["content-disposition"] == "inline; filename=\"1-a.png\"; filename*=UTF-8''1-a.png"
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == (
        "attachment; filename=\"Gehaltsabrechnung Marz.pdf\"; filename*=UTF-8''Gehaltsabrechnung%20M%C3%A4rz.pdf"
    )
    assert unnamed.headers["content-disposition"] == "attachment; filename=\"c.pdf\"; filename*=UTF-8''c.pdf"


async def test_s3_streams_parts_while_reading_and_aborts_the_upload_on_failure(s3_server: S3Server) -> None:
    url = s3_server.fresh_url()
    storage, prefix = s3_storage(s3_server, url), urlsplit(url).path.strip("/")
    uploads_seen: list[int] = []

    async def uploads_in_progress() -> int:
        listing = f"{s3_server.endpoint_url}/{s3_server.bucket}?uploads&prefix={prefix}/"
        return (await http_get(listing)).text.count("<UploadId>")  # moto answers unsigned requests

    async def source() -> AsyncIterator[bytes]:
        data = payload(8 * MiB)
        for start in range(0, len(data), CHUNK):
            yield data[start : start + CHUNK]
        uploads_seen.append(await uploads_in_progress())
        raise RuntimeError("client went away")

    with pytest.raises(RuntimeError, match="client went away"):
        await storage.put_stream("files/big.bin", source(), "application/octet-stream")
    assert uploads_seen == [1]  # a multipart upload was open before the source finished
    assert await uploads_in_progress() == 0  # and it was aborted, leaving no hidden parts


async def test_s3_keys_live_under_the_prefix(s3_server: S3Server) -> None:
    one, other = s3_storage(s3_server, f"s3://{s3_server.bucket}/one/x"), s3_storage(s3_server)
    await one.put("files/a.txt", b"hi", "text/plain")
    assert await all_keys(other) == []
    url = await one.url("files/a.txt", expires_in=timedelta(seconds=90))
    parts = urlsplit(url)
    assert parts.path == f"/{s3_server.bucket}/one/x/files/a.txt"
    assert parse_qs(parts.query)["X-Amz-Expires"] == ["90"]  # what S3 itself enforces
    await one.delete("files/a.txt")


async def test_s3_unreachable_is_unavailable() -> None:
    storage = S3Storage.from_url(
        "s3://nowhere/p",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        access_key_id="a",
        secret_access_key="b",
        retry_timeout=timedelta(seconds=1),
    )
    with pytest.raises(UnavailableError):
        await storage.get("files/a.txt")
    with pytest.raises(UnavailableError):
        await storage.put_stream("files/a.txt", chunked(b"abc"), "text/plain")


@pytest.mark.parametrize("expires_in", [timedelta(0), timedelta(seconds=-5), timedelta(days=8)])
async def test_s3_refuses_url_lifetimes_sigv4_cannot_sign(s3_server: S3Server, expires_in: timedelta) -> None:
    with pytest.raises(InvalidError, match="7 days"):
        await s3_storage(s3_server).url("files/a.txt", expires_in=expires_in)


@pytest.mark.parametrize("url", ["https://bucket/p", "s3://", "s3://bucket/../p", "s3://bucket/p?x=1"])
def test_s3_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidError):
        S3Storage.from_url(url)
