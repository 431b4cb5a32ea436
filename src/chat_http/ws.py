"""The WebSocket endpoint: accept, authenticate, then one reader loop and one writer task per socket."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import time
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import urlsplit

from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

from chat_http import metrics
from chat_http.errors import (
    CLOSE_AUTH,
    CLOSE_AUTH_OTHER,
    CLOSE_NOT_IN_ROOM,
    CLOSE_POLICY,
    CLOSE_TRY_AGAIN,
    ws_error,
)
from chat_http.framing import LARGE, RELEASE
from chat_http.hub import Connection, TooManyConnections
from chat_http.runtime import Rt, Runtime
from chat_http.tokens import AuthError
from chat_http.wire import decode_client_event
from chatcore import (
    AddReaction,
    ChatError,
    InvalidError,
    JoinRoom,
    LeaveRoom,
    MarkRead,
    NotFoundError,
    Ping,
    RemoveReaction,
    RoomId,
    SendMessage,
    SetTyping,
    TooManyConnectionsError,
    UnavailableError,
)
from chatcore.codec import dumps
from chatcore.commands import ClientCommand
from chatcore.model import MAX_ID
from chatcore.ratelimit import TokenBucket

log = logging.getLogger("chat_http.ws")

CLOSE_TIMEOUT = 2.0
_CLIENT_MSG_ID = re.compile(r'"client_msg_id"\s*:\s*"([^"\\]{1,64})"')


def peek_client_msg_id(text: str) -> str | None:
    """The client_msg_id of a large frame without decoding it: it sits before or after the file's base64."""
    for part in (text[:4096], text[-4096:]):
        found = _CLIENT_MSG_ID.search(part)
        if found:
            return found.group(1)
    return None


def origin_allowed(socket: WebSocket[Any, Any, Any], allowed: tuple[str, ...]) -> bool:
    """Browsers send Origin; it must be listed, or (by default) be the host the socket was opened on."""
    origin = socket.headers.get("origin")
    if origin is None:
        return True  # not a browser: nothing to forge
    origin = origin.rstrip("/")
    if "*" in allowed or origin in allowed:
        return True
    return not allowed and urlsplit(origin).netloc == socket.headers.get("host", "")


async def _close(socket: WebSocket[Any, Any, Any], code: int, reason: str = "") -> None:
    try:
        await asyncio.wait_for(socket.close(code=code, reason=reason), CLOSE_TIMEOUT)
    except TimeoutError:
        log.warning("close %s (%s) could not be sent in %s s; dropping the connection", code, reason, CLOSE_TIMEOUT)
    except Exception:  # the peer is already gone
        log.debug("close %s failed", code, exc_info=True)


@websocket("/api/v1/chat/ws", opt={"exclude_from_auth": True})
async def chat_socket(socket: WebSocket[Any, Any, Any], rt: Rt) -> None:
    if not origin_allowed(socket, rt.settings.allowed_origins):
        await socket.close(code=CLOSE_POLICY, reason="origin not allowed")  # before accept: HTTP 403
        return
    await socket.accept()
    try:
        identity = await rt.verifier.authenticate(socket.query_params.get("token"))
        await rt.chat.user(identity.user_id)
    except AuthError as exc:
        metrics.CONNECTS.labels("refused").inc()
        await _close(socket, exc.close_code, exc.detail)
        return
    except NotFoundError:
        await _close(socket, CLOSE_AUTH, "user not found")
        return
    except UnavailableError:  # e.g. every pooled connection busy past the pool timeout
        metrics.CONNECTS.labels("unavailable").inc()
        await _close(socket, CLOSE_TRY_AGAIN, "the service is busy; try again")
        return
    except Exception:
        log.exception("authentication failed")
        await _close(socket, CLOSE_AUTH_OTHER, "authentication error")
        return
    conn = Connection(identity.user_id, queue_size=rt.settings.ws_queue_size)
    raw_room = socket.query_params.get("room_id")
    try:
        await rt.hub.register(conn)
    except TooManyConnections as exc:
        metrics.CONNECTS.labels("too_many").inc()
        await _close(socket, CLOSE_POLICY, str(exc))
        return
    metrics.CONNECTS.labels("accepted").inc()
    metrics.CONNECTIONS.inc()
    try:
        if raw_room:
            if not raw_room.isdigit() or int(raw_room) > MAX_ID:
                await _close(socket, CLOSE_NOT_IN_ROOM, "not a room of yours")
                return
            try:
                await rt.chat.join_room(conn.user_id, RoomId(int(raw_room)))
            except NotFoundError:
                await _close(socket, CLOSE_NOT_IN_ROOM, "not a room of yours")
                return
            except UnavailableError:
                metrics.CONNECTS.labels("unavailable").inc()
                await _close(socket, CLOSE_TRY_AGAIN, "the service is busy; try again")
                return
            await rt.hub.join(conn, RoomId(int(raw_room)))
        try:
            await rt.hub.join_groups(conn, await rt.chat.group_ids(conn.user_id))
        except UnavailableError:
            metrics.CONNECTS.labels("unavailable").inc()
            await _close(socket, CLOSE_TRY_AGAIN, "the service is busy; try again")
            return
        try:
            await rt.chat.connect(conn.user_id, conn.id)
        except TooManyConnectionsError as exc:  # counted on every process (this one checked its own above)
            metrics.CONNECTS.labels("too_many").inc()
            await _close(socket, CLOSE_POLICY, exc.detail)
            return
        except UnavailableError:  # not worth refusing the socket for; the failing adapter warned once per outage
            log.debug("could not record user %s as online: a backing service is unavailable", conn.user_id)
        except Exception:
            log.exception("could not record user %s as online", conn.user_id)
        try:
            await _serve(socket, conn, rt, identity.expires_at)
        finally:
            with contextlib.suppress(Exception):
                await rt.chat.disconnect(conn.user_id, conn.id)
    finally:
        metrics.CONNECTIONS.dec()
        await rt.hub.unregister(conn)


async def _serve(socket: WebSocket[Any, Any, Any], conn: Connection, rt: Runtime, expires_at: float) -> None:
    """Run reader, writer, heartbeat and token expiry until the first of them ends the socket."""
    tasks = {
        asyncio.create_task(_reader(socket, conn, rt), name="reader"),
        asyncio.create_task(_writer(socket, conn, rt), name="writer"),
        asyncio.create_task(_heartbeat(conn, rt), name="heartbeat"),
        asyncio.create_task(_expiry(socket, expires_at), name="expiry"),
    }
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if not task.cancelled() and (exc := task.exception()) is not None:
                log.error("socket task %s failed", task.get_name(), exc_info=exc)
    finally:
        for task in tasks:
            task.cancel()
        # Bounded: a task that swallows its cancellation must not hold the handler, nor a graceful shutdown.
        finished, stuck = await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT)
        for task in finished:
            if not task.cancelled():
                task.exception()  # retrieved: the first failure was logged above
        for task in stuck:
            log.warning("socket task %s did not stop within %s s of its cancellation", task.get_name(), CLOSE_TIMEOUT)


async def _expiry(socket: WebSocket[Any, Any, Any], expires_at: float) -> None:
    if math.isinf(expires_at):  # a host's token without an expiry: the socket lives until closed
        await asyncio.Event().wait()
    await asyncio.sleep(max(0.0, expires_at - time.time()))
    await _close(socket, CLOSE_AUTH, "token expired")


async def _heartbeat(conn: Connection, rt: Runtime) -> None:
    """Three heartbeats per presence TTL: a live socket never expires, a crashed process's do."""
    while True:
        await asyncio.sleep(rt.settings.presence_ttl.total_seconds() / 3)
        try:
            await rt.chat.heartbeat(conn.user_id, conn.id)
        except UnavailableError:  # its adapter warned once for the outage
            log.debug("presence heartbeat of user %s failed: the live state is unavailable", conn.user_id)
        except Exception:
            log.warning("presence heartbeat failed", exc_info=True)


async def _writer(socket: WebSocket[Any, Any, Any], conn: Connection, rt: Runtime) -> None:
    """Drain the outbox; a reader too slow to keep up is dropped with 1008 instead of growing memory.

    A send that takes longer than CHAT_WS_SEND_TIMEOUT is cancelled by a watchdog timer. It is not armed per
    send (call_at + cancel per frame showed in the profile): each send notes when it
    began; the timer, armed when none is pending, fires at the first send's deadline and re-arms itself for
    the current send's, until no send is under way.
    """
    loop = asyncio.get_running_loop()
    writer = asyncio.current_task()
    assert writer is not None
    timeout = rt.settings.ws_send_timeout
    stalled = False
    sending_since: float | None = None
    watchdog: asyncio.TimerHandle | None = None

    def check() -> None:
        nonlocal stalled, watchdog
        watchdog = None
        if sending_since is None:
            return  # idle: armed again by the next send
        due = sending_since + timeout
        if loop.time() < due:
            watchdog = loop.call_at(due, check)
        else:
            stalled = True
            writer.cancel()

    try:
        while True:
            payload = await conn.next()
            if payload is None:
                assert conn.ending is not None
                if conn.overflowed:
                    log.warning("dropping a slow reader (user %s): outgoing queue full", conn.user_id)
                    metrics.DROPPED.inc()
                await _close(socket, *conn.ending)
                return
            sending_since = loop.time()
            if watchdog is None:
                watchdog = loop.call_at(sending_since + timeout, check)
            try:
                await socket.send_text(payload.decode())
            except asyncio.CancelledError:
                if not stalled:
                    raise
                writer.uncancel()
                log.warning("dropping a slow reader (user %s): send timed out", conn.user_id)
                metrics.DROPPED.inc()
                await _close(socket, CLOSE_POLICY, "too slow: send timed out")
                return
            except (WebSocketDisconnect, OSError, RuntimeError):
                return  # the peer is gone
            sending_since = None
    finally:
        if watchdog is not None:
            watchdog.cancel()


async def _reader(socket: WebSocket[Any, Any, Any], conn: Connection, rt: Runtime) -> None:
    bucket = TokenBucket(rt.clock, rate=rt.settings.ws_rate, burst=rt.settings.ws_burst)
    while (frame := await _next_frame(socket, conn)) is not None:
        text, release = frame
        if release is not None:  # `chat serve` counted this large message from its first byte (chat_http.framing)
            try:
                await _handle(text, conn, rt, bucket)
            finally:
                release()
        elif len(text) <= LARGE:
            await _handle(text, conn, rt, bucket)
        elif rt.decoding.take(size := len(text)):  # another server, which buffered it whole: count it now
            try:
                await _handle(text, conn, rt, bucket)
            finally:
                rt.decoding.give(size)
        else:
            metrics.ERRORS.labels("busy").inc()
            busy = "the server is busy with other large messages; send this one again in a moment"
            conn.offer(dumps(ws_error("busy", busy, peek_client_msg_id(text))))
        frame = None  # nor the text kept while this socket waits for its next frame: it may be a 68 MB file
        del text, release


async def _next_frame(
    socket: WebSocket[Any, Any, Any], conn: Connection
) -> tuple[str, Callable[[], None] | None] | None:
    """The next text frame (binary frames are read as UTF-8 text) and its `chat.release`; None once the peer is
    gone."""
    while True:
        message = await socket.receive()
        if message["type"] == "websocket.disconnect":
            return None
        release = cast("Callable[[], None] | None", message.get(RELEASE))
        text = message.get("text")
        if isinstance(text, str):
            return text, release
        data = message.get("bytes")
        try:
            return (data.decode("utf-8") if isinstance(data, bytes) else ""), release
        except UnicodeDecodeError:
            if release is not None:
                release()
            conn.offer(dumps(ws_error("invalid", "frames must be UTF-8 JSON text")))


async def _handle(raw: str, conn: Connection, rt: Runtime, bucket: TokenBucket) -> None:
    """One client event; every failure becomes an `error` event and the socket stays open."""
    command: ClientCommand | None = None
    try:
        bucket.take("messages")
        kind, command = decode_client_event(raw)
        started = time.perf_counter()
        try:
            await _dispatch(command, conn, rt)
        finally:
            metrics.handled(kind, time.perf_counter() - started)
    except ChatError as exc:
        metrics.ERRORS.labels(exc.code).inc()
        conn.offer(dumps(ws_error(exc.code, exc.detail, _client_msg_id(command))))
    except Exception:
        log.exception("socket event failed")
        metrics.ERRORS.labels("internal").inc()
        message = "the event could not be handled; try again"
        conn.offer(dumps(ws_error("internal", message, _client_msg_id(command))))


def _client_msg_id(command: ClientCommand | None) -> str | None:
    return command.client_msg_id if isinstance(command, SendMessage) else None


async def _dispatch(command: ClientCommand, conn: Connection, rt: Runtime) -> None:
    if isinstance(command, SendMessage):
        await _send(command, conn, rt)
    elif isinstance(command, SetTyping):
        room = command.room_id if command.room_id is not None else _joined(conn)
        await rt.chat.set_typing(conn.user_id, room, command.is_typing)
    elif isinstance(command, JoinRoom):
        await rt.chat.join_room(conn.user_id, command.room_id)
        await rt.hub.join(conn, command.room_id)
    elif isinstance(command, LeaveRoom):
        await rt.hub.leave(conn)
    elif isinstance(command, MarkRead):
        room = command.room_id if command.room_id is not None else _joined(conn)
        await rt.chat.mark_read(conn.user_id, room)
    elif isinstance(command, AddReaction | RemoveReaction):
        react = rt.chat.add_reaction if isinstance(command, AddReaction) else rt.chat.remove_reaction
        reacted = await react(conn.user_id, command.message_id, command.emoji)
        if not reacted.changed:  # nobody else is told again; the sender still hears it is so
            conn.offer(rt.chat.event_frame(reacted.event))
    elif isinstance(command, Ping):
        conn.offer(dumps({"type": "pong", "data": {}}))


def _joined(conn: Connection) -> RoomId:
    if conn.room_id is None:
        raise InvalidError("room_id is required: give it in the event, the URL or join_room first", field="room_id")
    return conn.room_id


async def _send(command: SendMessage, conn: Connection, rt: Runtime) -> None:
    view, created = await rt.chat.send_message(conn.user_id, command, joined=conn.room_id)
    if created:
        metrics.sent(view.message_type.value).inc()
    else:  # a retry: the original went out already; echo it to this socket alone
        conn.offer(rt.chat.new_message_frame(view))
