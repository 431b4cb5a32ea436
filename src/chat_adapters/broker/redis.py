"""Redis adapters: `RedisBroker` (pub/sub fan-out to every process) and `RedisLiveState` (presence, typing).

Layout, every name starting with `key_prefix` (default "chat:"):

    chat:<channel>        pub/sub channel (chat:user:7, chat:room:3); the payload is the encoded event as is
    chat:presence:<user>  sorted set: connection id -> expiry; PEXPIREAT its latest expiry
    chat:online           sorted set: user id -> expiry of that user's longest-lived connection
    chat:typing:<room>    sorted set: user id -> expiry of the typing flag; PEXPIREAT its latest expiry
    chat:rate:<key>       a rate limit's bucket (chat:rate:search:7): when it is full again, ms; expires then

Expiries are milliseconds of Redis server time (TIME inside the scripts), never a process's own clock, so
processes on machines whose clocks disagree still agree on who is online. Each change is one Lua script,
hence atomic: two processes connecting or disconnecting one user at once get one True answer between them.
`online(users)` costs one ZSCORE per user asked; only `online_users()` reads (and prunes) the whole set.
Redis >= 5 (TIME before writes in a script needs effect replication, its default since 5.0); Redis
Cluster is not supported (a script touches several keys).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from types import TracebackType
from typing import Any, Self

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from chatcore.errors import RateLimitedError, TooManyConnectionsError, UnavailableError
from chatcore.model import RoomId, UserId
from chatcore.ports import Deliver, RateLimiter
from chatcore.presence import PRESENCE_TTL, TYPING_TTL

__all__ = ["KEY_PREFIX", "RedisBroker", "RedisLiveState", "RedisRateLimiter", "open_redis", "redis_client"]

log = logging.getLogger("chat_adapters.broker")

KEY_PREFIX = "chat:"
OPERATION_TIMEOUT = 3.0  # seconds: a hard bound on any one call, whatever the socket does
# What an unreachable or restarting Redis raises (the builtin TimeoutError is an OSError).
_OUTAGE = (RedisConnectionError, RedisTimeoutError, OSError)


def redis_client(url: str) -> Redis:
    """A client and its pool for `redis://host:port/db`; nothing connects before the first command.

    One quick retry covers a pooled socket gone stale across a Redis restart; short socket timeouts make
    an outage an error within about two seconds instead of a hang.
    """
    return Redis.from_url(
        url,
        socket_connect_timeout=1.0,
        socket_timeout=2.0,
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), 1),
    )


@asynccontextmanager
async def open_redis(
    url: str,
    *,
    key_prefix: str = KEY_PREFIX,
    presence_ttl: timedelta = PRESENCE_TTL,
    typing_ttl: timedelta = TYPING_TTL,
) -> AsyncIterator[tuple[RedisBroker, RedisLiveState]]:
    """The broker (reader started) and the live state for `CHAT_BROKER_URL`, on one pool, all closed on exit.

    Redis being down at startup is no error here: publishing fails until it answers, subscriptions resume.
    """
    client = redis_client(url)
    outage = Outage()
    try:
        async with RedisBroker(client, key_prefix=key_prefix, outage=outage) as broker:
            yield (
                broker,
                RedisLiveState(
                    client, key_prefix=key_prefix, presence_ttl=presence_ttl, typing_ttl=typing_ttl, outage=outage
                ),
            )
    finally:
        await client.aclose()


class Outage:
    """One warning when Redis stops answering and one line when it answers again, however many calls fail in
    between (a publish per message, a heartbeat per socket): an outage must not flood the log."""

    def __init__(self) -> None:
        self.since: float | None = None

    def failed(self, what: str, exc: BaseException) -> None:
        if self.since is None:
            self.since = time.monotonic()
            log.warning("%s cannot reach Redis (%s); failing fast until it answers again", what, exc)

    def answered(self) -> None:
        if self.since is not None:
            log.info("Redis answers again after %.1f s", time.monotonic() - self.since)
            self.since = None


@contextmanager
def _unavailable_on_outage(what: str, outage: Outage) -> Iterator[None]:
    try:
        yield
    except _OUTAGE as exc:
        outage.failed(what, exc)
        raise UnavailableError(f"{what} is unavailable, try again shortly") from exc  # no host:port to clients
    outage.answered()


class _Listener:
    """One subscribe() call; compared by identity, so one callable may be subscribed twice.

    `gapped`: payloads for it may have been lost since it was last told (its channel was not confirmed when
    subscribe() returned, or the PubSub connection was lost since); `on_gap` is called at the next confirmation.
    Before subscribe() returns nothing counts as lost: its caller has not started listening yet.
    """

    __slots__ = ("deliver", "gapped", "listening", "on_gap")

    def __init__(self, deliver: Deliver, on_gap: Callable[[], None] | None) -> None:
        self.deliver = deliver
        self.on_gap = on_gap
        self.listening = False
        self.gapped = False


class RedisBroker:
    """Publishes to Redis channels; one PubSub connection and one reader task per process fan out locally.

    Channels are reference-counted: the first local subscriber sends SUBSCRIBE, the last one UNSUBSCRIBE.
    `subscribe` returns once Redis confirmed the channel (bounded), so whatever is published after that
    arrives. Subscribing never fails on an outage: the reader reconnects with backoff and re-subscribes
    every channel that still has listeners; what was published meanwhile is lost, so once a channel is confirmed
    again its listeners' `on_gap` is called (their clients catch up with `?after_id=`). This holds too when
    redis-py reconnects the PubSub by itself: a second confirmation of a channel is such a gap. `publish`
    raises UnavailableError instead. Only the reader task opens and closes the
    PubSub connection; other tasks send (UN)SUBSCRIBE on it under a lock and flag it stale on failure.
    The client's pool is closed by `aclose()` only when `close_client` (as `from_url` sets it).
    """

    def __init__(
        self,
        client: Redis,
        *,
        key_prefix: str = KEY_PREFIX,
        backoff: tuple[float, float] = (0.1, 2.0),
        confirm_timeout: float = 2.0,
        poll_interval: float = 1.0,
        close_client: bool = False,
        outage: Outage | None = None,
    ) -> None:
        if client.connection_pool.connection_kwargs.get("decode_responses"):
            raise ValueError("RedisBroker needs a client with decode_responses=False: payloads are bytes")
        self._client = client
        self._close_client = close_client
        self._prefix = key_prefix.encode()
        self._backoff = backoff
        self._confirm_timeout = confirm_timeout
        self._poll_interval = poll_interval
        self._listeners: dict[bytes, list[_Listener]] = {}
        self._subscribed: set[bytes] = set()  # SUBSCRIBE sent on the current PubSub
        self._confirmed: set[bytes] = set()  # ... and acknowledged by Redis
        self._waiters: dict[bytes, asyncio.Future[None]] = {}
        self._pubsub: PubSub | None = None
        self._stale = False  # a command on the PubSub failed: the reader replaces it
        self._lock = asyncio.Lock()  # one command at a time on the PubSub connection
        self._down = False  # Redis is unreachable: subscribe() does not wait for a confirmation
        self._reader: asyncio.Task[None] | None = None
        self._outage = outage or Outage()

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """A broker with a pool of its own (see `redis_client`), closed with it."""
        return cls(redis_client(url), close_client=True, **options)

    async def start(self) -> None:
        """Start the reader task; it connects in the background, retrying until Redis answers."""
        if self._reader is None:
            self._reader = asyncio.create_task(self._read_forever(), name="redis-broker-reader")

    async def aclose(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            await asyncio.wait({reader})
        async with self._lock:
            await self._drop()
        self._listeners.clear()
        self._release_waiters()
        if self._close_client:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def publish(self, channels: Sequence[str], payload: bytes) -> None:
        unique = [self._key(channel) for channel in dict.fromkeys(channels)]
        if not unique:
            return
        with _unavailable_on_outage("the broker", self._outage):
            async with asyncio.timeout(OPERATION_TIMEOUT), self._client.pipeline(transaction=False) as pipe:
                for key in unique:
                    pipe.publish(key, payload)
                await pipe.execute()

    async def subscribe(
        self, channel: str, deliver: Deliver, *, on_gap: Callable[[], None] | None = None
    ) -> Callable[[], Awaitable[None]]:
        if self._reader is None:
            raise RuntimeError("RedisBroker.start() has not been called (or it was closed)")
        key = self._key(channel)
        listener = _Listener(deliver, on_gap)
        listeners = self._listeners.setdefault(key, [])
        listeners.append(listener)
        if len(listeners) == 1:
            await self._sync(key)
        await self._until_confirmed(key)
        listener.listening = True
        if key not in self._confirmed:  # Redis is down or slow: what is published until it confirms is lost
            listener.gapped = True

        async def unsubscribe() -> None:
            current = self._listeners.get(key, [])
            if listener not in current:
                return
            current.remove(listener)
            if not current:
                del self._listeners[key]
                self._release_waiters(key)
                await self._sync(key)

        return unsubscribe

    def _key(self, channel: str) -> bytes:
        return self._prefix + channel.encode()

    async def _sync(self, key: bytes) -> None:
        """Make the server's subscription to `key` match whether it has local listeners now."""
        async with self._lock:
            pubsub = self._pubsub
            wanted = key in self._listeners
            if pubsub is None or self._stale or wanted == (key in self._subscribed):
                return  # not connected: the reader subscribes to every wanted channel when it is
            try:
                async with asyncio.timeout(OPERATION_TIMEOUT):
                    if wanted:
                        await pubsub.subscribe(key)
                    else:
                        await pubsub.unsubscribe(key)
            except Exception as exc:
                self._log_loss(exc)
                self._stale = True  # the reader reconnects and re-subscribes
                self._mark_down()
                return
            if wanted:
                self._subscribed.add(key)
            else:
                self._subscribed.discard(key)
                self._confirmed.discard(key)  # a SUBSCRIBE sent after this must wait for its own confirmation

    async def _until_confirmed(self, key: bytes) -> None:
        if key in self._confirmed or self._down or key not in self._listeners:
            return
        waiter = self._waiters.get(key)
        if waiter is None:
            waiter = self._waiters[key] = asyncio.get_running_loop().create_future()
        done, _ = await asyncio.wait({waiter}, timeout=self._confirm_timeout)
        if not done:
            log.warning("Redis did not confirm SUBSCRIBE %r in %.1f s; live once it does", key, self._confirm_timeout)

    def _release_waiters(self, *keys: bytes) -> None:
        """Let subscribe() calls waiting on these channels (default: all) return."""
        for key in keys or list(self._waiters):
            waiter = self._waiters.pop(key, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    async def _read_forever(self) -> None:
        delay = self._backoff[0]
        while True:
            try:
                pubsub = self._pubsub
                if pubsub is None or self._stale:
                    pubsub = await self._connect()
                message = await pubsub.get_message(timeout=self._poll_interval)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # an outage, or a bug: either way keep the reader alive
                self._log_loss(exc)
                self._stale = True
                self._mark_down()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff[1])
                continue
            delay = self._backoff[0]
            if message is not None:
                self._handle(message)

    async def _connect(self) -> PubSub:
        """Replace the PubSub connection by a new one subscribed to every channel with listeners."""
        async with self._lock:
            await self._drop()
            pubsub = self._client.pubsub()
            try:
                async with asyncio.timeout(OPERATION_TIMEOUT):
                    await pubsub.connect()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
                    wanted = list(self._listeners)
                    if wanted:
                        await pubsub.subscribe(*wanted)
            except BaseException:
                await _close(pubsub)
                raise
            if self._down:
                log.info("broker reconnected to Redis; re-subscribed to %d channels", len(wanted))
            self._pubsub, self._subscribed, self._stale, self._down = pubsub, set(wanted), False, False
            return pubsub

    async def _drop(self) -> None:
        """Close the PubSub connection, if any (the lock is held); every listener may miss payloads from here."""
        pubsub, self._pubsub = self._pubsub, None
        self._subscribed.clear()
        self._confirmed.clear()
        for listeners in self._listeners.values():
            for listener in listeners:
                listener.gapped = listener.listening
        if pubsub is not None:
            await _close(pubsub)

    def _mark_down(self) -> None:
        self._down = True
        self._release_waiters()

    def _log_loss(self, exc: Exception) -> None:
        if isinstance(exc, _OUTAGE):
            self._outage.failed("the broker", exc)
        else:
            log.error("broker reader failed; reconnecting", exc_info=exc)

    def _tell_gaps(self, key: bytes) -> None:
        """`key` is confirmed: from here on nothing is lost, so its listeners that may have missed some hear of it."""
        for listener in list(self._listeners.get(key, ())):
            if not listener.gapped:
                continue
            listener.gapped = False
            if listener.on_gap is None:
                continue
            try:
                listener.on_gap()
            except Exception:
                log.exception("a subscriber of %r failed on a gap", key)

    def _handle(self, message: dict[str, Any]) -> None:
        kind, key = message["type"], message["channel"]
        if kind == "message":
            for listener in list(self._listeners.get(key, ())):
                try:
                    listener.deliver(message["data"])
                except Exception:
                    log.exception("a subscriber of %r failed on a message", key)
        elif kind == "subscribe":
            if key in self._confirmed:  # redis-py reconnected by itself and subscribed again: a gap all the same
                for listener in self._listeners.get(key, ()):
                    listener.gapped = listener.listening
            self._confirmed.add(key)
            self._release_waiters(key)
            self._tell_gaps(key)
        elif kind == "unsubscribe":
            self._confirmed.discard(key)


# Each script starts from Redis server time in milliseconds.
_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS: presence:<user>, online. ARGV: connection, ttl ms, user, limit (0: none). 1 if the user was offline
# before, -1 (nothing recorded) if the user has `limit` other live connections already.
_CONNECT = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local live = redis.call('ZCARD', KEYS[1])
local limit = tonumber(ARGV[4])
if limit > 0 and live >= limit and not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return -1 end
local was_online = live > 0
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]
redis.call('PEXPIREAT', KEYS[1], last)
redis.call('ZADD', KEYS[2], last, ARGV[3])
if was_online then return 0 end
return 1
"""
)

# KEYS: presence:<user>, online. ARGV: connection, user. 1 if that live connection was the user's last.
_DISCONNECT = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]
if last then
  redis.call('ZADD', KEYS[2], last, ARGV[2])
  return 0
end
redis.call('ZREM', KEYS[2], ARGV[2])
return removed
"""
)

# KEYS: online. ARGV: users. Those of them with a live connection.
_ONLINE = (
    _NOW
    + """
local found = {}
for _, user in ipairs(ARGV) do
  local expires = redis.call('ZSCORE', KEYS[1], user)
  if expires and tonumber(expires) > now then found[#found + 1] = user end
end
return found
"""
)

# KEYS: online. Everyone with a live connection; expired entries are pruned on the way.
_ONLINE_USERS = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""
)

# KEYS: rate:<key>. ARGV: ms per token, burst. A token bucket as GCRA: the key holds the time (ms) at which the
# bucket is full again. 0 when a token was spent, else the ms to wait (nothing spent).
_TAKE = (
    _NOW
    + """
local interval = tonumber(ARGV[1])
local full_at = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now) + interval
local wait = full_at - now - tonumber(ARGV[2]) * interval
if wait > 0 then return tostring(wait) end
redis.call('SET', KEYS[1], tostring(full_at), 'PX', math.ceil(full_at - now))
return '0'
"""
)

# KEYS: typing:<room>. ARGV: user, '1' or '0', ttl ms. Who is typing after the change.
_SET_TYPING = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if ARGV[2] == '1' then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]
if last then redis.call('PEXPIREAT', KEYS[1], last) end
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""
)


async def _close(pubsub: PubSub) -> None:
    try:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
    except Exception:  # closing a broken connection may fail too; it is gone either way
        log.debug("closing the PubSub connection failed", exc_info=True)


def _millis(ttl: timedelta) -> int:
    millis = int(ttl.total_seconds() * 1000)
    if millis <= 0:
        raise ValueError(f"a TTL must be positive, got {ttl}")
    return millis


class RedisLiveState:
    """`MemoryLiveState`'s rules, shared by every process: connections and typing flags expire in Redis."""

    def __init__(
        self,
        client: Redis,
        *,
        key_prefix: str = KEY_PREFIX,
        presence_ttl: timedelta = PRESENCE_TTL,
        typing_ttl: timedelta = TYPING_TTL,
        outage: Outage | None = None,
    ) -> None:
        self._prefix = key_prefix
        self._outage = outage or Outage()
        self._online_key = f"{key_prefix}online"
        self._presence_ms = _millis(presence_ttl)
        self._typing_ms = _millis(typing_ttl)
        self._connect = client.register_script(_CONNECT)
        self._disconnect = client.register_script(_DISCONNECT)
        self._online = client.register_script(_ONLINE)
        self._online_users = client.register_script(_ONLINE_USERS)
        self._set_typing = client.register_script(_SET_TYPING)
        self._take = client.register_script(_TAKE)

    async def connect(self, user: UserId, connection: str, *, limit: int | None = None) -> bool:
        keys = [f"{self._prefix}presence:{user}", self._online_key]
        found = await self._run(self._connect, keys, [connection, self._presence_ms, user, limit or 0])
        if found == -1:
            raise TooManyConnectionsError(f"at most {limit} connections per user")
        return bool(found)

    async def heartbeat(self, user: UserId, connection: str) -> None:
        await self.connect(user, connection)  # a refresh, or a comeback if the connection had expired

    def rate_limiter(self, fallback: RateLimiter) -> RedisRateLimiter:
        """Buckets in this Redis, so every process counts alike; `fallback` counts while Redis is away."""
        return RedisRateLimiter(self._take, key_prefix=self._prefix, outage=self._outage, fallback=fallback)

    async def disconnect(self, user: UserId, connection: str) -> bool:
        keys = [f"{self._prefix}presence:{user}", self._online_key]
        return bool(await self._run(self._disconnect, keys, [connection, user]))

    async def online(self, users: Collection[UserId]) -> set[UserId]:
        if not users:
            return set()
        found = await self._run(self._online, [self._online_key], list(dict.fromkeys(users)))
        return {UserId(int(user)) for user in found}

    async def online_users(self) -> set[UserId]:
        found = await self._run(self._online_users, [self._online_key], [])
        return {UserId(int(user)) for user in found}

    async def set_typing(self, room_id: RoomId, user: UserId, is_typing: bool) -> frozenset[UserId]:
        key = f"{self._prefix}typing:{room_id}"
        found = await self._run(self._set_typing, [key], [user, 1 if is_typing else 0, self._typing_ms])
        return frozenset(UserId(int(who)) for who in found)

    async def _run(self, script: AsyncScript, keys: list[str], args: list[str | int]) -> Any:
        return await _run(script, keys, args, what="presence", outage=self._outage)


class RedisRateLimiter:
    """Token buckets in Redis (`<prefix>rate:<key>`, expiring once full again); while Redis does not answer, the
    fallback (a process's own buckets) counts instead, so a limit still holds per process."""

    def __init__(self, take: AsyncScript, *, key_prefix: str, outage: Outage, fallback: RateLimiter) -> None:
        self._take = take
        self._prefix = key_prefix
        self._outage = outage
        self._fallback = fallback

    async def take(self, key: str, *, rate: float, burst: int, what: str = "requests") -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"a rate limit needs rate > 0 and burst >= 1, got {rate}, {burst}")
        try:
            wait_ms = float(
                await _run(
                    self._take,
                    [f"{self._prefix}rate:{key}"],
                    [1000 / rate, burst],
                    what="rate limits",
                    outage=self._outage,
                )
            )
        except UnavailableError:
            await self._fallback.take(key, rate=rate, burst=burst, what=what)
            return
        if wait_ms > 0:
            wait = wait_ms / 1000
            raise RateLimitedError(f"too many {what}; retry in {wait:.1f} s", retry_after=wait)


async def _run(script: AsyncScript, keys: list[str], args: list[Any], *, what: str, outage: Outage) -> Any:
    with _unavailable_on_outage(what, outage):
        async with asyncio.timeout(OPERATION_TIMEOUT):
            return await script(keys=keys, args=args)
