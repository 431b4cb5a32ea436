"""WebSocket load: sequential sends, fixed offered rates, concurrent pairs and idle connections.

Latency is taken on this one client process with `time.perf_counter()`: a frame's send stamp (or, at a fixed
rate, its scheduled send time) against the moment the reader task of the receiving socket gets the
`new_message` that carries the same `client_msg_id`. Every loop is bounded in count and in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import Sequence
from typing import Any

from bench.servers import Meter, Target
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

WAIT = 30.0  # seconds a single delivery may take before it counts as lost
OPEN_TIMEOUT = 30.0
PING = json.dumps({"type": "ping", "data": {}})
TEXT = "Bench message {i}: about the length of an ordinary chat line, give or take."


def percentiles(seconds: Sequence[float]) -> dict[str, float | int | None]:
    """Nearest-rank percentiles in milliseconds."""
    values = sorted(seconds)
    if not values:
        return {"n": 0, "p50_ms": None, "p90_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None, "mean_ms": None}

    def rank(q: float) -> float:
        return round(1000 * values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))], 2)

    return {
        "n": len(values),
        "p50_ms": rank(0.50),
        "p90_ms": rank(0.90),
        "p95_ms": rank(0.95),
        "p99_ms": rank(0.99),
        "max_ms": round(1000 * values[-1], 2),
        "mean_ms": round(1000 * sum(values) / len(values), 2),
    }


def send_frame(client_msg_id: str, i: int, *, room_id: int | None = None) -> str:
    """Without `room_id` the message goes to the room the socket joined in its URL."""
    data: dict[str, Any] = {"content": TEXT.format(i=i), "client_msg_id": client_msg_id}
    if room_id is not None:
        data["room_id"] = room_id
    return json.dumps({"type": "send_message", "data": data})


async def open_socket(url: str) -> ClientConnection:
    # Default extensions, as a browser's: permessage-deflate is offered and uvicorn accepts it.
    return await connect(url, max_size=None, open_timeout=OPEN_TIMEOUT, ping_interval=None, close_timeout=2)


class Peer:
    """One client socket and its reader task: `new_message` arrivals by client_msg_id, `error` codes counted."""

    def __init__(self, ws: ClientConnection, *, record: bool = False) -> None:
        self.ws = ws
        self.record = record  # keep every arrival time (fixed-rate receiver)
        self.arrivals: dict[str, float] = {}
        self.waiters: dict[str, asyncio.Future[float]] = {}
        self.errors: dict[str, int] = {}
        self.frames = 0
        self._arrived = asyncio.Event()
        self.ready = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                now = time.perf_counter()
                self.frames += 1
                event = json.loads(raw)
                kind = event.get("type")
                if kind == "new_message":
                    client_msg_id = event["data"].get("client_msg_id")
                    waiter = self.waiters.pop(client_msg_id, None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(now)
                    elif self.record:
                        self.arrivals[client_msg_id] = now
                        self._arrived.set()
                elif kind == "pong":
                    self.ready.set()
                elif kind == "error":
                    code = str(event["data"].get("code"))
                    self.errors[code] = self.errors.get(code, 0) + 1

    async def wait_arrivals(self, count: int, within: float) -> bool:
        """Until `count` messages have arrived (recording peers), or `within` seconds; True if they did."""
        deadline = time.perf_counter() + within
        while len(self.arrivals) < count:
            left = deadline - time.perf_counter()
            if left <= 0:
                return False
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), left)
        return True

    def expect(self, client_msg_id: str) -> asyncio.Future[float]:
        waiter: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiters[client_msg_id] = waiter
        return waiter

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 5)
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task


async def open_peers(urls: Sequence[str], *, chat: bool = True, at_once: int = 50) -> list[Peer]:
    """Open sockets, `at_once` at a time. Chat accepts the upgrade first and then checks the token and
    registers the socket, so a chat socket is ready only once a `ping` has come back as `pong`."""
    gate = asyncio.Semaphore(at_once)

    async def one(url: str) -> Peer:
        async with gate:
            peer = Peer(await open_socket(url))
            if chat:
                await peer.ws.send(PING)
                await asyncio.wait_for(peer.ready.wait(), OPEN_TIMEOUT)
            return peer

    return list(await asyncio.gather(*(one(url) for url in urls)))


async def close_peers(peers: Sequence[Peer]) -> None:
    await asyncio.gather(*(peer.close() for peer in peers))


def errors_of(peers: Sequence[Peer]) -> dict[str, int]:
    total: dict[str, int] = {}
    for peer in peers:
        for code, count in peer.errors.items():
            total[code] = total.get(code, 0) + count
    return total


async def sequential(target: Target, url: str, *, count: int, limit: float, tag: str) -> dict[str, Any]:
    """One sender; each message awaited until its own echo (`new_message` to the sender's socket) is back."""
    peer = (await open_peers([url], chat=target.name == "chat"))[0]
    try:
        for i in range(min(20, count)):  # warm-up: first queries, caches
            waiter = peer.expect(f"{tag}-w{i}")
            await peer.ws.send(send_frame(f"{tag}-w{i}", i))
            await asyncio.wait_for(waiter, WAIT)
        meter = Meter(target)
        rtts: list[float] = []
        lost = 0
        started = time.perf_counter()
        deadline = started + limit
        for i in range(count):
            if time.perf_counter() > deadline:
                break
            cid = f"{tag}-{i}"
            waiter = peer.expect(cid)
            sent = time.perf_counter()
            await peer.ws.send(send_frame(cid, i))
            try:
                rtts.append(await asyncio.wait_for(waiter, WAIT) - sent)
            except TimeoutError:
                peer.waiters.pop(cid, None)
                lost += 1
        elapsed = time.perf_counter() - started
        usage = meter.read()
        extensions = [type(e).__name__ for e in peer.ws.protocol.extensions]
    finally:
        await close_peers([peer])
    return {
        "messages": len(rtts),
        "lost": lost,
        "seconds": round(elapsed, 2),
        "msg_per_s": round(len(rtts) / elapsed, 1),
        "rtt": percentiles(rtts),
        "errors": peer.errors,
        "ws_extensions": extensions,
        **usage,
    }


async def fixed_rate(
    target: Target,
    sender_url: str,
    receiver_url: str,
    *,
    rate: float,
    seconds: float,
    drain: float,
    in_flight: int,
    tag: str,
) -> dict[str, Any]:
    """Open loop: message i is due at t0 + i/rate, and its latency counts from that due time, so a server
    (or client) that falls behind shows up as latency rather than as a lower rate quietly taken (as wrk2
    does). At most `in_flight` messages may be sent and not yet delivered: past that the sender holds
    back (still charged from the due time), so a saturated server's backlog stays bounded; whatever is
    not sent when the `seconds` are up is counted as not sent."""
    sender, receiver = await open_peers([sender_url, receiver_url], chat=target.name == "chat")
    receiver.record = True
    try:
        count = max(1, int(rate * seconds))
        due: dict[str, float] = {}
        lags: list[float] = []
        meter = Meter(target)
        t0 = time.perf_counter() + 0.05
        stop_at = t0 + seconds
        for i in range(count):
            at = t0 + i / rate
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if i - len(receiver.arrivals) >= in_flight:
                await receiver.wait_arrivals(i - in_flight + 1, stop_at - time.perf_counter())
            if time.perf_counter() >= stop_at:
                break
            cid = f"{tag}-{i}"
            due[cid] = at
            lags.append(time.perf_counter() - at)
            await sender.ws.send(send_frame(cid, i))
        sent_in = time.perf_counter() - t0
        await receiver.wait_arrivals(len(due), drain)
        usage = meter.read()
        arrived = {cid: receiver.arrivals[cid] for cid in due if cid in receiver.arrivals}
        latencies = [arrived[cid] - due[cid] for cid in arrived]
        span = (max(arrived.values()) - t0) if arrived else 0.0
    finally:
        await close_peers([sender, receiver])
    achieved = round(len(latencies) / span, 1) if span else 0.0
    return {
        "offered_msg_per_s": rate,
        "seconds": round(seconds, 1),
        "due": count,
        "sent": len(due),
        "not_sent": count - len(due),
        "delivered": len(latencies),
        "lost": len(due) - len(latencies),
        "in_flight_cap": in_flight,
        "send_rate": round(len(due) / sent_in, 1),
        "achieved_msg_per_s": achieved,
        "saturated": achieved < 0.95 * rate,
        "latency": percentiles(latencies),
        "send_lag_p99_ms": percentiles(lags)["p99_ms"],
        "errors": errors_of([sender, receiver]),
        **usage,
    }


async def concurrent(
    target: Target, pairs: Sequence[tuple[str, str]], *, seconds: float, window: int, tag: str
) -> dict[str, Any]:
    """Every pair at once, each sender keeping `window` messages in flight: send, wait until the receiver
    has it, send the next. Delivered msg/s counts messages at receivers (each also goes back to its sender)."""
    peers = await open_peers([url for pair in pairs for url in pair], chat=target.name == "chat")
    latencies: list[float] = []
    lost = 0
    try:
        meter = Meter(target)
        started = time.perf_counter()
        stop_at = started + seconds
        cap = int(seconds * 20_000)  # bound on messages per worker whatever the speed

        async def worker(k: int, w: int, sender: Peer, receiver: Peer) -> None:
            nonlocal lost
            for i in range(cap):
                if time.perf_counter() >= stop_at:
                    return
                cid = f"{tag}-{k}-{w}-{i}"
                waiter = receiver.expect(cid)
                sent = time.perf_counter()
                await sender.ws.send(send_frame(cid, i))
                try:
                    latencies.append(await asyncio.wait_for(waiter, WAIT) - sent)
                except TimeoutError:
                    receiver.waiters.pop(cid, None)
                    lost += 1

        await asyncio.gather(
            *(worker(k, w, peers[2 * k], peers[2 * k + 1]) for k in range(len(pairs)) for w in range(window))
        )
        elapsed = time.perf_counter() - started
        usage = meter.read()
    finally:
        await close_peers(peers)
    return {
        "pairs": len(pairs),
        "window": window,
        "seconds": round(elapsed, 2),
        "delivered": len(latencies),
        "lost": lost,
        "delivered_msg_per_s": round(len(latencies) / elapsed, 1),
        "frames_out_per_s": round(2 * len(latencies) / elapsed, 1),
        "latency": percentiles(latencies),
        "errors": errors_of(peers),
        **usage,
    }


def _failure(exc: Exception) -> str:
    """`ConnectionClosed 1011 keepalive ping timeout`, `TimeoutError` ...: enough to tell causes apart."""
    if isinstance(exc, ConnectionClosed):
        close = exc.rcvd or exc.sent
        return (
            f"{type(exc).__name__} {close.code} {close.reason}".strip()
            if close
            else f"{type(exc).__name__} (no close frame)"
        )
    return type(exc).__name__


async def idle(target: Target, urls: Sequence[str], *, hold: float, at_once: int = 100) -> dict[str, Any]:
    """Open authenticated sockets that then say nothing; memory per socket from the server's RSS growth.

    The server accepts the upgrade before it checks the token and registers the socket, so a socket counts
    as connected only once a `ping` has been answered with `pong`: by then all of that work is done.
    Afterwards the server is killed rather than made to process thousands of disconnects."""
    await asyncio.sleep(0.5)
    rss_before = target.rss_kb()
    gate = asyncio.Semaphore(at_once)
    sockets: list[ClientConnection] = []
    failures: dict[str, int] = {}

    async def one(url: str) -> None:
        async with gate:
            try:
                ws = await open_socket(url)
                sockets.append(ws)
                await ws.send(PING)
                async with asyncio.timeout(OPEN_TIMEOUT):
                    while json.loads(await ws.recv()).get("type") != "pong":
                        pass
            except Exception as exc:
                failures[_failure(exc)] = failures.get(_failure(exc), 0) + 1

    try:
        meter = Meter(target)
        started = time.perf_counter()
        await asyncio.gather(*(one(url) for url in urls))
        connect_seconds = time.perf_counter() - started
        connecting = meter.read()
        await asyncio.sleep(1.0)
        meter.reset()
        await asyncio.sleep(hold)
        holding = meter.read()
        rss_after = target.rss_kb()
        still_open = sum(1 for ws in sockets if ws.close_code is None)
    finally:
        target.proc.kill()  # the figures are taken; 10,000 disconnects would only measure presence writes
        target.proc.wait(timeout=30)
        for ws in sockets:
            ws.transport.abort()
    opened = len(sockets) - sum(failures.values())
    return {
        "connections": opened,
        "failed": failures,
        "open_after_hold": still_open,
        "connect_seconds": round(connect_seconds, 2),
        "connect_per_s": round(opened / connect_seconds, 1) if connect_seconds else 0.0,
        "connect_server_cpu_pct": connecting["server_cpu_pct"],
        "connect_client_cpu_pct": connecting["client_cpu_pct"],
        "connect_others_cpu_pct": connecting["others_cpu_pct"],
        "hold_seconds": hold,
        "hold_server_cpu_pct": holding["server_cpu_pct"],
        "rss_before_mb": round(rss_before / 1024, 1),
        "rss_after_mb": round(rss_after / 1024, 1),
        "rss_per_connection_kb": round((rss_after - rss_before) / opened, 1) if opened else None,
        **holding,
    }
