"""Large incoming WebSocket messages under one byte budget per process, from their first byte until handled.

uvicorn buffers a message whole before the app sees it, and a 50 MB file sent as base64 is 68 MB of text,
copied a few times on the way: six such frames at once took a process from 200 MiB to 1 GiB. `chat serve`
therefore runs uvicorn's own WebSocket protocol with this ledger beside it: a socket receiving a large message
keeps reading while the bytes held by all of them stay within the budget; the others stop reading (TCP's flow
control makes their clients wait) until bytes are given back. Nothing is refused and nothing is lost. The count
ends when the chat has handled the message: the event carries `chat.release`.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from chat_http.settings import DEFAULT_DECODE_BUDGET

LARGE = 64 * 2**10  # bytes: smaller messages are never counted nor held back
RELEASE = "chat.release"  # key of a received event: call it once the message is handled


class FrameLedger:
    """Bytes of large messages being received (`partial`, in the order their sockets began) and given to the app
    (`handed`, until it releases them); who waits to read.

    A socket may read while the total fits the budget. Beyond it only the first socket still receiving reads, and
    only while the app holds nothing: bytes the app holds are given back when it is done, which wakes the others,
    so waiting for them cannot deadlock, while letting a receiver through then would let messages pile up
    undecoded. With nothing handed, the first receiver must go on, or paused sockets would wait on each other.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.partial: dict[BudgetedWebSocketProtocol, int] = {}
        self.handed: dict[BudgetedWebSocketProtocol, int] = {}
        self._waiting: dict[BudgetedWebSocketProtocol, None] = {}

    @property
    def total(self) -> int:
        return sum(self.partial.values()) + sum(self.handed.values())  # a handful of sockets at most

    def may_read(self, holder: BudgetedWebSocketProtocol) -> bool:
        return self.total <= self.limit or (not self.handed and next(iter(self.partial), None) is holder)

    def receiving(self, holder: BudgetedWebSocketProtocol, size: int) -> None:
        """`holder` has `size` bytes of an unfinished large message (0: none); a new one queues at the back."""
        self._set(self.partial, holder, size)

    def handing(self, holder: BudgetedWebSocketProtocol, size: int) -> None:
        """The app holds `size` bytes of `holder`'s whole messages (0: none)."""
        self._set(self.handed, holder, size)

    def wait(self, holder: BudgetedWebSocketProtocol) -> None:
        self._waiting[holder] = None

    def _set(self, counts: dict[BudgetedWebSocketProtocol, int], holder: BudgetedWebSocketProtocol, size: int) -> None:
        before = counts.get(holder, 0)
        if size > 0:
            counts[holder] = size
        else:
            counts.pop(holder, None)
            if holder not in self.partial and holder not in self.handed:
                self._waiting.pop(holder, None)
        if size < before:
            self._wake()

    def _wake(self) -> None:
        for holder in list(self._waiting):
            if self.may_read(holder):
                del self._waiting[holder]
                holder.resume_for_budget()


LEDGER = FrameLedger(DEFAULT_DECODE_BUDGET)


def set_budget(limit: int) -> None:
    """The process's budget in bytes (CHAT_WS_DECODE_BUDGET_MB), set at start-up."""
    LEDGER.limit = limit


class BudgetedWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, counting large messages in `LEDGER` and pausing as it says."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._handed = 0  # bytes of whole large messages given to the app and not yet released
        self._partial = 0  # bytes of the large message being received
        self._budget_paused = False

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        partial = len(self.conn.reader.buffer)
        if self.frames:
            partial += sum(len(frame) for frame in self.frames)
        if partial <= LARGE and not self._partial:
            return  # the path of every small message: one length read
        self._partial = partial if partial > LARGE else 0
        LEDGER.receiving(self, self._partial)
        if self._partial and not LEDGER.may_read(self) and not self._budget_paused:
            self._budget_paused = True
            self.transport.pause_reading()
            self.stop_keepalive()  # its pongs are not read while it waits: uvicorn would close it with 1011
            LEDGER.wait(self)

    def send_receive_event_to_app(self) -> None:
        size = sum(len(frame) for frame in self.frames)
        if size <= LARGE or self.close_sent:
            super().send_receive_event_to_app()
            return
        queued = self.queue.qsize()
        super().send_receive_event_to_app()
        if self.queue.qsize() > queued:  # given to the app (not refused as bad UTF-8): counted until released
            self._queue_last()[RELEASE] = functools.partial(self._release, size)
            self._handed += size
            LEDGER.handing(self, self._handed)
        self._partial = 0  # data_received measures what is left of the next message
        LEDGER.receiving(self, 0)

    def _queue_last(self) -> dict[str, Any]:
        return self.queue._queue[-1]  # type: ignore[attr-defined, no-any-return]  # asyncio.Queue keeps a deque

    def _release(self, size: int) -> None:
        self._handed = max(0, self._handed - size)
        LEDGER.handing(self, self._handed)

    def resume_for_budget(self) -> None:
        self._budget_paused = False
        if not self.transport.is_closing():
            self.start_keepalive()
            if not self.read_paused:
                self.transport.resume_reading()

    async def receive(self) -> Any:
        message = await super().receive()
        if self._budget_paused:  # uvicorn resumes reading once the app took its message: not ours to resume
            self.transport.pause_reading()
        return message

    def connection_lost(self, exc: Exception | None) -> None:
        self._partial = 0  # what the app was given stays counted until it is released or the app has ended
        LEDGER.receiving(self, 0)
        super().connection_lost(exc)

    def on_task_complete(self, task: asyncio.Task[None]) -> None:
        """The ASGI app ended: no release can come any more."""
        super().on_task_complete(task)
        self._handed = 0
        LEDGER.handing(self, 0)
