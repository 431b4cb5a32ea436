"""REST reads on a big history: the room list and history pages, one request at a time, at growing sizes.

One user has `rooms` direct rooms; the database is seeded to each size in turn (messages spread evenly over
the rooms) and the same requests are timed at every size, so a cost that grows with the message count shows.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from bench.seed import Seeder
from bench.servers import Meter, Target
from bench.sockets import percentiles

from tests.e2e.conftest import token_for

API = "/api/v1/chat"
PAGE = 50  # rooms per page of GET /rooms?limit= (a revision without paging answers with the whole list)


async def _timed(client: httpx.AsyncClient, paths: Sequence[str]) -> tuple[list[float], int]:
    took: list[float] = []
    size = 0
    for path in paths:
        started = time.perf_counter()
        response = await client.get(path)
        took.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:200]}")
        size = len(response.content)
    return took, size


async def _after_reads(client: httpx.AsyncClient, requests: int) -> list[float]:
    """The list again after each read of a room with unread messages (untimed): one room changed each time,
    as when a user opens a conversation and comes back to the list."""
    rooms = (await client.get("/rooms")).json()["rooms"]
    unread = [room["id"] for room in rooms if room["unread_count"] > 0][:requests]
    took: list[float] = []
    for room_id in unread:
        response = await client.post(f"/rooms/{room_id}/read")
        if response.status_code != 200:
            raise RuntimeError(f"POST /rooms/{room_id}/read: {response.status_code} {response.text[:200]}")
        took.extend((await _timed(client, ["/rooms"]))[0])
    return took


def search_queries(rng: random.Random, size: int, count: int) -> list[str]:
    """`count` searches of 1 to 3 words over the seed's text ('Message <i>: an ordinary line of chat text, ...'):
    rare (a message's number: one hit), common (every message), a prefix, phrases, and mixes of them."""
    shapes: list[Callable[[], str]] = [
        lambda: f"message {rng.randint(1, size)}",  # rare: one message (and the numbers it prefixes)
        lambda: str(rng.randint(1, size)),
        lambda: "ordinary",  # common: every message
        lambda: "chat text line",
        lambda: "ordin",  # a prefix of a common word
        lambda: '"chat text"',  # a phrase of common words
        lambda: '"most messages" long',
        lambda: f'"message {rng.randint(1, size)}" ordinary',
    ]
    return [rng.choice(shapes)() for _ in range(count)]


async def _searched(client: httpx.AsyncClient, queries: Sequence[str]) -> list[float] | None:
    """None for a revision without message search (its 404)."""
    if (await client.get("/search", params={"q": "ordinary"})).status_code == 404:
        return None
    took: list[float] = []
    for q in queries:
        started = time.perf_counter()
        response = await client.get("/search", params={"q": q})
        took.append(time.perf_counter() - started)
        if response.status_code != 200 or not response.json()["results"]:
            raise RuntimeError(f"GET /search?q={q}: {response.status_code} {response.text[:200]}")
    return took


async def rest(
    target: Target, *, sizes: Sequence[int], rooms: int, requests: int, list_requests: int, seed: int = 8
) -> list[dict[str, Any]]:
    seeder = Seeder(target.env["CHAT_DATABASE_URL"])
    rng = random.Random(seed)
    results: list[dict[str, Any]] = []
    try:
        me = (await seeder.users(1, "owner"))[0]
        others = await seeder.users(rooms, "peer")
        room_ids = await seeder.rooms([(me, other) for other in others])
        headers = {"Authorization": f"Bearer {token_for(me)}"}
        async with httpx.AsyncClient(base_url=target.base_url + API, headers=headers, timeout=60) as client:
            seeded = 0
            for size in sizes:
                started = time.perf_counter()
                await seeder.messages(
                    me=me,
                    first_room=room_ids[0],
                    first_other=others[0],
                    rooms=rooms,
                    start=seeded + 1,
                    end=size,
                    unread=5 * rooms,
                )
                seed_seconds = time.perf_counter() - started
                seeded = size
                history = [f"/rooms/{rng.choice(room_ids)}/messages?per_page=50" for _ in range(requests)]
                cursor = [
                    f"/rooms/{rng.choice(room_ids)}/messages?per_page=50&before_id={rng.randint(1, size)}"
                    for _ in range(requests)
                ]
                # The seed moved every room's version: the first list after it is read whole, as after a restart.
                first_took, _ = await _timed(client, ["/rooms"])
                await _timed(client, ["/rooms"] * 2 + history[:20] + cursor[:20])  # warm-up
                meter = Meter(target)
                list_took, list_bytes = await _timed(client, ["/rooms"] * list_requests)
                read_took = await _after_reads(client, requests)
                first_page = (await client.get(f"/rooms?limit={PAGE}")).json()
                next_page = f"/rooms?limit={PAGE}&cursor={first_page.get('next_cursor')}"
                await _timed(client, [f"/rooms?limit={PAGE}", next_page] * 3)  # warm-up
                page_took, page_bytes = await _timed(client, [f"/rooms?limit={PAGE}"] * requests)
                next_took, _ = await _timed(client, [next_page] * requests)
                history_took, history_bytes = await _timed(client, history)
                cursor_took, _ = await _timed(client, cursor)
                queries = search_queries(rng, size, requests // 3)  # 100 in the full run
                await _searched(client, search_queries(rng, size, 10))  # warm-up
                search_took = await _searched(client, queries)
                results.append(
                    {
                        "messages": await seeder.message_count(),
                        "rooms": rooms,
                        "database_mb": await seeder.database_mb(),
                        "seed_seconds": round(seed_seconds, 1),
                        "room_list": {**percentiles(list_took), "bytes": list_bytes},
                        "room_list_first_ms": round(first_took[0] * 1000, 2),
                        "room_list_after_read": percentiles(read_took),
                        "room_page": {**percentiles(page_took), "bytes": page_bytes},
                        "room_next_page": percentiles(next_took),
                        "history_page": {**percentiles(history_took), "bytes": history_bytes},
                        "history_before_id": percentiles(cursor_took),
                        **({} if search_took is None else {"search": percentiles(search_took)}),
                        **meter.read(),
                    }
                )
    finally:
        await seeder.close()
    return results
