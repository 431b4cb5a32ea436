"""Group commit: sends that arrive while a transaction runs share the next one.

Each caller still gets its own result only after the transaction holding its message committed, so an
acknowledgement always means stored. Under no load a batch is one message and nothing waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from chatcore.model import Message, MessageDraft
from chatcore.ports import UnitOfWorkFactory

In = TypeVar("In")
Out = TypeVar("Out")


class GroupCommit(Generic[In, Out]):
    def __init__(
        self, run: Callable[[Sequence[In]], Awaitable[Sequence[Out | BaseException]]], *, max_batch: int = 128
    ) -> None:
        self._run = run
        self._max_batch = max_batch
        self._pending: list[tuple[In, asyncio.Future[Out]]] = []
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, item: In) -> Out:
        future: asyncio.Future[Out] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._worker is None:
            self._worker = asyncio.create_task(self._drain(), name="group-commit")
        return await future

    async def _drain(self) -> None:
        """Runs while there is work; a new one starts with the next submit after it ends."""
        batch: list[tuple[In, asyncio.Future[Out]]] = []
        try:
            while self._pending:
                batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
                try:
                    outcomes = await self._run([item for item, _ in batch])
                except Exception as exc:  # the whole batch failed alike
                    outcomes = [exc] * len(batch)
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():  # its caller was cancelled meanwhile
                        continue
                    if isinstance(outcome, BaseException):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
                batch = []
        finally:
            self._worker = None
            leftovers, self._pending = batch + self._pending, []
            for _, future in leftovers:  # cancelled mid-batch: nobody may wait forever
                future.cancel()


class UnitOfWorkWriter:
    """The MessageWriter over any unit of work: the in-memory fakes use it, SQL has a leaner one of its own."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def add_batch(self, drafts: Sequence[MessageDraft]) -> list[Message]:
        async with self._uow() as uow:
            for room_id in sorted({d.room_id for d in drafts}):
                await uow.rooms.touch(room_id, max(d.created_at for d in drafts if d.room_id == room_id))
            for room_id, sender in sorted({(d.room_id, d.sender_id) for d in drafts if d.receiver_id is None}):
                await uow.rooms.membership(sender, room_id)  # NotFoundError: no longer in the group
            messages = [await uow.messages.add(d) for d in drafts]
            await uow.commit()
        return messages
