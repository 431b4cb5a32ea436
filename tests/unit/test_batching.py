"""Group commit: concurrent sends share transactions, each is acknowledged only once committed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from chatcore import ConflictError, RoomId, SendMessage
from chatcore.batching import GroupCommit
from tests.unit.helpers import ALICE, BOB, CAROL, Chat


async def test_sends_that_arrive_together_share_one_commit(chat: Chat, room: RoomId) -> None:
    other_room = await chat.room(ALICE, CAROL)
    before = chat.db.commits

    views = await asyncio.gather(*(chat.say(ALICE, room if n % 2 else other_room, f"m{n}") for n in range(10)))

    assert chat.db.commits - before < 10
    assert len({v.id for v in views}) == 10
    assert sorted(v.id for v in views if v.room_id == room) == [v.id for v in views if v.room_id == room]
    assert chat.message_count == 10


async def test_one_failing_send_in_a_batch_fails_alone(chat: Chat, room: RoomId) -> None:
    await chat.say(ALICE, room, "first", client_msg_id="dup")
    alice_carol, bob_carol = await chat.room(ALICE, CAROL), await chat.room(BOB, CAROL)
    before = chat.db.commits

    results = await asyncio.gather(
        chat.say(BOB, room, "fine"),
        chat.service.send_message(ALICE, SendMessage(room_id=alice_carol, content="x", client_msg_id="dup")),
        chat.say(CAROL, bob_carol, "also fine"),
        return_exceptions=True,
    )

    assert [type(r).__name__ for r in results] == ["MessageView", "ConflictError", "MessageView"]
    assert chat.message_count == 3
    assert chat.db.commits - before == 2  # the batch failed, then each good send went alone


async def test_a_retry_in_another_room_conflicts(chat: Chat, room: RoomId) -> None:
    other_room = await chat.room(ALICE, CAROL)
    await chat.say(ALICE, room, "first", client_msg_id="dup")
    with pytest.raises(ConflictError):
        await chat.say(ALICE, other_room, "again", client_msg_id="dup")


async def test_a_batch_that_fails_as_a_whole_fails_every_caller() -> None:
    async def broken(items: Sequence[int]) -> list[int | BaseException]:
        raise RuntimeError("database gone")

    batcher: GroupCommit[int, int] = GroupCommit(broken)
    results = await asyncio.gather(*(batcher.submit(n) for n in range(3)), return_exceptions=True)
    assert [str(r) for r in results] == ["database gone"] * 3


async def test_batches_are_bounded_and_keep_order() -> None:
    seen: list[list[int]] = []

    async def run(items: Sequence[int]) -> list[int | BaseException]:
        seen.append(list(items))
        await asyncio.sleep(0)
        return [n * 10 for n in items]

    batcher: GroupCommit[int, int] = GroupCommit(run, max_batch=4)
    assert await asyncio.gather(*(batcher.submit(n) for n in range(10))) == [n * 10 for n in range(10)]
    assert [n for batch in seen for n in batch] == list(range(10))
    assert max(len(batch) for batch in seen) <= 4


async def test_a_cancelled_worker_cancels_its_waiters() -> None:
    started = asyncio.Event()

    async def stuck(items: Sequence[int]) -> list[int | BaseException]:
        started.set()
        await asyncio.Event().wait()
        return []

    batcher: GroupCommit[int, int] = GroupCommit(stuck)
    waiter = asyncio.create_task(batcher.submit(1))
    await started.wait()
    assert batcher._worker is not None
    batcher._worker.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(waiter, 5)
