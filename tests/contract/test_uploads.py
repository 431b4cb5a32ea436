"""The Uploads port and file lookups on every backend: claim once, owner only, expiry order, references."""

from __future__ import annotations

import asyncio

from chatcore.model import MessageType, StoredFile, Upload
from tests.contract.backends import Backend
from tests.contract.builders import ALICE, BOB, at, draft, photo, room


def upload(upload_id: str, *, user: int = ALICE, seconds: float = 0, key: str = "files/u-a.pdf") -> Upload:
    stored = StoredFile(key=key, file_name="a.pdf", file_size=10, mime_type="application/pdf")
    return Upload(id=upload_id, user_id=user, kind=MessageType.FILE, file=stored, created_at=at(seconds))  # type: ignore[arg-type]


async def _add(backend: Backend, *uploads: Upload) -> None:
    async with backend.uow() as uow:
        for item in uploads:
            await uow.uploads.add(item)
        await uow.commit()


async def test_an_upload_is_taken_once_and_only_by_its_owner(backend: Backend) -> None:
    await _add(backend, upload("u1"))
    async with backend.uow() as uow:
        assert await uow.uploads.take("u1", BOB) is None
        taken = await uow.uploads.take("u1", ALICE)
        await uow.commit()
    assert taken == upload("u1")
    async with backend.uow() as uow:
        assert await uow.uploads.take("u1", ALICE) is None


async def test_a_take_that_is_not_committed_leaves_the_upload(backend: Backend) -> None:
    await _add(backend, upload("u1"))
    async with backend.uow() as uow:
        assert await uow.uploads.take("u1", ALICE) is not None
    async with backend.uow() as uow:
        assert await uow.uploads.take("u1", ALICE) == upload("u1")


async def test_two_racing_takes_give_the_upload_to_one(backend: Backend) -> None:
    await _add(backend, upload("u1"))

    async def claim() -> Upload | None:
        async with backend.uow() as uow:
            found = await uow.uploads.take("u1", ALICE)
            await asyncio.sleep(0.05)
            await uow.commit()
            return found

    results = await asyncio.wait_for(asyncio.gather(claim(), claim(), return_exceptions=True), 30)
    assert [r for r in results if isinstance(r, Upload)] == [upload("u1")]


async def test_older_than_lists_stale_uploads_oldest_first_and_remove_drops_them(backend: Backend) -> None:
    await _add(backend, upload("new", seconds=100), upload("old", seconds=0), upload("mid", seconds=50))
    async with backend.uow() as uow:
        stale = await uow.uploads.older_than(at(60), 10)
        assert [u.id for u in stale] == ["old", "mid"]
        assert [u.id for u in await uow.uploads.older_than(at(60), 1)] == ["old"]
        await uow.uploads.remove(["old", "mid", "missing"])
        await uow.commit()
    async with backend.uow() as uow:
        assert await uow.uploads.older_than(at(1000), 10) == [upload("new", seconds=100)]


async def test_referenced_keys_and_with_file_see_uploads_and_live_messages(backend: Backend) -> None:
    created = await room(backend, ALICE, BOB)
    await _add(backend, upload("u1", key="files/u-held.pdf"))
    async with backend.uow() as uow:
        message = await uow.messages.add(draft(created.id, ALICE, BOB, file=photo("p.png")))
        await uow.commit()
    key = message.storage_key
    assert key is not None
    async with backend.uow() as uow:
        assert await uow.uploads.referenced_keys(["files/u-held.pdf", key, "x"]) == {"files/u-held.pdf"}
        assert await uow.messages.with_file(key) == message
        assert await uow.messages.with_file("files/u-held.pdf") is None
        await uow.messages.save(message.deleted(by=ALICE, at=at(5)))
        await uow.commit()
    async with backend.uow() as uow:
        assert await uow.messages.with_file(key) is None
