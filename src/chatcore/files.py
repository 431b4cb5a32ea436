"""Files: stored under the upload policy, claimed by messages, readable by the room's people, cleaned up."""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Collection
from datetime import timedelta

from chatcore.commands import SendMessage
from chatcore.context import Context
from chatcore.errors import InvalidError, NotFoundError
from chatcore.model import FILE_KINDS, MessageType, StoredFile, Upload, UserId
from chatcore.ports import UnitOfWork
from chatcore.uploads import HEAD_SIZE, decode_base64


class Files:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def store_inline(self, command: SendMessage) -> StoredFile:
        """A send's base64 file decoded, checked, then stored; nothing is stored unless every check passed."""
        assert command.file_data is not None
        assert command.file_name is not None
        policy = self._ctx.policy
        kind = command.message_type
        encoded_limit = (policy.limit(kind) + 2) // 3 * 4 + 4
        if len(command.file_data) > encoded_limit + 64:  # data: URL prefix
            raise InvalidError(f"{kind.value} files may be at most {policy.limit(kind) // 2**20} MB", field="file_data")
        data = decode_base64(command.file_data)
        policy.check_size(kind, len(data), declared=command.file_size)
        accepted = policy.accept(kind, command.file_name, data[:HEAD_SIZE], uuid=self._ctx.ids.uuid4())
        await self._ctx.storage.put(accepted.key, data, accepted.mime_type, file_name=accepted.file_name)
        return accepted.stored(len(data))

    @staticmethod
    async def claim_upload(uow: UnitOfWork, me: UserId, command: SendMessage) -> StoredFile:
        """The upload becomes the message's file in the same transaction: a failed send leaves it claimable."""
        assert command.upload_id is not None
        upload = await uow.uploads.take(command.upload_id, me)
        if upload is None:
            raise NotFoundError("upload not found (unknown, already used or expired)", field="upload_id")
        if upload.kind is not command.message_type:
            raise InvalidError(
                f"upload_id holds a {upload.kind.value} file, not a {command.message_type.value}", field="message_type"
            )
        return upload.file

    async def upload_file(
        self, me: UserId, file_name: str, chunks: AsyncIterable[bytes], *, kind: MessageType | None = None
    ) -> Upload:
        """Stream a file to storage under the upload policy; a message claims it later by its id."""
        ctx = self._ctx
        kind = kind or ctx.policy.kind_of(file_name)
        if kind not in FILE_KINDS:
            raise InvalidError("message_type must be image, file or voice", field="message_type")
        accepted, body = await ctx.policy.stream_checked(kind, file_name, chunks, uuid=ctx.ids.uuid4())
        size = await ctx.storage.put_stream(accepted.key, body, accepted.mime_type, file_name=accepted.file_name)
        stored = StoredFile(
            key=accepted.key, file_name=accepted.file_name, file_size=size, mime_type=accepted.mime_type
        )
        upload = Upload(id=ctx.ids.uuid4(), user_id=me, kind=kind, file=stored, created_at=ctx.clock.now())
        try:
            async with ctx.uow() as uow:
                await uow.uploads.add(upload)
                await uow.commit()
        except BaseException:
            await ctx.discard(stored)
            raise
        return upload

    async def expire_uploads(self, older_than: timedelta, *, batch: int = 500) -> int:
        """Forget uploads no message claimed in time, and their files; how many went."""
        ctx = self._ctx
        removed = 0
        cutoff = ctx.clock.now() - older_than
        for _ in range(10_000):  # bounded: at most 5,000,000 uploads per call
            async with ctx.uow() as uow:
                stale = await uow.uploads.older_than(cutoff, batch)
                await uow.uploads.remove([u.id for u in stale])
                await uow.commit()
            for upload in stale:
                await ctx.discard(upload.file, "of an expired upload")
            removed += len(stale)
            if len(stale) < batch:
                break
        return removed

    async def unreferenced(self, keys: Collection[str]) -> set[str]:
        """Those of these stored keys that neither a live message nor a pending upload holds."""
        async with self._ctx.uow() as uow:
            held = await uow.messages.referenced_keys(keys) | await uow.uploads.referenced_keys(keys)
        return set(keys) - held

    async def orphan_files(self, *, batch: int = 500, progress: Callable[[int, int], None] | None = None) -> list[str]:
        """Stored files nothing refers to (the seed's orphaned files), scanning storage in batches."""
        orphans: list[str] = []
        scanned = 0
        pending: list[str] = []
        async for key in self._ctx.storage.keys():
            pending.append(key)
            if len(pending) >= batch:
                orphans += sorted(await self.unreferenced(pending))
                scanned += len(pending)
                pending = []
                if progress:
                    progress(scanned, len(orphans))
        if pending:
            orphans += sorted(await self.unreferenced(pending))
            scanned += len(pending)
        if progress:
            progress(scanned, len(orphans))
        return orphans

    async def remove_orphans(self, keys: Collection[str]) -> list[str]:
        """Delete those still unreferenced now (a send may have claimed one since it was listed)."""
        gone = sorted(await self.unreferenced(keys))
        for key in gone:
            await self._ctx.storage.delete(key)
        return gone

    async def can_read_file(self, me: UserId, key: str) -> bool:
        """A participant of the room whose live message holds this file may read it (in a group, one who joined
        before the message)."""
        if "\x00" in key:  # no stored key holds one (names lose their control characters); PostgreSQL refuses it
            return False
        async with self._ctx.uow() as uow:
            message = await uow.messages.with_file(key)
            if message is None:
                return False
            try:
                membership = await uow.rooms.membership(me, message.room_id)
            except NotFoundError:
                return False
        return membership.history_from is None or message.id > membership.history_from

    async def file_name_of(self, key: str) -> str | None:
        """The name a stored file was sent with, for its download; None if no live message holds it."""
        if "\x00" in key:
            return None
        async with self._ctx.uow() as uow:
            message = await uow.messages.with_file(key)
        return message.file_name if message is not None else None
